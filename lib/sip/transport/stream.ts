/**
 * TCP and TLS transports (RFC 3261 §18): a listening server plus outgoing connections, all kept in one table
 * indexed by the far end's address and port (§18: accepted connections by source, opened ones by destination), so
 * responses and later requests reuse an open connection. Each connection has its own {@link StreamFramer}, an idle
 * timeout, and counts against `maxConnections`; connections beyond the limit are closed at once.
 *
 * Accepted connections have two more bounds, so one source cannot hold the listener's capacity: at most
 * `maxConnectionsPerSource` at a time from one IP address (counted on the raw socket, so a TLS listener refuses the
 * excess before spending a handshake on it), and `firstMessageTimeoutMs` to deliver a first complete SIP message
 * (CRLF keep-alives do not count) after the connection (TCP) or the handshake (TLS, itself bounded by the same time).
 */
import { lookup } from 'node:dns/promises';
import { createServer as createTcpServer, connect as tcpConnect, isIP, type Server, type Socket } from 'node:net';
import { connect as tlsConnect, createServer as createTlsServer, type ConnectionOptions, type TLSSocket, type TlsOptions } from 'node:tls';
import { TurnCork } from '../../cork.ts';
import type { MessageTrace } from '../../trace/types.ts';
import { sharedBindOptions } from '../../workers/group.ts';
import { SipError, type SipParseError } from '../errors.ts';
import { StreamFramer } from './framer.ts';
import { normalizeAddress, type FlowInfo, type ListenSpec } from './types.ts';

/** Options of {@link StreamTransport}. */
export interface StreamTransportOptions {
  protocol: 'TCP' | 'TLS';
  /** Where to listen; omit for a client-only transport. */
  listen?: ListenSpec;
  /** TLS server options (cert, key, ca, requestCert, rejectUnauthorized). */
  tlsServer?: TlsOptions;
  /** TLS client options (ca, optional client cert/key); `rejectUnauthorized` defaults to true. */
  tlsClient?: ConnectionOptions;
  idleTimeoutMs: number;
  maxConnections: number;
  /** Accepted connections open at once from one IP address (default: no limit besides `maxConnections`). */
  maxConnectionsPerSource?: number;
  /** An accepted connection that has not delivered a complete message this long is closed (default: `idleTimeoutMs`). */
  firstMessageTimeoutMs?: number;
  maxMessageSize: number;
  /** Bound on connect + TLS handshake. */
  connectTimeoutMs: number;
  onMessage(buf: Buffer, conn: StreamConnection): void;
  /** The stream went out of sync; answer if possible, then `conn.close()`. */
  onFramingError(err: SipParseError, conn: StreamConnection): void;
  /** Connection life-cycle, for statistics and logs. */
  onEvent?(event: StreamEvent, detail?: unknown): void;
  /** Records every message written and every framed message received (keep-alives are not messages): `--trace`. */
  trace?: MessageTrace;
}

/**
 * Connection life-cycle events: `rejected` (global cap), `rejected-source` (per-source cap), `idle`, `first-message-timeout`
 * (accepted, never sent a complete message), and the rest as named.
 */
export type StreamEvent = 'accepted' | 'opened' | 'rejected' | 'rejected-source' | 'idle' | 'first-message-timeout' | 'closed' | 'keepalive' | 'error';

/** One TCP or TLS connection. */
export class StreamConnection {
  readonly socket: Socket;
  readonly flow: FlowInfo;
  readonly key: string;
  readonly framer: StreamFramer;
  /** Client transactions waiting for a response on this connection: failed at once when it closes (§17.1.4). */
  readonly waiting = new Set<{ transportError(err: unknown): void }>();
  /** Set while an accepted connection's first-message timer runs: called (once) when a message is complete. */
  firstMessage: (() => void) | undefined;
  /** Where messages of this connection are recorded, if anywhere. */
  readonly trace: MessageTrace | undefined;
  readonly #out: TurnCork;

