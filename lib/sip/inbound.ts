/**
 * The receive path of the stack: bytes → parse → error response / server transaction / client transaction.
 * Every branch ends in a counter; nothing here throws to the socket callbacks.
 */
import type { RemoteInfo } from 'node:dgram';
import type { Clock } from '../clock.ts';
import { StringPool } from '../string-pool.ts';
import { SipParseError } from './errors.ts';
import type { SipRequest, SipResponse } from './message.ts';
import type { Origin, Outbound, ResponseRoute } from './outbound.ts';
import { parseMessage } from './parser.ts';
import { createErrorResponse } from './response.ts';
import { serializeMessage } from './serialize.ts';
import type { SipStack } from './stack.ts';
import { clientKey, serverKey } from './transaction/keys.ts';
import { ServerTransaction, type ServerTransactionHost, type TerminationReason } from './transaction/server.ts';
import type { AnswerBound } from './transaction/answer-bound.ts';
import { reconnectTarget, stampReceived, stampReceivedRaw, udpResponseTarget } from './transport/routing.ts';
import type { StreamConnection } from './transport/stream.ts';
import { normalizeAddress, type FlowInfo } from './transport/types.ts';
import type { UdpTransport } from './transport/udp.ts';

/** Distinct peer addresses {@link Inbound} shares strings of before it starts over. */
const ADDRESSES_KEPT = 4096;
/** Distinct UDP sources (address, port, socket) {@link Inbound} shares origins of before it starts over. */
const UDP_ORIGINS_KEPT = 4096;

/** The origin of datagrams from one source to one socket, and the route of responses sent straight back to it. */
interface UdpOrigin extends Origin {
  /** The §18.2.2 route when the response target is the source itself (rport or received=source, port=sent-by). */
  back: ResponseRoute;
}

/** Receive-side processing bound to one stack; also the host of its server transactions. */
export class Inbound implements ServerTransactionHost {
  private readonly stack: SipStack;
  private readonly out: Outbound;
  /**
   * One string per peer address: every datagram brings its source address as a new string, and a UDP transaction
   * keeps it (and the address its responses go to) for 32 s (issue #12: 140,000 copies of a few addresses at 2,000
   * registrations/s). Cleared when it reaches {@link ADDRESSES_KEPT}.
   */
  private readonly addresses = new StringPool(ADDRESSES_KEPT);
  /**
   * Socket → source address → source port → its shared {@link UdpOrigin}. A completed UDP transaction keeps its flow,
   * origin and route for Timer J (32 s); built per datagram they were four of its ~12 objects, each copied by two
   * scavenges before promotion (issue #12). Numeric port keys: no key string built per datagram.
   */
  private readonly udpOrigins = new Map<UdpTransport, Map<string, Map<number, UdpOrigin>>>();
  private udpOriginCount = 0;

  /**
   * @param stack the owning stack (tables, stats, handler).
   * @param out the send side, for responses.
   */
  constructor(stack: SipStack, out: Outbound) {
    this.stack = stack;
    this.out = out;
  }

  /** The TU-answer bound (64·T1). */
  get answerBound(): AnswerBound {
    return this.stack.answerBound;
  }

  /** The stack's clock. */
  get clock(): Clock {
    return this.stack.clock;
  }

  /**
   * A UDP server transaction entered Completed: it leaves the table of live transactions for the one of Completed
   * transactions, which answers its retransmissions through Timer J.
   * @param tx the transaction.
   * @param response its final response as sent.
   * @returns when Timer J runs out.
   */
  completed(tx: ServerTransaction, response: Buffer): number {
    const stack = this.stack;
    const table = stack.serverTransactions;
    if (table.get(tx.key) === tx) table.delete(tx.key);
    // §17.2.1: an INVITE's final response (always non-2xx here) is re-sent on Timer G until its ACK.
    if (tx.method === 'INVITE') {
      stack.inviteRetransmissions.start(tx.key, () => {
        stack.stats.responsesRetransmitted++;
        this.out.sendResponse(response, tx, tx.route as ResponseRoute);
      });
    }
    return stack.completedTransactions.add(tx.key, response, tx.route);
  }

  /**
   * A Completed UDP transaction ended early (§17.2.4): a later copy of its request is a new transaction.
   * @param tx the transaction.
   * @param timerJAt what {@link completed} returned for it.
   */
  forget(tx: ServerTransaction, timerJAt: number): void {
    this.stack.completedTransactions.delete(tx.key, timerJAt);
    if (tx.method === 'INVITE') this.stack.inviteRetransmissions.stop(tx.key);
  }

  /**
   * Sends a server transaction's response along its route.
   * @param bytes serialized response.
   * @param tx the transaction.
   */
  sendResponse(bytes: Buffer, tx: ServerTransaction): void {
    this.out.sendResponse(bytes, tx, tx.route as ResponseRoute);
  }

  /**
   * A server transaction terminated: drop it from the table.
   * @param tx the transaction.
   * @param reason why.
   */
  terminated(tx: ServerTransaction, reason: TerminationReason): void {
    const table = this.stack.serverTransactions;
    if (table.get(tx.key) === tx) table.delete(tx.key);
    if (reason === 'tu-timeout') this.stack.stats.tuTimeouts++;
  }

  /**
   * A UDP datagram arrived.
   * @param buf its bytes.
   * @param rinfo its source.
   * @param udp the socket it arrived on (responses leave from it).
   */
  datagram(buf: Buffer, rinfo: RemoteInfo, udp: UdpTransport): void {
    const s = this.stack.stats;
    s.datagramsReceived++;
    if (buf.length > this.stack.maxMessageSize) {
      s.oversizeDatagrams++;
      s.dropped++;
      return;
    }
    this.message(buf, this.udpOrigin(rinfo, udp));
  }

