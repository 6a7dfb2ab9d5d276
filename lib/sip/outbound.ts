/**
 * The send path of the stack: responses routed per RFC 3261 §18.2.2 / RFC 3581, stateless error responses, and
 * requests through client transactions (Via with a fresh branch and `rport`, §8.1.1.7 / RFC 3581 §3).
 */
import { lookup } from 'node:dns/promises';
import { isIP } from 'node:net';
import { SipError } from './errors.ts';
import type { Via } from './headers/via.ts';
import { newBranch } from './ids.ts';
import type { SipRequest, SipResponse } from './message.ts';
import { serializeMessage } from './serialize.ts';
import type { SendRequestOptions, SipStack } from './stack.ts';
import { ClientTransaction } from './transaction/client.ts';
import { udpResponseTarget, type ResponseTarget } from './transport/routing.ts';
import type { StreamConnection } from './transport/stream.ts';
import { defaultPort, hostForm, type Destination, type FlowInfo } from './transport/types.ts';
import type { UdpTransport } from './transport/udp.ts';

/** Where a received message came from, with the means to answer it. */
export interface Origin {
  flow: FlowInfo;
  /** Set for UDP: the socket the datagram arrived on. */
  udp?: UdpTransport;
  /** Set for TCP/TLS: the connection it arrived on. */
  conn?: StreamConnection;
}

/** What sent a response and ends when it cannot be delivered (§17.2.4): a server transaction, or a Completed one's record. */
export interface ResponseSender {
  transportError(): void;
}

/** Where a server transaction's responses go: the request's origin and the §18.2.2 target computed on receipt. */
export interface ResponseRoute {
  origin: Origin;
  /** UDP: the destination; TCP/TLS: where to reconnect if the original connection closed. */
  target: ResponseTarget;
}

/** Send-side processing bound to one stack. */
export class Outbound {
  private readonly stack: SipStack;
  private readonly viaHost: string | undefined;

  /**
   * @param stack the owning stack.
   * @param viaHost sent-by host for requests (default: the socket's local address).
   */
  constructor(stack: SipStack, viaHost: string | undefined) {
    this.stack = stack;
    this.viaHost = viaHost;
  }

  private failed(err: unknown): void {
    this.stack.stats.transportErrors++;
    this.stack.log.debug({ err }, 'sip send failed');
  }

  /**
   * Sends a server transaction's response bytes (first copy or retransmission).
   * @param bytes the serialized response.
   * @param tx the transaction (told about failures).
   * @param route origin and target computed when the request arrived.
   */
  sendResponse(bytes: Buffer, tx: ResponseSender, route: ResponseRoute): void {
    this.stack.stats.messagesSent++;
    const { origin, target } = route;
    if (origin.udp) {
      // The common case, without a failure closure made per response (tsx names each with a call).
      if (isIP(target.address) !== 0) origin.udp.send(bytes, target.port, target.address, (err) => err && this.responseFailed(tx, err));
      else this.udpSend(origin.udp, bytes, target, (err) => this.responseFailed(tx, err));
      return;
    }
    const conn = origin.conn;
    if (conn?.open) {
      conn.write(bytes, (err) => err && this.responseFailed(tx, err));
      return;
    }
    const proto = origin.flow.transport === 'TLS' ? 'TLS' : 'TCP';
    this.stack.streamFor(proto).connect(target.address, target.port).then(
      (c) => c.write(bytes, (err) => err && this.responseFailed(tx, err)),
      (err: unknown) => this.responseFailed(tx, err),
    );
  }

  /** A response could not be sent: counted, and its transaction terminates (§17.2.4). */
  private responseFailed(tx: ResponseSender, err: unknown): void {
    this.failed(err);
    tx.transportError();
  }

  /**
   * Sends a response formed without a transaction (the 400/505/513 to a malformed request).
   * @param bytes the serialized response.
   * @param origin where the request came from.
   * @param via its top Via when that parsed (else the response goes back to the packet's source).
   */
  sendStateless(bytes: Buffer, origin: Origin, via: Via | undefined): void {
    this.stack.stats.messagesSent++;
    if (origin.conn) {
      origin.conn.write(bytes, (err) => err && this.failed(err));
    } else if (origin.udp) {
      const t = via ? udpResponseTarget(via) : { address: origin.flow.remoteAddress, port: origin.flow.remotePort };
      this.udpSend(origin.udp, bytes, t, (err) => this.failed(err));
    }
  }

