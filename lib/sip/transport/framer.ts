/**
 * Content-Length framing of a TCP/TLS byte stream (RFC 3261 §18.3): a message is its header block up to the first
 * CRLFCRLF plus Content-Length octets of body. A chunk may hold several messages or any fraction of one. CRLFs
 * between messages (keep-alives, RFC 5626 §3.5.1, and the leniency of §7.5) are skipped. A header block without
 * Content-Length, with an invalid or conflicting one, or a message above the size limit leaves the stream out of
 * sync: the framer returns a {@link SipParseError} with `closeConnection` set (and the header fields, so a 400 can
 * still be sent) and stays failed. A body that never completes is the idle timer's business.
 */
import { SipParseError } from '../errors.ts';
import { DEFAULT_MAX_MESSAGE_SIZE, parseMessage, scanContentLength } from '../parser.ts';

const CRLFCRLF = Buffer.from('\r\n\r\n');
const EMPTY = Buffer.alloc(0);

/** What one {@link StreamFramer.push} yields. */
export interface FrameResult {
  /** Complete messages, in order (views into the received chunks, never reused by the framer). */
  messages: Buffer[];
  /** Keep-alive CRLF runs skipped. */
  keepalives: number;
  /** Set when the stream went out of sync after `messages`; the connection must close. */
  error?: SipParseError;
}

/** Splits a SIP byte stream into messages. One instance per connection. */
export class StreamFramer {
  private readonly maxSize: number;
  private buf: Buffer = EMPTY;
  /** Where the CRLFCRLF search resumes (bytes before it were already searched). */
  private scanned = 0;
  /** Total length of the message whose header block was read and whose body is still arriving (0: none). */
  private need = 0;
  private failure: SipParseError | undefined;

  /**
   * @param maxMessageSize largest message accepted (default 65535).
   */
  constructor(maxMessageSize = DEFAULT_MAX_MESSAGE_SIZE) {
    this.maxSize = maxMessageSize;
  }

  /** Octets held for an incomplete message. */
  get buffered(): number {
    return this.buf.length;
  }

  /**
   * Feeds a chunk.
   * @param chunk bytes as read from the socket.
   */
  push(chunk: Buffer): FrameResult {
    const out: FrameResult = { messages: [], keepalives: 0 };
    if (this.failure) return { ...out, error: this.failure };
    this.buf = this.buf.length === 0 ? chunk : Buffer.concat([this.buf, chunk]);
    for (;;) {
      if (this.need > 0) {
        if (this.buf.length < this.need) break;
        out.messages.push(this.buf.subarray(0, this.need));
        this.buf = this.buf.subarray(this.need);
        this.need = 0;
        this.scanned = 0;
        continue;
      }
      let s = 0;
      while (s < this.buf.length && (this.buf[s] === 13 || this.buf[s] === 10)) s++;
      if (s > 0) {
        // A lone CR may be the first half of a CRLF still in flight; only count complete runs.
        if (s >= 2) out.keepalives++;
        this.buf = this.buf.subarray(s);
        this.scanned = 0;
      }
      if (this.buf.length === 0) break;
      const end = this.buf.indexOf(CRLFCRLF, Math.max(0, this.scanned - 3));
      if (end < 0) {
        this.scanned = this.buf.length;
        if (this.buf.length > this.maxSize) return this.fail(out, new SipParseError('MESSAGE_TOO_LARGE', 'Message Too Large'));
        break;
      }
      const headLen = end + 4;
      const cl = scanContentLength(this.buf, 0, end);
      if (cl === undefined || cl < 0) return this.fail(out, this.headerError(headLen));
      if (headLen + cl > this.maxSize) {
        return this.fail(out, this.headerError(headLen, new SipParseError('MESSAGE_TOO_LARGE', 'Message Too Large')));
      }
      this.need = headLen + cl;
    }
    if (this.buf.length === 0) this.buf = EMPTY;
    return out;
  }

  /** Parses the header block alone to get the error (and the fields for a 400) the full parser would report. */
  private headerError(headLen: number, override?: SipParseError): SipParseError {
    let err: SipParseError;
    try {
      parseMessage(this.buf.subarray(0, headLen), { datagram: false, maxMessageSize: Number.MAX_SAFE_INTEGER });
      err = new SipParseError('BAD_CONTENT_LENGTH', 'Malformed Content-Length');
    } catch (e) {
      err = e instanceof SipParseError ? e : new SipParseError('BAD_CONTENT_LENGTH', 'Malformed Content-Length');
    }
    if (override) {
      override.headers = err.headers;
      override.isRequest = err.isRequest;
      override.canRespond = err.canRespond;
      err = override;
    }
    return err;
  }

  private fail(out: FrameResult, err: SipParseError): FrameResult {
    err.closeConnection = true;
    this.failure = err;
    this.buf = EMPTY;
    return { ...out, error: err };
  }
}
