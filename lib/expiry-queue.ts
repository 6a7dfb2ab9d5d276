/**
 * Expiries a fixed delay after they were added, under one Node timer for all of them: for what is scheduled often with
 * one constant delay and mostly cancelled — SIP Timer J (64·T1) of every completed UDP server transaction (~400,000
 * live at 13,000 requests/s), the answer timeout of every Diameter request. A Node timer each (a `Timeout` object
 * and a list insertion per setTimeout, a removal per clearTimeout) cost more than the protocol work around it.
 */
import { systemClock, type Clock, type Timer } from './clock.ts';

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
 * the FIFO as tombstones, which keeps add and cancel O(1); the timer skips them, so a queue whose entries are nearly
 * all cancelled (request timeouts) fires about once per delay, not once per entry. After the first expiry the timer
 * is set at least {@link ExpiryQueue.slack} ahead, so entries added a millisecond apart expire in batches: one run
 * per slack instead of one per entry (issue #12). An entry may so expire up to the slack late, never early.
 */
export class ExpiryQueue {
  private readonly delay: number;
  private items: Entry[] = [];
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
    // Cancelled entries need no timer: skip to the first live one.
    while (this.head < this.items.length && (this.items[this.head] as Entry).target === undefined) this.head++;
    // Compact once the consumed prefix dominates, so the array does not grow forever.
    if (this.head > 1024 && this.head * 2 > this.items.length) {
      this.items = this.items.slice(this.head);
      this.head = 0;
    }
    const next = this.items[this.head];
    if (next) this.arm(Math.max(next.at - now, this.slack));
    else {
      this.items = [];
      this.head = 0;
    }
  }

  /** Drops every entry without running it. */
  clear(): void {
    this.timer?.cancel();
    this.timer = undefined;
    this.items = [];
    this.head = 0;
  }
}
