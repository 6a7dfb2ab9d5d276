/**
 * The one exception type of the Diameter layer. Decoding and validation throw nothing else, and every instance says
 * which RFC 6733 Result-Code the receiver answers with, which AVP goes into Failed-AVP, and whether the transport
 * connection can survive (the stream is still in sync) or must be closed.
 */
import type { Avp, DiameterHeader } from './codec.ts';
import { ResultCode, isProtocolError } from './constants.ts';

/** Every failure the codec, the dictionary checks and the framer can report. */
export type DiameterErrorCode =
  | 'TRUNCATED_MESSAGE' // fewer octets than a header, or than Message Length says
  | 'UNSUPPORTED_VERSION'
  | 'INVALID_MESSAGE_LENGTH' // Message Length < 20, not a multiple of 4, or not the buffer's length
  | 'MESSAGE_TOO_LARGE' // above the framer's configured maximum (a local limit)
  | 'INVALID_HDR_BITS' // E bit on a request, or P bit against the command's definition
  | 'INVALID_BIT_IN_HEADER' // a reserved header bit set (only when asked to be strict)
  | 'INVALID_AVP_LENGTH' // AVP shorter than its header, overrunning its container, wrong size for its type
  | 'INVALID_AVP_BITS' // V/M bits against the AVP's definition
  | 'AVP_UNSUPPORTED' // unknown AVP with the M bit
  | 'INVALID_AVP_VALUE' // bad UTF-8, bad address family, …
  | 'MISSING_AVP'
  | 'AVP_NOT_ALLOWED'
  | 'AVP_OCCURS_TOO_MANY_TIMES'
  | 'CONTRADICTING_AVPS'
  | 'NESTING_TOO_DEEP' // Grouped AVPs nested beyond the local limit
  | 'COMMAND_UNSUPPORTED'
  | 'APPLICATION_UNSUPPORTED'
  | 'UNKNOWN_AVP_NAME' // local programming error: a name the dictionary does not know
  | 'INVALID_VALUE'; // local programming error: a value that cannot be encoded

/** Result-Code each error is answered with; local programming errors have none. */
const RESULT_CODES: Readonly<Record<DiameterErrorCode, number | undefined>> = {
  TRUNCATED_MESSAGE: ResultCode.INVALID_MESSAGE_LENGTH,
  UNSUPPORTED_VERSION: ResultCode.UNSUPPORTED_VERSION,
  INVALID_MESSAGE_LENGTH: ResultCode.INVALID_MESSAGE_LENGTH,
  // Local limits are not protocol violations by the peer, so they get the catch-all refusal.
  MESSAGE_TOO_LARGE: ResultCode.UNABLE_TO_COMPLY,
  INVALID_HDR_BITS: ResultCode.INVALID_HDR_BITS,
  INVALID_BIT_IN_HEADER: ResultCode.INVALID_BIT_IN_HEADER,
  INVALID_AVP_LENGTH: ResultCode.INVALID_AVP_LENGTH,
  INVALID_AVP_BITS: ResultCode.INVALID_AVP_BITS,
  AVP_UNSUPPORTED: ResultCode.AVP_UNSUPPORTED,
  INVALID_AVP_VALUE: ResultCode.INVALID_AVP_VALUE,
  MISSING_AVP: ResultCode.MISSING_AVP,
  AVP_NOT_ALLOWED: ResultCode.AVP_NOT_ALLOWED,
  AVP_OCCURS_TOO_MANY_TIMES: ResultCode.AVP_OCCURS_TOO_MANY_TIMES,
  CONTRADICTING_AVPS: ResultCode.CONTRADICTING_AVPS,
  NESTING_TOO_DEEP: ResultCode.UNABLE_TO_COMPLY,
  COMMAND_UNSUPPORTED: ResultCode.COMMAND_UNSUPPORTED,
  APPLICATION_UNSUPPORTED: ResultCode.APPLICATION_UNSUPPORTED,
  UNKNOWN_AVP_NAME: undefined,
  INVALID_VALUE: undefined,
};

/** Optional details of a {@link DiameterError}. */
export interface DiameterErrorDetails {
  /** Overrides the Result-Code derived from the error code. */
  resultCode?: number;
  /** The AVP to put into Failed-AVP (already trimmed/zero-filled as RFC 6733 §7.5 asks). */
  failedAvp?: Avp;
  /** The header of the offending message, when it could be read. */
  header?: DiameterHeader;
  /** Top-level AVPs decoded before the failure (Session-Id and Proxy-Info for the error answer). */
  avps?: Avp[];
  /** The byte stream is out of sync: send the error answer if possible, then close the connection. */
  closeConnection?: boolean;
  cause?: unknown;
}

/** A Diameter decoding, validation, framing or encoding failure. */
export class DiameterError extends Error {
  override readonly name = 'DiameterError';
  readonly code: DiameterErrorCode;
  /** The Result-Code to answer with (undefined for local programming errors). */
  readonly resultCode: number | undefined;
  /** The offending AVP for Failed-AVP; filled in by whichever layer knows it. */
  failedAvp: Avp | undefined;
  /** The header of the offending message, when readable: hop-by-hop, end-to-end, command and application ids. */
  header: DiameterHeader | undefined;
  /** AVPs of the offending message decoded before the failure. */
  avps: Avp[] | undefined;
  readonly closeConnection: boolean;

  /**
   * @param code what went wrong.
   * @param message a human-readable reason, fit for Error-Message (no secrets: it names AVPs, not values).
   * @param details Result-Code override, Failed-AVP, header, partial AVPs, connection fate.
   */
  constructor(code: DiameterErrorCode, message: string, details: DiameterErrorDetails = {}) {
    super(message, details.cause === undefined ? undefined : { cause: details.cause });
    this.code = code;
    this.resultCode = details.resultCode ?? RESULT_CODES[code];
    this.failedAvp = details.failedAvp;
    this.header = details.header;
    this.avps = details.avps;
    this.closeConnection = details.closeConnection ?? false;
  }

  /** True when the answer must carry the E bit (3xxx, RFC 6733 §7.2). */
  get protocolError(): boolean {
    return this.resultCode !== undefined && isProtocolError(this.resultCode);
  }
}

/**
 * The Result-Code a {@link DiameterErrorCode} is answered with.
 * @param code an error code.
 */
export function resultCodeFor(code: DiameterErrorCode): number | undefined {
  return RESULT_CODES[code];
}

/**
 * Converts anything thrown inside the Diameter layer into a DiameterError, so callers never see another type.
 * @param err what was thrown.
 * @param fallback the code to use when `err` is not already a DiameterError.
 */
export function asDiameterError(err: unknown, fallback: DiameterErrorCode = 'INVALID_AVP_VALUE'): DiameterError {
  if (err instanceof DiameterError) return err;
  const message = err instanceof Error ? err.message : String(err);
  return new DiameterError(fallback, message, { cause: err });
}
