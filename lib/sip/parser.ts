/**
 * Bytes → {@link SipMessage} (RFC 3261 §7, §18.3, §25). One pass splits the start line and the header lines
 * (unfolding continuations, keeping names as written) and frames the body by Content-Length; then only what every
 * request needs is checked: the Request-URI, the top Via, From, To, Call-ID and CSeq (present, single, well formed,
 * CSeq method = request method). Everything else stays raw until a handler reads it.
 *
 * On failure the parser keeps going as far as it can, then throws the first {@link SipParseError} it met with the
 * header fields attached and `canRespond` telling whether a response can be formed (a request whose top Via yields
 * a sent-by, with From, To, Call-ID and CSeq present), so the transport can answer 400/505/513 or drop.
 */
import { SipParseError } from './errors.ts';
import { parseContentLength } from './headers/cseq.ts';
import { HeaderList, type HeaderField } from './headers/list.ts';
import { headerKey } from './headers/names.ts';
import { readViaLenient } from './headers/via.ts';
import { SipRequest, SipResponse, type SipMessage } from './message.ts';
import { firstElementEnd, isToken, skipWsBack, trimWs } from './syntax.ts';

/** Parser knobs. */
export interface ParseOptions {
  /**
   * Message-oriented transport semantics (UDP, RFC 3261 §18.3): Content-Length optional (absent = rest of the
   * datagram), bytes after the body ignored (RFC 4475 §3.1.1.8), a body shorter than Content-Length is an error.
   * When false the buffer must hold exactly one framed message and Content-Length is mandatory. Default true.
   */
  datagram?: boolean;
  /** Largest accepted message in octets (default {@link DEFAULT_MAX_MESSAGE_SIZE}). */
  maxMessageSize?: number;
}

/** Largest UDP payload; also the default limit on streams. */
export const DEFAULT_MAX_MESSAGE_SIZE = 65535;

const CRLFCRLF = Buffer.from('\r\n\r\n');
const SINGLE = ['from', 'to', 'call-id', 'cseq'] as const;
const NAMES: Record<string, string> = { 'via': 'Via', 'from': 'From', 'to': 'To', 'call-id': 'Call-ID', 'cseq': 'CSeq' };

/** Keeps the first problem met; parsing goes on so the headers needed for an error response are still read. */
class Problems {
  first: SipParseError | undefined;

  add(e: SipParseError): void {
    this.first ??= e;
  }
}

/** Splits header lines (after the start line) into fields; records bad lines in `problems`. */
function readFields(head: string, from: number, problems: Problems): HeaderField[] {
  const fields: HeaderField[] = [];
  let i = from;
  while (i < head.length) {
    let e = head.indexOf('\r\n', i);
    if (e < 0) e = head.length;
    const c = head.charCodeAt(i);
    if (c === 32 || c === 9) {
      const last = fields[fields.length - 1];
      const cont = trimWs(head.slice(i, e));
      if (!last) problems.add(new SipParseError('BAD_HEADER_LINE', 'Continuation line without a header'));
      else if (cont.length > 0) last.value = last.value.length > 0 ? last.value + ' ' + cont : cont;
    } else {
      const colon = head.indexOf(':', i);
      const ne = skipWsBack(head, i, colon);
      const name = colon < 0 || colon > e ? '' : head.slice(i, ne);
      if (!isToken(name)) {
        problems.add(new SipParseError('BAD_HEADER_LINE', 'Malformed header line'));
      } else {
        fields.push({ name, key: headerKey(name), value: trimWs(head.slice(colon + 1, e)) });
      }
    }
    i = e + 2;
  }
  return fields;
}

/** The Content-Length of a header list: undefined when absent, -1 when invalid, -2 when values conflict. */
function contentLengthOf(headers: HeaderList): number | undefined {
  let cl: number | undefined;
  for (const f of headers.fields) {
    if (f.key !== 'content-length') continue;
    const v = parseContentLength(f.value);
    if (v < 0) return -1;
    if (cl !== undefined && cl !== v) return -2;
    cl = v;
  }
  return cl;
}

