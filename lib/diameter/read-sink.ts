/**
 * Reading an outgoing connection through `onread` (net.Socket's own option; tls.connect passes it on) instead of the
 * socket's 'data' events (issue #12): each read lands in one buffer kept for the connection, and the callback gets
 * the octets without Node allocating a 64 KiB buffer per read and running them through a Readable stream — about a
 * third of a small echo's CPU on this path. Node offers it to sockets it creates for a connect only (an accepted TLS
 * socket wraps the raw one, and the wrapper ignores `onread`); {@link readAcceptedThroughSink} gives accepted
 * connections the same reading by setting, after the fact, what the option would have set. It relies on Node's
 * internals (the `kBuffer` symbols of net.Socket and the handle's `useUserBuffer`, unchanged since Node 12) and
 * leaves the socket to 'data' events when they are not there.
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

/**
 * Reads an accepted connection (plain TCP, or TLS once its handshake is done) through a {@link ReadSink}, as
 * {@link onreadOption} does for a connect: octets the socket read before are taken out of its stream buffer first and
 * held, in order. Closing and errors still arrive as the socket's events ('end' comes from the stream's end of
 * file, which `onread` does not change).
 * @returns the sink, or undefined when this Node does not have the internals it sets (the socket then keeps 'data').
 */
export function readAcceptedThroughSink(socket: Socket): ReadSink | undefined {
  const handle = (socket as unknown as { _handle?: { useUserBuffer?: (buf: Buffer) => void } })._handle;
  if (typeof handle?.useUserBuffer !== 'function') return undefined;
  const symbols = Object.getOwnPropertySymbols(socket);
  const find = (description: string): symbol | undefined => symbols.find((s) => s.description === description);
  const kBuffer = find('kBuffer');
  const kBufferCb = find('kBufferCb');
  const kBufferGen = find('kBufferGen');
  if (kBuffer === undefined || kBufferCb === undefined || kBufferGen === undefined) return undefined;
  const { sink } = onreadOption();
  for (let chunk: unknown = socket.read(); chunk !== null; chunk = socket.read()) {
    if (Buffer.isBuffer(chunk)) sink.onRead(chunk.length, chunk);
  }
  const internals = socket as unknown as Record<symbol, unknown>;
  internals[kBuffer] = sink.buffer;
  internals[kBufferCb] = sink.onRead;
  internals[kBufferGen] = null;
  handle.useUserBuffer.call(handle, sink.buffer);
  setReadSink(socket, sink);
  return sink;
}

/** Records that `socket` is read through `sink`. */
export function setReadSink(socket: Socket, sink: ReadSink): void {
  sinks.set(socket, sink);
}

/** The sink of a socket made with {@link onreadOption}, if it was. */
export function readSinkOf(socket: Socket): ReadSink | undefined {
  return sinks.get(socket);
}
