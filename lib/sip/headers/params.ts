/**
 * Semicolon parameters: header parameters (`generic-param = token [EQUAL gen-value]`, RFC 3261 §25.1, with LWS
 * around `;` and `=`) and URI parameters (no LWS, escaped characters). Names compare case-insensitively (and, for
 * URI parameters, after unescaping, §19.1.4); values keep their spelling. A quoted value is stored unquoted and
 * re-quoted on output.
 */
import { SipParseError } from '../errors.ts';
import { isHostChar, isTokenChar, quote, readQuoted, skipWs, tokenEnd, unescapePercent } from '../syntax.ts';

/** One parameter. */
export interface Param {
  /** As written. */
  name: string;
  /** Lower-case, unescaped name used for lookups. */
  key: string;
  /** Unquoted value; null for a parameter without `=`. */
  value: string | null;
  /** Written as a quoted-string. */
  quoted: boolean;
}

/** An ordered parameter list. */
export class Params {
  readonly list: Param[];

  /**
   * @param list initial parameters (taken, not copied).
   */
  constructor(list: Param[] = []) {
    this.list = list;
  }

  /** Number of parameters. */
  get size(): number {
    return this.list.length;
  }

  private find(name: string): Param | undefined {
    const key = name.toLowerCase();
    for (const p of this.list) if (p.key === key) return p;
    return undefined;
  }

  /**
   * The value of a parameter: a string, null when present without a value, undefined when absent.
   * @param name case-insensitive name.
   */
  get(name: string): string | null | undefined {
    const p = this.find(name);
    return p === undefined ? undefined : p.value;
  }

  /**
   * True when the parameter is present (with or without value).
   * @param name case-insensitive name.
   */
  has(name: string): boolean {
    return this.find(name) !== undefined;
  }

  /**
   * Sets (or adds, at the end) a parameter.
   * @param name the name to write.
   * @param value the value, or null for a bare parameter.
   * @param quoted write the value as a quoted-string.
   */
  set(name: string, value: string | null, quoted = false): void {
    const p = this.find(name);
    if (p) {
      p.value = value;
      p.quoted = quoted;
    } else {
      this.list.push({ name, key: name.toLowerCase(), value, quoted });
    }
  }

  /**
   * Removes a parameter.
   * @param name case-insensitive name.
   * @returns whether it was present.
   */
  delete(name: string): boolean {
    const key = name.toLowerCase();
    const i = this.list.findIndex((p) => p.key === key);
    if (i < 0) return false;
    this.list.splice(i, 1);
    return true;
  }

  /** A copy. */
  clone(): Params {
    return new Params(this.list.map((p) => ({ ...p })));
  }

  /** `;name=value;bare;q="quoted"` (empty string when there are none). */
  toString(): string {
    let s = '';
    for (const p of this.list) {
      s += ';' + p.name;
      if (p.value !== null) s += '=' + (p.quoted ? quote(p.value) : p.value);
    }
    return s;
  }
}

/** Characters of a gen-value that is not quoted: token or host (the latter brings `[`, `]`, `:`). */
function valueEnd(s: string, i: number): number {
  while (i < s.length) {
    const c = s.charCodeAt(i);
    if (!isTokenChar(c) && !isHostChar(c)) break;
    i++;
  }
  return i;
}

/**
 * Reads `*( SEMI generic-param )` from `s` at `i`, allowing LWS around `;` and `=`.
 * @param s an unfolded header value.
 * @param i where the first `;` may start.
 * @returns the parameters and the index where parsing stopped (the first non-space character that is not `;`).
 * @throws SipParseError BAD_HEADER_VALUE for an empty name (`;;`), a missing value after `=`, a bad quoted string.
 */
export function parseHeaderParams(s: string, i: number): { params: Params; end: number } {
  const list: Param[] = [];
  for (;;) {
    let j = skipWs(s, i);
    if (j >= s.length || s.charCodeAt(j) !== 59 /* ; */) return { params: new Params(list), end: j };
    j = skipWs(s, j + 1);
    const ne = tokenEnd(s, j);
    if (ne === j) throw new SipParseError('BAD_HEADER_VALUE', 'empty parameter');
    const name = s.slice(j, ne);
    let k = skipWs(s, ne);
    if (k < s.length && s.charCodeAt(k) === 61 /* = */) {
      k = skipWs(s, k + 1);
      if (k < s.length && s.charCodeAt(k) === 34) {
        const q = readQuoted(s, k);
        list.push({ name, key: name.toLowerCase(), value: q.value, quoted: true });
        i = q.end;
      } else {
        const ve = valueEnd(s, k);
        if (ve === k) throw new SipParseError('BAD_HEADER_VALUE', `parameter ${name} without value`);
        list.push({ name, key: name.toLowerCase(), value: s.slice(k, ve), quoted: false });
        i = ve;
      }
    } else {
      list.push({ name, key: name.toLowerCase(), value: null, quoted: false });
      i = ne;
    }
  }
}

/** paramchar = param-unreserved / unreserved / escaped (RFC 3261 §25.1). */
const PARAMCHAR = new Uint8Array(128);
for (const ch of "[]/:&+$-_.!~*'()%") PARAMCHAR[ch.charCodeAt(0)] = 1;
for (let c = 48; c < 58; c++) PARAMCHAR[c] = 1;
for (let c = 65; c < 91; c++) PARAMCHAR[c] = PARAMCHAR[c + 32] = 1;

function isParamChars(s: string, from: number, to: number): boolean {
  if (to <= from) return false;
  for (let i = from; i < to; i++) {
    const c = s.charCodeAt(i);
    if (c >= 128 || PARAMCHAR[c] !== 1) return false;
  }
  return true;
}

/**
 * Parses `uri-parameters` (the text between the host part and `?`), e.g. `;transport=tcp;lr`.
 * @param s the URI text.
 * @param from index of the first `;`.
 * @param to end of the parameter section.
 * @returns the parameters, or undefined when a name or value has characters outside paramchar or is empty.
 */
export function parseUriParams(s: string, from: number, to: number): Params | undefined {
  const list: Param[] = [];
  let i = from;
  while (i < to) {
    // s[i] is ';'
    let e = s.indexOf(';', i + 1);
    if (e < 0 || e > to) e = to;
    const eq = s.indexOf('=', i + 1);
    const hasValue = eq >= 0 && eq < e;
    const nameEnd = hasValue ? eq : e;
    if (!isParamChars(s, i + 1, nameEnd)) return undefined;
    if (hasValue && !isParamChars(s, eq + 1, e)) return undefined;
    const name = s.slice(i + 1, nameEnd);
    const key = (name.includes('%') ? unescapePercent(name) : name).toLowerCase();
    list.push({ name, key, value: hasValue ? s.slice(eq + 1, e) : null, quoted: false });
    i = e;
  }
  return new Params(list);
}
