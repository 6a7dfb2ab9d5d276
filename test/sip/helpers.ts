/**
 * Test helpers for lib/sip: the RFC 4475 vectors, raw UDP and TCP peers that speak bytes (so tests check what is
 * on the wire, not what our own parser thinks), and request builders.
 */
import { createSocket, type Socket as UdpSocket } from 'node:dgram';
import { readFileSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { StreamFramer } from '../../lib/sip/transport/framer.ts';

/** Folder of the RFC 4475 torture messages. */
export const VECTORS = new URL('../../../shared/vectors/rfc4475/', import.meta.url);

/** One index.json entry. */
export interface TortureEntry {
  name: string;
  section: string;
  title: string;
  method: string;
  valid: boolean;
  note: string;
}

/** The index of the torture messages. */
export function tortureIndex(): TortureEntry[] {
  return JSON.parse(readFileSync(new URL('index.json', VECTORS), 'utf8')) as TortureEntry[];
}

/**
 * The exact bytes of one torture message.
 * @param name e.g. `wsinv`.
 */
export function vector(name: string): Buffer {
  return readFileSync(new URL(`${name}.dat`, VECTORS));
}

/** Options of {@link rawRequest}. */
export interface RawRequestOptions {
  method?: string;
  uri?: string;
  /** Via transport token. */
  transport?: string;
  viaHost?: string;
  viaPort?: number;
  branch?: string;
  /** Extra Via parameters, e.g. `;rport`. */
  viaParams?: string;
  callId?: string;
  cseq?: number;
  fromTag?: string;
  /** Extra header lines (without CRLF). */
  extra?: string[];
  body?: string;
}

/**
 * A request as the bytes a UA would put on the wire.
 * @param o fields to vary.
 */
export function rawRequest(o: RawRequestOptions = {}): string {
  const method = o.method ?? 'REGISTER';
  const body = o.body ?? '';
  const lines = [
    `${method} ${o.uri ?? 'sip:ims.partner.example'} SIP/2.0`,
    `Via: SIP/2.0/${o.transport ?? 'UDP'} ${o.viaHost ?? '127.0.0.1'}${o.viaPort === undefined ? '' : ':' + o.viaPort};branch=${o.branch ?? 'z9hG4bK-test-1'}${o.viaParams ?? ''}`,
    'Max-Forwards: 70',
    `From: <sip:alice@ims.partner.example>;tag=${o.fromTag ?? 'f1'}`,
    'To: <sip:alice@ims.partner.example>',
    `Call-ID: ${o.callId ?? 'call-1@test'}`,
    `CSeq: ${o.cseq ?? 1} ${method}`,
    'Contact: <sip:alice@127.0.0.1>',
    ...(o.extra ?? []),
    `Content-Length: ${Buffer.byteLength(body)}`,
    '',
    body,
  ];
  return lines.join('\r\n');
}

/** A UDP peer that records every datagram it receives. */
export class UdpPeer {
  readonly socket: UdpSocket;
  readonly received: Buffer[] = [];
  private waiters: Array<() => void> = [];

  private closed = false;

  private constructor(socket: UdpSocket) {
    this.socket = socket;
    // A test that fails before close() must not keep the process (and the whole run) alive.
    socket.unref();
    socket.on('message', (m) => {
      this.received.push(m);
      for (const w of this.waiters.splice(0)) w();
    });
  }

  /**
   * Binds a peer.
   * @param host 127.0.0.1 or ::1.
   */
  static async open(host = '127.0.0.1'): Promise<UdpPeer> {
    const s = createSocket(host.includes(':') ? 'udp6' : 'udp4');
    await new Promise<void>((resolve) => s.bind(0, host, () => resolve()));
    return new UdpPeer(s);
  }

  /** The bound port. */
  get port(): number {
    return this.socket.address().port;
  }

  /**
   * Sends bytes.
   * @param data request text or bytes.
   * @param port destination port.
   * @param host destination address.
   */
  send(data: string | Buffer, port: number, host = '127.0.0.1'): void {
    this.socket.send(typeof data === 'string' ? Buffer.from(data) : data, port, host);
  }

  /**
   * Waits until `n` datagrams have been received in total.
   * @param n count.
   * @param ms timeout.
   */
  async waitFor(n: number, ms = 2000): Promise<string[]> {
    const deadline = Date.now() + ms;
    while (this.received.length < n) {
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`expected ${n} datagrams, got ${this.received.length}`);
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, left);
        this.waiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
    return this.received.map((b) => b.toString('utf8'));
  }

  /** Closes the socket (idempotent). */
  close(): Promise<void> {
    if (this.closed) return Promise.resolve();
    this.closed = true;
    return new Promise((resolve) => this.socket.close(() => resolve()));
  }
}

/** A TCP peer that frames what it receives with Content-Length, like a SIP UA would. */
export class TcpPeer {
  readonly socket: Socket;
  readonly messages: string[] = [];
  closed = false;
  private readonly framer = new StreamFramer();
  private waiters: Array<() => void> = [];

  private constructor(socket: Socket) {
    this.socket = socket;
    socket.unref();
    socket.on('data', (chunk: Buffer) => {
      for (const m of this.framer.push(chunk).messages) this.messages.push(m.toString('utf8'));
      this.wake();
    });
    socket.on('close', () => {
      this.closed = true;
      this.wake();
    });
    socket.on('error', () => undefined);
  }

  private wake(): void {
    for (const w of this.waiters.splice(0)) w();
  }

  /**
   * Connects.
   * @param port server port.
   * @param host server address.
   */
  static async open(port: number, host = '127.0.0.1'): Promise<TcpPeer> {
    const s = connect({ port, host });
    await new Promise<void>((resolve, reject) => {
      s.once('connect', () => resolve());
      s.once('error', reject);
    });
    return new TcpPeer(s);
  }

  /**
   * Waits for a condition on this peer.
   * @param cond checked after every event.
   * @param ms timeout.
   */
  async until(cond: () => boolean, ms = 2000): Promise<void> {
    const deadline = Date.now() + ms;
    while (!cond()) {
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`condition not met within ${ms} ms (messages: ${this.messages.length}, closed: ${this.closed})`);
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, left);
        this.waiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
  }
}

/**
 * The status line of a response text.
 * @param text a serialized response.
 */
export function statusLine(text: string): string {
  return text.slice(0, text.indexOf('\r\n'));
}

/**
 * The value of the first header line with this name (exact spelling) in a serialized message.
 * @param text the message.
 * @param name header name.
 */
export function headerValue(text: string, name: string): string | undefined {
  const m = new RegExp(`\\r\\n${name}: ([^\\r]*)\\r\\n`).exec(text);
  return m?.[1];
}
