/**
 * A framed Diameter message pipe over one socket: de-framing, decoding, hop-by-hop matching of answers to the
 * requests sent, error answers to undecodable requests, and teardown. The RFC 6733 state machine on top of it is
 * `PeerConnection` (peer.ts). Every socket callback runs inside `guard`, so no exception escapes a socket handler.
 */
import type { Socket } from 'node:net';
import { TurnCork } from '../cork.ts';
import type { Logger } from '../log.ts';
import type { MessageTrace } from '../trace/types.ts';
import { decodeMessage, encodeMessage, withHeader } from './codec.ts';
import type { DiameterMessage } from './codec.ts';
import { DiameterFramer } from './framing.ts';
import { asDiameterError } from './errors.ts';
import { plainAddress } from './capabilities.ts';
import { describeRemote } from './transport.ts';
import { errorAnswerOf } from './error-answers.ts';
import type { ErrorOrigin } from './error-answers.ts';
import { DiameterNodeError } from './node-errors.ts';
import { PendingRequests } from './pending.ts';
import { readSinkOf } from './read-sink.ts';

/** A request's connection went away (closed, DPR, SUSPECT) before the answer: the node fails it over. */
export class PeerLostError extends Error {
  override readonly name = 'PeerLostError';
}

/** How long a graceful close waits for the peer to close its side before destroying the socket. */
const CLOSE_GRACE_MS = 1000;

/** Socket + framer + pending requests. */
export abstract class MessageLink {
  readonly remoteAddress: string;
  protected readonly socket: Socket;
  protected readonly pending = new PendingRequests();
  protected log: Logger;
  private readonly framer: DiameterFramer;
  private readonly out: TurnCork;
  /** `--trace`: the sink and this connection's ends (read once: the socket's getters ask the kernel each time). */
  private readonly trace: { sink: MessageTrace; local: string; localPort: number; remote: string; remotePort: number } | undefined;
  private torn = false;

  /**
   * Wires the socket events; with `trace`, every message sent and every frame received is recorded (TLS in plaintext).
   * @param writeHoldMs how long a batch of writes may wait for more under load (lib/cork.ts); 0: to the end of the turn.
   */
  constructor(socket: Socket, logger: Logger, maxMessageSize: number | undefined, trace?: MessageTrace, writeHoldMs = 0) {
    this.socket = socket;
    this.trace = trace === undefined ? undefined : {
      sink: trace, local: plainAddress(socket.localAddress ?? ''), localPort: socket.localPort ?? 0,
      remote: plainAddress(socket.remoteAddress ?? ''), remotePort: socket.remotePort ?? 0,
    };
    this.remoteAddress = plainAddress(socket.remoteAddress ?? '');
    this.framer = new DiameterFramer(maxMessageSize === undefined ? {} : { maxMessageSize });
    this.out = new TurnCork(socket, writeHoldMs);
    this.log = logger;
    const onChunk = (chunk: Buffer): void => this.guard(() => this.onData(chunk));
    const sink = readSinkOf(socket);
    if (sink) sink.attach(onChunk);
    else socket.on('data', onChunk);
    socket.on('error', (err: NodeJS.ErrnoException) => this.guard(() => this.close(`socket error: ${err.code ?? err.message}`)));
    socket.on('close', () => this.guard(() => this.close('connection closed by peer')));
  }

  /** Closes the connection (idempotent); implemented by the state machine, which calls {@link teardown}. */
  abstract close(reason: string, graceful?: boolean, disconnectCause?: number): void;
  /** Who this node is, for error answers. */
  protected abstract origin(): ErrorOrigin;
  /** A decoded message (request, or answer not yet matched). */
  protected abstract onMessage(msg: DiameterMessage): void;

  /** `ip:port` of the peer, for logs. */
  protected describe(): string {
    return describeRemote(this.socket);
  }