  /**
   * @param socket the connected (and, for TLS, handshaken) socket.
   * @param protocol TCP or TLS.
   * @param maxMessageSize framer limit.
   * @param trace records the messages (in plaintext, also over TLS).
   */
  constructor(socket: Socket, protocol: 'TCP' | 'TLS', maxMessageSize: number, trace?: MessageTrace) {
    this.socket = socket;
    this.trace = trace;
    const flow: FlowInfo = {
      transport: protocol,
      remoteAddress: normalizeAddress(socket.remoteAddress ?? ''),
      remotePort: socket.remotePort ?? 0,
      localAddress: normalizeAddress(socket.localAddress ?? ''),
      localPort: socket.localPort ?? 0,
    };
    if (protocol === 'TLS') {
      const t = socket as TLSSocket;
      flow.authorized = t.authorized;
      const cert = t.getPeerCertificate();
      if (cert && Object.keys(cert).length > 0) flow.peerCertificate = cert;
    }
    this.flow = flow;
    this.key = connKey(flow.remoteAddress, flow.remotePort);
    this.framer = new StreamFramer(maxMessageSize);
    this.#out = new TurnCork(socket);
  }

  /** True while bytes can still be written. */
  get open(): boolean {
    return !this.socket.destroyed && this.socket.writable;
  }

  /**
   * Writes bytes, corked with the turn's other writes on this connection (lib/cork.ts).
   * @param buf the bytes.
   * @param done called with the error if the write failed.
   */
  write(buf: Buffer, done?: (err: Error | null) => void): void {
    if (!this.open) {
      done?.(new SipError('TRANSPORT_ERROR', 'connection closed'));
      return;
    }
    if (this.trace !== undefined) this.traced('out', buf);
    this.#out.write(buf, (err) => done?.(err ?? null));
  }

  /** Records a whole message of this connection (callers check {@link trace} first). */
  traced(direction: 'in' | 'out', buf: Buffer): void {
    const f = this.flow;
    if (direction === 'out') this.trace?.record('sip', 'tcp', 'out', f.localAddress, f.localPort, f.remoteAddress, f.remotePort, buf);
    else this.trace?.record('sip', 'tcp', 'in', f.remoteAddress, f.remotePort, f.localAddress, f.localPort, buf);
  }

  /** Flushes and closes; destroys the socket if the peer does not finish within a second. */
  close(): void {
    this.socket.end();
    setTimeout(() => this.socket.destroy(), 1000).unref();
  }
}

function connKey(address: string, port: number): string {
  return `${address}|${port}`;
}

/** A TCP or TLS transport. */
export class StreamTransport {
  readonly protocol: 'TCP' | 'TLS';
  private readonly opts: StreamTransportOptions;
  private server: Server | undefined;
  private readonly conns = new Map<string, StreamConnection>();
  private readonly all = new Set<StreamConnection>();
  private readonly pending = new Map<string, Promise<StreamConnection>>();
  /** Accepted raw sockets per remote IP address (entries removed at 0, so the map holds only live sources). */
  private readonly perSource = new Map<string, number>();
  private bound: { address: string; port: number } | undefined;
  private closed = false;

  /**
   * @param opts protocol, listening address, TLS material, limits and callbacks.
   */
  constructor(opts: StreamTransportOptions) {
    this.protocol = opts.protocol;
    this.opts = opts;
  }

  /** Bound address (after {@link listen}), undefined for client-only transports. */
  get address(): { address: string; port: number } | undefined {
    return this.bound;
  }

  /** Open connections. */
  get connectionCount(): number {
    return this.all.size;
  }

