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
 * completion the transaction lets go of the request and keeps only what a retransmission needs — the response
 * bytes (outside the heap, kept-responses.ts) and where they go.
 *
 * INVITE requests use this machine too (the TU answers them 405 at once); a matching ACK is absorbed.
 */
import { SipError } from '../errors.ts';
import type { SipRequest, SipResponse } from '../message.ts';
import { SIP_METHODS } from '../methods.ts';
import { createResponse, type ResponseOptions } from '../response.ts';
import { serializeMessage } from '../serialize.ts';
import type { FlowInfo } from '../transport/types.ts';
import type { KeptChunk, KeptResponse, KeptResponses } from './kept-responses.ts';
import type { ExpiryQueue, Scheduled } from './timers.ts';

/** One string per known method name for the transactions to share. */
const SHARED_METHODS = new Map<string, string>(SIP_METHODS.map((m) => [m, m]));

/** States of Figure 8. */
export type ServerTransactionState = 'trying' | 'proceeding' | 'completed' | 'terminated';

/** Why a server transaction ended. */
export type TerminationReason = 'timer-j' | 'tu-timeout' | 'transport-error' | 'stopped' | 'dropped';

/** The stack side of server transactions: one instance per stack, shared by all of them. */
export interface ServerTransactionHost {
  /** Fires Timer J on UDP. */
  readonly longTimer: ExpiryQueue;
  /** Holds the final responses of UDP transactions through Timer J. */
  readonly kept: KeptResponses;
  /** Hands bytes to the transport along the transaction's route; failures come back through `transportError`. */
  sendResponse(bytes: Buffer, tx: ServerTransaction): void;
  /** Called once, on entering Terminated. */
  terminated(tx: ServerTransaction, reason: TerminationReason): void;
}

/** A non-INVITE server transaction, as the TU sees it. */
export class ServerTransaction implements Scheduled, KeptResponse {
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
  /** Where the host keeps the final response on UDP for Timer J; the host's to set. */
  keptIn: KeptChunk | undefined;
  keptAt = 0;
  keptLength = 0;
  private status = 0;
  private readonly host: ServerTransactionHost;
  /** The deadline on the host's long timer (TU bound, then Timer J); the queue's to set, 0 when none. */
  expiresAt = 0;

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
    // Until the TU answers, the queue entry is the 64·T1 bound on waiting for it.
    host.longTimer.schedule(this);
  }

  /** Current state. */
  get state(): ServerTransactionState {
    return this.st;
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
    // Kept for Timer J (32 s on UDP) outside the heap: neither a view of a shared 8 KiB slab (which it would pin
    // with every short-lived Buffer cut from it) nor old space for each GC to walk (issue #12). A retransmission is
    // rare; it pays for a copy.
    if (!this.reliable) {
      this.host.kept.keep(bytes, this);
      this.last = undefined;
    }
    this.req = undefined;
    this.host.sendResponse(bytes, this);
    if (this.st !== 'completed') return true; // the send failed synchronously and terminated us
    // Either ends the TU bound: Timer J replaces its schedule, or termination removes it.
    if (this.reliable) this.terminate('timer-j'); // Timer J = 0
    else this.host.longTimer.schedule(this);
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
    const kept = this.host.kept.copy(this);
    if (kept !== undefined) {
      this.host.sendResponse(kept, this);
      return 'resent';
    }
    if (this.st === 'trying' || !this.last) return 'absorbed';
    this.host.sendResponse(this.last, this);
    return 'resent';
  }

  /** Timer J fired (Completed) or the TU took longer than 64·T1 (Trying/Proceeding). */
  onExpiry(): void {
    this.terminate(this.st === 'completed' ? 'timer-j' : 'tu-timeout');
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
    this.st = 'terminated';
    this.host.longTimer.unschedule(this);
    this.last = undefined;
    this.host.kept.release(this);
    this.req = undefined;
    this.host.terminated(this, reason);
  }
}
