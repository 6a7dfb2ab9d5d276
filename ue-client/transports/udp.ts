/**
 * SIP over UDP for SIP.js (RFC 3261 §18.1). SIP.js 0.21's non-INVITE client transaction has Timer F but no Timer E,
 * i.e. it never retransmits, so this transport does it (§17.1.2.2): every request but ACK is resent after T1, the
 * interval doubling up to T2 (at T2 once a provisional response arrived), until a final response with its branch
 * arrives or Timer F (64·T1) runs out — SIP.js then reports the timeout itself (408).
 *
 * The socket is connected to the registrar: only its datagrams are accepted, and an ICMP port-unreachable surfaces as
 * ECONNREFUSED, which fails the registration at once instead of after 32 s.
 */
import { createSocket, type Socket } from 'node:dgram';
import { isIP } from 'node:net';
import { TransportState, type Core } from 'sip.js';
import { UeError } from '../errors.ts';
import { UeTransport, requestKey, responseKey, type LocalAddress } from './base.ts';
import { createDropper, type DropPattern, type Dropper } from './drop.ts';

/** RFC 3261 §17.1.1.1 defaults. */
export const UDP_TIMER_DEFAULTS = { t1: 500, t2: 4000 } as const;

/** Options of {@link UdpTransport}. */
export interface UdpTransportOptions {
  /** The registrar (an IP address: resolve names first). */
  remote: { host: string; port: number };
  /** Local address to bind (default: any, the kernel picks the route's source address). */
  localHost?: string;
  localPort?: number;
  /** T1 and T2 in ms; Timer F is 64·T1. */
  timers?: { t1?: number; t2?: number };
  /** Test hook: drop this share of datagrams, both directions. */
  drop?: DropPattern;
}

interface Pending {
  datagram: Buffer;
  raw: string;
  interval: number;
  proceeding: boolean;
  started: number;
  timer: NodeJS.Timeout | undefined;
}

/** UDP transport with Timer E/F retransmission. */
export class UdpTransport extends UeTransport {
  readonly protocol = 'UDP' as const;
  readonly #o: UdpTransportOptions;
  readonly #t1: number;
  readonly #t2: number;
  readonly #dropper: Dropper | undefined;
  readonly #pending = new Map<string, Pending>();
  #socket: Socket | undefined;
  #local: LocalAddress | undefined;

  /**
   * SIP.js constructs transports itself (`transportConstructor`), passing its logger and `transportOptions`.
   * @param _logger SIP.js's logger (unused: failures go to the error listeners, the wire to the taps).
   * @param options remote address, binding, timers, drop pattern.
   */
  constructor(_logger: Core.Logger | undefined, options: UdpTransportOptions) {
    super();
    if (isIP(options.remote.host) === 0) throw new UeError('UE_TRANSPORT', `UDP needs an IP address, got ${options.remote.host}`);
    this.#o = options;
    this.#t1 = options.timers?.t1 ?? UDP_TIMER_DEFAULTS.t1;
    this.#t2 = options.timers?.t2 ?? UDP_TIMER_DEFAULTS.t2;
    this.#dropper = options.drop ? createDropper(options.drop) : undefined;
  }

  /** Datagrams seen and dropped by the drop pattern, per direction (undefined without one). */
  get dropCounts(): Dropper['counts'] | undefined {
    return this.#dropper?.counts;
  }

