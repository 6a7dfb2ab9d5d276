/**
 * RFC 3261 §17.2.1 (INVITE server transaction, Figure 7) for the only INVITE answer this stack's TUs give: a non-2xx
 * final response (the registrar answers INVITE 405 at once). Over UDP the response is re-sent on Timer G — T1 after
 * it, then doubling up to T2 — until the ACK arrives (Confirmed) or Timer H (64·T1) runs out; over TCP and TLS nothing
 * is re-sent. The rest of Completed — the response again for a retransmitted INVITE, ACKs absorbed through Timer J —
 * is the Completed record's, as for non-INVITE (completed.ts, whose key folds ACK into INVITE as §17.2.3 does).
 *
 * Each retransmission is a datagram to the INVITE's Via, so an INVITE flood from forged addresses would be
 * reflected ~10 times over; at most {@link MAX_RETRANSMITTING} responses are re-sent at a time, and an INVITE beyond
 * that gets its response once, as before this file.
 */
import type { Clock, Timer } from '../../clock.ts';
import type { TimerValues } from './timers.ts';

/** INVITE responses re-sent at a time at most (each for up to 64·T1): bounds memory and reflected traffic. */
export const MAX_RETRANSMITTING = 1000;

interface Retransmitting {
  timer: Timer;
}

/** Timer G and Timer H of the Completed INVITE server transactions over UDP. */
export class InviteRetransmissions {
  readonly #pending = new Map<string, Retransmitting>();
  #skipped = 0;

  /**
   * @param clock where the timers run.
   * @param timers T1 and T2.
   */
  constructor(private readonly clock: Clock, private readonly timers: Readonly<TimerValues>) {}

  /**
   * Starts re-sending a final non-2xx response of an INVITE over UDP.
   * @param key the transaction's §17.2.3 key (an ACK for it has the same key).
   * @param resend sends the response again, as it was sent.
   * @returns false when {@link MAX_RETRANSMITTING} are already being re-sent (the response is then sent once).
   */
  start(key: string, resend: () => void): boolean {
    this.stop(key);
    if (this.#pending.size >= MAX_RETRANSMITTING) {
      this.#skipped++;
      return false;
    }
    const { t1, t2 } = this.timers;
    const timerHAt = this.clock.now() + 64 * t1;
    const entry: Retransmitting = { timer: { cancel: () => undefined } };
    const arm = (interval: number): void => {
      entry.timer = this.clock.setTimer(() => {
        if (this.clock.now() >= timerHAt) {
          this.#pending.delete(key); // Timer H: no ACK came
          return;
        }
        resend();
        arm(Math.min(2 * interval, t2));
      }, Math.min(interval, Math.max(0, timerHAt - this.clock.now())), true);
    };
    arm(t1);
    this.#pending.set(key, entry);
    return true;
  }

  /**
   * The ACK of the transaction `key` arrived (Completed → Confirmed), or it ended otherwise: no more retransmissions.
   * @returns whether it was being re-sent.
   */
  stop(key: string): boolean {
    const entry = this.#pending.get(key);
    if (entry === undefined) return false;
    entry.timer.cancel();
    this.#pending.delete(key);
    return true;
  }

  /** Stops every retransmission (the stack stops). */
  clear(): void {
    for (const entry of this.#pending.values()) entry.timer.cancel();
    this.#pending.clear();
  }

  /** Responses being re-sent now. */
  get size(): number {
    return this.#pending.size;
  }

  /** INVITE responses sent once only because {@link MAX_RETRANSMITTING} were being re-sent. */
  get skipped(): number {
    return this.#skipped;
  }
}
