/**
 * SIP URI equivalence (RFC 3261 §19.1.4), for the registrar's check that a Digest `uri` names the Request-URI
 * (RFC 3261 §22.4, RFC 7616 §3.4.6). Two SIP or SIPS URIs are equivalent when:
 *
 * - the schemes are the same (a SIP URI never equals a SIPS URI);
 * - user and password match case-sensitively after unescaping; the host case-insensitively;
 * - the ports match, an absent port not equal to an explicit one (even 5060);
 * - every URI parameter present in both matches (`user`, `ttl`, `method`, `maddr`, `transport` values
 *   case-insensitively, the others case-sensitively, all unescaped); `user`, `ttl`, `method` or `maddr` present in one
 *   only never matches; other parameters present in one only are ignored;
 * - the header components are the same set (names case-insensitive, values case-sensitive, unescaped).
 *
 * Other schemes are compared as written, case-insensitively in the scheme only (no rules of theirs are implemented).
 */
import { unescapePercent } from '../syntax.ts';
import type { Params } from './params.ts';
import type { SipUri, Uri } from './uri.ts';

/** Parameters that never match when present in only one URI. */
const ONE_SIDED_NEVER_MATCH = ['user', 'ttl', 'method', 'maddr'];
/** Parameters whose values compare case-insensitively (they are tokens or host names). */
const CASELESS_VALUES = new Set(['user', 'ttl', 'method', 'maddr', 'transport', 'lr']);

function paramMap(p: Params): Map<string, string | null> {
  const m = new Map<string, string | null>();
  for (const x of p.list) if (!m.has(x.key)) m.set(x.key, x.value === null ? null : unescapePercent(x.value));
  return m;
}

function paramsMatch(a: Params, b: Params): boolean {
  const pa = paramMap(a);
  const pb = paramMap(b);
  for (const [k, va] of pa) {
    if (!pb.has(k)) {
      if (ONE_SIDED_NEVER_MATCH.includes(k)) return false;
      continue;
    }
    const vb = pb.get(k) ?? null;
    if (va === null || vb === null) {
      if (va !== vb) return false;
    } else if (CASELESS_VALUES.has(k) ? va.toLowerCase() !== vb.toLowerCase() : va !== vb) return false;
  }
  for (const k of pb.keys()) if (!pa.has(k) && ONE_SIDED_NEVER_MATCH.includes(k)) return false;
  return true;
}

function headerSet(h: string | undefined): string[] {
  if (h === undefined) return [];
  return h.split('&').map((kv) => {
    const eq = kv.indexOf('=');
    const name = unescapePercent(eq < 0 ? kv : kv.slice(0, eq)).toLowerCase();
    return `${name}=${unescapePercent(eq < 0 ? '' : kv.slice(eq + 1))}`;
  }).sort();
}

function same(x: string | undefined, y: string | undefined): boolean {
  return x === undefined || y === undefined ? x === y : unescapePercent(x) === unescapePercent(y);
}

function sipEquivalent(a: SipUri, b: SipUri): boolean {
  if (a.scheme !== b.scheme || !same(a.user, b.user) || !same(a.password, b.password)) return false;
  if (a.host.toLowerCase() !== b.host.toLowerCase() || a.port !== b.port) return false;
  if (!paramsMatch(a.params, b.params)) return false;
  const ha = headerSet(a.headers);
  const hb = headerSet(b.headers);
  return ha.length === hb.length && ha.every((x, i) => x === hb[i]);
}

/**
 * Whether two URIs are equivalent by RFC 3261 §19.1.4.
 * @param a a parsed URI.
 * @param b another.
 */
export function urisEquivalent(a: Uri, b: Uri): boolean {
  if (a.kind === 'sip' && b.kind === 'sip') return sipEquivalent(a, b);
  if (a.kind === 'sip' || b.kind === 'sip') return false;
  return a.scheme === b.scheme && a.raw.slice(a.raw.indexOf(':')) === b.raw.slice(b.raw.indexOf(':'));
}
