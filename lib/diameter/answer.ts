/**
 * Answers to requests (RFC 6733 §6.2): same command code, application, hop-by-hop and end-to-end identifiers and P bit
 * as the request; Session-Id first; every Proxy-Info of the request copied in order. Error answers follow §7.2 (E bit
 * for 3xxx) and carry the offending AVP in Failed-AVP (§7.5).
 */
import type { Avp, DiameterHeader, DiameterMessage } from './codec.ts';
import { buildAvps, buildMessage } from './build.ts';
import type { AvpEntry } from './build.ts';
import { isProtocolError, ResultCode } from './constants.ts';
import type { DiameterError } from './errors.ts';
import { defaultDictionary } from './dictionary/index.ts';
import type { Dictionary } from './dictionary/index.ts';

/** A request to answer: a whole message, or just its header and whatever AVPs could be decoded. */
export type AnswerableRequest = Omit<DiameterMessage, 'avps'> & { avps?: readonly Avp[] };

function sameAvp(dict: Dictionary, name: string): (a: Avp) => boolean {
  const def = dict.avpByName(name);
  return (a) => def !== undefined && a.code === def.code && (a.vendorId ?? 0) === def.vendorId;
}

/**
 * Builds the answer to a request.
 * @param request the request (only its header and its Session-Id / Proxy-Info AVPs are used).
 * @param entries the answer's own AVPs in wire order. A Session-Id among them replaces the request's; Proxy-Info
 *   entries are kept where given, and the request's Proxy-Info AVPs are appended after them.
 */
export function answerFor(request: AnswerableRequest, entries: readonly (AvpEntry | undefined)[], dict: Dictionary = defaultDictionary): DiameterMessage {
  const isSession = sameAvp(dict, 'Session-Id');
  const isProxyInfo = sameAvp(dict, 'Proxy-Info');
  const own = buildAvps(entries, dict);
  const requestAvps = request.avps ?? [];
  const session = own.find(isSession) ?? requestAvps.find(isSession);
  const answer = buildMessage(
    {
      commandCode: request.commandCode,
      applicationId: request.applicationId,
      flags: { request: false, proxiable: request.flags.proxiable },
      hopByHop: request.hopByHop,
      endToEnd: request.endToEnd,
    },
    [],
    dict,
  );
  answer.avps = [...(session ? [session] : []), ...own.filter((a) => !isSession(a)), ...requestAvps.filter(isProxyInfo)];
  return answer;
}

/** What an error answer needs besides the request and the Result-Code. */
export interface ErrorAnswerOptions {
  originHost: string;
  originRealm: string;
  /** The offending AVP(s), each wrapped into one Failed-AVP. */
  failedAvp?: Avp | readonly Avp[];
  errorMessage?: string;
  /** Set when this node is not the one that detected the error (RFC 6733 §7.4). */
  errorReportingHost?: string;
  originStateId?: number;
  /** Extra AVPs after the standard ones, e.g. Vendor-Specific-Application-Id and Auth-Session-State for Cx. */
  extra?: readonly (AvpEntry | undefined)[];
  /**
   * Set the E bit. Defaults to true for 3xxx only. RFC 6733 §7.1.5 also allows it for permanent failures when the
   * command's own answer grammar cannot be met: without it, an answer must still follow the command's CCF (for Cx,
   * use `cxErrorAnswer`, which adds Vendor-Specific-Application-Id and Auth-Session-State).
   */
  errorBit?: boolean;
}

/**
 * Builds an error answer following RFC 6733 §7.2: Session-Id, Origin-Host, Origin-Realm, Result-Code,
 * [Origin-State-Id], [Error-Message], [Error-Reporting-Host], [Failed-AVP], extras, Proxy-Info. The E bit is set
 * for 3xxx protocol errors only.
 * @param request the request, or the header (+ partial AVPs) of an undecodable one.
 * @param resultCode a base Result-Code.
 */
export function errorAnswerFor(request: AnswerableRequest, resultCode: number, options: ErrorAnswerOptions, dict: Dictionary = defaultDictionary): DiameterMessage {
  const failed = options.failedAvp === undefined ? [] : Array.isArray(options.failedAvp) ? options.failedAvp : [options.failedAvp as Avp];
  const answer = answerFor(
    request,
    [
      ['Origin-Host', options.originHost],
      ['Origin-Realm', options.originRealm],
      ['Result-Code', resultCode],
      options.originStateId === undefined ? undefined : ['Origin-State-Id', options.originStateId],
      options.errorMessage === undefined ? undefined : ['Error-Message', options.errorMessage],
      options.errorReportingHost === undefined ? undefined : ['Error-Reporting-Host', options.errorReportingHost],
      failed.length ? ['Failed-AVP', failed] : undefined,
      ...(options.extra ?? []),
    ],
    dict,
  );
  answer.flags.error = options.errorBit ?? isProtocolError(resultCode);
  return answer;
}

/**
 * The request a DiameterError was thrown for, as far as it could be read: header plus the AVPs decoded before the
 * failure (enough for Session-Id and Proxy-Info).
 * @returns undefined when nothing may be answered: the header was unreadable, or the message was an answer.
 */
export function requestOfError(err: DiameterError): AnswerableRequest | undefined {
  if (!err.header?.flags.request) return undefined;
  const { length: _length, reservedFlags: _reserved, ...header } = err.header as DiameterHeader;
  return { ...header, flags: { ...header.flags, error: false }, avps: err.avps ?? [] };
}

/**
 * The RFC 6733 §7.2 error answer for a DiameterError thrown while decoding or validating a received request:
 * its Result-Code, its message as Error-Message, its Failed-AVP. The E bit is set for 3xxx, and for other codes only
 * when `options.errorBit` says so (see {@link ErrorAnswerOptions.errorBit}; Cx servers use `cxErrorAnswerForError`).
 * @returns undefined when nothing may be answered: the header was unreadable, or the message was an answer.
 */
export function errorAnswerForError(err: DiameterError, options: Omit<ErrorAnswerOptions, 'failedAvp'>, dict: Dictionary = defaultDictionary): DiameterMessage | undefined {
  const request = requestOfError(err);
  if (!request) return undefined;
  return errorAnswerFor(
    request,
    err.resultCode ?? ResultCode.UNABLE_TO_COMPLY,
    { errorMessage: err.message, ...options, ...(err.failedAvp ? { failedAvp: err.failedAvp } : {}) },
    dict,
  );
}
