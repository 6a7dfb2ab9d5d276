/**
 * Expiries a fixed delay after they were added, under one Node timer for all of them: for what is scheduled often with
 * one constant delay and mostly cancelled — the answer timeout of every Diameter request. A Node timer each (a
 * `Timeout` object and a list insertion per setTimeout, a removal per clearTimeout) cost more than the protocol work
 * around it. A cancelled entry stays referenced until its delay has passed, so what is held by the hundred thousand
 * for long delays does not belong here: SIP Timer J keeps its records outside the heap instead
 * (lib/sip/transaction/completed.ts).
 */
import { systemClock, type Clock, type Timer } from './clock.ts';

/** Something an {@link ExpiryQueue} can expire. */
export interface Expirable {
  onExpiry(): void;
}

/**
 * An {@link Expirable} that carries its own deadline, so the queue holds it with no entry object of its own: what is
 * scheduled by the hundred thousand (a completed UDP transaction, for Timer J) saves the entry and its boxed time.
 */
export interface Scheduled extends Expirable {
  /** Set by the queue: the deadline of its current schedule, 0 when there is none (cancelled, fired or never). */
  expiresAt: number;
}

/** A scheduled expiry; `cancel()` makes it a no-op. */
export interface Expiry {
  cancel(): void;
}

/** The handle {@link ExpiryQueue.add} returns: a {@link Scheduled} that runs another target. */
class Entry implements Expiry, Scheduled {
  expiresAt = 0;
  target: Expirable | undefined;

  constructor(target: Expirable) {
    this.target = target;
  }

  cancel(): void {
    this.expiresAt = 0;
    this.target = undefined;
  }

  onExpiry(): void {
    const t = this.target;
    this.target = undefined;
    t?.onExpiry();
  }
}

/**
 * Expires targets a fixed delay after they were scheduled, with one timer for the whole queue. The FIFO holds each
 * target with the deadline it was scheduled for (a packed array of integers beside it); a target whose `expiresAt`
 * no longer equals that deadline was cancelled or scheduled again, and that place is skipped. So schedule and cancel
 * are O(1) and a queue whose entries are nearly all cancelled (request timeouts) fires about once per delay, not once
 * per entry. After the first expiry the timer is set at least {@link ExpiryQueue.slack} ahead, so entries added a
 * millisecond apart expire in batches: one run per slack instead of one per entry (issue #12). An entry may so expire
 * up to the slack (and the rounding to a whole millisecond) late, never early.
 */
export class ExpiryQueue {
  private readonly delay: number;
  private items: Scheduled[] = [];
  private ats: number[] = [];
  private head = 0;
  private timer: Timer | undefined;
  private readonly clock: Clock;
  /** How late an entry may expire: 1/64 of the delay, at most 50 ms (Timer J of 32 s; a 1 s answer timeout: 15 ms). */
  readonly slack: number;

  /**
   * @param delayMs the delay of every entry.
   * @param clock whose time and timer it runs on (tests step a manual one).
   */
  constructor(delayMs: number, clock: Clock = systemClock) {
    this.delay = delayMs;
    this.clock = clock;
    this.slack = Math.min(50, Math.floor(delayMs / 64));
  }

  /** Places not yet run (including cancelled ones not yet reached). */
  get size(): number {
    return this.items.length - this.head;
  }

  /**
   * Schedules `target.onExpiry()` for `delayMs` from now.
   * @param target the object to expire; an exception from its `onExpiry` is swallowed so the queue keeps running.
   * @returns the handle that cancels it.
   */
  add(target: Expirable): Expiry {
    const e = new Entry(target);
    this.schedule(e);
    return e;
  }

  /**
   * Schedules `target.onExpiry()` for `delayMs` from now, replacing a schedule it has; {@link unschedule} cancels.
   * @param target the object to expire; its `expiresAt` is the queue's to set.
   */
  schedule(target: Scheduled): void {
    // Monotonic clock: a wall-clock step must not expire 400,000 transactions at once. A whole millisecond: a small
    // integer in the target and the array, where a fraction would be a boxed number in each.
    const at = Math.ceil(this.clock.now() + this.delay);
    target.expiresAt = at;
    this.items.push(target);
    this.ats.push(at);
    if (!this.timer) this.arm(this.delay);
  }

  /**
   * Cancels the schedule of `target`, if any.
   * @param target a target given to {@link schedule}.
   */
  unschedule(target: Scheduled): void {
    target.expiresAt = 0;
  }

  private arm(ms: number): void {
    this.timer = this.clock.setTimer(() => this.run(), ms, true);
  }

  private live(i: number): boolean {
    return (this.items[i] as Scheduled).expiresAt === this.ats[i];
  }

  private run(): void {
    this.timer = undefined;
    const now = this.clock.now();
    while (this.head < this.items.length) {
      const at = this.ats[this.head] as number;
      if (at > now) break;
      const target = this.items[this.head] as Scheduled;
      this.head++;
      if (target.expiresAt !== at) continue;
      target.expiresAt = 0;
      try {
        target.onExpiry();
      } catch {
        // one failing target must not stall the rest of the queue
      }
    }
    // Cancelled entries need no timer: skip to the first live one.
    while (this.head < this.items.length && !this.live(this.head)) this.head++;
    // Compact once the consumed prefix dominates, so the arrays do not grow forever.
    if (this.head > 1024 && this.head * 2 > this.items.length) {
      this.items = this.items.slice(this.head);
      this.ats = this.ats.slice(this.head);
      this.head = 0;
    }
    if (this.head < this.items.length) this.arm(Math.max((this.ats[this.head] as number) - now, this.slack));
    else {
      this.items = [];
      this.ats = [];
      this.head = 0;
    }
  }

  /** Drops every entry without running it. */
  clear(): void {
    this.timer?.cancel();
    this.timer = undefined;
    for (let i = this.head; i < this.items.length; i++) if (this.live(i)) (this.items[i] as Scheduled).expiresAt = 0;
    this.items = [];
    this.ats = [];
    this.head = 0;
  }
}