/**
 * Whether an error response can be formed from these fields: the top Via yields transport and sent-by, and From,
 * To, Call-ID and CSeq are present and non-empty (their raw values are copied, RFC 3261 §8.2.6.2).
 * @param headers the fields read.
 */
export function canFormResponse(headers: HeaderList): boolean {
  const via = headers.get('via');
  if (via === undefined) return false;
  const e = firstElementEnd(via);
  if (!readViaLenient(e < 0 ? via : trimWs(via.slice(0, e)))) return false;
  for (const k of SINGLE) if (!headers.get(k)) return false;
  return true;
}

/**
 * Parses one SIP message.
 * @param buf a datagram, or one message cut from a stream by {@link StreamFramer}.
 * @param options transport semantics and size limit.
 * @returns the request or response; its `body` is a view into `buf` (not copied).
 * @throws SipParseError — never anything else.
 */
export function parseMessage(buf: Buffer, options: ParseOptions = {}): SipMessage {
  const datagram = options.datagram ?? true;
  if (buf.length > (options.maxMessageSize ?? DEFAULT_MAX_MESSAGE_SIZE)) {
    throw new SipParseError('MESSAGE_TOO_LARGE', 'Message Too Large', { closeConnection: true });
  }
  let start = 0;
  while (start < buf.length && (buf[start] === 13 || buf[start] === 10)) start++;
  if (start === buf.length) throw new SipParseError('EMPTY_MESSAGE', 'Empty message');

  const problems = new Problems();
  let headEnd = buf.indexOf(CRLFCRLF, start);
  let bodyStart: number;
  if (headEnd < 0) {
    problems.add(new SipParseError('MISSING_EMPTY_LINE', 'Missing empty line after header fields'));
    headEnd = buf.length >= 2 && buf[buf.length - 2] === 13 && buf[buf.length - 1] === 10 ? buf.length - 2 : buf.length;
    bodyStart = buf.length;
  } else {
    bodyStart = headEnd + 4;
  }
  const head = buf.toString('utf8', start, headEnd);
  let eol = head.indexOf('\r\n');
  if (eol < 0) eol = head.length;
  const line = head.slice(0, eol);
  const headers = new HeaderList(readFields(head, eol + 2, problems));
  // Case-insensitive: answering something that was meant as a response would start a 400 ping-pong.
  const isRequest = line.slice(0, 4).toUpperCase() !== 'SIP/';

  let msg: SipMessage;
  if (isRequest) {
    const sp1 = line.indexOf(' ');
    const sp2 = sp1 < 0 ? -1 : line.indexOf(' ', sp1 + 1);
    const method = sp1 < 0 ? '' : line.slice(0, sp1);
    const uri = sp2 < 0 ? '' : line.slice(sp1 + 1, sp2);
    const version = sp2 < 0 ? '' : line.slice(sp2 + 1);
    const req = new SipRequest(method, uri, headers);
    msg = req;
    if (!isToken(method) || uri.length === 0 || version.includes(' ') || version.includes('\t')) {
      problems.add(new SipParseError('BAD_START_LINE', 'Malformed Request-Line'));
    } else if (version.toUpperCase() !== 'SIP/2.0') {
      problems.add(/^SIP\/\d+\.\d+$/i.test(version)
        ? new SipParseError('VERSION_NOT_SUPPORTED', 'Version Not Supported')
        : new SipParseError('BAD_START_LINE', 'Malformed Request-Line'));
    } else {
      try {
        const u = req.requestUri();
        if (u.kind === 'sip' && u.headers !== undefined) {
          problems.add(new SipParseError('BAD_REQUEST_URI', 'Headers not allowed in Request-URI'));
        }
      } catch {
        problems.add(new SipParseError('BAD_REQUEST_URI', 'Malformed Request-URI'));
      }
    }
  } else {
    const sp1 = line.indexOf(' ');
    const sp2 = sp1 < 0 ? -1 : line.indexOf(' ', sp1 + 1);
    const version = sp1 < 0 ? line : line.slice(0, sp1);
    const code = sp1 < 0 ? '' : sp2 < 0 ? line.slice(sp1 + 1) : line.slice(sp1 + 1, sp2);
    const status = /^[1-6]\d\d$/.test(code) ? Number(code) : 0;
    msg = new SipResponse(status, sp2 < 0 ? '' : line.slice(sp2 + 1), headers);
    if (version.toUpperCase() !== 'SIP/2.0') problems.add(new SipParseError('VERSION_NOT_SUPPORTED', 'Version Not Supported'));
    else if (status === 0) problems.add(new SipParseError('BAD_STATUS_CODE', 'Malformed Status-Line'));
  }

  const cl = contentLengthOf(headers);
  const available = buf.length - bodyStart;
  if (cl !== undefined && cl < 0) {
    problems.add(new SipParseError('BAD_CONTENT_LENGTH', cl === -1 ? 'Malformed Content-Length' : 'Conflicting Content-Length values',
      { closeConnection: true }));
  } else if (cl === undefined) {
    if (!datagram) problems.add(new SipParseError('MISSING_CONTENT_LENGTH', 'Missing Content-Length', { closeConnection: true }));
    else msg.body = buf.subarray(bodyStart);
  } else if (cl > available || (!datagram && cl !== available)) {
    problems.add(new SipParseError('TRUNCATED_BODY', 'Content-Length larger than message'));
  } else if (cl > 0) {
    msg.body = buf.subarray(bodyStart, bodyStart + cl);
  }

  for (const key of ['via', ...SINGLE]) {
    const n = headers.count(key);
    if (n === 0) problems.add(new SipParseError('MISSING_HEADER', `Missing ${NAMES[key]} header`));
    else if (n > 1 && key !== 'via') problems.add(new SipParseError('DUPLICATE_HEADER', `Multiple ${NAMES[key]} headers`));
  }
  if (problems.first === undefined) {
    try {
      msg.topVia();
      msg.from();
      msg.to();
      msg.callId();
      const cseq = msg.cseq();
      if (msg.kind === 'request' && cseq.method !== msg.method) {
        problems.add(new SipParseError('CSEQ_METHOD_MISMATCH', 'CSeq method does not match Request-Line'));
      }
    } catch (err) {
      problems.add(err instanceof SipParseError ? err : new SipParseError('BAD_HEADER_VALUE', 'Malformed header'));
    }
  }
  if (problems.first !== undefined) {
    const err = problems.first;
    err.headers = headers;
    err.isRequest = isRequest;
    err.canRespond = isRequest && canFormResponse(headers);
    throw err;
  }
  msg.raw = buf;
  return msg;
}

/**
 * Reads the Content-Length of a header block without building a message (for the stream framer).
 * @param buf bytes holding the header block.
 * @param start first byte of the start line.
 * @param end index of the CRLFCRLF that ends the headers.
 * @returns the length; `undefined` when absent; -1 when invalid or conflicting.
 */
export function scanContentLength(buf: Buffer, start: number, end: number): number | undefined {
  const head = buf.toString('latin1', start, end);
  let cl: number | undefined;
  let i = head.indexOf('\r\n');
  while (i >= 0 && i < head.length) {
    const ls = i + 2;
    let le = head.indexOf('\r\n', ls);
    if (le < 0) le = head.length;
    const colon = head.indexOf(':', ls);
    if (colon > ls && colon < le) {
      const name = trimWs(head.slice(ls, colon)).toLowerCase();
      if (name === 'content-length' || name === 'l') {
        const v = parseContentLength(trimWs(head.slice(colon + 1, le)));
        if (v < 0 || (cl !== undefined && cl !== v)) return -1;
        cl = v;
      }
    }
    i = le;
  }
  return cl;
}
