/**
 * Test doubles for the peer/node tests: a hand-driven Diameter peer on a raw socket (to send exact bytes and see
 * exact answers), a log capture, and node bookkeeping so every test closes what it opened.
 */
import { connect, createServer } from 'node:net';
import type { Server, Socket } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import type { Logger } from '../../lib/log.ts';
import { decodeMessage, encodeMessage } from '../../lib/diameter/codec.ts';
import type { DiameterMessage } from '../../lib/diameter/codec.ts';
import { DiameterFramer } from '../../lib/diameter/framing.ts';
import { buildCea, buildCer, buildDwa } from '../../lib/diameter/peer-messages.ts';
import type { Capabilities } from '../../lib/diameter/peer-messages.ts';
import { ApplicationId, BaseCommand, ResultCode, VENDOR_3GPP } from '../../lib/diameter/constants.ts';
import { DiameterNode } from '../../lib/diameter/node.ts';
import type { DiameterNodeOptions } from '../../lib/diameter/node.ts';

/** A logger whose JSON lines are kept for assertions. */
export function captureLogs(level = 'debug'): { logger: Logger; lines: () => Array<Record<string, unknown>>; text: () => string } {
  const chunks: string[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, cb) {
      chunks.push(chunk.toString('utf8'));
      cb();
    },
  });
  const logger = pino({ level }, sink);
  const lines = (): Array<Record<string, unknown>> => chunks.join('').split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>);
  return { logger, lines, text: () => chunks.join('') };
}

/** Capabilities of a hand-driven peer supporting Cx. */
export function rawCaps(originHost: string, originRealm: string, apps: number[] = [ApplicationId.CX]): Capabilities {
  return {
    originHost,
    originRealm,
    hostIpAddresses: ['127.0.0.1'],
    vendorId: 0,
    productName: 'raw-test-peer',
    supportedVendorIds: [VENDOR_3GPP],
    authApplicationIds: apps,
    vendorSpecificApplicationIds: apps.filter((a) => a === ApplicationId.CX).map((a) => ({ vendorId: VENDOR_3GPP, authApplicationId: a })),
  };
}

/** One raw connection: write bytes or messages, read decoded messages in order. */
export class RawPeer {
  private readonly framer = new DiameterFramer();
  private readonly queue: DiameterMessage[] = [];
  private waiters: Array<() => void> = [];
  /** Answer DWRs automatically. */
  answerDwr = true;
  readonly closed: Promise<void>;
  isClosed = false;

  constructor(readonly socket: Socket, private readonly caps?: Capabilities) {
    socket.on('data', (chunk: Buffer) => {
      for (const raw of this.framer.push(chunk).messages) {
        const msg = decodeMessage(raw);
        if (this.answerDwr && this.caps && msg.flags.request && msg.commandCode === BaseCommand.DEVICE_WATCHDOG) {
          this.send(buildDwa(msg, { resultCode: ResultCode.SUCCESS }, this.caps));
          continue;
        }
        this.queue.push(msg);
      }
      this.wake();
    });
    socket.on('error', () => undefined);
    this.closed = new Promise((resolve) => socket.on('close', () => {
      this.isClosed = true;
      this.wake();
      resolve();
    }));
  }

  /** Connects to a node. */
  static connect(port: number, caps?: Capabilities): Promise<RawPeer> {
    return new Promise((resolve, reject) => {
      const s = connect({ host: '127.0.0.1', port }, () => resolve(new RawPeer(s, caps)));
      s.once('error', reject);
    });
  }

  /**
   * Connects to a node over mutual TLS with `tls` (the server is verified against `tls.ca` by IP, every leaf of the
   * project PKI names 127.0.0.1).
   */
  static connectTls(port: number, tls: { cert: string; key: string; ca: string[] }, caps?: Capabilities): Promise<RawPeer> {
    return new Promise((resolve, reject) => {
      const s = tlsConnect({ host: '127.0.0.1', port, cert: tls.cert, key: tls.key, ca: tls.ca, rejectUnauthorized: true }, () => resolve(new RawPeer(s, caps)));
      s.once('error', reject);
    });
  }

