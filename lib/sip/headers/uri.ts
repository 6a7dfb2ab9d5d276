/**
 * URIs (RFC 3261 §19.1, §25.1): SIP and SIPS URIs are split into user, password, host, port, parameters and
 * headers; any other scheme (`tel:`, `urn:`, `isbn:`, …) is kept as an opaque absolute URI, since a registrar only
 * needs to recognise it (RFC 4475 §3.3.2–3.3.4). Parts keep their escaping; {@link unescapePercent} decodes.
 */
import { SipParseError } from '../errors.ts';
import { parseDigits, unescapePercent } from '../syntax.ts';
import { Params, parseUriParams } from './params.ts';

/** A `sip:` or `sips:` URI. */
export interface SipUri {
  kind: 'sip';
  scheme: 'sip' | 'sips';
  /** User part as written (escaped), undefined when there is no `@`. */
  user: string | undefined;
  password: string | undefined;
  /** Host as written; an IPv6 reference keeps its brackets. */
  host: string;
  port: number | undefined;
  params: Params;
  /** The text after `?`, as written. */
  headers: string | undefined;
  /** The URI text as received. */
  raw: string;
}

/** A URI of any other scheme. */
export interface AbsoluteUri {
  kind: 'absolute';
  /** Lower-case scheme. */
  scheme: string;
  raw: string;
}

/** Any URI. */
export type Uri = SipUri | AbsoluteUri;

/** user = 1*( unreserved / escaped / user-unreserved ), plus `:` for the password separator. */
const USERCHAR = new Uint8Array(128);
for (const ch of "-_.!~*'()%&=+$,;?/:") USERCHAR[ch.charCodeAt(0)] = 1;
for (let c = 48; c < 58; c++) USERCHAR[c] = 1;
for (let c = 65; c < 91; c++) USERCHAR[c] = USERCHAR[c + 32] = 1;

function isAlpha(c: number): boolean {
  return (c >= 65 && c <= 90) || (c >= 97 && c <= 122);
}

function hostEnd(s: string, i: number): number {
  while (i < s.length) {
    const c = s.charCodeAt(i);
    // alphanum, '-', '.', and '_' (not in the grammar, but common in real host names and harmless to accept)
    if (!(isAlpha(c) || (c >= 48 && c <= 57) || c === 45 || c === 46 || c === 95)) break;
    i++;
  }
  return i;
}

/** Characters forbidden anywhere in a URI: controls, space, `"`, `<`, `>`, `\`, `` ` ``, `{`, `}`, `|`, `^`. */
function hasForbidden(s: string): boolean {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c <= 32 || c === 34 || c === 60 || c === 62 || c === 92 || c === 127) return true;
  }
  return false;
}

/**
 * Checks an IPv6 reference `[…]`: hex digits, `:` and `.` (for an embedded IPv4) inside, at least two colons.
 * @param s the text including brackets.
 */
export function isIpv6Reference(s: string): boolean {
  if (s.length < 4 || s.charCodeAt(0) !== 91 || s.charCodeAt(s.length - 1) !== 93) return false;
  let colons = 0;
  for (let i = 1; i < s.length - 1; i++) {
    const c = s.charCodeAt(i);
    if (c === 58) colons++;
    else if (!((c >= 48 && c <= 57) || (c >= 65 && c <= 70) || (c >= 97 && c <= 102) || c === 46)) return false;
  }
  return colons >= 2;
}

function fail(detail: string): SipParseError {
  return new SipParseError('BAD_HEADER_VALUE', detail);
}

/**
 * Parses a URI.
 * @param s the URI text exactly (no surrounding `<>` or white space).
 * @returns the parsed URI.
 * @throws SipParseError BAD_HEADER_VALUE with a short detail ("bad host", …); callers rephrase it for their header.
 */