  /**
   * Starts listening (no-op without `listen`).
   * @throws SipError TRANSPORT_ERROR on bind failure.
   */
  async listen(): Promise<{ address: string; port: number } | undefined> {
    const spec = this.opts.listen;
    if (!spec) return undefined;
    const handshakeTimeout = Math.min(this.opts.connectTimeoutMs, this.opts.firstMessageTimeoutMs ?? Infinity);
    const server = this.protocol === 'TLS'
      ? createTlsServer({ ...this.opts.tlsServer, handshakeTimeout }, (s) => this.accept(s))
      : createTcpServer((s) => {
        if (this.admit(s)) this.accept(s);
      });
    // TLS: enforce the limits on the raw socket, before any handshake work is spent on it (TCP does it above).
    if (this.protocol === 'TLS') server.on('connection', (s: Socket) => void this.admit(s));
    server.on('tlsClientError', (err: Error) => this.opts.onEvent?.('error', err));
    server.on('error', (err: Error) => this.opts.onEvent?.('error', err));
    this.server = server;
    await new Promise<void>((resolve, reject) => {
      const onError = (err: Error): void => reject(new SipError('TRANSPORT_ERROR', `${this.protocol} listen ${spec.host}:${spec.port}: ${err.message}`, err));
      server.once('error', onError);
      server.listen({ port: spec.port, host: spec.host, ...sharedBindOptions() }, () => {
        server.off('error', onError);
        resolve();
      });
    });
    const a = server.address();
    if (a && typeof a === 'object') this.bound = { address: normalizeAddress(a.address), port: a.port };
    return this.bound;
  }

  /**
   * The limits of a new raw socket: the global cap and the per-source cap. A socket within both is counted for its
   * source until it closes.
   * @returns false when the socket was refused (destroyed).
   */
  private admit(raw: Socket): boolean {
    const source = normalizeAddress(raw.remoteAddress ?? '');
    const count = this.perSource.get(source) ?? 0;
    let refused: StreamEvent | undefined;
    if (this.closed || this.all.size >= this.opts.maxConnections) refused = 'rejected';
    else if (count >= (this.opts.maxConnectionsPerSource ?? Infinity)) refused = 'rejected-source';
    if (refused) {
      this.opts.onEvent?.(refused, source);
      raw.destroy();
      return false;
    }
    this.perSource.set(source, count + 1);
    raw.once('close', () => {
      const n = (this.perSource.get(source) ?? 1) - 1;
      if (n <= 0) this.perSource.delete(source);
      else this.perSource.set(source, n);
    });
    return true;
  }

  /** Accepted connections from one IP address now open (raw sockets, TLS ones in their handshake included). */
  connectionsFrom(address: string): number {
    return this.perSource.get(normalizeAddress(address)) ?? 0;
  }

  private accept(socket: Socket): void {
    if (socket.destroyed) return;
    if (this.closed || this.all.size >= this.opts.maxConnections) {
      this.opts.onEvent?.('rejected');
      socket.destroy();
      return;
    }
    const conn = this.setup(socket);
    this.awaitFirstMessage(conn);
    this.opts.onEvent?.('accepted');
  }

  /** Closes an accepted connection that has not delivered a complete message within `firstMessageTimeoutMs`. */
  private awaitFirstMessage(conn: StreamConnection): void {
    const ms = this.opts.firstMessageTimeoutMs;
    if (ms === undefined || ms >= this.opts.idleTimeoutMs) return;
    const timer = setTimeout(() => {
      this.opts.onEvent?.('first-message-timeout', conn.flow.remoteAddress);
      conn.socket.destroy();
    }, ms);
    timer.unref();
    conn.firstMessage = () => clearTimeout(timer);
    conn.socket.once('close', () => clearTimeout(timer));
  }

