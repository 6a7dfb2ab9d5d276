/**
 * SIP requests and responses. Header fields stay raw text ({@link HeaderList}); the typed readers below parse a
 * header on first use and cache the result until the headers change, so a message pays only for what its handler
 * reads. Every reader throws only {@link SipParseError} (reason "Malformed <Header> header (…)"), which a handler
 * may let escape: the stack answers it with a 400 carrying that reason.
 */
import { SipParseError } from './errors.ts';
import { parseChallenge, parseCredentials, parseAuthenticationInfo, type AuthenticationInfo, type DigestChallenge,
  type DigestCredentials } from './headers/auth.ts';
import { checkCallId, parseCSeq, parseMaxForwards, type CSeq } from './headers/cseq.ts';
import { HeaderList } from './headers/list.ts';
import { parseContactValue, parseDeltaSeconds, parseNameAddr, type Contact, type NameAddr } from './headers/name-addr.ts';
import { displayName } from './headers/names.ts';
import { parseUri, type Uri } from './headers/uri.ts';
import { parseVia, parseViaList, type Via } from './headers/via.ts';
import { firstElementEnd, splitList, trimWs } from './syntax.ts';

/**
 * Runs a header reader and turns its short failure detail into a reason naming the header.
 * @param name the header as the reason should show it.
 * @param fn the reader.
 */
export function readHeader<T>(name: string, fn: () => T): T {
  try {
    return fn();
  } catch (err) {
    if (err instanceof SipParseError) {
      throw new SipParseError(err.code === 'BAD_HEADER_VALUE' ? 'BAD_HEADER_VALUE' : err.code,
        err.code === 'BAD_HEADER_VALUE' ? `Malformed ${name} header (${err.reason})` : err.reason);
    }
    throw new SipParseError('BAD_HEADER_VALUE', `Malformed ${name} header`);
  }
}

/** Shared empty body (a zero-length Buffer cannot be written to). */
export const EMPTY_BODY: Buffer = Buffer.alloc(0);

function required(headers: HeaderList, name: string): string {
  const v = headers.get(name);
  if (v === undefined) throw new SipParseError('MISSING_HEADER', `Missing ${displayName(name)} header`);
  return v;
}

/** What requests and responses share. */
abstract class SipMessageBase {
  readonly headers: HeaderList;
  body: Buffer;
  /** The bytes this message was parsed from, when it was received. */
  raw: Buffer | undefined;
  private rev = -1;
  private cTopVia: Via | undefined;
  private cVias: Via[] | undefined;
  private cFrom: NameAddr | undefined;
  private cTo: NameAddr | undefined;
  private cCSeq: CSeq | undefined;
  private cContacts: Contact[] | '*' | undefined;

  protected constructor(headers: HeaderList, body: Buffer) {
    this.headers = headers;
    this.body = body;
  }

  /** Drops cached parses when the headers changed since they were made. */
  private fresh(): void {
    if (this.rev !== this.headers.revision) {
      this.cTopVia = this.cVias = this.cFrom = this.cTo = this.cCSeq = this.cContacts = undefined;
      this.rev = this.headers.revision;
    }
  }

  /** The top Via value (first element of the first Via field). */
  topVia(): Via {
    this.fresh();
    if (this.cTopVia) return this.cTopVia;
    const v = required(this.headers, 'via');
    const e = firstElementEnd(v);
    return (this.cTopVia = readHeader('Via', () => parseVia(e < 0 ? v : trimWs(v.slice(0, e)))));
  }

  /** Every Via value, top first. */
  vias(): Via[] {
    this.fresh();
    if (this.cVias) return this.cVias;
    const out: Via[] = [];
    for (const v of this.headers.getAll('via')) out.push(...readHeader('Via', () => parseViaList(v)));
    return (this.cVias = out);
  }

  /**
   * Replaces the top Via value, keeping any further values of the same field (used to add `received`/`rport`).
   * @param via the new top Via.
   */
  setTopVia(via: Via): void {
    const i = this.headers.indexOf('via');
    if (i < 0) {
      this.headers.prepend('Via', via.toString());
    } else {
      const v = this.headers.fields[i]?.value ?? '';
      const e = firstElementEnd(v);
      this.headers.setAt(i, via.toString() + (e < 0 ? '' : v.slice(e)));
    }
    this.fresh();
    this.cTopVia = via;
  }

  /** From (RFC 3261 §20.20). */
  from(): NameAddr {
    this.fresh();
    return (this.cFrom ??= readHeader('From', () => parseNameAddr(required(this.headers, 'from'))));
  }

  /** To (RFC 3261 §20.39). */
  to(): NameAddr {
    this.fresh();
    return (this.cTo ??= readHeader('To', () => parseNameAddr(required(this.headers, 'to'))));
  }

  /** Call-ID (RFC 3261 §20.8). */
  callId(): string {
    return readHeader('Call-ID', () => checkCallId(required(this.headers, 'call-id')));
  }

