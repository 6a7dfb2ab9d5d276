/**
 * What every Cx request and answer shares (29.229 §6.1): Session-Id, Vendor-Specific-Application-Id {10415,
 * Auth-Application-Id 16777216}, Auth-Session-State NO_STATE_MAINTAINED, Origin/Destination, R+P flags on requests and
 * P on answers, and exactly one of Result-Code / Experimental-Result on answers.
 */
import type { Avp, DiameterMessage } from '../codec.ts';
import { answerFor, errorAnswerFor, requestOfError } from '../answer.ts';
import type { AnswerableRequest } from '../answer.ts';
import type { AvpEntry, AvpPair } from '../build.ts';
import { buildAvp, buildRequest } from '../build.ts';
import { getValue, requireValue } from '../read.ts';
import { AuthSessionState, isProtocolError, ResultCode } from '../constants.ts';
import { DiameterError } from '../errors.ts';
import type { CommandAbbrev } from '../dictionary/index.ts';
import { CX_APPLICATION_ID, CX_VENDOR_ID, CxCommand } from './constants.ts';
import type { CxResult } from './constants.ts';

/** Routing fields every Cx request carries. */
export interface CxRequestBase {
  sessionId: string;
  originHost: string;
  originRealm: string;
  destinationRealm: string;
  destinationHost?: string;
  /** End-to-End identifier (the peer layer assigns Hop-by-Hop; set it here only for tests). */
  endToEnd?: number;
  hopByHop?: number;
}

/** Fields every Cx answer carries. */
export interface CxAnswerBase {
  originHost: string;
  originRealm: string;
  result: CxResult;
}

/** `Vendor-Specific-Application-Id { Vendor-Id 10415, Auth-Application-Id 16777216 }`. */
export const CX_VSAI: AvpPair = ['Vendor-Specific-Application-Id', [['Vendor-Id', CX_VENDOR_ID], ['Auth-Application-Id', CX_APPLICATION_ID]]];
/** `Auth-Session-State NO_STATE_MAINTAINED`. */
export const NO_STATE: AvpPair = ['Auth-Session-State', AuthSessionState.NO_STATE_MAINTAINED];

/**
 * {@link CX_VSAI} and {@link NO_STATE} encoded once: every Cx message carries both, and a Grouped AVP costs a few
 * buffers and objects to encode each time. Frozen, since every message built from now on shares them (messages are
 * values nobody changes, lib/diameter/wire.ts).
 */
const CX_VSAI_AVP: Avp = deepFreeze(buildAvp(CX_VSAI));
const NO_STATE_AVP: Avp = deepFreeze(buildAvp(NO_STATE));

function deepFreeze(avp: Avp): Avp {
  Object.freeze(avp.flags);
  return Object.freeze(avp);
}

/**
 * Builds a Cx request: the common head, then `body`, in 29.229 order.
 * @param abbrev the request abbreviation.
 * @param base routing fields.
 * @param body the command-specific AVPs.
 */
export function cxRequest(abbrev: CommandAbbrev, base: CxRequestBase, body: readonly (AvpEntry | undefined)[]): DiameterMessage {
  return buildRequest(
    abbrev,
    [
      ['Session-Id', base.sessionId],
      CX_VSAI_AVP,
      NO_STATE_AVP,
      ['Origin-Host', base.originHost],
      ['Origin-Realm', base.originRealm],
      base.destinationHost === undefined ? undefined : ['Destination-Host', base.destinationHost],
      ['Destination-Realm', base.destinationRealm],
      ...body,
    ],
    { hopByHop: base.hopByHop, endToEnd: base.endToEnd },
  );
}

/** Entries for a result: Result-Code or Experimental-Result. */
export function resultEntries(result: CxResult): AvpEntry[] {
  if (result.experimentalResult) {
    const { vendorId, code } = result.experimentalResult;
    return [['Experimental-Result', [['Vendor-Id', vendorId], ['Experimental-Result-Code', code]]]];
  }
  return [['Result-Code', result.resultCode]];
}

/**
 * Builds a Cx answer to `request`: Session-Id, VSAI, result, Auth-Session-State, Origin-*, then `body`; Proxy-Info is
 * copied from the request.
 */
export function cxAnswer(request: AnswerableRequest, base: CxAnswerBase, body: readonly (AvpEntry | undefined)[]): DiameterMessage {
  return answerFor(request, [
    CX_VSAI_AVP,
    ...resultEntries(base.result),
    NO_STATE_AVP,
    ['Origin-Host', base.originHost],
    ['Origin-Realm', base.originRealm],
    ...body,
  ]);
}

/** Origin and diagnostics of a Cx error answer. */
export interface CxErrorOptions {
  originHost: string;
  originRealm: string;
  failedAvp?: Avp;
  errorMessage?: string;
}

