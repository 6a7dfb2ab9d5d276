/**
 * The one error type of the migration configuration APIs (DESIGN §2.4 [design]): the partner MMS's
 * `/migration/v1/configurations` toward the UE and the primary MMS's `/migration/v1/bindings` toward the partner
 * MMS. Each code is one HTTP status and one JSON `error`, so a client branches on `error` and never on the text.
 */

/**
 * - `ERR_MIGRATION_INPUT`: the request body or a path parameter is malformed → 400 `invalid_request`.
 * - `ERR_MIGRATION_TOKEN`: no bearer token, or one that does not verify (signature, issuer, audience, expiry, claims)
 *   → 401 `invalid_token` (RFC 6750 §3.1); a token without the migration scope → 403 `insufficient_scope`.
 * - `ERR_MIGRATION_NOT_ALLOWED`: the primary system does not let this user migrate to this partner realm (or the
 *   user's primary system is not one this partner works with) → 403 `migration_not_allowed`.
 * - `ERR_MIGRATION_UNTRUSTED_PARTNER`: the TLS client certificate does not name the partner realm it asks for →
 *   403 `untrusted_partner`.
 * - `ERR_MIGRATION_NOT_FOUND`: no such configuration or binding, or not the caller's → 404 `not_found`.
 * - `ERR_MIGRATION_CONFLICT`: the user's configuration is being created by another request right now → 409
 *   `conflict` (retry).
 * - `ERR_MIGRATION_PRIMARY_UNAVAILABLE`: the primary MMS (or the HSS behind it) cannot be reached or answered
 *   something unusable → 502 `primary_unavailable`.
 */
export type MigrationErrorCode =
  | 'ERR_MIGRATION_INPUT'
  | 'ERR_MIGRATION_TOKEN'
  | 'ERR_MIGRATION_NOT_ALLOWED'
  | 'ERR_MIGRATION_UNTRUSTED_PARTNER'
  | 'ERR_MIGRATION_NOT_FOUND'
  | 'ERR_MIGRATION_CONFLICT'
  | 'ERR_MIGRATION_PRIMARY_UNAVAILABLE';

const HTTP: Readonly<Record<MigrationErrorCode, { status: number; error: string }>> = {
  ERR_MIGRATION_INPUT: { status: 400, error: 'invalid_request' },
  ERR_MIGRATION_TOKEN: { status: 401, error: 'invalid_token' },
  ERR_MIGRATION_NOT_ALLOWED: { status: 403, error: 'migration_not_allowed' },
  ERR_MIGRATION_UNTRUSTED_PARTNER: { status: 403, error: 'untrusted_partner' },
  ERR_MIGRATION_NOT_FOUND: { status: 404, error: 'not_found' },
  ERR_MIGRATION_CONFLICT: { status: 409, error: 'conflict' },
  ERR_MIGRATION_PRIMARY_UNAVAILABLE: { status: 502, error: 'primary_unavailable' },
};

/** A refused or failed migration request. */
export class MigrationError extends Error {
  override readonly name = 'MigrationError';

  /**
   * @param code the closed-set cause.
   * @param message safe to return as `error_description`: names identities and fields, never a token or key.
   * @param insufficientScope for `ERR_MIGRATION_TOKEN`: the token verified but lacks the scope (403).
   * @param options `tokenAbsent`: for `ERR_MIGRATION_TOKEN`, no token was presented (RFC 6750 §3.1: the challenge
   *   then carries no error code).
   */
  constructor(readonly code: MigrationErrorCode, message: string, readonly insufficientScope = false, options?: { cause?: unknown; tokenAbsent?: boolean }) {
    super(message, options);
    this.tokenAbsent = options?.tokenAbsent ?? false;
  }

  /** No token was presented at all. */
  readonly tokenAbsent: boolean;

  /** The HTTP status of the answer. */
  get status(): number {
    return this.insufficientScope ? 403 : HTTP[this.code].status;
  }

  /** The JSON `error` of the answer. */
  get error(): string {
    return this.insufficientScope ? 'insufficient_scope' : HTTP[this.code].error;
  }
}

/**
 * Whether `err` is a {@link MigrationError}, and of `code` when one is given.
 * @param err anything caught.
 */
export function isMigrationError(err: unknown, code?: MigrationErrorCode): err is MigrationError {
  return err instanceof MigrationError && (code === undefined || err.code === code);
}
