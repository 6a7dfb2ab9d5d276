/**
 * UDP transport (RFC 3261 §18 over dgram), IPv4 or IPv6 per socket. One socket both receives requests and sends
 * responses, so replies leave from the address and port the request arrived on (RFC 3581 §4 requires it for
 * `rport`). Socket errors after bind are reported, never thrown. In a worker group (`--workers N`, lib/workers) the
 * workers share the port: each binds its own socket with SO_REUSEPORT, or reads the cluster primary's.
 */
import { createSocket, type RemoteInfo, type Socket } from 'node:dgram';
import { lookup as dnsLookup, type LookupOneOptions } from 'node:dns';
import { isIP } from 'node:net';
import type { MessageTrace } from '../../trace/types.ts';
import { sharedBindOptions } from '../../workers/group.ts';
import { SipError } from '../errors.ts';
import { normalizeAddress } from './types.ts';

/** Options of {@link UdpTransport}. */
export interface UdpTransportOptions {
  host: string;
  port: number;
  /** Every datagram received. */
  onMessage(buf: Buffer, rinfo: RemoteInfo, transport: UdpTransport): void;
  /** Socket-level errors after bind (ICMP-triggered errors, send failures without a callback). */
  onError?(err: Error): void;
  /**
   * SO_RCVBUF/SO_SNDBUF in octets (default 4 MiB; the kernel caps it at net.core.rmem_max/wmem_max). A registrar
   * under bursts drops datagrams with the 208 KiB Linux default, and every drop costs the client a T1 retransmission.
   */
  bufferSize?: number;
  /** Records every datagram sent and received (keep-alives of only CR/LF excepted): `--trace`. */
  trace?: MessageTrace;
}

/**
 * dgram resolves every destination before sending, an IP literal too (dns.lookup answers it on the next tick). Every
 * response goes to an address (lib/sip resolves names before it sends), so a literal is answered at once and the send
 * happens in the same call (issue #12); anything else still goes to dns.lookup.
 */
function literalFirst(hostname: string, options: number | LookupOneOptions, callback: (err: NodeJS.ErrnoException | null, address: string, family: number) => void): void {
  const family = isIP(hostname);
  if (family !== 0) callback(null, hostname, family);
  else dnsLookup(hostname, typeof options === 'number' ? { family: options } : options, callback);
}

/** One bound UDP socket. */
export class UdpTransport {
  readonly family: 4 | 6;
  private readonly socket: Socket;
  private readonly opts: UdpTransportOptions;
  private bound: { address: string; port: number } | undefined;
  private closed = false;
  private readonly shared: ReturnType<typeof sharedBindOptions>;

  /**
   * @param opts address to bind and callbacks.
   * @throws SipError INVALID_ARGUMENT when `host` is not an IP address.
   */
  constructor(opts: UdpTransportOptions) {
    const fam = isIP(opts.host);
    if (fam === 0) throw new SipError('INVALID_ARGUMENT', `UDP listen host ${opts.host} is not an IP address`);
    this.family = fam === 6 ? 6 : 4;
    this.opts = opts;
    this.shared = sharedBindOptions();
    this.socket = createSocket({
      type: this.family === 6 ? 'udp6' : 'udp4', ipv6Only: this.family === 6, lookup: literalFirst, ...(this.shared?.reusePort ? { reusePort: true } : {}),
    });
    this.socket.on('message', (buf, rinfo) => {
      if (this.opts.trace !== undefined) this.traceIn(this.opts.trace, buf, rinfo);
      this.opts.onMessage(buf, rinfo, this);
    });
  }

  /** Bound address and port (after {@link listen}). */
  get address(): { address: string; port: number } {
    if (!this.bound) throw new SipError('INVALID_STATE', 'UDP transport is not bound');
    return this.bound;
  }

  /**
   * Binds the socket.
   * @throws SipError TRANSPORT_ERROR (e.g. EADDRINUSE) — rejected, never an uncaught exception.
   */
  listen(): Promise<{ address: string; port: number }> {
    return new Promise((resolve, reject) => {
      const onError = (err: Error): void => reject(new SipError('TRANSPORT_ERROR', `UDP bind ${this.opts.host}:${this.opts.port}: ${err.message}`, err));
      this.socket.once('error', onError);
      this.socket.bind({ port: this.opts.port, address: this.opts.host, ...(this.shared ? { exclusive: this.shared.exclusive } : {}) }, () => {
        this.socket.off('error', onError);
        this.socket.on('error', (err) => this.opts.onError?.(err));
        const size = this.opts.bufferSize ?? 4 * 1024 * 1024;
        try {
          this.socket.setRecvBufferSize(size);
          this.socket.setSendBufferSize(size);
        } catch {
          // unprivileged and above the kernel maximum: keep the default
        }
        const a = this.socket.address();
        this.bound = { address: normalizeAddress(a.address), port: a.port };
        resolve(this.bound);
      });
    });
  }

  /**
   * Sends one datagram.
   * @param buf the bytes.
   * @param port destination port.
   * @param address destination IP address.
   * @param done called with the error if sending failed.
   */
  send(buf: Buffer, port: number, address: string, done?: (err: Error | null) => void): void {
    if (this.closed) {
      done?.(new SipError('INVALID_STATE', 'UDP transport closed'));
      return;
    }
    if (this.opts.trace !== undefined && this.bound) this.opts.trace.record('sip', 'udp', 'out', this.bound.address, this.bound.port, normalizeAddress(address), port, buf);
    try {
      this.socket.send(buf, port, address, (err) => done?.(err ?? null));
    } catch (err) {
      // dgram throws synchronously for some argument errors (bad port, wrong family): report, do not crash
      done?.(err instanceof Error ? err : new Error(String(err)));
    }
  }

  private traceIn(trace: MessageTrace, buf: Buffer, rinfo: RemoteInfo): void {
    if (!this.bound || isKeepAlive(buf)) return;
    trace.record('sip', 'udp', 'in', normalizeAddress(rinfo.address), rinfo.port, this.bound.address, this.bound.port, buf);
  }

  /** Closes the socket. */
  close(): Promise<void> {
    if (this.closed) return Promise.resolve();
    this.closed = true;
    return new Promise((resolve) => {
      try {
        this.socket.close(() => resolve());
      } catch {
        resolve(); // never bound
      }
    });
  }
}

/** A datagram of CR and LF only: a keep-alive (RFC 5626 §3.5.1 style), not a SIP message. */
function isKeepAlive(buf: Buffer): boolean {
  for (const b of buf) if (b !== 13 && b !== 10) return false;
  return true;
}
