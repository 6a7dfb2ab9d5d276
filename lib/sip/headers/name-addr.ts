/**
 * `(name-addr / addr-spec) *(SEMI param)` — the shape of From, To, Contact, Route, Record-Route, Path,
 * Service-Route, P-Associated-URI (RFC 3261 §20.10, §25.1). In the addr-spec form (no `<>`), every `;` parameter
 * belongs to the header, not the URI (RFC 4475 §3.3.12), and the URI may not contain `,`, `;` or `?` (§20.10,
 * RFC 4475 §3.1.2.13). A display name is a quoted-string or a run of tokens; a token run may touch the `<`
 * (RFC 4475 §3.1.1.6).
 */
import { SipParseError } from '../errors.ts';
import { isTokenChar, quote, readQuoted, skipWs, splitList, trimWs } from '../syntax.ts';
import { parseHeaderParams, type Params } from './params.ts';
import { parseUri, type Uri } from './uri.ts';

/** A parsed name-addr or addr-spec with its header parameters. */
export interface NameAddr {
  /** Unquoted display name; undefined when absent. */
  displayName: string | undefined;
  uri: Uri;
  /** Header parameters (`tag`, `expires`, `q`, …). */
  params: Params;
  /** Shortcut for `params.get('tag')` when it has a value. */
  tag: string | undefined;
  /** The URI was enclosed in `<>`. */
  bracketed: boolean;
  /** The element text as received. */
  raw: string;
}

/** A Contact value (RFC 3261 §20.10) with its registration parameters read. */
export interface Contact extends NameAddr {
  /**
   * The `expires` parameter in seconds; undefined when absent or not a valid delta-seconds (RFC 4475 §3.1.2.4
   * lets a registrar treat an invalid expiry as absent and apply its default).
   */
  expires: number | undefined;
  /** The `q` parameter when present and valid (0–1). */
  q: number | undefined;
}

function isDisplayTokens(s: string, to: number): boolean {
  for (let i = 0; i < to; i++) {
    const c = s.charCodeAt(i);
    if (c !== 32 && c !== 9 && !isTokenChar(c)) return false;
  }
  return true;
}

function fail(detail: string): SipParseError {
  return new SipParseError('BAD_HEADER_VALUE', detail);
}

/**
 * Parses one element (already split from a list and trimmed).
 * @param s the element text.
 * @throws SipParseError BAD_HEADER_VALUE with a short detail; callers add the header name.
 */
export function parseNameAddr(s: string): NameAddr {
  if (s.length === 0) throw fail('empty value');
  let displayName: string | undefined;
  let lt = -1;
  if (s.charCodeAt(0) === 34) {
    const q = readQuoted(s, 0);
    displayName = q.value;
    lt = skipWs(s, q.end);
    if (s.charCodeAt(lt) !== 60) throw fail('display name without <URI>');
  } else {
    const i = s.indexOf('<');
    if (i >= 0 && isDisplayTokens(s, i)) {
      lt = i;
      const d = trimWs(s.slice(0, i));
      displayName = d.length > 0 ? d : undefined;
    }
  }
  let uriText: string;
  let rest: number;
  if (lt >= 0) {
    const gt = s.indexOf('>', lt + 1);
    if (gt < 0) throw fail('missing >');
    uriText = s.slice(lt + 1, gt);
    rest = gt + 1;
  } else {
    const semi = s.indexOf(';');
    uriText = trimWs(semi < 0 ? s : s.slice(0, semi));
    rest = semi < 0 ? s.length : semi;
    if (uriText.includes('?') || uriText.includes(',')) throw fail('URI with ? or , must be enclosed in <>');
  }
  const uri = parseUri(uriText);
  const { params, end } = parseHeaderParams(s, rest);
  if (end !== s.length) throw fail('unexpected text after parameters');
  const tag = params.get('tag');
  return { displayName, uri, params, tag: tag ?? undefined, bracketed: lt >= 0, raw: s };
}

const MAX_DELTA = 2 ** 32 - 1;

/**
 * Parses a delta-seconds value (`Expires`, `Min-Expires`, Contact `expires`).
 * @param s the text.
 * @returns the value, or undefined for anything but 1*DIGIT within 0 … 2^32-1.
 */
export function parseDeltaSeconds(s: string | null | undefined): number | undefined {
  if (s === null || s === undefined) return undefined;
  const t = trimWs(s);
  if (t.length === 0 || t.length > 10) return undefined;
  let v = 0;
  for (let i = 0; i < t.length; i++) {
    const c = t.charCodeAt(i);
    if (c < 48 || c > 57) return undefined;
    v = v * 10 + (c - 48);
  }
  return v <= MAX_DELTA ? v : undefined;
}

function parseQ(s: string | null | undefined): number | undefined {
  if (typeof s !== 'string' || !/^(0(\.\d{0,3})?|1(\.0{0,3})?)$/.test(s)) return undefined;
  return Number(s);
}

/**
 * Parses one Contact header field value: `*` or a comma-separated list of contacts.
 * @param value the unfolded field value.
 * @returns `'*'` or the contacts in order.
 * @throws SipParseError BAD_HEADER_VALUE with a short detail.
 */
export function parseContactValue(value: string): Contact[] | '*' {
  if (value === '*') return '*';
  const out: Contact[] = [];
  for (const el of splitList(value)) {
    if (el === '*') throw new SipParseError('BAD_HEADER_VALUE', '* mixed with addresses');
    const na = parseNameAddr(el);
    out.push({ ...na, expires: parseDeltaSeconds(na.params.get('expires')), q: parseQ(na.params.get('q')) });
  }
  return out;
}

/**
 * Writes a name-addr: `"Display" <uri>;params`. Always uses `<>`, which is valid for every URI.
 * @param na display name (optional), URI text or parsed URI, parameters (optional).
 */
export function formatNameAddr(na: { displayName?: string | undefined; uri: string | Uri; params?: Params }): string {
  const uri = typeof na.uri === 'string' ? na.uri : na.uri.raw;
  const dn = na.displayName === undefined ? '' : quote(na.displayName) + ' ';
  return `${dn}<${uri}>${na.params ? na.params.toString() : ''}`;
}
