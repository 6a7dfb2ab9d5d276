/**
 * The non-INVITE server transaction (RFC 3261 §17.2.2, Figure 8):
 *
 * - Trying: created by a request; retransmissions of it are absorbed silently.
 * - Proceeding: after the TU sent a provisional response; retransmissions get that response again.
 * - Completed: after the final response; retransmissions get the final response again; further responses from the
 *   TU are discarded. Timer J (64·T1 on UDP, 0 on TCP/TLS) then terminates it.
 * - Terminated: removed from the stack's table; a later copy of the request is a new transaction.
 *
 * A transaction whose TU never answers is terminated after 64·T1 (by then the client's Timer F has fired), so the
 * table cannot grow without bound. Responses are serialized once; retransmissions resend the same bytes.
 *
 * Memory: a UDP registrar holds every completed transaction for 32 s (≈400,000 at 13,000 requests/s), so on
 * completion over UDP the transaction hands what a retransmission needs — its key, the response bytes and the route —
 * to the stack's table of Completed transactions outside the heap (completed.ts) and leaves the stack's table of live
 * ones. The object the TU holds still reports Completed, then Terminated once Timer J has run.
 *
 * INVITE requests use this machine too (the TU answers them 405 at once), with what §17.2.1 adds for a non-2xx final
 * response: over UDP it is re-sent on Timer G until the ACK or Timer H (invite-completed.ts); an ACK is absorbed.
 */
import type { Clock } from '../../clock.ts';
import { SipError } from '../errors.ts';
import type { SipRequest, SipResponse } from '../message.ts';
import { SIP_METHODS } from '../methods.ts';
import { createResponse, type ResponseOptions } from '../response.ts';
import { serializeMessage } from '../serialize.ts';
import type { FlowInfo } from '../transport/types.ts';
import type { AnswerAwaited, AnswerBound } from './answer-bound.ts';

/** One string per known method name for the transactions to share. */
const SHARED_METHODS = new Map<string, string>(SIP_METHODS.map((m) => [m, m]));

/** States of Figure 8. */
export type ServerTransactionState = 'trying' | 'proceeding' | 'completed' | 'terminated';

/** Why a server transaction ended. */
export type TerminationReason = 'timer-j' | 'tu-timeout' | 'transport-error' | 'stopped' | 'dropped';

/** The stack side of server transactions: one instance per stack, shared by all of them. */
export interface ServerTransactionHost {
  /** The TU-answer bound (64·T1). */
  readonly answerBound: AnswerBound;
  /** The stack's clock, against which a handed-over transaction's Timer J runs out. */
  readonly clock: Clock;
  /** Hands bytes to the transport along the transaction's route; failures come back through `transportError`. */
  sendResponse(bytes: Buffer, tx: ServerTransaction): void;
  /**
   * A UDP transaction entered Completed: the host keeps its response for retransmissions through Timer J and takes it
   * out of its table of live transactions.
   * @returns the clock time at which Timer J runs out.
   */
  completed(tx: ServerTransaction, response: Buffer): number;
  /** A handed-over transaction ends before its Timer J (§17.2.4): the host forgets what it kept for it. */
  forget(tx: ServerTransaction, timerJAt: number): void;
  /** Called once, on entering Terminated. */
  terminated(tx: ServerTransaction, reason: TerminationReason): void;
}

/** A non-INVITE server transaction, as the TU sees it. */
export class ServerTransaction implements AnswerAwaited {
  readonly key: string;
  readonly method: string;
  /** Where the request came from. */
  readonly flow: FlowInfo;
  readonly reliable: boolean;
  /** Transport-specific route of the responses, chosen by the stack (§18.2.2). */
  readonly route: unknown;
  private st: ServerTransactionState = 'trying';
  private req: SipRequest | undefined;
  private last: Buffer | undefined;
  /** When Timer J runs out, once the host keeps the final response (UDP); 0 before and on TCP/TLS. */
  private timerJAt = 0;
  private status = 0;
  private readonly host: ServerTransactionHost;
  /** When the TU must have answered by (64·T1 from creation). */
  readonly answerBy: number;

