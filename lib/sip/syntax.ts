/**
 * Character-level helpers for the RFC 3261 §25.1 grammar. Header values reach these functions already unfolded
 * (every CRLF+WSP became one SP), so linear white space is just SP and HTAB here. Everything works on indexes into
 * the original string to avoid allocating substrings on the hot path.
 */
import { SipParseError } from './errors.ts';

/** token = 1*(alphanum / "-" / "." / "!" / "%" / "*" / "_" / "+" / "`" / "'" / "~"). */
const TOKEN = new Uint8Array(128);
for (let c = 0; c < 128; c++) {
  const ch = String.fromCharCode(c);
  if (/[A-Za-z0-9]/.test(ch) || "-.!%*_+`'~".includes(ch)) TOKEN[c] = 1;
}

/** Characters of a hostname, an IPv4 address or the inside of an IPv6 reference. */
const HOST = new Uint8Array(128);
for (let c = 0; c < 128; c++) {
  const ch = String.fromCharCode(c);
  if (/[A-Za-z0-9.\-:[\]]/.test(ch)) HOST[c] = 1;
}

/**
 * True for a token character.
 * @param c a UTF-16 code unit.
 */
export function isTokenChar(c: number): boolean {
  return c < 128 && TOKEN[c] === 1;
}

/**
 * True when `s` is a non-empty token.
 * @param s candidate text.
 */
export function isToken(s: string): boolean {
  if (s.length === 0) return false;
  for (let i = 0; i < s.length; i++) if (!isTokenChar(s.charCodeAt(i))) return false;
  return true;
}

/**
 * True for a character that may appear in a host (name, IPv4, bracketed IPv6).
 * @param c a UTF-16 code unit.
 */
export function isHostChar(c: number): boolean {
  return c < 128 && HOST[c] === 1;
}

/**
 * Index of the first character at or after `i` that is not SP or HTAB.
 * @param s text.
 * @param i start index.
 */
export function skipWs(s: string, i: number): number {
  while (i < s.length) {
    const c = s.charCodeAt(i);
    if (c !== 32 && c !== 9) break;
    i++;
  }
  return i;
}

/**
 * The end of `s.slice(from, end)` without its trailing SP and HTAB: {@link skipWs} backwards, never below `from`.
 * @param s text.
 * @param from lowest index to return.
 * @param end index just after the text.
 */
export function skipWsBack(s: string, from: number, end: number): number {
  while (end > from) {
    const c = s.charCodeAt(end - 1);
    if (c !== 32 && c !== 9) break;
    end--;
  }
  return end;
}

/**
 * `s` without leading and trailing SP/HTAB. Unlike `String#trim` it keeps every other character (a value may start
 * with U+FEFF or U+00A0, RFC 4475 §3.1.1.2).
 * @param s text.
 */
export function trimWs(s: string): string {
  const a = skipWs(s, 0);
  const b = skipWsBack(s, a, s.length);
  return a === 0 && b === s.length ? s : s.slice(a, b);
}

/**
 * Index just after the token starting at `i` (equal to `i` when there is none).
 * @param s text.
 * @param i start index.
 */
export function tokenEnd(s: string, i: number): number {
  while (i < s.length && isTokenChar(s.charCodeAt(i))) i++;
  return i;
}

/**
 * Reads a quoted-string starting at the opening DQUOTE at `i`; quoted-pairs are unescaped.
 * @param s text.
 * @param i index of the opening `"`.
 * @returns the content without quotes and the index just after the closing quote.
 * @throws SipParseError BAD_HEADER_VALUE when the closing quote is missing.
 */
export function readQuoted(s: string, i: number): { value: string; end: number } {
  let out = '';
  let from = i + 1;
  for (let j = i + 1; j < s.length; j++) {
    const c = s.charCodeAt(j);
    if (c === 92 /* \ */) {
      if (j + 1 >= s.length) break;
      out += s.slice(from, j);
      from = j + 1;
      j++;
    } else if (c === 34 /* " */) {
      return { value: out + s.slice(from, j), end: j + 1 };
    }
  }
  throw new SipParseError('BAD_HEADER_VALUE', 'Unterminated quoted string');
}

/**
 * Index just after the quoted-string starting at `i`, or -1 when it is not terminated.
 * @param s text.
 * @param i index of the opening `"`.
 */