  /** The shared origin of a datagram from `rinfo` on `udp` (see {@link udpOrigins}). */
  private udpOrigin(rinfo: RemoteInfo, udp: UdpTransport): UdpOrigin {
    const known = this.udpOrigins.get(udp)?.get(rinfo.address)?.get(rinfo.port);
    if (known !== undefined) return known;
    if (this.udpOriginCount >= UDP_ORIGINS_KEPT) {
      this.udpOrigins.clear();
      this.udpOriginCount = 0;
    }
    let bySource = this.udpOrigins.get(udp);
    if (bySource === undefined) this.udpOrigins.set(udp, (bySource = new Map()));
    let byPort = bySource.get(rinfo.address);
    if (byPort === undefined) bySource.set(rinfo.address, (byPort = new Map()));
    const local = udp.address;
    const flow: FlowInfo = { transport: 'UDP', remoteAddress: this.addresses.get(normalizeAddress(rinfo.address)), remotePort: rinfo.port,
      localAddress: local.address, localPort: local.port };
    const origin = { flow, udp } as UdpOrigin;
    origin.back = { origin, target: { address: flow.remoteAddress, port: flow.remotePort } };
    byPort.set(rinfo.port, origin);
    this.udpOriginCount++;
    return origin;
  }

  /**
   * A framed message arrived on a TCP/TLS connection.
   * @param buf its bytes.
   * @param conn the connection.
   */
  streamMessage(buf: Buffer, conn: StreamConnection): void {
    this.stack.stats.streamMessagesReceived++;
    this.message(buf, { flow: conn.flow, conn });
  }

  /**
   * The framer lost sync on a connection: answer if possible, then close it.
   * @param err the framing error (closeConnection set).
   * @param conn the connection.
   */
  framingError(err: SipParseError, conn: StreamConnection): void {
    this.stack.stats.framingErrors++;
    this.parseError(err, { flow: conn.flow, conn });
    conn.close();
  }

  private message(buf: Buffer, origin: Origin): void {
    const stack = this.stack;
    let msg;
    try {
      msg = parseMessage(buf, { datagram: origin.udp !== undefined, maxMessageSize: stack.maxMessageSize });
    } catch (err) {
      if (err instanceof SipParseError) {
        this.parseError(err, origin);
        if (err.closeConnection) origin.conn?.close();
      } else {
        this.internal(err);
      }
      return;
    }
    try {
      if (msg.kind === 'request') this.request(msg, origin);
      else this.response(msg);
    } catch (err) {
      this.internal(err);
    }
  }

  private internal(err: unknown): void {
    this.stack.stats.internalErrors++;
    this.stack.log.error({ err }, 'sip receive path failed');
  }

  private parseError(err: SipParseError, origin: Origin): void {
    const s = this.stack.stats;
    if (err.code === 'EMPTY_MESSAGE') {
      s.keepalives++;
      return;
    }
    s.parseErrors++;
    s.parseErrorsByCode[err.code] = (s.parseErrorsByCode[err.code] ?? 0) + 1;
    this.stack.log.debug({ code: err.code, reason: err.reason, from: origin.flow.remoteAddress }, 'malformed sip message');
    const via = err.canRespond && err.headers
      ? stampReceivedRaw(err.headers, origin.flow.remoteAddress, origin.flow.remotePort)
      : undefined;
    const res = createErrorResponse(err);
    if (!res) {
      s.dropped++;
      return;
    }
    this.out.sendStateless(serializeMessage(res), origin, via);
    s.errorResponsesSent++;
  }

  private request(req: SipRequest, origin: Origin): void {
    const stack = this.stack;
    const s = stack.stats;
    s.requestsReceived++;
    const flow = origin.flow;
    stampReceived(req, flow.remoteAddress, flow.remotePort);
    const key = serverKey(req, flow);
    const existing = stack.serverTransactions.get(key);
    if (existing) {
      s.retransmissionsAbsorbed++;
      // An ACK matching an INVITE transaction acknowledges its final response; it is not a retransmission to answer.
      if (req.method !== 'ACK' && existing.retransmission() === 'resent') s.responsesRetransmitted++;
      return;
    }
    if (origin.udp && stack.completedTransactions.size > 0) {
      const done = stack.completedTransactions.find(key);
      if (done !== undefined) {
        s.retransmissionsAbsorbed++;
        if (req.method === 'ACK') stack.inviteRetransmissions.stop(key); // §17.2.1: Confirmed
        else {
          const completed = stack.completedTransactions;
          this.out.sendResponse(done.bytes, { transportError: () => void completed.delete(key, done.expiresAt) }, done.route as ResponseRoute);
          s.responsesRetransmitted++;
        }
        return;
      }
    }
    if (req.method === 'ACK') {
      s.strayAcks++;
      return;
    }
    if (stack.stopped) return;
    const via = req.topVia();
    const target = origin.udp ? udpResponseTarget(via) : reconnectTarget(via);
    let route: ResponseRoute;
    if (origin.udp && target.port === flow.remotePort && target.address === flow.remoteAddress) {
      route = (origin as UdpOrigin).back;
    } else {
      target.address = this.addresses.get(target.address);
      route = { origin, target };
    }
    const tx = new ServerTransaction(this, key, req, flow, route);
    stack.serverTransactions.set(key, tx);
    stack.answerBound.watch();
    s.serverTransactions++;
    stack.dispatch(req, tx);
  }

  private response(res: SipResponse): void {
    const stack = this.stack;
    stack.stats.responsesReceived++;
    const key = clientKey(res);
    const tx = key === undefined ? undefined : stack.clientTransactions.get(key);
    if (!tx) {
      stack.stats.strayResponses++;
      return;
    }
    tx.receive(res);
  }
}
