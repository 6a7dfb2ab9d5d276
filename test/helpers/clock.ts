/**
 * A clock tests move by hand (lib/clock.ts): timers fire when the test advances time past them, in the order they
 * are due, and never otherwise — so a timer schedule is checked to the millisecond, however loaded the machine, and
 * without waiting for it. Sockets stay real: only the protocol timers run on this clock.
 */
import type { Clock, Timer } from '../../lib/clock.ts';

interface Scheduled {
  at: number;
  /** Order of creation: timers due at the same time fire in the order they were set, as Node's do. */
  seq: number;
  fn: () => void;
  cancelled: boolean;
}

/** A {@link Clock} that moves only when told. */
export class ManualClock implements Clock {
  #now: number;
  #seq = 0;
  #timers: Scheduled[] = [];

  /** @param start the reading before the first advance (epoch ms, when it stands in for `Date.now`). */
  constructor(start = 0) {
    this.#now = start;
  }

  /** The current reading. */
  now = (): number => this.#now;

  /** Schedules `fn` for `ms` from now (negative counts as 0); `background` makes no difference here. */
  setTimer(fn: () => void, ms: number): Timer {
    const t: Scheduled = { at: this.#now + Math.max(0, ms), seq: this.#seq++, fn, cancelled: false };
    this.#timers.push(t);
    return { cancel: () => void (t.cancelled = true) };
  }

  /** Timers set and neither fired nor cancelled. */
  get pending(): number {
    return this.#timers.filter((t) => !t.cancelled).length;
  }

  /**
   * Moves time forward by `ms`, running every timer due by then (those the running ones set included) at its own
   * time, earliest first.
   */
  advance(ms: number): void {
    const end = this.#now + ms;
    for (;;) {
      this.#timers = this.#timers.filter((t) => !t.cancelled);
      const next = this.#timers.reduce<Scheduled | undefined>((a, t) => (t.at <= end && (!a || t.at < a.at || (t.at === a.at && t.seq < a.seq)) ? t : a), undefined);
      if (!next) break;
      this.#now = next.at;
      next.cancelled = true;
      next.fn();
    }
    this.#now = end;
  }
}