export function parseUri(s: string): Uri {
  let i = 0;
  if (s.length === 0 || !isAlpha(s.charCodeAt(0))) throw fail('bad URI scheme');
  while (i < s.length) {
    const c = s.charCodeAt(i);
    if (!(isAlpha(c) || (c >= 48 && c <= 57) || c === 43 || c === 45 || c === 46)) break;
    i++;
  }
  if (i >= s.length || s.charCodeAt(i) !== 58 /* : */) throw fail('bad URI scheme');
  if (hasForbidden(s)) throw fail('invalid character in URI');
  const scheme = s.slice(0, i).toLowerCase();
  if (scheme !== 'sip' && scheme !== 'sips') {
    if (i + 1 >= s.length) throw fail('empty URI');
    return { kind: 'absolute', scheme, raw: s };
  }
  const rest = i + 1;
  const at = s.indexOf('@', rest);
  let user: string | undefined;
  let password: string | undefined;
  let p = rest;
  if (at >= 0) {
    for (let j = rest; j < at; j++) {
      const c = s.charCodeAt(j);
      if (c < 128 && USERCHAR[c] !== 1) throw fail('bad URI user part');
    }
    const colon = s.indexOf(':', rest);
    if (colon >= 0 && colon < at) {
      user = s.slice(rest, colon);
      password = s.slice(colon + 1, at);
    } else {
      user = s.slice(rest, at);
    }
    if (user.length === 0) throw fail('empty URI user part');
    p = at + 1;
  }
  let host: string;
  if (s.charCodeAt(p) === 91 /* [ */) {
    const close = s.indexOf(']', p);
    if (close < 0) throw fail('bad IPv6 reference');
    host = s.slice(p, close + 1);
    if (!isIpv6Reference(host)) throw fail('bad IPv6 reference');
    p = close + 1;
  } else {
    const e = hostEnd(s, p);
    if (e === p) throw fail('bad URI host');
    host = s.slice(p, e);
    p = e;
  }
  let port: number | undefined;
  if (p < s.length && s.charCodeAt(p) === 58) {
    let e = p + 1;
    while (e < s.length && s.charCodeAt(e) >= 48 && s.charCodeAt(e) <= 57) e++;
    const v = parseDigits(s.slice(p + 1, e), 65535);
    if (v < 0) throw fail('bad URI port');
    port = v;
    p = e;
  }
  let params = new Params();
  const q = s.indexOf('?', p);
  const paramsEnd = q < 0 ? s.length : q;
  if (p < paramsEnd) {
    if (s.charCodeAt(p) !== 59 /* ; */) throw fail('bad URI host');
    const parsed = parseUriParams(s, p, paramsEnd);
    if (!parsed) throw fail('bad URI parameter');
    params = parsed;
  }
  let headers: string | undefined;
  if (q >= 0) {
    headers = s.slice(q + 1);
    if (headers.length === 0) throw fail('empty URI headers');
  }
  return { kind: 'sip', scheme, user, password, host, port, params, headers, raw: s };
}

/**
 * Writes a SIP URI from its parts (use `raw` to echo a received URI unchanged).
 * @param u the URI.
 */
export function formatSipUri(u: Omit<SipUri, 'raw' | 'kind'>): string {
  let s = u.scheme + ':';
  if (u.user !== undefined) s += u.user + (u.password !== undefined ? ':' + u.password : '') + '@';
  s += u.host;
  if (u.port !== undefined) s += ':' + u.port;
  s += u.params.toString();
  if (u.headers !== undefined) s += '?' + u.headers;
  return s;
}

/**
 * The address-of-record form of a URI (RFC 3261 §10.3 step 5): parameters and headers dropped, escapes decoded,
 * scheme and host lower-cased. Other schemes are returned as written.
 * @param u a parsed URI.
 */
export function addressOfRecord(u: Uri): string {
  if (u.kind !== 'sip') return u.raw;
  const user = u.user === undefined ? '' : unescapePercent(u.user) + '@';
  return `${u.scheme}:${user}${u.host.toLowerCase()}${u.port === undefined ? '' : ':' + u.port}`;
}

/**
 * The unescaped user part of a SIP URI (RFC 4475 §3.1.1.4: `%00` stays a NUL, it does not truncate).
 * @param u a parsed URI.
 */
export function uriUser(u: Uri): string | undefined {
  return u.kind === 'sip' && u.user !== undefined ? unescapePercent(u.user) : undefined;
}
