/**
 * The bound on how long a server transaction waits for its TU (64·T1: by then the client's Timer F has fired), so a
 * TU that never answers cannot grow the stack's table without end.
 *
 * Why not a queue entry per transaction (issue #12): nearly every transaction is answered within milliseconds, but a
 * FIFO of cancelled entries still references each one until its 32 s have passed, which kept every transaction of a
 * busy registrar alive in old space just as Timer J had. The stack's table of live transactions holds only those not
 * yet Completed (Completed UDP ones leave it for completed.ts; TCP/TLS ones terminate), and a Map iterates in
 * insertion order, which with one constant bound is deadline order: a sweep looks at the oldest few and stops at the
 * first one still in time.
 */
import type { Clock, Timer } from '../../clock.ts';

/** What the bound ends: a transaction with its deadline. */
export interface AnswerAwaited {
  /** The clock time by which the TU must have answered. */
  readonly answerBy: number;
  /** Called once the deadline has passed (it must leave the table). */
  onExpiry(): void;
}

/** One timer over a table of live server transactions. */
export class AnswerBound {
  readonly #clock: Clock;
  readonly #table: Map<string, AnswerAwaited>;
  readonly #ms: number;
  /** How late a sweep may run: 1/64 of the bound, at most 50 ms (several expiries then share one sweep). */
  readonly #slack: number;
  #timer: Timer | undefined;

  /**
   * @param clock the stack's clock.
   * @param table the live transactions, in creation order.
   * @param ms the bound (64·T1).
   */
  constructor(clock: Clock, table: Map<string, AnswerAwaited>, ms: number) {
    this.#clock = clock;
    this.#table = table;
    this.#ms = ms;
    this.#slack = Math.min(50, Math.floor(ms / 64));
  }

  /** The deadline of a transaction created now. */
  deadline(): number {
    return this.#clock.now() + this.#ms;
  }

  /** A transaction was added to the table: the timer runs while any is there. */
  watch(): void {
    if (this.#timer === undefined) this.#timer = this.#clock.setTimer(() => this.#sweep(), this.#ms, true);
  }

  /** Stops the timer (the stack stopped). */
  clear(): void {
    this.#timer?.cancel();
    this.#timer = undefined;
  }

  #sweep(): void {
    this.#timer = undefined;
    const now = this.#clock.now();
    for (const tx of this.#table.values()) {
      if (tx.answerBy > now) break;
      try {
        tx.onExpiry();
      } catch {
        // one failing transaction must not stall the rest
      }
    }
    const oldest = this.#table.values().next();
    if (oldest.done !== true) {
      this.#timer = this.#clock.setTimer(() => this.#sweep(), Math.max(oldest.value.answerBy - now, this.#slack), true);
    }
  }
}
