/**
 * HTTP-style authentication headers as SIP uses them (RFC 3261 §20.7, §20.27, §20.44, §25.1; RFC 2617 Digest;
 * RFC 3310 §3.4 `auts`; RFC 7616/8760 algorithms): WWW-Authenticate / Proxy-Authenticate challenges, Authorization /
 * Proxy-Authorization credentials and Authentication-Info. These headers contain commas, so their fields are never
 * split as lists. Any scheme parses (RFC 4475 §3.3.7: an unknown scheme must not break the parser); readers accept
 * quoted or bare values for every parameter, writers quote exactly what the grammar quotes.
 */
import { SipParseError } from '../errors.ts';
import { listElementEnd, quote, readQuoted, skipWs, skipWsBack, tokenEnd, trimWs } from '../syntax.ts';

/** A scheme and its parameters (names lower-cased, values unquoted). */
export interface AuthValue {
  scheme: string;
  params: Map<string, string>;
  /** RFC 7235 token68 form (e.g. `Basic QWxh…`), when the value is not a parameter list. */
  token68: string | undefined;
}

/** A Digest challenge (WWW-Authenticate / Proxy-Authenticate). */
export interface DigestChallenge extends AuthValue {
  realm: string | undefined;
  nonce: string | undefined;
  opaque: string | undefined;
  /** As written (`MD5`, `AKAv1-MD5`, `SHA-256`, …); compare case-insensitively. */
  algorithm: string | undefined;
  /** The qop options, split (`auth`, `auth-int`). */
  qop: string[];
  stale: boolean;
}

/** Digest credentials (Authorization / Proxy-Authorization). */
export interface DigestCredentials extends AuthValue {
  username: string | undefined;
  realm: string | undefined;
  nonce: string | undefined;
  uri: string | undefined;
  response: string | undefined;
  algorithm: string | undefined;
  cnonce: string | undefined;
  opaque: string | undefined;
  qop: string | undefined;
  nc: string | undefined;
  /** RFC 3310 §3.4: base64(AUTS) on a synchronisation failure. */
  auts: string | undefined;
}

const TOKEN68 = /^[A-Za-z0-9\-._~+/]+=*$/;

/**
 * Parses any auth header value: `scheme` then a comma list of `name = (token / quoted-string)` or a token68.
 * One pass over the value by index (issue #12: the registrar parses one per REGISTER); the grammar and the errors are
 * those of splitting the list with `splitList` and reading each trimmed element.
 * @param value the unfolded field value.
 * @throws SipParseError BAD_HEADER_VALUE with a short detail.
 */
