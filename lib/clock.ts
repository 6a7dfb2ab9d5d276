/**
 * Time as the protocol stacks read it, passed in rather than taken from globals so a test can step it instead of
 * waiting: a timer test that waits in real time both slows the suite and fails on a loaded machine (a timer firing
 * late looks like a wrong schedule). The system clock is monotonic (`performance.now`): a wall-clock step must not
 * fire or stall protocol timers.
 */
import { performance } from 'node:perf_hooks';

/** A scheduled callback; `cancel()` makes it a no-op. */
export interface Timer {
  cancel(): void;
}

/** A monotonic clock with one-shot timers. */
export interface Clock {
  /** Milliseconds on a clock that never goes back (not epoch time). */
  now(): number;
  /**
   * Runs `fn` once, `ms` from now.
   * @param background the timer alone does not keep the process alive (Node's `unref`).
   */
  setTimer(fn: () => void, ms: number, background?: boolean): Timer;
}

/** `performance.now()` and Node's timers. */
export const systemClock: Clock = {
  now: () => performance.now(),
  setTimer(fn, ms, background = false) {
    const t = setTimeout(fn, Math.max(0, ms));
    if (background) t.unref();
    return { cancel: () => clearTimeout(t) };
  },
};