  /**
   * @param host the stack (timers, send, table removal).
   * @param key the §17.2.3 matching key.
   * @param request the request that created the transaction.
   * @param flow where it came from.
   * @param route where responses go (opaque to the transaction).
   */
  constructor(host: ServerTransactionHost, key: string, request: SipRequest, flow: FlowInfo, route: unknown) {
    this.host = host;
    this.key = key;
    this.req = request;
    // Kept as long as the transaction: the method's own copy for each request would add up (issue #12).
    this.method = SHARED_METHODS.get(request.method) ?? request.method;
    this.flow = flow;
    this.reliable = flow.transport !== 'UDP';
    this.route = route;
    this.answerBy = host.answerBound.deadline();
  }

  /** Current state. */
  get state(): ServerTransactionState {
    // Both timers run on sweeps that may be late by their slack; what the TU reads is exact.
    if (this.st === 'completed') {
      if (this.timerJRanOut()) this.st = 'terminated';
    } else if (this.st !== 'terminated' && this.host.clock.now() >= this.answerBy) {
      this.terminate('tu-timeout');
    }
    return this.st;
  }

  private timerJRanOut(): boolean {
    return this.timerJAt !== 0 && this.host.clock.now() >= this.timerJAt;
  }

  /** Status of the final response sent (0 before). */
  get finalStatus(): number {
    return this.status;
  }

  /** The request, until the final response is sent (then released to save memory). */
  get request(): SipRequest | undefined {
    return this.req;
  }

  /**
   * Sends a response through the transaction.
   * @param res a response to the request (see {@link createResponse}).
   * @returns true when sent; false when discarded (already completed or terminated, §17.2.2).
   * @throws SipError INVALID_ARGUMENT for a status outside 100–699.
   */
  respond(res: SipResponse): boolean {
    if (!(res.status >= 100 && res.status <= 699)) {
      throw new SipError('INVALID_ARGUMENT', `status ${res.status} is not 100-699`);
    }
    if (this.st === 'completed' || this.st === 'terminated') return false;
    const bytes = serializeMessage(res);
    this.last = bytes;
    if (res.status < 200) {
      this.st = 'proceeding';
      this.host.sendResponse(bytes, this);
      return true;
    }
    this.st = 'completed';
    this.status = res.status;
    this.req = undefined;
    this.host.sendResponse(bytes, this);
    if (this.st !== 'completed') return true; // the send failed synchronously and terminated us
    if (this.reliable) {
      this.terminate('timer-j'); // Timer J = 0
      return true;
    }
    // Timer J (32 s) is the host's from here, outside the heap (completed.ts, issue #12); this object is the TU's.
    this.last = undefined;
    this.timerJAt = this.host.completed(this, bytes);
    return true;
  }

  /**
   * Builds a response to the request and sends it.
   * @param status 100–699.
   * @param options reason, To-tag, extra headers, body.
   * @returns the response, or undefined when the transaction discarded it.
   */
  reply(status: number, options?: ResponseOptions): SipResponse | undefined {
    if (!this.req || this.st === 'completed' || this.st === 'terminated') return undefined;
    const res = createResponse(this.req, status, options);
    return this.respond(res) ? res : undefined;
  }

  /**
   * A retransmission of the request arrived (§17.2.2).
   * @returns 'absorbed' in Trying, 'resent' in Proceeding/Completed, 'ignored' when terminated.
   */
  retransmission(): 'absorbed' | 'resent' | 'ignored' {
    if (this.st === 'terminated') return 'ignored';
    if (this.st === 'trying' || !this.last) return 'absorbed';
    this.host.sendResponse(this.last, this);
    return 'resent';
  }

  /** The TU took longer than 64·T1 (Trying/Proceeding). */
  onExpiry(): void {
    this.terminate('tu-timeout');
  }

  /** The transport could not deliver a response: the transaction terminates (§17.2.4). */
  transportError(): void {
    this.terminate('transport-error');
  }

  /**
   * Terminates the transaction now (used by the stack on stop and by the timers; by a TU that drops the request
   * unanswered with `dropped`, so a retransmission is a new request and nothing is held for it).
   * @param reason why, passed to the stack.
   */
  terminate(reason: TerminationReason): void {
    if (this.st === 'terminated') return;
    const ranOut = this.st === 'completed' && this.timerJRanOut();
    this.st = 'terminated';
    if (ranOut) return; // ended already, unseen
    this.last = undefined;
    if (this.timerJAt !== 0) this.host.forget(this, this.timerJAt);
    this.req = undefined;
    this.host.terminated(this, reason);
  }
}