/**
 * The request's identities that the answer's ABNF carries (TS 29.229 §6.1.8 MAA: User-Name, Public-Identity; §6.1.4
 * SAA: User-Name). Optional there, but Kamailio's S-CSCF reads User-Name before the Experimental-Result of an MAA,
 * and without it reports every refusal as "no private identity".
 */
function readIdentity(msg: DiameterMessage, name: 'User-Name' | 'Public-Identity'): string | undefined {
  try {
    return getValue(msg, name);
  } catch {
    return undefined; // an undecodable identity is not echoed; the answer says what is wrong with the request
  }
}

function echoedIdentities(request: AnswerableRequest): AvpEntry[] {
  if (!request.avps || (request.commandCode !== CxCommand.MAR && request.commandCode !== CxCommand.SAR)) return [];
  const msg = { ...request, avps: request.avps } as DiameterMessage;
  const userName = readIdentity(msg, 'User-Name');
  const publicIdentity = request.commandCode === CxCommand.MAR ? readIdentity(msg, 'Public-Identity') : undefined;
  return [
    ...(userName === undefined ? [] : [['User-Name', userName] as AvpEntry]),
    ...(publicIdentity === undefined ? [] : [['Public-Identity', publicIdentity] as AvpEntry]),
  ];
}

/**
 * The answer a Cx server sends when it cannot process a request: 3xxx as an RFC 6733 §7.2 E-bit answer; other codes
 * (base 5xxx or an Experimental-Result) as a well-formed Cx answer with the Failed-AVP, as Cx clients expect.
 */
export function cxErrorAnswer(request: AnswerableRequest, result: CxResult, options: CxErrorOptions): DiameterMessage {
  if (result.resultCode !== undefined && isProtocolError(result.resultCode)) {
    return errorAnswerFor(request, result.resultCode, options);
  }
  return cxAnswer(request, { ...options, result }, [
    ...echoedIdentities(request),
    options.errorMessage === undefined ? undefined : ['Error-Message', options.errorMessage],
    options.failedAvp === undefined ? undefined : ['Failed-AVP', [options.failedAvp]],
  ]);
}

/**
 * The Cx answer for a DiameterError thrown while decoding, validating or reading a received Cx request (its
 * Result-Code, Failed-AVP and message), shaped by {@link cxErrorAnswer}.
 * @returns undefined when nothing may be answered: the header was unreadable, or the message was an answer.
 */
export function cxErrorAnswerForError(err: DiameterError, options: Omit<CxErrorOptions, 'failedAvp'>): DiameterMessage | undefined {
  const request = requestOfError(err);
  if (!request) return undefined;
  return cxErrorAnswer(request, { resultCode: err.resultCode ?? ResultCode.UNABLE_TO_COMPLY }, {
    errorMessage: err.message, ...options, ...(err.failedAvp ? { failedAvp: err.failedAvp } : {}),
  });
}

/**
 * The routing fields of a received Cx request (identifiers stay in the message header).
 * @throws DiameterError 5005 when a required one is absent.
 */
export function readCxRequestBase(msg: DiameterMessage): CxRequestBase {
  const destinationHost = getValue(msg, 'Destination-Host');
  return {
    sessionId: requireValue(msg, 'Session-Id'),
    originHost: requireValue(msg, 'Origin-Host'),
    originRealm: requireValue(msg, 'Origin-Realm'),
    destinationRealm: requireValue(msg, 'Destination-Realm'),
    ...(destinationHost === undefined ? {} : { destinationHost }),
  };
}

/**
 * The outcome of a Cx answer.
 * @throws DiameterError MISSING_AVP when it has neither Result-Code nor Experimental-Result, CONTRADICTING_AVPS when
 *   it has both.
 */
export function readCxResult(msg: DiameterMessage): CxResult {
  const resultCode = getValue(msg, 'Result-Code');
  const er = getValue(msg, 'Experimental-Result');
  if (resultCode !== undefined && er !== undefined) {
    throw new DiameterError('CONTRADICTING_AVPS', 'answer has both Result-Code and Experimental-Result');
  }
  if (er !== undefined) {
    return { experimentalResult: { vendorId: requireValue(er, 'Vendor-Id'), code: requireValue(er, 'Experimental-Result-Code') } };
  }
  if (resultCode === undefined) {
    throw new DiameterError('MISSING_AVP', 'answer has neither Result-Code nor Experimental-Result');
  }
  return { resultCode };
}

/** Origin and outcome of a received Cx answer. */
export interface CxAnswerData extends CxAnswerBase {
  sessionId: string;
}

/** Reads the common part of a Cx answer. */
export function readCxAnswerBase(msg: DiameterMessage): CxAnswerData {
  return {
    sessionId: requireValue(msg, 'Session-Id'),
    originHost: requireValue(msg, 'Origin-Host'),
    originRealm: requireValue(msg, 'Origin-Realm'),
    result: readCxResult(msg),
  };
}
