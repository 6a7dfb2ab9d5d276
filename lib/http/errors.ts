/**
 * Why an HTTP(S) request of lib/http failed. Closed set: every role maps these onto its own errors (the HSS and
 * registrar CLIs onto exit statuses, the partner MMS onto `MigrationError`, the UE onto `IdmClientError`), so a new
 * code is an API change for all of them.
 */

/**
 * - `ERR_HTTP_URL`: the URL cannot be requested (not http/https, or http where HTTPS is required).
 * - `ERR_HTTP_UNREACHABLE`: no connection (refused, reset, unknown host) or the connection broke before the answer.
 * - `ERR_HTTP_TLS`: the TLS handshake failed: the server's certificate is not trusted or names another host, or the
 *   server refused this client's certificate (an alert; or, when this client offered one, a close without an answer
 *   right after the handshake: how a TLS 1.3 server refuses a client certificate).
 * - `ERR_HTTP_TIMEOUT`: no connection within the connect timeout, or no complete answer within the deadline.
 * - `ERR_HTTP_ABORTED`: the caller's `AbortSignal` fired.
 * - `ERR_HTTP_TOO_LARGE`: the answer body is larger than the limit (not read beyond it).
 * - `ERR_HTTP_STATUS`: a non-2xx answer; `status`, and `error` / `errorDescription` / `body` when it was JSON.
 * - `ERR_HTTP_BAD_JSON`: an answer expected to be JSON is not (`status` set).
 */
export type HttpErrorCode =
  | 'ERR_HTTP_URL'
  | 'ERR_HTTP_UNREACHABLE'
  | 'ERR_HTTP_TLS'
  | 'ERR_HTTP_TIMEOUT'
  | 'ERR_HTTP_ABORTED'
  | 'ERR_HTTP_TOO_LARGE'
  | 'ERR_HTTP_STATUS'
  | 'ERR_HTTP_BAD_JSON';

/** What an error answer carried, when there was one. */
export interface HttpErrorDetail {
  status?: number;
  /** The `error` member of a JSON error body (`{error, error_description}`: RFC 6749 §5.2 and every API here). */
  error?: string;
  errorDescription?: string;
  /** The whole JSON body of an error answer (for a role's extra members, such as `problems`). */
  body?: Record<string, unknown>;
  /** Why, without the request's name (for a caller composing its own message). */
  reason?: string;
  cause?: unknown;
}

/** A failed request; `message` names the request and never contains a token or a body. */
export class HttpError extends Error {
  override readonly name = 'HttpError';
  readonly status: number | undefined;
  readonly error: string | undefined;
  readonly errorDescription: string | undefined;
  readonly body: Record<string, unknown> | undefined;
  /** Why, without the request's name (`message` is `<request>: <reason>`). */
  readonly reason: string;

  /**
   * @param code what failed, from {@link HttpErrorCode}.
   * @param message `<what>: <why>`, the request named as the caller labelled it.
   */
  constructor(readonly code: HttpErrorCode, message: string, detail: HttpErrorDetail = {}) {
    super(message, detail.cause === undefined ? undefined : { cause: detail.cause });
    this.status = detail.status;
    this.error = detail.error;
    this.errorDescription = detail.errorDescription;
    this.body = detail.body;
    this.reason = detail.reason ?? message;
  }
}

/** Whether `e` is an {@link HttpError}, optionally with one of `codes`. */
export function isHttpError(e: unknown, ...codes: HttpErrorCode[]): e is HttpError {
  return e instanceof HttpError && (codes.length === 0 || codes.includes(e.code));
}

// OpenSSL's X.509 verification results as Node names them (tls `err.code`), and its handshake alerts (`ERR_SSL_…`).
const TLS_CODE = /^(ERR_SSL_|ERR_TLS_|CERT_|CRL_|UNABLE_TO_|ERROR_IN_C|DEPTH_ZERO_|SELF_SIGNED_)|^(INVALID_CA|INVALID_PURPOSE|PATH_LENGTH_EXCEEDED|HOSTNAME_MISMATCH|EPROTO)$/;

/** Whether a socket error (or one it wraps) is a TLS failure rather than a network one. */
export function isTlsFailure(e: unknown): boolean {
  for (let x = e, depth = 0; x instanceof Error && depth < 4; x = x.cause, depth++) {
    const code = (x as NodeJS.ErrnoException).code;
    if (typeof code === 'string' && TLS_CODE.test(code)) return true;
  }
  return false;
}
