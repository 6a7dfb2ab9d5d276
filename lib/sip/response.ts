/**
 * Responses built from requests (RFC 3261 §8.2.6): every Via in order, From, Call-ID and CSeq copied as received,
 * To copied with a tag added when the request's To has none (§8.2.6.2; not on 100, §8.2.6.1, which copies
 * Timestamp instead). Values are copied as text, so whatever the client wrote comes back byte for byte — which is
 * what its transaction and dialog matching compare.
 */
import type { SipParseError } from './errors.ts';
import { HeaderList } from './headers/list.ts';
import { parseNameAddr } from './headers/name-addr.ts';
import { newTag } from './ids.ts';
import { SipResponse, type SipRequest } from './message.ts';
import { reasonPhrase } from './reason.ts';

/** Options of {@link createResponse}. */
export interface ResponseOptions {
  /** Reason phrase (default: the standard one). */
  reason?: string;
  /** To-tag to add when the request's To has none (default: a fresh random tag). */
  toTag?: string;
  /** Extra header fields, appended in order after the copied ones. */
  headers?: ReadonlyArray<readonly [string, string]>;
  /** Body; a string is encoded as UTF-8. */
  body?: Buffer | string;
  /** Content-Type of the body. */
  contentType?: string;
}

/** Copies Via…CSeq from `src` into a new list; returns it. `toTag` undefined means "leave To as is". */
function copyCore(src: HeaderList, toTag: string | undefined): HeaderList {
  const out = new HeaderList();
  let from: string | undefined;
  let to: string | undefined;
  let callId: string | undefined;
  let cseq: string | undefined;
  for (const f of src.fields) {
    switch (f.key) {
      case 'via': out.fields.push({ name: 'Via', key: 'via', value: f.value }); break;
      case 'from': from ??= f.value; break;
      case 'to': to ??= f.value; break;
      case 'call-id': callId ??= f.value; break;
      case 'cseq': cseq ??= f.value; break;
    }
  }
  if (from !== undefined) out.fields.push({ name: 'From', key: 'from', value: from });
  if (to !== undefined) {
    out.fields.push({ name: 'To', key: 'to', value: toTag === undefined ? to : `${to};tag=${toTag}` });
  }
  if (callId !== undefined) out.fields.push({ name: 'Call-ID', key: 'call-id', value: callId });
  if (cseq !== undefined) out.fields.push({ name: 'CSeq', key: 'cseq', value: cseq });
  return out;
}

function finish(res: SipResponse, options: ResponseOptions): SipResponse {
  if (options.headers) for (const [n, v] of options.headers) res.headers.append(n, v);
  if (options.body !== undefined) {
    res.body = typeof options.body === 'string' ? Buffer.from(options.body, 'utf8') : options.body;
    if (options.contentType) res.headers.append('Content-Type', options.contentType);
  }
  return res;
}

/**
 * Builds a response to a request.
 * @param req the request being answered (parsed successfully, so To is well formed).
 * @param status 100–699.
 * @param options reason phrase, To-tag, extra headers, body.
 */
export function createResponse(req: SipRequest, status: number, options: ResponseOptions = {}): SipResponse {
  const toTag = status === 100 || req.to().tag !== undefined ? undefined : (options.toTag ?? newTag());
  const headers = copyCore(req.headers, toTag);
  if (status === 100) {
    const ts = req.headers.get('timestamp');
    if (ts !== undefined) headers.append('Timestamp', ts);
  }
  return finish(new SipResponse(status, options.reason ?? reasonPhrase(status), headers), options);
}

/**
 * Builds the error response to a request that failed to parse (400, 505 or 513 with the error's reason phrase),
 * from whatever header fields were read. To gets a tag only when it parses and has none.
 * @param err a parse error with `canRespond` set.
 * @returns the response, or undefined when none can be formed.
 */
export function createErrorResponse(err: SipParseError): SipResponse | undefined {
  if (!err.canRespond || !err.headers) return undefined;
  let toTag: string | undefined;
  const to = err.headers.get('to');
  if (to !== undefined) {
    try {
      if (parseNameAddr(to).tag === undefined) toTag = newTag();
    } catch {
      toTag = undefined; // a To we cannot read is echoed untouched rather than made worse
    }
  }
  return new SipResponse(err.status, err.reason, copyCore(err.headers, toTag));
}
