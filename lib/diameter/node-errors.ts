/**
 * Failures of the node layer (`node.request`): separate from the codec's DiameterError, which always maps to a
 * Result-Code the peer sent or will be sent. These never travel on the wire; callers branch on `code`, so the set is
 * closed (adding one is an API change). An answer carrying an error Result-Code is not a failure here: `request`
 * resolves with it and the caller reads it.
 */

/**
 * - `ERR_DIAMETER_TIMEOUT`: no answer within the request's timeout (failover included).
 * - `ERR_DIAMETER_NO_PEER`: no open peer can take the request (no route, all suspect/down, or the last one was lost
 *   and no failover peer is left).
 * - `ERR_DIAMETER_CLOSED`: the local node is closing or closed.
 * - `ERR_DIAMETER_BAD_ANSWER`: the answer to the request could not be decoded.
 */
export type DiameterNodeErrorCode =
  | 'ERR_DIAMETER_TIMEOUT'
  | 'ERR_DIAMETER_NO_PEER'
  | 'ERR_DIAMETER_CLOSED'
  | 'ERR_DIAMETER_BAD_ANSWER';

/** A request that did not get an answer, with a machine-readable `code`. */
export class DiameterNodeError extends Error {
  override readonly name = 'DiameterNodeError';
  readonly code: DiameterNodeErrorCode;
  /** End-to-End identifier of the request, for log correlation. */
  readonly endToEnd: number | undefined;

  /**
   * @param code what went wrong.
   * @param message detail naming the peer/realm and the elapsed time; no message content.
   */
  constructor(code: DiameterNodeErrorCode, message: string, options: { endToEnd?: number; cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.endToEnd = options.endToEnd;
  }
}

/**
 * True when `err` is a {@link DiameterNodeError}, and of `code` when one is given.
 * @param err anything caught.
 * @param code the code to match.
 */
export function isDiameterNodeError(err: unknown, code?: DiameterNodeErrorCode): err is DiameterNodeError {
  return err instanceof DiameterNodeError && (code === undefined || err.code === code);
}
