/**
 * Errors of the IdMS. Two kinds: {@link IdmsError} for user provisioning, with a closed set of codes (bad files are
 * `ConfigFileError`s of lib/config, like every role's); and OAuth error responses of the token endpoint, built by {@link oauthError} so every one carries an
 * RFC 6749 §5.2 `error` from the closed {@link OAuthErrorCode} set and a precise `error_description`.
 */
import { errors } from 'oidc-provider';
import type { OAuthErrorCode } from './constants.ts';

/**
 * - `ERR_IDMS_USER_INPUT`: a user record is malformed (username, password, mcptt_id).
 * - `ERR_IDMS_USER_EXISTS`: the username is taken (and `replace` was not asked for).
 * - `ERR_IDMS_USER_NOT_FOUND`: no such user.
 */
export type IdmsErrorCode = 'ERR_IDMS_USER_INPUT' | 'ERR_IDMS_USER_EXISTS' | 'ERR_IDMS_USER_NOT_FOUND';

/** A process-level IdMS failure with a machine-readable `code`. */
export class IdmsError extends Error {
  override readonly name = 'IdmsError';

  /**
   * @param code what went wrong.
   * @param message names the option, file or field; never a password or token.
   */
  constructor(readonly code: IdmsErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
  }
}

/** Whether `e` is an {@link IdmsError}, optionally with `code`. */
export function isIdmsError(e: unknown, code?: IdmsErrorCode): e is IdmsError {
  return e instanceof IdmsError && (code === undefined || e.code === code);
}

/**
 * An OAuth error response for oidc-provider to render as `{error, error_description}` JSON with `Cache-Control:
 * no-store`. oidc-provider's own `InvalidGrant` hides its detail behind a fixed "grant request is invalid"; this one
 * shows the description, which the TS 33.180 tests (and operators) need to tell the rejections apart.
 * @param code the RFC 6749 §5.2 / RFC 8693 §2.2.2 error.
 * @param description what exactly failed; must not contain a token or secret.
 */
export function oauthError(code: OAuthErrorCode, description: string): Error {
  const e = new errors.CustomOIDCProviderError(code, description);
  // RFC 6749 §5.2: 401 for a failed client authentication, 400 for everything else.
  if (code === 'invalid_client') {
    e.status = 401;
    e.statusCode = 401;
  }
  return e;
}