  private wake(): void {
    const w = this.waiters;
    this.waiters = [];
    for (const f of w) f();
  }

  /** Writes a message or raw bytes. */
  send(msg: DiameterMessage | Buffer): void {
    this.socket.write(Buffer.isBuffer(msg) ? msg : encodeMessage(msg));
  }

  /** The next message matching `pred` (others stay queued); rejects on timeout or close. */
  async next(pred: (m: DiameterMessage) => boolean = () => true, timeoutMs = 3000): Promise<DiameterMessage> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const i = this.queue.findIndex(pred);
      if (i >= 0) return this.queue.splice(i, 1)[0] as DiameterMessage;
      if (this.isClosed) throw new Error('raw peer: connection closed');
      const left = deadline - Date.now();
      if (left <= 0) throw new Error('raw peer: timed out waiting for a message');
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, left);
        this.waiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
  }

  /** Initiator side: CER out, CEA back. */
  async handshake(caps: Capabilities = this.caps as Capabilities): Promise<DiameterMessage> {
    this.send(buildCer(caps, { hopByHop: 0x0c0c0c0c, endToEnd: 0x0e0e0e0e }));
    return this.next((m) => !m.flags.request && m.commandCode === BaseCommand.CAPABILITIES_EXCHANGE);
  }

  /** Responder side: waits for the CER and answers success. */
  async acceptCer(caps: Capabilities = this.caps as Capabilities): Promise<DiameterMessage> {
    const cer = await this.next((m) => m.flags.request && m.commandCode === BaseCommand.CAPABILITIES_EXCHANGE);
    this.send(buildCea(cer, { resultCode: ResultCode.SUCCESS }, caps));
    return cer;
  }

  /** Resolves when the far end closed the connection; rejects after `timeoutMs`. */
  closedWithin(timeoutMs = 3000): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<void>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`raw peer: connection still open after ${timeoutMs} ms`)), timeoutMs);
    });
    return Promise.race([this.closed, late]).finally(() => clearTimeout(timer));
  }

  /** Closes the socket abruptly. */
  destroy(): void {
    this.socket.destroy();
  }
}

/** A raw listening peer: each accepted connection becomes a RawPeer. */
export async function rawServer(port: number, caps?: Capabilities): Promise<{ server: Server; accepted: () => Promise<RawPeer>; close: () => Promise<void> }> {
  const pending: RawPeer[] = [];
  const waiters: Array<(p: RawPeer) => void> = [];
  const sockets = new Set<Socket>();
  const server = createServer((s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
    const p = new RawPeer(s, caps);
    const w = waiters.shift();
    if (w) w(p);
    else pending.push(p);
  });
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  return {
    server,
    accepted: () => {
      const p = pending.shift();
      return p ? Promise.resolve(p) : new Promise((resolve) => waiters.push(resolve));
    },
    close: () => new Promise<void>((resolve) => {
      for (const s of sockets) s.destroy();
      server.close(() => resolve());
    }),
  };
}

/** Creates nodes and closes them all at the end of a test file. */
export class Nodes {
  private readonly nodes: DiameterNode[] = [];

  /** A node with short timers unless overridden. */
  make(options: DiameterNodeOptions): DiameterNode {
    const node = new DiameterNode({
      timeouts: { dpaMs: 300, capabilitiesMs: 2000, connectMs: 1000 },
      reconnect: { initialMs: 50, maxMs: 400, afterDprMs: 5000 },
      ...options,
    });
    this.nodes.push(node);
    return node;
  }

  /** Closes every node made so far. */
  async closeAll(): Promise<void> {
    await Promise.all(this.nodes.splice(0).map((n) => n.close()));
  }
}

/** Resolves after `ms`. */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