  /** CSeq (RFC 3261 §20.16). */
  cseq(): CSeq {
    this.fresh();
    return (this.cCSeq ??= readHeader('CSeq', () => parseCSeq(required(this.headers, 'cseq'))));
  }

  /** Max-Forwards, or undefined when absent (RFC 2543 senders, RFC 4475 §3.4.1). */
  maxForwards(): number | undefined {
    const v = this.headers.get('max-forwards');
    return v === undefined ? undefined : readHeader('Max-Forwards', () => parseMaxForwards(v));
  }

  /** Every Contact of every Contact field, or `'*'` (RFC 3261 §10.2.2). Empty when there is none. */
  contacts(): Contact[] | '*' {
    this.fresh();
    if (this.cContacts) return this.cContacts;
    const fields = this.headers.getAll('contact');
    const out: Contact[] = [];
    for (const f of fields) {
      const c = readHeader('Contact', () => parseContactValue(f));
      if (c === '*') {
        if (fields.length > 1) throw new SipParseError('BAD_HEADER_VALUE', 'Malformed Contact header (* mixed with addresses)');
        return (this.cContacts = '*');
      }
      out.push(...c);
    }
    return (this.cContacts = out);
  }

  /** Expires in seconds; undefined when absent or invalid (RFC 4475 §3.1.2.4 allows treating it as absent). */
  expires(): number | undefined {
    return parseDeltaSeconds(this.headers.get('expires'));
  }

  /**
   * The elements of a comma-list header over all its fields (Supported, Require, Allow, Accept, …), empty ones
   * dropped. Not for headers whose values contain commas of their own (auth headers, Date, Retry-After comments).
   * @param name header name.
   */
  list(name: string): string[] {
    const out: string[] = [];
    for (const f of this.headers.getAll(name)) for (const el of splitList(f)) if (el.length > 0) out.push(el);
    return out;
  }

  /**
   * The name-addr values of a list header (Route, Record-Route, Path, Service-Route, P-Associated-URI).
   * @param name header name.
   */
  nameAddrs(name: string): NameAddr[] {
    return this.list(name).map((el) => readHeader(displayName(name), () => parseNameAddr(el)));
  }

  /** Authorization fields (one credential per field, RFC 3261 §20.7). */
  authorization(): DigestCredentials[] {
    return this.headers.getAll('authorization').map((v) => readHeader('Authorization', () => parseCredentials(v)));
  }

  /** Proxy-Authorization fields. */
  proxyAuthorization(): DigestCredentials[] {
    return this.headers.getAll('proxy-authorization').map((v) => readHeader('Proxy-Authorization', () => parseCredentials(v)));
  }

  /** WWW-Authenticate fields. */
  wwwAuthenticate(): DigestChallenge[] {
    return this.headers.getAll('www-authenticate').map((v) => readHeader('WWW-Authenticate', () => parseChallenge(v)));
  }

  /** Proxy-Authenticate fields. */
  proxyAuthenticate(): DigestChallenge[] {
    return this.headers.getAll('proxy-authenticate').map((v) => readHeader('Proxy-Authenticate', () => parseChallenge(v)));
  }

  /** Authentication-Info, when present. */
  authenticationInfo(): AuthenticationInfo | undefined {
    const v = this.headers.get('authentication-info');
    return v === undefined ? undefined : readHeader('Authentication-Info', () => parseAuthenticationInfo(v));
  }
}

/** A request. */
export class SipRequest extends SipMessageBase {
  readonly kind = 'request' as const;
  method: string;
  /** Request-URI text. */
  uri: string;
  private cUri: Uri | undefined;
  private cUriText: string | undefined;

  /**
   * @param method the method token.
   * @param uri the Request-URI text.
   * @param headers header fields.
   * @param body the body (empty by default).
   */
  constructor(method: string, uri: string, headers: HeaderList = new HeaderList(), body: Buffer = EMPTY_BODY) {
    super(headers, body);
    this.method = method;
    this.uri = uri;
  }

  /** The parsed Request-URI (cached while `uri` is unchanged). */
  requestUri(): Uri {
    if (this.cUri && this.cUriText === this.uri) return this.cUri;
    const text = this.uri;
    this.cUri = readHeader('Request-URI', () => parseUri(text));
    this.cUriText = text;
    return this.cUri;
  }
}

/** A response. */
export class SipResponse extends SipMessageBase {
  readonly kind = 'response' as const;
  status: number;
  reason: string;

  /**
   * @param status the status code.
   * @param reason the reason phrase (may be empty).
   * @param headers header fields.
   * @param body the body (empty by default).
   */
  constructor(status: number, reason: string, headers: HeaderList = new HeaderList(), body: Buffer = EMPTY_BODY) {
    super(headers, body);
    this.status = status;
    this.reason = reason;
  }
}

/** Any SIP message. */
export type SipMessage = SipRequest | SipResponse;
