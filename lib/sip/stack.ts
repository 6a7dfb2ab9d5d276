/**
 * The SIP stack: transports (UDP, TCP, TLS) + transaction tables + the TU callback. Received bytes are parsed;
 * malformed requests get a stateless 400/505/513 when one can be formed and are otherwise dropped and counted;
 * requests are stamped with `received`/`rport`, matched to server transactions (retransmissions absorbed) or handed
 * to `onRequest(req, tx)` (a CANCEL too: the TU answers it with {@link SipStack.cancelStatus}, RFC 3261 §9.2);
 * responses are matched to client transactions. Nothing received can crash the process:
 * every path ends in a counter.
 */
import { systemClock, type Clock } from '../clock.ts';
import { silentLogger, type Logger } from '../log.ts';
import { SipError, SipParseError } from './errors.ts';
import type { SipRequest, SipResponse } from './message.ts';
import { Inbound } from './inbound.ts';
import { Outbound } from './outbound.ts';
import { newStats, type SipStats } from './stats.ts';
import type { ClientTransaction } from './transaction/client.ts';
import { cancelStatus } from './transaction/cancel.ts';
import { CompletedTransactions } from './transaction/completed.ts';
import { InviteRetransmissions } from './transaction/invite-completed.ts';
import type { ServerTransaction } from './transaction/server.ts';
import { resolveTimers, timerF, timerJ, type TimerValues } from './transaction/timers.ts';
import { AnswerBound } from './transaction/answer-bound.ts';
import { DEFAULT_MAX_MESSAGE_SIZE } from './parser.ts';
import { StreamTransport } from './transport/stream.ts';
import type { Destination, ListenSpec, TransportProtocol } from './transport/types.ts';
import { UdpTransport } from './transport/udp.ts';
import type { ConnectionOptions, TlsOptions } from 'node:tls';
import type { MessageTrace } from '../trace/types.ts';

/** Stream connections per transport, by default. */
export const DEFAULT_MAX_CONNECTIONS = 10_000;
/** Accepted stream connections from one IP address, by default (Kamailio's `tcp_max_connections` is global; 64 leaves room for a NAT). */
export const DEFAULT_MAX_CONNECTIONS_PER_SOURCE = 64;
/** How long an accepted stream connection may take to deliver its first complete message, by default. */
export const DEFAULT_FIRST_MESSAGE_TIMEOUT_MS = 10_000;

/** The TU callback: answer through `tx` (now or later); a thrown SipParseError is answered 400 with its reason. */
export type RequestHandler = (req: SipRequest, tx: ServerTransaction) => void | Promise<void>;

/** Options of {@link SipStack}. */
export interface SipStackOptions {
  udp?: readonly ListenSpec[];
  tcp?: readonly ListenSpec[];
  /** TLS listeners with their server options (see `tlsServerOptions`). */
  tls?: ReadonlyArray<ListenSpec & { options: TlsOptions }>;
  /** Options for outgoing TLS connections (see `tlsClientOptions`); server certificates are always verified. */
  tlsClient?: ConnectionOptions;
  /** T1/T2/T4 overrides (tests use a few milliseconds). */
  timers?: Partial<TimerValues>;
  /** Where the transaction timers run (default the system's monotonic clock; tests step a manual one). */
  clock?: Clock;
  /** Largest message accepted or sent, default 65535. */
  maxMessageSize?: number;
  /** Idle TCP/TLS connections are closed after this long (default 120 s; keep it above 64·T1). */
  idleTimeoutMs?: number;
  /** Per stream transport (default 10,000). */
  maxConnections?: number;
  /** Accepted TCP/TLS connections open at once from one IP address, per listener (default 64). */
  maxConnectionsPerSource?: number;
  /** An accepted TCP/TLS connection that has sent no complete message this long is closed (default 10 s). */
  firstMessageTimeoutMs?: number;
  /** Host written into the Via sent-by of requests we send (default: the local address of the socket). */
  viaHost?: string;
  logger?: Logger;
  onRequest?: RequestHandler;
  /** Records every message sent and received on every transport, TLS in plaintext (`--trace`, lib/trace). */
  trace?: MessageTrace;
}

/** Options of {@link SipStack.sendRequest}. */
export interface SendRequestOptions {
  /** Provisional responses as they arrive. */
  onProvisional?: (res: SipResponse) => void;
}

/** A bound listening address. */
export interface BoundAddress {
  transport: TransportProtocol;
  address: string;
  port: number;
}

