/**
 * Verification of IdMS access tokens by resource servers (here in lib/ so the partner MMS need not import the IdMS): {@link verifyPartnerAccessToken} for the partner MMS's
 * migration API (the RFC 7523 partner access token of TS 33.180 B.7.5/B.9), {@link verifyAccessToken} for any
 * server taking a primary IdMS access token. Both pin RS256 and `typ: at+jwt`, check issuer, audience and expiry,
 * and report failures as an {@link AccessTokenError} whose code maps directly onto RFC 6750 §3.1.
 */
import { X509Certificate, type KeyObject } from 'node:crypto';
import { createLocalJWKSet, errors as joseErrors, jwtVerify, type JSONWebKeySet, type JWTPayload, type JWTVerifyGetKey } from 'jose';
import { MCPTT_ID_CLAIM, SIGNING_ALG } from './vocabulary.ts';

/** Claims of a partner access token (RFC 9068 shape plus the primary identity; idms/grants/jwt-bearer.ts issues it). */
export interface PartnerAccessTokenClaims {
  iss: string;
  sub: string;
  aud: string;
  client_id: string;
  scope: string;
  jti: string;
  iat: number;
  exp: number;
  primary_iss: string;
  primary_sub: string;
  mcptt_id: string;
}

/**
 * Why a token was refused. Closed set.
 * - `ERR_TOKEN_MALFORMED`: not a compact JWS, or not JSON inside.
 * - `ERR_TOKEN_ALG`: not RS256 (`none`, HS256, …).
 * - `ERR_TOKEN_TYPE`: the header `typ` is not `at+jwt` (an ID token or security token presented as access token).
 * - `ERR_TOKEN_SIGNATURE`: the signature does not verify with the configured key.
 * - `ERR_TOKEN_EXPIRED`: `exp` has passed (beyond the tolerance).
 * - `ERR_TOKEN_ISSUER` / `ERR_TOKEN_AUDIENCE`: `iss` / `aud` is not the expected one.
 * - `ERR_TOKEN_CLAIMS`: a required claim is missing or malformed.
 * - `ERR_TOKEN_SCOPE`: a required scope is not granted (RFC 6750 `insufficient_scope`, HTTP 403).
 */
export type AccessTokenErrorCode =
  | 'ERR_TOKEN_MALFORMED'
  | 'ERR_TOKEN_ALG'
  | 'ERR_TOKEN_TYPE'
  | 'ERR_TOKEN_SIGNATURE'
  | 'ERR_TOKEN_EXPIRED'
  | 'ERR_TOKEN_ISSUER'
  | 'ERR_TOKEN_AUDIENCE'
  | 'ERR_TOKEN_CLAIMS'
  | 'ERR_TOKEN_SCOPE';

/** A refused access token. */
export class AccessTokenError extends Error {
  override readonly name = 'AccessTokenError';

  /** @param code the machine-readable cause; `message` is safe to return as `error_description`. */
  constructor(readonly code: AccessTokenErrorCode, message: string) {
    super(message);
  }

  /** The RFC 6750 §3.1 error code for `WWW-Authenticate: Bearer error="…"`. */
  get bearerError(): 'invalid_token' | 'insufficient_scope' {
    return this.code === 'ERR_TOKEN_SCOPE' ? 'insufficient_scope' : 'invalid_token';
  }

  /** The HTTP status to answer with (401, or 403 for a missing scope). */
  get httpStatus(): 401 | 403 {
    return this.code === 'ERR_TOKEN_SCOPE' ? 403 : 401;
  }
}

/** The key a token must verify with: the IdMS JWKS (as fetched or configured), its signing certificate, or a key. */
export type VerificationKey = { jwks: JSONWebKeySet } | { cert: string } | { key: KeyObject };

/** What to check. */
export interface VerifyAccessTokenOptions {
  /** The IdMS issuer URL, exactly. */
  issuer: string;
  key: VerificationKey;
  /** This resource server's identifier, which `aud` must contain. */
  audience: string;
  /** Scopes that must all be granted (space-separated `scope` claim). */
  requiredScopes?: readonly string[];
  /** Seconds of clock skew accepted on `exp`/`nbf` (default 30). */
  clockToleranceS?: number;
}

/** Claims of any IdMS access token that this helper guarantees. */
export interface AccessTokenClaims extends JWTPayload {
  iss: string;
  sub: string;
  exp: number;
  client_id: string;
  scope: string;
  mcptt_id: string;
}

