/**
 * One outgoing request of a node (node.ts `request`, and the relay's forwarding): routed to an open peer, re-sent with
 * the T bit to the next one when its connection is lost before the answer (RFC 6733 §5.5.4), failed after the answer
 * timeout. A class, not closures made per request: the roles run as TypeScript through tsx, whose esbuild names every
 * closure assigned to a variable with a `__name` call per creation (keepNames), and a request made four of them.
 */
import { withHeader, type DiameterMessage } from './codec.ts';
import { DiameterNodeError } from './node-errors.ts';
import type { NodeObserver } from './node-types.ts';
import { PeerLostError, type PeerConnection } from './peer.ts';
import type { RequestTimers } from './request-timers.ts';
import { selectPeer, type RouteQuery, type RouteTable } from './router.ts';
import type { Expiry } from '../expiry-queue.ts';

/** What an outgoing request needs of its node. */
export interface RequestSender {
  /** The node is closing: nothing more is sent. */
  closing(): boolean;
  /** Open connections that take requests. */
  candidates(): PeerConnection[];
  routes: RouteTable;
  timers: RequestTimers;
  /** Hears answers and failures (the metrics, lib/metrics/diameter.ts), when set. */
  observer(): NodeObserver | undefined;
  /** A request is being failed over from `from` (logged and emitted as `failover`). */
  failedOver(msg: DiameterMessage, from: PeerConnection, reason: string): void;
}

/** A request on its way, until it is answered, fails or times out. */
export class OutgoingRequest {
  readonly #sender: RequestSender;
  readonly #msg: DiameterMessage;
  readonly #q: RouteQuery;
  /** `#q`, excluding the peers tried already. */
  readonly #query: RouteQuery;
  readonly #timeoutMs: number;
  readonly #resolve: (answer: DiameterMessage) => void;
  readonly #reject: (err: Error) => void;
  readonly #tried = new Set<PeerConnection>();
  readonly #timer: Expiry;
  #current: { conn: PeerConnection; hopByHop: number; sentAt: number } | undefined;
  #settled = false;

  constructor(sender: RequestSender, msg: DiameterMessage, q: RouteQuery, timeoutMs: number, resolve: (answer: DiameterMessage) => void, reject: (err: Error) => void) {
    this.#sender = sender;
    this.#msg = msg;
    this.#q = q;
    this.#timeoutMs = timeoutMs;
    this.#resolve = resolve;
    this.#reject = reject;
    this.#query = { ...q, exclude: excluding(this.#tried, q.exclude) };
    this.#timer = sender.timers.start(timeoutMs, () => this.#timedOut());
  }

  /** Sends to the next peer not tried yet (with the T bit when `retransmit`), or fails when none is left. */
  attempt(retransmit: boolean): void {
    const msg = this.#msg;
    if (this.#sender.closing()) {
      this.#sender.observer()?.failed(undefined, msg, 'closed');
      this.#fail(new DiameterNodeError('ERR_DIAMETER_CLOSED', 'node is closed', { endToEnd: msg.endToEnd }));
      return;
    }
    const tried = this.#tried;
    const conn = selectPeer(this.#sender.candidates(), this.#sender.routes, this.#query);
    if (!conn) {
      const detail = tried.size ? 'no failover peer left' : 'no open peer';
      this.#sender.observer()?.failed(undefined, msg, 'no_peer');
      this.#fail(new DiameterNodeError('ERR_DIAMETER_NO_PEER', `${detail} for ${this.#where()} (application ${msg.applicationId})`, { endToEnd: msg.endToEnd }));
      return;
    }
    tried.add(conn);
    const sent = retransmit ? withHeader(msg, { flags: { ...msg.flags, retransmit: true } }) : msg;
    const { hopByHop, answer } = conn.sendRequest(sent);
    this.#current = { conn, hopByHop, sentAt: this.#sender.observer() ? performance.now() : 0 };
    answer.then((a) => this.#answered(conn, a), (err: unknown) => this.#lost(conn, err));
  }

  #where(): string {
    return this.#q.destinationHost ?? this.#q.destinationRealm ?? '?';
  }

  #answered(conn: PeerConnection, answer: DiameterMessage): void {
    if (this.#settled) return;
    const observer = this.#sender.observer();
    if (observer) observer.answered(conn.originHost ?? conn.remoteAddress, this.#msg, answer, (performance.now() - (this.#current?.sentAt ?? 0)) / 1000);
    if (this.#settle()) this.#resolve(answer);
  }

  #lost(conn: PeerConnection, err: unknown): void {
    if (this.#settled) return;
    if (!(err instanceof PeerLostError)) {
      this.#sender.observer()?.failed(conn.originHost, this.#msg, 'error');
      this.#fail(err as Error);
      return;
    }
    this.#sender.failedOver(this.#msg, conn, err.message);
    this.attempt(true);
  }

  #timedOut(): void {
    const current = this.#current;
    if (current) current.conn.cancel(current.hopByHop);
    this.#sender.observer()?.failed(current?.conn.originHost, this.#msg, 'timeout');
    this.#fail(new DiameterNodeError('ERR_DIAMETER_TIMEOUT', `no answer from ${current?.conn.originHost ?? this.#where()} within ${this.#timeoutMs} ms`, { endToEnd: this.#msg.endToEnd }));
  }

  #fail(err: Error): void {
    if (this.#settle()) this.#reject(err);
  }

  /** @returns false when already settled. */
  #settle(): boolean {
    if (this.#settled) return false;
    this.#settled = true;
    this.#timer.cancel();
    return true;
  }
}

/** The route query's exclusion plus the peers already tried (a function returned, so tsx gives it no `__name`). */
function excluding(tried: ReadonlySet<PeerConnection>, exclude: RouteQuery['exclude']): NonNullable<RouteQuery['exclude']> {
  return (c) => tried.has(c as PeerConnection) || (exclude?.(c) ?? false);
}