/** SIP over UDP, TCP and TLS with RFC 3261 non-INVITE transactions. */
export class SipStack {
  readonly stats: SipStats = newStats();
  readonly timers: TimerValues;
  /** The clock of the transaction timers (E, F, J, K and the TU-answer bound). */
  readonly clock: Clock;
  readonly log: Logger;
  readonly maxMessageSize: number;
  readonly udp: UdpTransport[] = [];
  readonly streams: StreamTransport[] = [];
  readonly serverTransactions = new Map<string, ServerTransaction>();
  readonly clientTransactions = new Map<string, ClientTransaction>();
  /** The TU-answer bound of the transactions in {@link serverTransactions}: 64·T1. */
  readonly answerBound: AnswerBound;
  /** Completed UDP server transactions through Timer J, outside the heap (not in {@link serverTransactions}). */
  readonly completedTransactions: CompletedTransactions;
  /** Timer G / H of the Completed INVITE transactions over UDP (their non-2xx responses re-sent until the ACK). */
  readonly inviteRetransmissions: InviteRetransmissions;
  handler: RequestHandler | undefined;
  private readonly opts: SipStackOptions;
  private readonly inbound: Inbound;
  private readonly outbound: Outbound;
  private state: 'new' | 'started' | 'stopped' = 'new';

  /**
   * @param opts listeners, TLS, timers, limits, logger and the request handler.
   * @throws SipError INVALID_ARGUMENT for a UDP host that is not an IP address or inconsistent timers.
   */
  constructor(opts: SipStackOptions = {}) {
    this.opts = opts;
    this.timers = resolveTimers(opts.timers);
    this.clock = opts.clock ?? systemClock;
    this.log = opts.logger ?? silentLogger;
    this.maxMessageSize = opts.maxMessageSize ?? DEFAULT_MAX_MESSAGE_SIZE;
    this.answerBound = new AnswerBound(this.clock, this.serverTransactions, timerF(this.timers));
    this.completedTransactions = new CompletedTransactions(this.clock, timerJ(this.timers, false));
    this.inviteRetransmissions = new InviteRetransmissions(this.clock, this.timers);
    this.handler = opts.onRequest;
    this.outbound = new Outbound(this, opts.viaHost);
    this.inbound = new Inbound(this, this.outbound);
    for (const spec of opts.udp ?? []) {
      this.udp.push(new UdpTransport({
        host: spec.host,
        port: spec.port,
        onMessage: (buf, rinfo, t) => this.inbound.datagram(buf, rinfo, t),
        onError: (err) => this.socketError(err),
        ...(opts.trace ? { trace: opts.trace } : {}),
      }));
    }
    for (const spec of opts.tcp ?? []) this.streams.push(this.stream('TCP', spec));
    for (const spec of opts.tls ?? []) this.streams.push(this.stream('TLS', spec, spec.options));
  }

  /**
   * Sets the request handler.
   * @param handler called once per new server transaction.
   */
  onRequest(handler: RequestHandler): void {
    this.handler = handler;
  }

  /** Creates a stream transport (listening when `spec` is given) wired to this stack. */
  stream(protocol: 'TCP' | 'TLS', spec?: ListenSpec, tlsServer?: TlsOptions): StreamTransport {
    return new StreamTransport({
      protocol,
      listen: spec,
      tlsServer,
      tlsClient: this.opts.tlsClient,
      idleTimeoutMs: this.opts.idleTimeoutMs ?? 120_000,
      maxConnections: this.opts.maxConnections ?? DEFAULT_MAX_CONNECTIONS,
      maxConnectionsPerSource: this.opts.maxConnectionsPerSource ?? DEFAULT_MAX_CONNECTIONS_PER_SOURCE,
      firstMessageTimeoutMs: this.opts.firstMessageTimeoutMs ?? DEFAULT_FIRST_MESSAGE_TIMEOUT_MS,
      maxMessageSize: this.maxMessageSize,
      connectTimeoutMs: timerF(this.timers),
      onMessage: (buf, conn) => this.inbound.streamMessage(buf, conn),
      onFramingError: (err, conn) => this.inbound.framingError(err, conn),
      onEvent: (ev, detail) => this.connectionEvent(ev, detail),
      ...(this.opts.trace ? { trace: this.opts.trace } : {}),
    });
  }

  private connectionEvent(ev: string, detail: unknown): void {
    const s = this.stats;
    switch (ev) {
      case 'accepted': s.connectionsAccepted++; break;
      case 'opened': s.connectionsOpened++; break;
      case 'rejected': s.connectionsRejected++; break;
      case 'rejected-source':
        s.connectionsRejectedPerSource++;
        this.log.debug({ source: detail }, 'connection refused: per-source connection limit');
        break;
      case 'idle': s.connectionsIdleClosed++; break;
      case 'first-message-timeout': s.connectionsFirstMessageTimeout++; break;
      case 'closed': s.connectionsClosed++; break;
      case 'keepalive': s.keepalives++; break;
      case 'error': this.socketError(detail); break;
    }
  }

  private socketError(err: unknown): void {
    this.stats.socketErrors++;
    this.log.debug({ err }, 'sip socket error');
  }