  private udpSend(udp: UdpTransport, bytes: Buffer, t: ResponseTarget, fail: (err: unknown) => void): void {
    if (isIP(t.address) !== 0) {
      udp.send(bytes, t.port, t.address, (err) => err && fail(err));
      return;
    }
    lookup(t.address, { family: udp.family }).then((r) => udp.send(bytes, t.port, r.address, (err) => err && fail(err)), fail);
  }

  /**
   * Sends a request through a new client transaction (see {@link SipStack.sendRequest}).
   * @param req the request; a Via is prepended.
   * @param dest where to.
   * @param options provisional-response callback.
   */
  async request(req: SipRequest, dest: Destination, options: SendRequestOptions): Promise<SipResponse> {
    const stack = this.stack;
    const port = dest.port ?? defaultPort(dest.transport);
    const branch = newBranch();
    let sentBy: string;
    let send: (bytes: Buffer) => void;
    let conn: StreamConnection | undefined;
    // The transaction is made after the transport is chosen; send failures reach it through this holder.
    const holder: { tx?: ClientTransaction } = {};
    const fail = (err: unknown): void => {
      this.failed(err);
      holder.tx?.transportError(err);
    };
    if (dest.transport === 'UDP') {
      let address = dest.host.charCodeAt(0) === 91 ? dest.host.slice(1, -1) : dest.host;
      if (isIP(address) === 0) {
        try {
          address = (await lookup(address)).address;
        } catch (err) {
          throw new SipError('TRANSPORT_ERROR', `cannot resolve ${dest.host}`, err);
        }
      }
      const family = isIP(address) === 6 ? 6 : 4;
      const udp = stack.udp.find((u) => u.family === family);
      if (!udp) throw new SipError('NO_TRANSPORT', `no IPv${family} UDP listener to send from`);
      const local = udp.address;
      sentBy = `${hostForm(this.localHost(local.address, family))}:${local.port}`;
      send = (bytes) => udp.send(bytes, port, address, (err) => err && fail(err));
    } else {
      const transport = stack.streamFor(dest.transport);
      const c = await transport.connect(dest.host, port, dest.servername);
      const listening = transport.address?.port;
      sentBy = `${hostForm(this.localHost(c.flow.localAddress, isIP(c.flow.localAddress) === 6 ? 6 : 4))}:${listening ?? c.flow.localPort}`;
      send = (bytes) => c.write(bytes, (err) => err && fail(err));
      conn = c;
    }
    if (stack.stopped) throw new SipError('INVALID_STATE', 'SIP stack stopped');
    req.headers.prepend('Via', `SIP/2.0/${dest.transport} ${sentBy};branch=${branch};rport`);
    if (!req.headers.has('max-forwards')) req.headers.append('Max-Forwards', '70');
    const bytes = serializeMessage(req);
    if (bytes.length > stack.maxMessageSize) throw new SipError('INVALID_ARGUMENT', `request of ${bytes.length} octets exceeds maxMessageSize`);
    const key = `${branch}|${req.cseq().method}`;
    const clientTx = new ClientTransaction({
      key,
      bytes,
      reliable: dest.transport !== 'UDP',
      timers: stack.timers,
      clock: stack.clock,
      send: (b) => {
        stack.stats.messagesSent++;
        send(b);
      },
      onProvisional: options.onProvisional,
      onRetransmit: () => stack.stats.requestRetransmissions++,
      onTerminated: (t) => {
        if (stack.clientTransactions.get(t.key) === t) stack.clientTransactions.delete(t.key);
        conn?.waiting.delete(t);
      },
    });
    conn?.waiting.add(clientTx);
    holder.tx = clientTx;
    stack.clientTransactions.set(key, clientTx);
    stack.stats.clientTransactions++;
    clientTx.start();
    return clientTx.response.catch((err: unknown) => {
      if (err instanceof SipError && err.code === 'TIMEOUT') stack.stats.clientTimeouts++;
      throw err;
    });
  }

  private localHost(bound: string, family: 4 | 6): string {
    if (this.viaHost) return this.viaHost;
    if (bound === '0.0.0.0' || bound === '::' || bound === '') return family === 6 ? '::1' : '127.0.0.1';
    return bound;
  }
}