function keyOf(k: VerificationKey): KeyObject | JWTVerifyGetKey {
  if ('jwks' in k) return createLocalJWKSet(k.jwks);
  if ('cert' in k) return new X509Certificate(k.cert).publicKey;
  return k.key;
}

function mapError(e: unknown): AccessTokenError {
  if (e instanceof AccessTokenError) return e;
  if (e instanceof joseErrors.JWTExpired) return new AccessTokenError('ERR_TOKEN_EXPIRED', 'access token expired');
  if (e instanceof joseErrors.JOSEAlgNotAllowed) return new AccessTokenError('ERR_TOKEN_ALG', `access token must be ${SIGNING_ALG}-signed`);
  if (e instanceof joseErrors.JWSSignatureVerificationFailed || e instanceof joseErrors.JWKSNoMatchingKey) {
    return new AccessTokenError('ERR_TOKEN_SIGNATURE', 'access token signature does not verify with the IdMS key');
  }
  if (e instanceof joseErrors.JWTClaimValidationFailed) {
    if (e.claim === 'typ') return new AccessTokenError('ERR_TOKEN_TYPE', 'not an access token (typ must be at+jwt)');
    if (e.claim === 'iss') return new AccessTokenError('ERR_TOKEN_ISSUER', 'access token issuer is not the expected IdMS');
    if (e.claim === 'aud') return new AccessTokenError('ERR_TOKEN_AUDIENCE', 'access token is not for this resource server');
    return new AccessTokenError('ERR_TOKEN_CLAIMS', `access token claim ${e.claim} is invalid (${e.reason})`);
  }
  return new AccessTokenError('ERR_TOKEN_MALFORMED', 'access token is not a well-formed signed JWT');
}

/**
 * Verifies an IdMS access token (code flow, refresh, or partner).
 * @returns the claims, `mcptt_id`, `client_id` and `scope` guaranteed present.
 * @throws AccessTokenError for every refusal; `ERR_TOKEN_SCOPE` when a required scope is missing.
 */
export async function verifyAccessToken(token: string, o: VerifyAccessTokenOptions): Promise<AccessTokenClaims> {
  let payload: JWTPayload;
  try {
    const key = keyOf(o.key);
    const opts = {
      algorithms: [SIGNING_ALG], typ: 'at+jwt', issuer: o.issuer, audience: o.audience, clockTolerance: o.clockToleranceS ?? 30,
      requiredClaims: ['sub', 'exp', 'client_id', MCPTT_ID_CLAIM],
    };
    payload = (typeof key === 'function' ? await jwtVerify(token, key, opts) : await jwtVerify(token, key, opts)).payload;
  } catch (e) {
    throw mapError(e);
  }
  for (const claim of ['sub', 'client_id', MCPTT_ID_CLAIM] as const) {
    if (typeof payload[claim] !== 'string') throw new AccessTokenError('ERR_TOKEN_CLAIMS', `access token claim ${claim} must be a string`);
  }
  const scope = typeof payload.scope === 'string' ? payload.scope : '';
  const granted = new Set(scope.split(' ').filter(Boolean));
  const missing = (o.requiredScopes ?? []).filter((s) => !granted.has(s));
  if (missing.length) throw new AccessTokenError('ERR_TOKEN_SCOPE', `access token lacks scope ${missing.join(' ')}`);
  return { ...payload, scope } as AccessTokenClaims;
}

/**
 * Verifies a partner access token at the partner MMS: issued by the partner IdMS (`issuer`), for the MMS resource
 * (`audience`), carrying the primary identity.
 * @returns the claims, with `primary_iss`, `primary_sub` and `mcptt_id` guaranteed.
 * @throws AccessTokenError for every refusal (`ERR_TOKEN_CLAIMS` when the primary identity is missing).
 */
export async function verifyPartnerAccessToken(token: string, o: VerifyAccessTokenOptions): Promise<PartnerAccessTokenClaims> {
  const claims = await verifyAccessToken(token, o);
  for (const claim of ['primary_iss', 'primary_sub'] as const) {
    if (typeof claims[claim] !== 'string' || claims[claim] === '') {
      throw new AccessTokenError('ERR_TOKEN_CLAIMS', `partner access token lacks the ${claim} claim`);
    }
  }
  return claims as unknown as PartnerAccessTokenClaims;
}
