/**
 * The non-INVITE client transaction (RFC 3261 §17.1.2, Figure 6):
 *
 * - Trying: the request is sent; on UDP Timer E retransmits it at T1, 2·T1, 4·T1 … capped at T2; Timer F (64·T1)
 *   times the transaction out on every transport.
 * - Proceeding: after a provisional response; Timer E keeps retransmitting at T2.
 * - Completed: after the final response, which resolves the promise; Timer K (T4 on UDP, 0 on TCP/TLS) absorbs
 *   response retransmissions, then Terminated.
 *
 * Timeouts and transport errors reject with a {@link SipError} (`TIMEOUT`, `TRANSPORT_ERROR`); the TU treats a
 * timeout as a 408 (§8.1.3.1).
 */
import type { Clock, Timer } from '../../clock.ts';
import { SipError } from '../errors.ts';
import type { SipResponse } from '../message.ts';
import { timerF, timerK, type TimerValues } from './timers.ts';

/** States of Figure 6. */
export type ClientTransactionState = 'trying' | 'proceeding' | 'completed' | 'terminated';

/** What the stack gives a client transaction. */
export interface ClientTransactionContext {
  key: string;
  /** The serialized request (sent as is on every retransmission). */
  bytes: Buffer;
  reliable: boolean;
  timers: TimerValues;
  /** Where Timers E, F and K run. */
  clock: Clock;
  /** Hands the bytes to the transport; failures come back through `transportError`. */
  send(bytes: Buffer): void;
  /** Provisional responses, in order. */
  onProvisional?: ((res: SipResponse) => void) | undefined;
  /** Called once, on entering Terminated. */
  onTerminated(tx: ClientTransaction): void;
  /** Called on each Timer E retransmission (for statistics). */
  onRetransmit?: (() => void) | undefined;
}

/** A non-INVITE client transaction. */
export class ClientTransaction {
  readonly key: string;
  /** Resolves with the final response; rejects with SipError TIMEOUT or TRANSPORT_ERROR. */
  readonly response: Promise<SipResponse>;
  private st: ClientTransactionState = 'trying';
  private readonly ctx: ClientTransactionContext;
  private resolve!: (res: SipResponse) => void;
  private reject!: (err: SipError) => void;
  private timerE: Timer | undefined;
  private timerFK: Timer | undefined;
  private interval: number;

  /**
   * @param ctx the serialized request, transport kind, timers and stack callbacks.
   */
  constructor(ctx: ClientTransactionContext) {
    this.ctx = ctx;
    this.key = ctx.key;
    this.interval = ctx.timers.t1;
    this.response = new Promise<SipResponse>((resolve, reject) => {
      this.resolve = resolve;
      this.reject = reject;
    });
  }

  /** Current state. */
  get state(): ClientTransactionState {
    return this.st;
  }

  /** Sends the request and starts Timers E (UDP) and F. */
  start(): void {
    this.timerFK = this.ctx.clock.setTimer(() => this.fail(new SipError('TIMEOUT', 'no final response within Timer F')), timerF(this.ctx.timers));
    if (!this.ctx.reliable) this.armE();
    this.ctx.send(this.ctx.bytes);
  }

  private armE(): void {
    this.timerE = this.ctx.clock.setTimer(() => {
      if (this.st !== 'trying' && this.st !== 'proceeding') return;
      this.ctx.onRetransmit?.();
      this.ctx.send(this.ctx.bytes);
      // §17.1.2.2: doubling up to T2 in Trying; T2 flat once a provisional arrived.
      this.interval = this.st === 'trying' ? Math.min(this.interval * 2, this.ctx.timers.t2) : this.ctx.timers.t2;
      this.armE();
    }, this.interval);
  }

  /**
   * A response matched this transaction (§17.1.3).
   * @param res the response.
   */
  receive(res: SipResponse): void {
    if (this.st === 'completed' || this.st === 'terminated') return; // retransmission absorbed by Timer K
    if (res.status < 200) {
      if (this.st === 'trying') {
        this.st = 'proceeding';
        if (this.timerE) {
          this.timerE.cancel();
          this.interval = this.ctx.timers.t2;
          this.armE();
        }
      }
      try {
        this.ctx.onProvisional?.(res);
      } catch {
        // a TU callback failure must not break the transaction
      }
      return;
    }
    this.st = 'completed';
    this.clearTimers();
    this.resolve(res);
    const k = timerK(this.ctx.timers, this.ctx.reliable);
    if (k === 0) this.terminate();
    else this.timerFK = this.ctx.clock.setTimer(() => this.terminate(), k);
  }

  /**
   * The transport could not send the request or lost the connection.
   * @param err the cause.
   */
  transportError(err: unknown): void {
    this.fail(new SipError('TRANSPORT_ERROR', `request could not be sent: ${err instanceof Error ? err.message : String(err)}`, err));
  }

  /**
   * Rejects the pending response and terminates (Timer F, transport error, stack stop).
   * @param err the rejection.
   */
  fail(err: SipError): void {
    if (this.st === 'completed' || this.st === 'terminated') return;
    this.clearTimers();
    this.reject(err);
    this.terminate();
  }

  private clearTimers(): void {
    this.timerE?.cancel();
    this.timerFK?.cancel();
    this.timerE = this.timerFK = undefined;
  }

  private terminate(): void {
    if (this.st === 'terminated') return;
    this.st = 'terminated';
    this.clearTimers();
    this.ctx.onTerminated(this);
  }
}
