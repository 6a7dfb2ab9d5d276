/**
 * Requests built by a UAC (RFC 3261 §8.1.1): To, From with a fresh tag, Call-ID, CSeq, Max-Forwards and any extra
 * fields. The Via is not added here: the stack prepends it when it picks the transport (§18.1.1), with a fresh branch.
 */
import { HeaderList } from './headers/list.ts';
import { newCallId, newTag } from './ids.ts';
import { SipRequest } from './message.ts';

/** What {@link createRequest} needs. */
export interface RequestInit {
  method: string;
  /** Request-URI text. */
  uri: string;
  /** A URI (wrapped in `<>`) or a complete name-addr. */
  from: string;
  /** Default: a fresh tag. */
  fromTag?: string;
  /** A URI or name-addr (a `;tag=` in it is kept). */
  to: string;
  /** Default: a fresh random Call-ID. */
  callId?: string;
  /** Default 1. */
  cseq?: number;
  /** Default 70 (§8.1.1.6). */
  maxForwards?: number;
  /** Contact value (URI or name-addr), when the request has one. */
  contact?: string;
  /** Extra fields, in order. */
  headers?: ReadonlyArray<readonly [string, string]>;
  body?: Buffer | string;
  contentType?: string;
}

function addr(s: string): string {
  return s.includes('<') ? s : `<${s}>`;
}

/**
 * Builds a request.
 * @param init method, URIs, dialog identifiers and extra fields.
 */
export function createRequest(init: RequestInit): SipRequest {
  const h = new HeaderList();
  h.append('Max-Forwards', String(init.maxForwards ?? 70));
  h.append('To', addr(init.to));
  h.append('From', `${addr(init.from)};tag=${init.fromTag ?? newTag()}`);
  h.append('Call-ID', init.callId ?? newCallId());
  h.append('CSeq', `${init.cseq ?? 1} ${init.method}`);
  if (init.contact !== undefined) h.append('Contact', init.contact === '*' ? '*' : addr(init.contact));
  for (const [n, v] of init.headers ?? []) h.append(n, v);
  const req = new SipRequest(init.method, init.uri, h);
  if (init.body !== undefined) {
    req.body = typeof init.body === 'string' ? Buffer.from(init.body, 'utf8') : init.body;
    if (init.contentType) h.append('Content-Type', init.contentType);
  }
  return req;
}
