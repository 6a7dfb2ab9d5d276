/**
 * Transaction timers (RFC 3261 §17 and Table 4): T1 (RTT estimate, 500 ms), T2 (maximum retransmit interval for
 * non-INVITE requests, 4 s), T4 (maximum time a message stays in the network, 5 s); E, F, J, K derive from them.
 * All are configurable so tests run in milliseconds.
 *
 * A busy UDP registrar keeps every completed server transaction for Timer J = 64·T1 = 32 s; at 13,000 requests/s
 * that is ~400,000 live timers. Since J is one constant per stack, expiries arrive in insertion order, so one FIFO
 * with a single Node timer ({@link ExpiryQueue}) replaces them all.
 */
import { systemClock, type Clock, type Timer } from '../../clock.ts';
import { SipError } from '../errors.ts';

/** The base timer values in milliseconds. */
export interface TimerValues {
  t1: number;
  t2: number;
  t4: number;
}

/** RFC 3261 defaults. */
export const DEFAULT_TIMERS: Readonly<TimerValues> = { t1: 500, t2: 4000, t4: 5000 };

/**
 * Completes a partial timer configuration with the defaults and checks it.
 * @param partial overrides.
 * @throws SipError INVALID_ARGUMENT for non-positive or inconsistent values (T2 < T1).
 */
export function resolveTimers(partial: Partial<TimerValues> = {}): TimerValues {
  const t = { ...DEFAULT_TIMERS, ...partial };
  if (!(t.t1 > 0 && t.t2 >= t.t1 && t.t4 > 0)) throw new SipError('INVALID_ARGUMENT', `invalid SIP timers ${JSON.stringify(t)}`);
  return t;
}

/**
 * Timer F (non-INVITE client transaction timeout) and the lifetime bound of a server transaction waiting for its
 * TU: 64·T1.
 * @param t timer values.
 */
export function timerF(t: TimerValues): number {
  return 64 * t.t1;
}

/**
 * Timer J (§17.2.2): how long a completed non-INVITE server transaction absorbs retransmissions.
 * @param t timer values.
 * @param reliable true on TCP/TLS, where it is zero.
 */
export function timerJ(t: TimerValues, reliable: boolean): number {
  return reliable ? 0 : 64 * t.t1;
}

/**
 * Timer K (§17.1.2.2): how long a completed non-INVITE client transaction absorbs response retransmissions.
 * @param t timer values.
 * @param reliable true on TCP/TLS, where it is zero.
 */
export function timerK(t: TimerValues, reliable: boolean): number {
  return reliable ? 0 : t.t4;
}

/** Something an {@link ExpiryQueue} can expire. */
export interface Expirable {
  onExpiry(): void;
}

/** A scheduled expiry; `cancel()` makes it a no-op. */
export interface Expiry {
  cancel(): void;
}

/** Queue entry; a class (not a closure per entry) because hundreds of thousands may be live. */
class Entry implements Expiry {
  at: number;
  target: Expirable | undefined;

  constructor(at: number, target: Expirable) {
    this.at = at;
    this.target = target;
  }

  cancel(): void {
    this.target = undefined;
  }
}

/**
 * Expires targets a fixed delay after they were added, with one timer for the whole queue. Cancelled entries stay in
 * the FIFO as tombstones until their time comes, which keeps add and cancel O(1).
 */
export class ExpiryQueue {
  private readonly delay: number;
  private items: Entry[] = [];
  private head = 0;
  private timer: Timer | undefined;
  private readonly clock: Clock;

  /**
   * @param delayMs the delay of every entry.
   * @param clock whose time and timer it runs on (tests step a manual one).
   */
  constructor(delayMs: number, clock: Clock = systemClock) {
    this.delay = delayMs;
    this.clock = clock;
  }

  /** Entries not yet run (including cancelled ones not yet reached). */
  get size(): number {
    return this.items.length - this.head;
  }

  /**
   * Schedules `target.onExpiry()` for `delayMs` from now.
   * @param target the object to expire; an exception from its `onExpiry` is swallowed so the queue keeps running.
   */
  add(target: Expirable): Expiry {
    // Monotonic clock: a wall-clock step must not expire 400,000 transactions at once.
    const e = new Entry(this.clock.now() + this.delay, target);
    this.items.push(e);
    if (!this.timer) this.arm(this.delay);
    return e;
  }

  private arm(ms: number): void {
    this.timer = this.clock.setTimer(() => this.run(), ms, true);
  }

  private run(): void {
    this.timer = undefined;
    const now = this.clock.now();
    while (this.head < this.items.length) {
      const e = this.items[this.head] as Entry;
      if (e.at > now) break;
      this.head++;
      const target = e.target;
      e.target = undefined;
      if (target) {
        try {
          target.onExpiry();
        } catch {
          // one failing target must not stall the rest of the queue
        }
      }
    }
    // Compact once the consumed prefix dominates, so the array does not grow forever.
    if (this.head > 1024 && this.head * 2 > this.items.length) {
      this.items = this.items.slice(this.head);
      this.head = 0;
    }
    const next = this.items[this.head];
    if (next) this.arm(next.at - now);
  }

  /** Drops every entry without running it. */
  clear(): void {
    this.timer?.cancel();
    this.timer = undefined;
    this.items = [];
    this.head = 0;
  }
}
