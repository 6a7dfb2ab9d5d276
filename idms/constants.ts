/**
 * The fixed vocabulary of the IdMS: TS 33.180 scopes and claims, the RFC 8693 / RFC 7523 URNs, and the closed set of
 * OAuth error codes (RFC 6749 §5.2, RFC 8693 §2.2.2) the token endpoint may answer with.
 */

// Shared with the MMS and the UE (lib/idm/vocabulary.ts), re-exported so the IdMS reads all of its vocabulary here.
import { MIGRATION_SCOPE } from '../lib/idm/vocabulary.ts';

export { IDMS_ROLES, MCPTT_ID_CLAIM, MIGRATION_SCOPE, SIGNING_ALG, type IdmsRole } from '../lib/idm/vocabulary.ts';

/** TS 33.180 Annex B.4.2.2 MC service scopes this IdMS grants (the three services the testbed uses). */
export const MC_SERVICE_SCOPES = ['3gpp:mc:ptt_service', '3gpp:mc:video_service', '3gpp:mc:data_service'] as const;
/** Every resource scope of an IdMS access token. */
export const RESOURCE_SCOPES: readonly string[] = [...MC_SERVICE_SCOPES, MIGRATION_SCOPE];
/** OpenID Connect scopes the provider knows (`offline_access` is accepted but refresh tokens do not depend on it). */
export const OIDC_SCOPES = ['openid', 'offline_access'] as const;

/** The ACR of a username/password login (33.180 B.4.2.2 `3gpp:acr:password`). */
export const ACR_PASSWORD = '3gpp:acr:password';

/** RFC 8693 §2.1 grant type. */
export const GRANT_TOKEN_EXCHANGE = 'urn:ietf:params:oauth:grant-type:token-exchange';
/** RFC 7523 §2.1 grant type. */
export const GRANT_JWT_BEARER = 'urn:ietf:params:oauth:grant-type:jwt-bearer';
/** RFC 8693 §3 token type of a JWT (what 33.180 Table B.7.2-1 fixes for `subject_token_type`, and the issued type). */
export const TOKEN_TYPE_JWT = 'urn:ietf:params:oauth:token-type:jwt';
/** RFC 8693 §3 token type of an access token (accepted as `subject_token_type` too). */
export const TOKEN_TYPE_ACCESS_TOKEN = 'urn:ietf:params:oauth:token-type:access_token';
/** Subject token types the primary IdMS accepts. */
export const SUBJECT_TOKEN_TYPES: readonly string[] = [TOKEN_TYPE_JWT, TOKEN_TYPE_ACCESS_TOKEN];

/** The largest clock skew accepted on a security token's `exp`/`iat` (33.180 Table B.8-1: not above 30 s). */
export const MAX_CLOCK_SKEW_S = 30;

/**
 * The OAuth error codes the token endpoint answers with (RFC 6749 §5.2 + RFC 8693 §2.2.2). Closed: a new one is an API
 * change for every client.
 */
export type OAuthErrorCode =
  | 'invalid_request'
  | 'invalid_client'
  | 'invalid_grant'
  | 'unauthorized_client'
  | 'unsupported_grant_type'
  | 'invalid_scope'
  | 'invalid_target';

/** Lifetimes in seconds; every one configurable on the command line. */
export interface IdmsTtls {
  /** JWT access tokens of the code flow and refresh. */
  accessToken: number;
  idToken: number;
  refreshToken: number;
  authorizationCode: number;
  /** The login page's interaction and the SSO session. */
  interaction: number;
  session: number;
  /** The 33.180 B.8 security token (short: it only has to reach the partner IdMS). */
  securityToken: number;
  /** The partner access token of RFC 7523 (B.7.5). */
  partnerAccessToken: number;
}

/** Defaults of {@link IdmsTtls}. */
export const DEFAULT_TTLS: IdmsTtls = {
  accessToken: 900,
  idToken: 900,
  refreshToken: 8 * 3600,
  authorizationCode: 60,
  interaction: 600,
  session: 8 * 3600,
  securityToken: 120,
  partnerAccessToken: 900,
};
