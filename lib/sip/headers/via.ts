/**
 * Via (RFC 3261 §20.42, §25.1; `rport` from RFC 3581 §5):
 * `sent-protocol LWS sent-by *( SEMI via-params )`, with `SLASH = SWS "/" SWS`, so `SIP / 2.0 / UDP` is legal
 * (RFC 4475 §3.1.1.1). The top Via decides transaction matching and response routing; the others are only copied.
 */
import { SipParseError } from '../errors.ts';
import { parseDigits, skipWs, splitList, tokenEnd } from '../syntax.ts';
import { Params, parseHeaderParams } from './params.ts';
import { isIpv6Reference } from './uri.ts';

/** RFC 3261 §8.1.1.7: branches of compliant clients start with this. */
export const MAGIC_COOKIE = 'z9hG4bK';

/** One Via value. */
export class Via {
  /** `SIP` in practice. */
  protocol: string;
  version: string;
  /** Upper-cased transport (`UDP`, `TCP`, `TLS`, `SCTP`, or an extension token). */
  transport: string;
  /** Host as written (IPv6 references keep their brackets). */
  host: string;
  port: number | undefined;
  params: Params;

  /**
   * @param init the parts; params default to none.
   */
  constructor(init: { protocol?: string; version?: string; transport: string; host: string; port?: number | undefined; params?: Params }) {
    this.protocol = init.protocol ?? 'SIP';
    this.version = init.version ?? '2.0';
    this.transport = init.transport.toUpperCase();
    this.host = init.host;
    this.port = init.port;
    this.params = init.params ?? new Params();
  }

  /** The `branch` parameter value. */
  get branch(): string | undefined {
    return this.params.get('branch') ?? undefined;
  }

  /** The `received` parameter value. */
  get received(): string | undefined {
    return this.params.get('received') ?? undefined;
  }

  /** `maddr`. */
  get maddr(): string | undefined {
    return this.params.get('maddr') ?? undefined;
  }

  /**
   * RFC 3581 `rport`: the port number once a server filled it in, `true` when the client asked for it (no value),
   * undefined when absent or not a port number.
   */
  get rport(): number | true | undefined {
    const v = this.params.get('rport');
    if (v === undefined) return undefined;
    if (v === null) return true;
    const n = parseDigits(v, 65535);
    return n < 0 ? undefined : n;
  }

  /** The host without IPv6 brackets, as an address to send to or compare with. */
  get hostAddress(): string {
    return this.host.charCodeAt(0) === 91 ? this.host.slice(1, -1) : this.host;
  }

  /** `host[:port]` as written, the sent-by of §17.2.3 matching (host lower-cased). */
  get sentBy(): string {
    return this.host.toLowerCase() + (this.port === undefined ? '' : ':' + this.port);
  }

  /** A copy whose params can be changed independently. */
  clone(): Via {
    return new Via({ ...this, params: this.params.clone() });
  }

  /** Canonical text: `SIP/2.0/UDP host:port;params`. */
  toString(): string {
    return `${this.protocol}/${this.version}/${this.transport} ${this.host}${this.port === undefined ? '' : ':' + this.port}${this.params.toString()}`;
  }
}

function fail(detail: string): SipParseError {
  return new SipParseError('BAD_HEADER_VALUE', detail);
}

/** Reads sent-protocol and sent-by; returns the Via without params and the index after sent-by. */
function readHead(s: string): { via: Via; end: number } {
  let i = skipWs(s, 0);
  const parts: string[] = [];
  for (let n = 0; n < 3; n++) {
    if (n > 0) {
      i = skipWs(s, i);
      if (s.charCodeAt(i) !== 47 /* / */) throw fail('bad sent-protocol');
      i = skipWs(s, i + 1);
    }
    const e = tokenEnd(s, i);
    if (e === i) throw fail('bad sent-protocol');
    parts.push(s.slice(i, e));
    i = e;
  }
  const hostStart = skipWs(s, i);
  if (hostStart === i) throw fail('no space before sent-by');
  i = hostStart;
  let host: string;
  if (s.charCodeAt(i) === 91) {
    const close = s.indexOf(']', i);
    host = close < 0 ? '' : s.slice(i, close + 1);
    if (!isIpv6Reference(host)) throw fail('bad sent-by host');
    i = close + 1;
  } else {
    let e = i;
    while (e < s.length) {
      const c = s.charCodeAt(e);
      if (!((c >= 48 && c <= 57) || (c >= 65 && c <= 90) || (c >= 97 && c <= 122) || c === 45 || c === 46 || c === 95)) break;
      e++;
    }
    if (e === i) throw fail('bad sent-by host');
    host = s.slice(i, e);
    i = e;
  }
  let port: number | undefined;
  const c = skipWs(s, i);
  if (s.charCodeAt(c) === 58 /* : */) {
    const ps = skipWs(s, c + 1);
    let pe = ps;
    while (pe < s.length && s.charCodeAt(pe) >= 48 && s.charCodeAt(pe) <= 57) pe++;
    const v = parseDigits(s.slice(ps, pe), 65535);
    if (v < 0) throw fail('bad sent-by port');
    port = v;
    i = pe;
  }
  const [protocol, version, transport] = parts as [string, string, string];
  return { via: new Via({ protocol, version, transport, host, port }), end: i };
}

/**
 * Parses one Via value (one element of a comma list).
 * @param s the element text.
 * @throws SipParseError BAD_HEADER_VALUE with a short detail.
 */
export function parseVia(s: string): Via {
  const { via, end } = readHead(s);
  const { params, end: pe } = parseHeaderParams(s, end);
  if (pe !== s.length) throw fail('unexpected text after parameters');
  const received = params.get('received');
  if (received === null) throw fail('received without value');
  const branch = params.get('branch');
  if (branch === null) throw fail('branch without value');
  via.params = params;
  return via;
}

/**
 * Parses every value of a Via field (`v: a, b`).
 * @param value the unfolded field value.
 */
export function parseViaList(value: string): Via[] {
  return splitList(value).map(parseVia);
}

/**
 * What an error response needs from a top Via whose parameters may be broken (RFC 4475 §3.1.2.1): transport and
 * sent-by, plus `rport`/`received` if they happen to read. Returns undefined when even sent-by is unreadable.
 * @param element the first Via element.
 */
export function readViaLenient(element: string): Via | undefined {
  try {
    return parseVia(element);
  } catch {
    try {
      return readHead(element).via;
    } catch {
      return undefined;
    }
  }
}