  localAddress(): LocalAddress {
    if (!this.#local) throw new UeError('UE_STATE', 'UDP transport not connected');
    return { ...this.#local };
  }

  async connect(): Promise<void> {
    if (this.#socket) return;
    this.setState(TransportState.Connecting);
    const { remote } = this.#o;
    const socket = createSocket(isIP(remote.host) === 6 ? 'udp6' : 'udp4');
    try {
      await new Promise<void>((resolve, reject) => {
        socket.once('error', reject);
        socket.bind(this.#o.localPort ?? 0, this.#o.localHost, () => {
          socket.connect(remote.port, remote.host, () => {
            socket.off('error', reject);
            resolve();
          });
        });
      });
    } catch (err) {
      socket.close();
      this.setState(TransportState.Disconnected);
      throw new UeError('UE_TRANSPORT', `cannot open UDP socket towards ${remote.host}:${remote.port}: ${(err as Error).message}`, { cause: err });
    }
    const a = socket.address();
    this.#local = { host: a.address, port: a.port };
    this.#socket = socket;
    socket.on('message', (buf) => this.#received(buf));
    socket.on('error', (err: NodeJS.ErrnoException) => {
      // Linux reports an ICMP port unreachable for a connected socket as ECONNREFUSED on the socket.
      this.#stopAll();
      const why = err.code === 'ECONNREFUSED' ? 'ICMP port unreachable (ECONNREFUSED)' : (err.code ?? err.message);
      this.fail(new UeError('UE_TRANSPORT', `registrar ${remote.host}:${remote.port} unreachable over UDP: ${why}`, { cause: err }));
    });
    this.setState(TransportState.Connected);
    this.onConnect?.();
  }

  async disconnect(): Promise<void> {
    this.#stopAll();
    const s = this.#socket;
    if (!s) return;
    this.#socket = undefined;
    this.setState(TransportState.Disconnecting);
    await new Promise<void>((resolve) => s.close(() => resolve()));
    this.setState(TransportState.Disconnected);
    this.onDisconnect?.();
  }

  protected async write(message: string): Promise<void> {
    const datagram = Buffer.from(message, 'utf8');
    await this.#transmit(datagram, message, false);
    const key = requestKey(message);
    if (!key || key.method === 'ACK') return;
    const old = this.#pending.get(key.branch);
    if (old) clearTimeout(old.timer);
    const p: Pending = { datagram, raw: message, interval: this.#t1, proceeding: false, started: Date.now(), timer: undefined };
    this.#pending.set(key.branch, p);
    this.#schedule(key.branch, p);
  }

  /** Timer E: resend after `interval`; stop once Timer F (64·T1) has run out. */
  #schedule(branch: string, p: Pending): void {
    p.timer = setTimeout(() => {
      if (this.#pending.get(branch) !== p) return;
      if (Date.now() - p.started >= 64 * this.#t1) {
        this.#pending.delete(branch);
        return;
      }
      p.interval = p.proceeding ? this.#t2 : Math.min(p.interval * 2, this.#t2);
      this.#transmit(p.datagram, p.raw, true).catch(() => undefined); // the socket 'error' event reports it
      this.#schedule(branch, p);
    }, Math.min(p.interval, Math.max(0, p.started + 64 * this.#t1 - Date.now())));
    p.timer.unref();
  }

  async #transmit(datagram: Buffer, raw: string, retransmission: boolean): Promise<void> {
    const s = this.#socket;
    if (!s) throw new UeError('UE_TRANSPORT', 'UDP socket closed');
    if (this.#dropper?.drop('out')) {
      this.tap('out', raw, { dropped: true, retransmission });
      return;
    }
    this.tap('out', raw, { retransmission });
    await new Promise<void>((resolve, reject) => s.send(datagram, (err) => (err ? reject(err) : resolve())));
  }

  #received(buf: Buffer): void {
    const raw = buf.toString('utf8');
    if (this.#dropper?.drop('in')) {
      this.tap('in', raw, { dropped: true });
      return;
    }
    const key = responseKey(raw);
    const p = key ? this.#pending.get(key.branch) : undefined;
    if (key && p) {
      if (key.status >= 200) {
        clearTimeout(p.timer);
        this.#pending.delete(key.branch);
      } else {
        p.proceeding = true;
      }
    }
    this.deliver(raw, false);
  }

  /** Stops Timer E for every pending request. */
  override stopRetransmissions(): void {
    this.#stopAll();
  }

  #stopAll(): void {
    for (const p of this.#pending.values()) clearTimeout(p.timer);
    this.#pending.clear();
  }
}