  /**
   * Sends a request with a fresh hop-by-hop id of this connection.
   * @param application false for the connection's own peer messages, which do not fail over on SUSPECT.
   * @returns the id used and the answer; the answer rejects with {@link PeerLostError} when the connection goes away
   *   first, or DiameterNodeError ERR_DIAMETER_BAD_ANSWER when the answer is undecodable.
   */
  sendRequest(msg: DiameterMessage, application = true): { hopByHop: number; answer: Promise<DiameterMessage> } {
    const hopByHop = this.pending.nextId();
    const answer = new Promise<DiameterMessage>((resolve, reject) => {
      if (this.torn) {
        reject(new PeerLostError('connection closed'));
        return;
      }
      this.pending.add(hopByHop, { resolve, reject, application });
      if (!this.send(withHeader(msg, { hopByHop }))) {
        this.pending.take(hopByHop);
        reject(new PeerLostError('could not send'));
      }
    });
    return { hopByHop, answer };
  }

  /** Forgets a request whose caller gave up; a late answer is then discarded. */
  cancel(hopByHop: number): void {
    this.pending.take(hopByHop);
  }

  /**
   * Encodes and writes a message (corked with the turn's other messages, or held with them: lib/cork.ts).
   * @returns false when the connection is closed or the message cannot be encoded (logged).
   */
  send(msg: DiameterMessage): boolean {
    if (this.torn || this.socket.destroyed) return false;
    let buf: Buffer;
    try {
      buf = encodeMessage(msg);
    } catch (err) {
      this.log.error({ err, commandCode: msg.commandCode }, 'message cannot be encoded, not sent');
      return false;
    }
    const t = this.trace;
    if (t !== undefined) t.sink.record('diameter', 'tcp', 'out', t.local, t.localPort, t.remote, t.remotePort, buf);
    this.out.write(buf);
    return true;
  }

  /**
   * Ends the socket and fails every pending request over.
   * @param graceful flush what was written (an error answer, a DPA) before closing.
   * @returns false when already torn down.
   */
  protected teardown(reason: string, graceful: boolean): boolean {
    if (this.torn) return false;
    this.torn = true;
    if (graceful && !this.socket.destroyed) {
      this.socket.end();
      setTimeout(() => this.socket.destroy(), CLOSE_GRACE_MS).unref();
    } else {
      this.socket.destroy();
    }
    this.failPending(reason, false);
    return true;
  }

  /** Rejects pending requests with {@link PeerLostError} so the node re-sends them elsewhere. */
  protected failPending(reason: string, applicationOnly: boolean): void {
    this.pending.failAll(() => new PeerLostError(reason), applicationOnly);
  }

  /** Delivers an answer to the request it belongs to. */
  protected resolveAnswer(msg: DiameterMessage): void {
    const p = this.pending.take(msg.hopByHop);
    if (p) p.resolve(msg);
    else this.log.debug({ hopByHop: msg.hopByHop, commandCode: msg.commandCode }, 'answer to no pending request discarded');
  }

  /** Runs a socket callback; a throw closes the connection instead of crashing the process. */
  protected guard(fn: () => void): void {
    try {
      fn();
    } catch (err) {
      this.log.error({ err }, 'unexpected failure in a Diameter socket handler; closing the connection');
      this.close('internal error');
    }
  }

  private onData(chunk: Buffer): void {
    const { messages, error } = this.framer.push(chunk);
    for (const raw of messages) {
      if (this.torn) return;
      this.onFrame(raw);
    }
    if (error && !this.torn) {
      const answer = errorAnswerOf(error, this.origin());
      if (answer) this.send(answer);
      this.log.warn({ reason: error.message }, 'Diameter stream out of sync; closing');
      this.close(`framing error: ${error.message}`, true);
    }
  }

  private onFrame(raw: Buffer): void {
    const t = this.trace;
    if (t !== undefined) t.sink.record('diameter', 'tcp', 'in', t.remote, t.remotePort, t.local, t.localPort, raw);
    let msg: DiameterMessage;
    try {
      msg = decodeMessage(raw);
    } catch (err) {
      const e = asDiameterError(err);
      if (e.header?.flags.request) {
        this.log.warn({ reason: e.message, commandCode: e.header.commandCode }, 'malformed request answered with an error');
        const answer = errorAnswerOf(e, this.origin());
        if (answer) this.send(answer);
      } else if (e.header) {
        this.pending.take(e.header.hopByHop)?.reject(new DiameterNodeError('ERR_DIAMETER_BAD_ANSWER', `undecodable answer: ${e.message}`, { cause: e }));
      }
      return;
    }
    this.onMessage(msg);
  }
}
