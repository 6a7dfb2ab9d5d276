/**
 * SIP over TCP and TLS for SIP.js (RFC 3261 §18, §26.2): one connection to the registrar, opened by `connect()`;
 * received bytes are cut into messages by Content-Length (`lib/sip` StreamFramer); responses come back on the same
 * connection. Reliable transports need no Timer E. TLS always verifies the registrar: its chain against the given CA
 * (the `mcx certs` CA of the partner system, or the system roots) and its name (`servername`, else the host) —
 * there is deliberately no switch to turn that off.
 */
import { connect as netConnect, isIP, type Socket } from 'node:net';
import { checkServerIdentity, connect as tlsConnect, type PeerCertificate, type TLSSocket } from 'node:tls';
import { TransportState, type Core } from 'sip.js';
import { StreamFramer } from '../../lib/sip/index.ts';
import { UeError } from '../errors.ts';
import { UeTransport, type LocalAddress } from './base.ts';

/** Options of {@link StreamTransport}. */
export interface StreamTransportOptions {
  /** The registrar. */
  remote: { host: string; port: number };
  /** TLS: trust anchors (PEM) and the name the certificate must carry; absent for TCP. */
  tls?: { ca?: string[]; servername?: string };
  /** Connection set-up limit (default 10 s). */
  connectTimeoutMs?: number;
}

/** TLS failures Node reports with these codes are certificate problems, not network ones. */
const TLS_CERT_ERROR = /^(ERR_TLS_CERT_ALTNAME_INVALID|UNABLE_TO_|SELF_SIGNED_CERT|DEPTH_ZERO_SELF_SIGNED|CERT_|ERR_SSL_|ERR_TLS_)/;

/** TCP or TLS transport. */
export class StreamTransport extends UeTransport {
  readonly protocol: 'TCP' | 'TLS';
  readonly #o: StreamTransportOptions;
  #socket: Socket | TLSSocket | undefined;
  #local: LocalAddress | undefined;
  #closing = false;

  /**
   * SIP.js constructs transports itself (`transportConstructor`), passing its logger and `transportOptions`.
   * @param _logger SIP.js's logger (unused).
   * @param options remote address and, for TLS, the trust settings.
   */
  constructor(_logger: Core.Logger | undefined, options: StreamTransportOptions) {
    super();
    this.protocol = options.tls ? 'TLS' : 'TCP';
    this.#o = options;
  }

  localAddress(): LocalAddress {
    if (!this.#local) throw new UeError('UE_STATE', `${this.protocol} transport not connected`);
    return { ...this.#local };
  }

  /** The verified peer certificate's subject CN (TLS only, once connected). */
  get peerCommonName(): string | undefined {
    const s = this.#socket;
    if (!s || !('getPeerCertificate' in s)) return undefined;
    const cn = s.getPeerCertificate().subject?.CN;
    return Array.isArray(cn) ? cn[0] : cn;
  }

  async connect(): Promise<void> {
    if (this.#socket) return;
    this.setState(TransportState.Connecting);
    const { remote, tls } = this.#o;
    const where = `${remote.host}:${remote.port}`;
    let socket: Socket | TLSSocket;
    try {
      socket = await new Promise<Socket | TLSSocket>((resolve, reject) => {
        // RFC 6066 §3 forbids an IP literal as SNI; without servername Node checks the host's IP SANs instead.
        const servername = tls?.servername ?? (isIP(remote.host) === 0 ? remote.host : undefined);
        const s = tls
          ? tlsConnect({
            host: remote.host, port: remote.port, ca: tls.ca, rejectUnauthorized: true, minVersion: 'TLSv1.2',
            ...(servername !== undefined && isIP(servername) === 0 ? { servername } : {}),
            // An IP given as the expected name: still checked, against the certificate's IP SANs.
            ...(servername !== undefined && isIP(servername) !== 0
              ? { checkServerIdentity: (_host: string, cert: PeerCertificate) => checkServerIdentity(servername, cert) } : {}),
          }, () => resolve(s))
          : netConnect({ host: remote.host, port: remote.port }, () => resolve(s));
        const timer = setTimeout(() => {
          s.destroy();
          reject(Object.assign(new Error(`no connection within ${this.#o.connectTimeoutMs ?? 10_000} ms`), { code: 'ETIMEDOUT' }));
        }, this.#o.connectTimeoutMs ?? 10_000);
        s.once('error', (err) => {
          clearTimeout(timer);
          reject(err);
        });
        s.once(tls ? 'secureConnect' : 'connect', () => clearTimeout(timer));
      });
    } catch (err) {
      this.setState(TransportState.Disconnected);
      const code = (err as NodeJS.ErrnoException).code ?? '';
      if (tls && TLS_CERT_ERROR.test(code)) {
        const hint = code === 'ERR_TLS_CERT_ALTNAME_INVALID' ? 'the certificate does not name this registrar'
          : 'the certificate does not chain to a trusted CA (give the partner CA with --tls-ca)';
        throw new UeError('UE_TLS', `TLS to ${where} refused: ${code}: ${hint}`, { cause: err });
      }
      throw new UeError('UE_TRANSPORT', `cannot connect over ${this.protocol} to ${where}: ${code || (err as Error).message}`, { cause: err });
    }
    socket.setNoDelay(true);
    this.#socket = socket;
    this.#local = { host: socket.localAddress ?? '', port: socket.localPort ?? 0 };
    const framer = new StreamFramer();
    socket.on('data', (chunk: Buffer) => {
      const r = framer.push(chunk);
      for (const m of r.messages) this.deliver(m.toString('utf8'), true);
      if (r.error) {
        this.fail(new UeError('UE_TRANSPORT', `${this.protocol} stream from ${where} out of sync: ${r.error.message}`));
        socket.destroy();
      }
    });
    socket.on('error', () => undefined); // 'close' follows and reports
    socket.on('close', () => {
      const expected = this.#closing;
      this.#socket = undefined;
      this.setState(TransportState.Disconnected);
      if (!expected) {
        const err = new UeError('UE_TRANSPORT', `${this.protocol} connection to ${where} closed by the peer`);
        this.fail(err);
        this.onDisconnect?.(err);
      } else {
        this.onDisconnect?.();
      }
    });
    this.setState(TransportState.Connected);
    this.onConnect?.();
  }

  async disconnect(): Promise<void> {
    const s = this.#socket;
    if (!s) return;
    this.#closing = true;
    this.setState(TransportState.Disconnecting);
    await new Promise<void>((resolve) => {
      s.once('close', () => resolve());
      s.end();
      setTimeout(() => s.destroy(), 1000).unref();
    });
  }

  protected async write(message: string): Promise<void> {
    const s = this.#socket;
    if (!s) throw new UeError('UE_TRANSPORT', `${this.protocol} connection closed`);
    this.tap('out', message);
    await new Promise<void>((resolve, reject) => s.write(message, 'utf8', (err) => (err ? reject(err) : resolve())));
  }
}