  /**
   * Binds every listener.
   * @throws SipError TRANSPORT_ERROR when one cannot bind (the others are closed again).
   */
  async start(): Promise<BoundAddress[]> {
    if (this.state !== 'new') throw new SipError('INVALID_STATE', `stack already ${this.state}`);
    this.state = 'started';
    try {
      for (const u of this.udp) await u.listen();
      for (const s of this.streams) await s.listen();
    } catch (err) {
      await this.stop();
      throw err;
    }
    const bound = this.addresses();
    this.log.info({ bound }, 'sip stack listening');
    return bound;
  }

  /** Listening addresses (after start). */
  addresses(): BoundAddress[] {
    const out: BoundAddress[] = [];
    for (const u of this.udp) {
      try {
        out.push({ transport: 'UDP', ...u.address });
      } catch {
        // not bound (start failed)
      }
    }
    for (const s of this.streams) if (s.address) out.push({ transport: s.protocol, ...s.address });
    return out;
  }

  /** True after {@link stop}. */
  get stopped(): boolean {
    return this.state === 'stopped';
  }

  /** Fails pending client transactions, ends server transactions, closes every socket. */
  async stop(): Promise<void> {
    this.state = 'stopped';
    for (const tx of [...this.clientTransactions.values()]) tx.fail(new SipError('INVALID_STATE', 'SIP stack stopped'));
    for (const tx of [...this.serverTransactions.values()]) tx.terminate('stopped');
    this.answerBound.clear();
    this.completedTransactions.clear();
    this.inviteRetransmissions.clear();
    await Promise.all([...this.udp.map((u) => u.close()), ...this.streams.map((s) => s.close())]);
  }

  /**
   * Sends a non-INVITE request through a client transaction: the stack prepends its Via (fresh branch, `rport`),
   * opens or reuses a connection for TCP/TLS, retransmits on UDP (Timer E) and gives up after Timer F.
   * @param req the request (e.g. from `createRequest`); it is modified (Via added).
   * @param dest transport, host, port (and TLS server name).
   * @param options provisional-response callback.
   * @returns the final response.
   * @throws SipError TIMEOUT, TRANSPORT_ERROR, NO_TRANSPORT, UNSUPPORTED_METHOD, INVALID_STATE (rejections).
   */
  async sendRequest(req: SipRequest, dest: Destination, options: SendRequestOptions = {}): Promise<SipResponse> {
    if (this.state !== 'started') throw new SipError('INVALID_STATE', 'SIP stack not started');
    if (req.method === 'INVITE' || req.method === 'ACK') {
      throw new SipError('UNSUPPORTED_METHOD', `${req.method} needs an INVITE client transaction, which this stack does not have`);
    }
    return this.outbound.request(req, dest, options);
  }

  /**
   * The stream transport for a protocol: the first listening one, else a client-only one made on demand.
   * @param protocol TCP or TLS.
   */
  streamFor(protocol: 'TCP' | 'TLS'): StreamTransport {
    let s = this.streams.find((t) => t.protocol === protocol);
    if (!s) {
      s = this.stream(protocol);
      this.streams.push(s);
    }
    return s;
  }

  /**
   * RFC 3261 §9.2: the status a TU answers a CANCEL with — 200 when the transaction it names is still here, live or
   * Completed (transaction/cancel.ts), else 481. The TU decides, so that what it checks of every request (a
   * registrar's rate limit) holds for CANCEL too.
   * @param cancel the CANCEL request.
   * @param tx its own server transaction.
   */
  cancelStatus(cancel: SipRequest, tx: ServerTransaction): 200 | 481 {
    const completed = tx.flow.transport === 'UDP' ? this.completedTransactions : undefined;
    return cancelStatus(cancel, tx.flow, (k) => this.serverTransactions.has(k) || completed?.find(k) !== undefined);
  }

  /**
   * Runs the TU for a new server transaction; failures become 400 (SipParseError) or 500 responses.
   * @param req the request.
   * @param tx its transaction.
   */
  dispatch(req: SipRequest, tx: ServerTransaction): void {
    const h = this.handler;
    if (!h) {
      tx.reply(503, { reason: 'No Request Handler' });
      return;
    }
    try {
      const r = h(req, tx);
      if (r instanceof Promise) r.then(undefined, (err: unknown) => this.handlerFailed(tx, err));
    } catch (err) {
      this.handlerFailed(tx, err);
    }
  }

  private handlerFailed(tx: ServerTransaction, err: unknown): void {
    this.stats.handlerErrors++;
    try {
      if (err instanceof SipParseError) {
        tx.reply(400, { reason: err.reason });
      } else {
        this.log.error({ err, method: tx.method }, 'sip request handler failed');
        tx.reply(500);
      }
    } catch (e) {
      this.stats.internalErrors++;
      this.log.error({ err: e }, 'sip error response failed');
    }
  }
}
