/**
 * De-framing of a TCP/TLS byte stream into whole Diameter messages, by the Message Length of each header. Chunks may
 * hold several messages or any fraction of one (a split may fall inside the 4-octet version/length prefix). Only the
 * first four octets decide framing; everything else is left to `decodeMessage`, so a message with bad AVPs but a
 * sane length is emitted and the stream stays usable. A bad version, a bad length or an over-size message means the
 * stream can no longer be trusted: the framer reports a DiameterError with `closeConnection` set (and the header when
 * 20 octets are at hand, so an error answer can still be sent) and stays failed.
 */
import { DiameterError } from './errors.ts';
import { decodeHeader } from './codec.ts';
import type { DiameterHeader } from './codec.ts';
import { DIAMETER_VERSION, HEADER_LENGTH } from './constants.ts';

/** Framer knobs. */
export interface FramerOptions {
  /** Largest message accepted, in octets (default 1 MiB; the protocol allows 2^24-1). */
  maxMessageSize?: number;
}

/** What one {@link DiameterFramer.push} yields. */
export interface FrameResult {
  messages: Buffer[];
  /** Set when the stream went out of sync after `messages`; the connection must close. */
  error?: DiameterError;
}

/** Default {@link FramerOptions.maxMessageSize}. */
export const DEFAULT_MAX_MESSAGE_SIZE = 1024 * 1024;

/** Splits a byte stream into message buffers. One instance per connection. */
export class DiameterFramer {
  private readonly maxMessageSize: number;
  private chunks: Buffer[] = [];
  private size = 0;
  private failure: DiameterError | undefined;

  constructor(options: FramerOptions = {}) {
    this.maxMessageSize = options.maxMessageSize ?? DEFAULT_MAX_MESSAGE_SIZE;
    if (!Number.isInteger(this.maxMessageSize) || this.maxMessageSize < HEADER_LENGTH) {
      throw new DiameterError('INVALID_VALUE', `maxMessageSize ${this.maxMessageSize} is below a header`);
    }
  }

  /** Octets received but not yet emitted. */
  get buffered(): number {
    return this.size;
  }

  /**
   * Feeds a chunk and returns the messages it completed, in order, plus the stream failure if one was hit after them.
   * The returned buffers are never reused by the framer. Once `error` is set (closeConnection = true), every later
   * call returns the same error and no messages: send an error answer if possible, then close the connection.
   */
  push(chunk: Buffer): FrameResult {
    if (this.failure) return { messages: [], error: this.failure };
    if (chunk.length > 0) {
      this.chunks.push(chunk);
      this.size += chunk.length;
    }
    const messages: Buffer[] = [];
    while (this.size >= 4) {
      const prefix = this.peek(4);
      const version = prefix.readUInt8(0);
      const length = prefix.readUIntBE(1, 3);
      let problem: [DiameterError['code'], string] | undefined;
      if (version !== DIAMETER_VERSION) problem = ['UNSUPPORTED_VERSION', `Diameter version ${version} is not supported`];
      else if (length < HEADER_LENGTH || length % 4 !== 0) problem = ['INVALID_MESSAGE_LENGTH', `Message Length ${length} is invalid`];
      else if (length > this.maxMessageSize) problem = ['MESSAGE_TOO_LARGE', `message of ${length} octets exceeds ${this.maxMessageSize}`];
      if (problem) {
        this.failure = new DiameterError(problem[0], problem[1], { header: this.headerIfAny(), closeConnection: true });
        this.chunks = [];
        this.size = 0;
        return { messages, error: this.failure };
      }
      if (this.size < length) break;
      messages.push(this.take(length));
    }
    return { messages };
  }

  /** Drops buffered data and any failure: for reuse after reconnecting. */
  reset(): void {
    this.chunks = [];
    this.size = 0;
    this.failure = undefined;
  }

  private headerIfAny(): DiameterHeader | undefined {
    if (this.size < HEADER_LENGTH) return undefined;
    const raw = this.peek(HEADER_LENGTH);
    // decodeHeader refuses exactly what made us fail, so read the fields with the checks out of the way.
    const patched = Buffer.from(raw);
    patched.writeUInt8(DIAMETER_VERSION, 0);
    patched.writeUIntBE(HEADER_LENGTH, 1, 3);
    try {
      const header = decodeHeader(patched);
      return { ...header, version: raw.readUInt8(0), length: raw.readUIntBE(1, 3) };
    } catch {
      return undefined; // e.g. E bit on a request: nothing sensible to answer
    }
  }

  private peek(n: number): Buffer {
    const first = this.chunks[0] as Buffer;
    if (first.length >= n) return first.subarray(0, n);
    const out = Buffer.allocUnsafe(n);
    let off = 0;
    for (const c of this.chunks) {
      off += c.copy(out, off, 0, Math.min(c.length, n - off));
      if (off === n) break;
    }
    return out;
  }

  private take(n: number): Buffer {
    const first = this.chunks[0] as Buffer;
    if (first.length >= n) {
      // Zero-copy: socket chunks are fresh allocations, so a view of one stays valid.
      const msg = first.subarray(0, n);
      if (first.length === n) this.chunks.shift();
      else this.chunks[0] = first.subarray(n);
      this.size -= n;
      return msg;
    }
    const msg = Buffer.allocUnsafe(n);
    let off = 0;
    while (off < n) {
      const c = this.chunks[0] as Buffer;
      const want = n - off;
      if (c.length <= want) {
        c.copy(msg, off);
        off += c.length;
        this.chunks.shift();
      } else {
        c.copy(msg, off, 0, want);
        this.chunks[0] = c.subarray(want);
        off += want;
      }
    }
    this.size -= n;
    return msg;
  }
}