export function quotedEnd(s: string, i: number): number {
  for (let j = i + 1; j < s.length; j++) {
    const c = s.charCodeAt(j);
    if (c === 92) j++;
    else if (c === 34) return j + 1;
  }
  return -1;
}

/**
 * `s` as a string that holds no other. What the parser returns are slices of the message's decoded header block, and
 * V8 keeps a slice's whole parent alive: a value kept long after its message (a transaction key held 32 s for Timer J,
 * an identity remembered for minutes) would keep that message's entire header block (issue #12: a heap snapshot of a
 * registrar at 2,000 registrations/s held 70,000 of them, 40 MB). Slicing a concatenation flattens it into one new
 * string first.
 * @param s any string.
 */
export function ownString(s: string): string {
  return (' ' + s).slice(1);
}

/**
 * Writes `s` as a quoted-string, escaping `"` and `\`.
 * @param s content.
 */
export function quote(s: string): string {
  return '"' + s.replace(/["\\]/g, '\\$&') + '"';
}

/**
 * Index of the comma that ends the list element starting at `i`, or `s.length` when the element runs to the end
 * (RFC 3261 §7.3.1): commas inside quoted strings and `<…>` do not end an element; an unterminated quoted string runs
 * to the end, where the element's own parser rejects it.
 * @param s an unfolded header field value.
 * @param i where the element starts.
 */
export function listElementEnd(s: string, i: number): number {
  let angle = false;
  for (; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c === 34 /* " */) {
      const e = quotedEnd(s, i);
      if (e < 0) return s.length;
      i = e - 1;
    } else if (c === 60 /* < */) angle = true;
    else if (c === 62 /* > */) angle = false;
    else if (c === 44 /* , */ && !angle) return i;
  }
  return s.length;
}

/**
 * Splits a header field value into its comma-separated elements (RFC 3261 §7.3.1), ignoring commas inside
 * quoted strings and `<…>`. Elements are trimmed; empty elements are kept so callers can reject them.
 * Never use this on headers whose values legally contain commas outside quotes (WWW-Authenticate, Date, …).
 * @param value an unfolded header field value.
 */
export function splitList(value: string): string[] {
  const out: string[] = [];
  for (let start = 0; ; ) {
    const end = listElementEnd(value, start);
    out.push(trimWs(value.slice(start, end)));
    if (end >= value.length) return out;
    start = end + 1;
  }
}

/**
 * Index of the comma that ends the first element of a list value, or -1 when the value has one element.
 * @param value an unfolded header field value.
 */
export function firstElementEnd(value: string): number {
  const end = listElementEnd(value, 0);
  return end === value.length ? -1 : end;
}

function hexVal(c: number): number {
  if (c >= 48 && c <= 57) return c - 48;
  if (c >= 65 && c <= 70) return c - 55;
  if (c >= 97 && c <= 102) return c - 87;
  return -1;
}

/**
 * Decodes `%HH` escapes once (never recursively: `%2541` becomes `%41`, RFC 4475 §3.1.1.3). A `%` not followed by
 * two hex digits is kept as is. Decoded octets are read as UTF-8.
 * @param s escaped text.
 */
export function unescapePercent(s: string): string {
  if (!s.includes('%')) return s;
  const parts: Buffer[] = [];
  let from = 0;
  for (let i = 0; i + 2 < s.length; i++) {
    if (s.charCodeAt(i) !== 37) continue;
    const hi = hexVal(s.charCodeAt(i + 1));
    const lo = hexVal(s.charCodeAt(i + 2));
    if (hi < 0 || lo < 0) continue;
    if (i > from) parts.push(Buffer.from(s.slice(from, i), 'utf8'));
    parts.push(Buffer.of(hi * 16 + lo));
    i += 2;
    from = i + 1;
  }
  if (from < s.length) parts.push(Buffer.from(s.slice(from), 'utf8'));
  return Buffer.concat(parts).toString('utf8');
}

/**
 * Parses a string of decimal digits with an upper bound, without the precision loss of `Number()` on long input.
 * @param s candidate digits (no sign, no space).
 * @param max largest accepted value.
 * @returns the value, or -1 when `s` is empty, has a non-digit, or exceeds `max`.
 */
export function parseDigits(s: string, max: number): number {
  if (s.length === 0) return -1;
  let v = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 48 || c > 57) return -1;
    v = v * 10 + (c - 48);
    if (v > max) return -1;
  }
  return v;
}
