/**
 * Reading an outgoing connection through `onread` (net.Socket's own option; tls.connect passes it on) instead of the
 * socket's 'data' events (issue #12): each read lands in one buffer kept for the connection, and the callback gets
 * the octets without Node allocating a 64 KiB buffer per read and running them through a Readable stream — about a
 * third of a small echo's CPU on this path. Node offers it to sockets it creates for a connect only (an accepted TLS
 * socket wraps the raw one, and the wrapper ignores `onread`), so listeners keep 'data' events.
 *
 * The buffer is overwritten by the next read, while the framer and the decoded AVPs keep views of what they were
 * given: each delivery is a copy. Reads that arrive before the connection's reader is attached (a CEA in the same
 * turn as the TLS handshake's end) are held and delivered on attach, in order.
 */
import type { Socket } from 'node:net';

/** Size of the buffer every read of a connection lands in. */
const READ_BUFFER = 64 * 1024;

const sinks = new WeakMap<Socket, ReadSink>();

/** Where the reads of one outgoing connection go. */
export class ReadSink {
  readonly buffer = Buffer.allocUnsafe(READ_BUFFER);
  #reader: ((chunk: Buffer) => void) | undefined;
  #held: Buffer[] = [];

  /** The `onread.callback` of the socket. */
  readonly onRead = (n: number, buf: Buffer): boolean => {
    const chunk = Buffer.from(buf.subarray(0, n));
    if (this.#reader) this.#reader(chunk);
    else this.#held.push(chunk);
    return true;
  };

  /** Delivers every read from now on (and the ones held until now) to `reader`. */
  attach(reader: (chunk: Buffer) => void): void {
    this.#reader = reader;
    const held = this.#held;
    this.#held = [];
    for (const c of held) reader(c);
  }
}

/** The `onread` option for a socket about to be created, and the sink behind it (recorded once the socket exists). */
export function onreadOption(): { sink: ReadSink; option: { buffer: Buffer; callback: (n: number, buf: Buffer) => boolean } } {
  const sink = new ReadSink();
  return { sink, option: { buffer: sink.buffer, callback: sink.onRead } };
}

/** Records that `socket` is read through `sink`. */
export function setReadSink(socket: Socket, sink: ReadSink): void {
  sinks.set(socket, sink);
}

/** The sink of a socket made with {@link onreadOption}, if it was. */
export function readSinkOf(socket: Socket): ReadSink | undefined {
  return sinks.get(socket);
}
