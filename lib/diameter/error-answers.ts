/**
 * The one place that turns a DiameterError about a received request into the answer this node sends: Cx requests get
 * the Cx shape (`cxErrorAnswerForError`: E-bit answer for 3xxx, a well-formed Cx answer with Failed-AVP otherwise),
 * everything else the RFC 6733 §7.2 shape (`errorAnswerForError`).
 */
import type { DiameterMessage } from './codec.ts';
import { errorAnswerForError } from './answer.ts';
import { cxErrorAnswerForError } from './cx/common.ts';
import { ApplicationId } from './constants.ts';
import { DiameterError } from './errors.ts';
import { avpWireLength } from './codec.ts';
import { HEADER_LENGTH } from './constants.ts';

/** Who reports the error. */
export interface ErrorOrigin {
  originHost: string;
  originRealm: string;
  originStateId?: number;
}

/**
 * The error answer for a DiameterError thrown while decoding/validating/handling a received request.
 * @returns undefined when nothing may be answered (header unreadable, or the message was an answer).
 */
export function errorAnswerOf(err: DiameterError, origin: ErrorOrigin): DiameterMessage | undefined {
  if (err.header?.applicationId === ApplicationId.CX) {
    return cxErrorAnswerForError(err, { originHost: origin.originHost, originRealm: origin.originRealm });
  }
  const options = { originHost: origin.originHost, originRealm: origin.originRealm };
  return errorAnswerForError(err, origin.originStateId === undefined ? options : { ...options, originStateId: origin.originStateId });
}

/**
 * Attaches a decoded request to a DiameterError so {@link errorAnswerOf} can answer it (hop-by-hop, Session-Id,
 * Proxy-Info come from the request).
 * @returns the same error, for chaining.
 */
export function withRequest(err: DiameterError, request: DiameterMessage): DiameterError {
  const { avps, ...rest } = request;
  err.header ??= { ...rest, length: avps.reduce((n, a) => n + avpWireLength(a), HEADER_LENGTH), reservedFlags: 0 };
  err.avps ??= avps;
  return err;
}

/**
 * The error answer for a request refused by the node itself (no handler, unknown application, no route, loop, a
 * handler that failed): shaped like any other error answer of its application.
 * @param resultCode a base Result-Code (3xxx get the E bit).
 * @param message the Error-Message.
 */
export function refuse(request: DiameterMessage, resultCode: number, message: string, origin: ErrorOrigin): DiameterMessage {
  // The error code only carries the Result-Code here; it never leaves this function.
  const err = withRequest(new DiameterError('COMMAND_UNSUPPORTED', message, { resultCode }), request);
  // errorAnswerOf only returns undefined for answers and unreadable headers, neither of which reaches here.
  return errorAnswerOf(err, origin) as DiameterMessage;
}
