/**
 * The exception types of the SIP layer. Parsing throws only {@link SipParseError}; transports, transactions and the
 * stack reject with {@link SipError}. Both carry a code from a closed union so callers can switch on it.
 */
import type { HeaderList } from './headers/list.ts';

/** Everything the parser, the header readers and the stream framer can report about received bytes. */
export type SipParseErrorCode =
  | 'EMPTY_MESSAGE' // only CRLFs: a keep-alive, not an error to answer
  | 'MESSAGE_TOO_LARGE' // above the configured maximum (answered 513 when a response can be formed)
  | 'BAD_START_LINE' // Request-Line or Status-Line does not follow RFC 3261 §7.1/§7.2
  | 'BAD_REQUEST_URI' // Request-URI malformed, enclosed in <>, or carrying headers (§19.1.1)
  | 'VERSION_NOT_SUPPORTED' // SIP-Version other than 2.0 (answered 505)
  | 'BAD_STATUS_CODE' // not three digits / outside 100–699
  | 'BAD_HEADER_LINE' // no colon, a name that is not a token, a continuation without a header
  | 'MISSING_EMPTY_LINE' // a datagram without the blank line closing the header section
  | 'MISSING_HEADER' // one of Via, From, To, Call-ID, CSeq absent
  | 'DUPLICATE_HEADER' // a single-valued header (From, To, Call-ID, CSeq, Content-Length) given twice
  | 'BAD_HEADER_VALUE' // a header whose value does not follow its grammar (reason names the header)
  | 'BAD_CONTENT_LENGTH' // not a non-negative integer, or conflicting values
  | 'MISSING_CONTENT_LENGTH' // stream transports require Content-Length (§18.3)
  | 'TRUNCATED_BODY' // datagram shorter than Content-Length says (§18.3)
  | 'CSEQ_METHOD_MISMATCH'; // CSeq method differs from the Request-Line method (§8.1.1.5)

/** Failures outside parsing. */
export type SipErrorCode =
  | SipParseErrorCode
  | 'TIMEOUT' // client transaction Timer F fired (treated as 408 by the TU, §8.1.3.1)
  | 'TRANSPORT_ERROR' // send failed, connection refused or closed before the response
  | 'NO_TRANSPORT' // no listening transport of the requested protocol/family
  | 'CONNECTION_LIMIT' // maxConnections reached
  | 'UNSUPPORTED_METHOD' // INVITE/ACK through the non-INVITE client transaction
  | 'INVALID_STATE' // a call the current state does not allow (stack stopped, …)
  | 'INVALID_ARGUMENT'; // a programming error by the caller

/** A SIP-layer failure that is not about received bytes (or that wraps one). */
export class SipError extends Error {
  override readonly name: string = 'SipError';
  readonly code: SipErrorCode;

  /**
   * @param code what went wrong.
   * @param message human-readable detail (no secrets).
   * @param cause the underlying error, if any.
   */
  constructor(code: SipErrorCode, message: string, cause?: unknown) {
    super(message, cause === undefined ? undefined : { cause });
    this.code = code;
  }
}

/** Status codes a parse error is answered with (when a response can be formed at all). */
const STATUS: Readonly<Record<SipParseErrorCode, number>> = {
  EMPTY_MESSAGE: 400,
  MESSAGE_TOO_LARGE: 513,
  BAD_START_LINE: 400,
  BAD_REQUEST_URI: 400,
  VERSION_NOT_SUPPORTED: 505,
  BAD_STATUS_CODE: 400,
  BAD_HEADER_LINE: 400,
  MISSING_EMPTY_LINE: 400,
  MISSING_HEADER: 400,
  DUPLICATE_HEADER: 400,
  BAD_HEADER_VALUE: 400,
  BAD_CONTENT_LENGTH: 400,
  MISSING_CONTENT_LENGTH: 400,
  TRUNCATED_BODY: 400,
  CSEQ_METHOD_MISMATCH: 400,
};

/** Optional details of a {@link SipParseError}. */
export interface SipParseErrorDetails {
  /** Header fields read before (or despite) the failure; set by the parser so an error response can be formed. */
  headers?: HeaderList;
  /** Whether the received bytes were a request (false for responses and for unreadable start lines of responses). */
  isRequest?: boolean;
  /** The byte stream can no longer be trusted: answer if possible, then close the connection. */
  closeConnection?: boolean;
}

/**
 * Received bytes that do not form an acceptable SIP message. `reason` is a short phrase fit for the status line of
 * the error response (`SIP/2.0 400 <reason>`); `canRespond` says whether the parser found what a response needs
 * (a request with a routable top Via and From, To, Call-ID and CSeq present).
 */
export class SipParseError extends SipError {
  override readonly name: string = 'SipParseError';
  declare readonly code: SipParseErrorCode;
  /** 400, 505 (version) or 513 (too large). */
  readonly status: number;
  /** Reason phrase for the error response. */
  readonly reason: string;
  /** Header fields of the offending message when they could be read. */
  headers: HeaderList | undefined;
  isRequest: boolean;
  closeConnection: boolean;
  /** Set by the parser after it checked the headers a response needs. */
  canRespond = false;

  /**
   * @param code what went wrong.
   * @param reason a reason phrase (plain text, no CR/LF) that also serves as the message.
   * @param details headers read so far, request or not, connection fate.
   */
  constructor(code: SipParseErrorCode, reason: string, details: SipParseErrorDetails = {}) {
    super(code, reason);
    this.status = STATUS[code];
    this.reason = reason;
    this.headers = details.headers;
    this.isRequest = details.isRequest ?? false;
    this.closeConnection = details.closeConnection ?? false;
  }
}

/**
 * Shorthand for the most common parse failure: a header value that does not follow its grammar.
 * @param header the header name as the reason phrase should show it (`Via`, `Contact`, …).
 * @param detail optional extra words after "Malformed <header> header".
 */
export function badHeader(header: string, detail?: string): SipParseError {
  return new SipParseError('BAD_HEADER_VALUE', `Malformed ${header} header${detail ? ` (${detail})` : ''}`);
}

/**
 * True when `err` is a {@link SipParseError} (optionally with the given code).
 * @param err anything caught.
 * @param code a code to match.
 */
export function isSipParseError(err: unknown, code?: SipParseErrorCode): err is SipParseError {
  return err instanceof SipParseError && (code === undefined || err.code === code);
}