  private setup(socket: Socket): StreamConnection {
    const conn = new StreamConnection(socket, this.protocol, this.opts.maxMessageSize, this.opts.trace);
    this.conns.set(conn.key, conn);
    this.all.add(conn);
    socket.setNoDelay(true);
    socket.setTimeout(this.opts.idleTimeoutMs);
    socket.on('timeout', () => {
      this.opts.onEvent?.('idle');
      socket.destroy();
    });
    socket.on('data', (chunk: Buffer) => {
      const r = conn.framer.push(chunk);
      for (let i = 0; i < r.keepalives; i++) this.opts.onEvent?.('keepalive');
      if (r.messages.length > 0 && conn.firstMessage) {
        conn.firstMessage();
        conn.firstMessage = undefined;
      }
      for (const m of r.messages) {
        if (conn.trace !== undefined) conn.traced('in', m);
        this.opts.onMessage(m, conn);
      }
      if (r.error) {
        socket.pause();
        this.opts.onFramingError(r.error, conn);
      }
    });
    socket.on('error', (err) => this.opts.onEvent?.('error', err));
    socket.on('close', () => {
      for (const w of [...conn.waiting]) w.transportError(new SipError('TRANSPORT_ERROR', 'connection closed before the response'));
      conn.waiting.clear();
      if (this.conns.get(conn.key) === conn) this.conns.delete(conn.key);
      this.all.delete(conn);
      this.opts.onEvent?.('closed');
    });
    return conn;
  }

  /**
   * The open connection to an address and port, if any.
   * @param address IP address.
   * @param port port.
   */
  find(address: string, port: number): StreamConnection | undefined {
    const c = this.conns.get(connKey(normalizeAddress(address), port));
    return c && c.open ? c : undefined;
  }

  /**
   * An open connection to `host:port`: reused when one exists (or is being opened), otherwise opened.
   * @param host IP address or host name.
   * @param port port.
   * @param servername TLS: the name to verify (default: `host` when it is a name).
   * @throws SipError TRANSPORT_ERROR (refused, timeout, certificate) or CONNECTION_LIMIT.
   */
  async connect(host: string, port: number, servername?: string): Promise<StreamConnection> {
    if (this.closed) throw new SipError('INVALID_STATE', `${this.protocol} transport closed`);
    let address = normalizeAddress(host);
    if (isIP(address) === 0) {
      try {
        address = normalizeAddress((await lookup(host)).address);
      } catch (err) {
        throw new SipError('TRANSPORT_ERROR', `cannot resolve ${host}`, err);
      }
    }
    const existing = this.find(address, port);
    if (existing) return existing;
    const key = connKey(address, port);
    const inFlight = this.pending.get(key);
    if (inFlight) return inFlight;
    if (this.all.size >= this.opts.maxConnections) throw new SipError('CONNECTION_LIMIT', `${this.opts.maxConnections} connections open`);
    const name = servername ?? (isIP(normalizeAddress(host)) === 0 ? host : undefined);
    const p = this.open(address, port, name).finally(() => this.pending.delete(key));
    this.pending.set(key, p);
    return p;
  }

  private open(address: string, port: number, servername: string | undefined): Promise<StreamConnection> {
    return new Promise<StreamConnection>((resolve, reject) => {
      const socket: Socket = this.protocol === 'TLS'
        ? tlsConnect({ ...this.opts.tlsClient, host: address, port, servername, rejectUnauthorized: this.opts.tlsClient?.rejectUnauthorized ?? true })
        : tcpConnect({ host: address, port });
      const timer = setTimeout(() => socket.destroy(new Error('connect timeout')), this.opts.connectTimeoutMs);
      const onError = (err: Error): void => {
        clearTimeout(timer);
        socket.destroy();
        reject(new SipError('TRANSPORT_ERROR', `${this.protocol} connect ${address}:${port}: ${err.message}`, err));
      };
      socket.once('error', onError);
      socket.once(this.protocol === 'TLS' ? 'secureConnect' : 'connect', () => {
        clearTimeout(timer);
        socket.off('error', onError);
        if (this.closed) {
          socket.destroy();
          reject(new SipError('INVALID_STATE', `${this.protocol} transport closed`));
          return;
        }
        const conn = this.setup(socket);
        this.opts.onEvent?.('opened');
        resolve(conn);
      });
    });
  }

  /** Stops listening and destroys every connection. */
  async close(): Promise<void> {
    this.closed = true;
    for (const c of this.all) c.socket.destroy();
    const server = this.server;
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}