export function parseAuthValue(value: string): AuthValue {
  const se = tokenEnd(value, 0);
  if (se === 0) throw new SipParseError('BAD_HEADER_VALUE', 'no auth scheme');
  const scheme = value.slice(0, se);
  const rest = trimWs(value.slice(skipWs(value, se)));
  const params = new Map<string, string>();
  if (rest.length === 0) return { scheme, params, token68: undefined };
  if (TOKEN68.test(rest) && !/=[^=]/.test(rest)) return { scheme, params, token68: rest };
  if (skipWs(value, se) === se) throw new SipParseError('BAD_HEADER_VALUE', 'no space after auth scheme');
  for (let at = 0; at <= rest.length; ) {
    const stop = listElementEnd(rest, at);
    let a = skipWs(rest, at);
    const b = skipWsBack(rest, a, stop);
    at = stop + 1;
    if (a === b) continue; // #rule allows empty elements
    const ne = tokenEnd(rest, a);
    if (ne === a || ne > b) throw new SipParseError('BAD_HEADER_VALUE', 'bad auth-param name');
    const name = rest.slice(a, ne).toLowerCase();
    a = skipWs(rest, ne);
    if (a >= b || rest.charCodeAt(a) !== 61) throw new SipParseError('BAD_HEADER_VALUE', `auth-param ${name} without value`);
    a = skipWs(rest, a + 1);
    let v: string;
    if (a < b && rest.charCodeAt(a) === 34) {
      const q = readQuoted(rest, a); // a closed quote ends inside the element: listElementEnd skipped over it
      if (skipWs(rest, q.end) < b) throw new SipParseError('BAD_HEADER_VALUE', `text after ${name}`);
      v = q.value;
    } else {
      v = rest.slice(a, b);
      if (v.length === 0 || /[\s"]/.test(v)) throw new SipParseError('BAD_HEADER_VALUE', `bad value of ${name}`);
    }
    if (!params.has(name)) params.set(name, v);
  }
  return { scheme, params, token68: undefined };
}

/**
 * Parses a challenge. Non-Digest schemes parse too (their Digest fields are simply undefined).
 * @param value a WWW-Authenticate or Proxy-Authenticate field value.
 */
export function parseChallenge(value: string): DigestChallenge {
  const a = parseAuthValue(value);
  const p = a.params;
  const qop = p.get('qop');
  return {
    ...a,
    realm: p.get('realm'),
    nonce: p.get('nonce'),
    opaque: p.get('opaque'),
    algorithm: p.get('algorithm'),
    qop: qop === undefined ? [] : qop.split(',').map(trimWs).filter((q) => q.length > 0),
    stale: (p.get('stale') ?? '').toLowerCase() === 'true',
  };
}

/**
 * Parses credentials.
 * @param value an Authorization or Proxy-Authorization field value.
 */
export function parseCredentials(value: string): DigestCredentials {
  const { scheme, params: p, token68 } = parseAuthValue(value);
  return {
    scheme,
    params: p,
    token68,
    username: p.get('username'),
    realm: p.get('realm'),
    nonce: p.get('nonce'),
    uri: p.get('uri'),
    response: p.get('response'),
    algorithm: p.get('algorithm'),
    cnonce: p.get('cnonce'),
    opaque: p.get('opaque'),
    qop: p.get('qop'),
    nc: p.get('nc'),
    auts: p.get('auts'),
  };
}

/** Parameters written bare (token) in each header; all others are quoted. */
const BARE_IN_CHALLENGE = new Set(['algorithm', 'stale']);
const BARE_IN_CREDENTIALS = new Set(['algorithm', 'qop', 'nc']);
const BARE_IN_INFO = new Set(['qop', 'nc']);

function format(scheme: string, params: Record<string, string | boolean | undefined>, bare: ReadonlySet<string>): string {
  const out: string[] = [];
  for (const [name, v] of Object.entries(params)) {
    if (v === undefined || v === false) continue;
    const text = v === true ? 'TRUE' : v;
    out.push(`${name}=${bare.has(name.toLowerCase()) || v === true ? text : quote(text)}`);
  }
  return scheme.length > 0 ? `${scheme} ${out.join(', ')}` : out.join(', ');
}

/** Input of {@link formatChallenge}: the standard parameters plus any extra ones (written quoted). */
export interface ChallengeInput {
  scheme?: string;
  realm: string;
  nonce: string;
  algorithm?: string;
  /** Options, written as one quoted list: `qop="auth,auth-int"`. */
  qop?: readonly string[];
  opaque?: string;
  stale?: boolean;
  domain?: string;
  extra?: Record<string, string>;
}

/**
 * Writes a WWW-Authenticate / Proxy-Authenticate value, e.g.
 * `Digest realm="r", nonce="n", algorithm=AKAv1-MD5, qop="auth,auth-int"`.
 * @param c the challenge.
 */
export function formatChallenge(c: ChallengeInput): string {
  return format(c.scheme ?? 'Digest', {
    realm: c.realm,
    nonce: c.nonce,
    algorithm: c.algorithm,
    qop: c.qop && c.qop.length > 0 ? c.qop.join(',') : undefined,
    opaque: c.opaque,
    domain: c.domain,
    stale: c.stale,
    ...c.extra,
  }, BARE_IN_CHALLENGE);
}

/** Input of {@link formatCredentials}. */
export interface CredentialsInput {
  scheme?: string;
  username: string;
  realm: string;
  nonce: string;
  uri: string;
  response: string;
  algorithm?: string;
  cnonce?: string;
  opaque?: string;
  qop?: string;
  nc?: string;
  auts?: string;
  extra?: Record<string, string>;
}

/**
 * Writes an Authorization / Proxy-Authorization value (RFC 3261 §25.1 `dig-resp`, RFC 3310 `auts`).
 * @param c the credentials.
 */
export function formatCredentials(c: CredentialsInput): string {
  const { scheme, extra, ...rest } = c;
  return format(scheme ?? 'Digest', { ...rest, ...extra }, BARE_IN_CREDENTIALS);
}

/** Authentication-Info (RFC 3261 §20.6). */
export interface AuthenticationInfo {
  nextnonce?: string;
  qop?: string;
  rspauth?: string;
  cnonce?: string;
  nc?: string;
}

/**
 * Writes an Authentication-Info value: `rspauth="…", cnonce="…", nc=00000001, qop=auth`.
 * @param info the fields.
 */
export function formatAuthenticationInfo(info: AuthenticationInfo): string {
  return format('', { ...info }, BARE_IN_INFO);
}

/**
 * Parses an Authentication-Info value (no scheme, just the parameter list).
 * @param value the field value.
 */
export function parseAuthenticationInfo(value: string): AuthenticationInfo {
  const p = parseAuthValue('x ' + value).params;
  const pick = (k: string): string | undefined => p.get(k);
  return { nextnonce: pick('nextnonce'), qop: pick('qop'), rspauth: pick('rspauth'), cnonce: pick('cnonce'), nc: pick('nc') };
}
