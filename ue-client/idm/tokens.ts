/**
 * The IdM client's token endpoint calls: code redemption (RFC 6749 §4.1.3 + RFC 7636), refresh (§6), the RFC 8693
 * token exchange at the primary IdMS (TS 33.180 B.7.2/B.7.3) and the RFC 7523 jwt-bearer grant at the partner IdMS
 * (B.7.4/B.7.5); plus ID token validation (OIDC Core §3.1.3.7) against the issuer's JWKS.
 */
import { createLocalJWKSet, jwtVerify, type JSONWebKeySet, type JWTPayload } from 'jose';
import { IdmClientError, httpsRequest, jsonOf, type TlsTrust } from './http.ts';

/** The OIDC discovery fields the client uses. */
export interface Discovery {
  issuer: string;
  authorization_endpoint: string;
  token_endpoint: string;
  jwks_uri: string;
  code_challenge_methods_supported?: string[];
  grant_types_supported?: string[];
}

/** A token endpoint answer. */
export interface TokenSet {
  accessToken: string;
  tokenType: string;
  expiresIn: number | undefined;
  refreshToken: string | undefined;
  idToken: string | undefined;
  scope: string | undefined;
}

/** RFC 8693 §2.1 grant type. */
export const TOKEN_EXCHANGE = 'urn:ietf:params:oauth:grant-type:token-exchange';
/** RFC 7523 §2.1 grant type. */
export const JWT_BEARER = 'urn:ietf:params:oauth:grant-type:jwt-bearer';
/** RFC 8693 §3 token type of a JWT (the security token; 33.180 B.7.2 `subject_token_type`). */
export const TOKEN_TYPE_JWT = 'urn:ietf:params:oauth:token-type:jwt';
/** RFC 8693 §3 token type of an access token. */
export const TOKEN_TYPE_ACCESS_TOKEN = 'urn:ietf:params:oauth:token-type:access_token';

/**
 * Fetches `<issuer>/.well-known/openid-configuration` and checks it names the same issuer (OIDC Discovery §4.3).
 * @throws IdmClientError `ERR_IDM_TRANSPORT` / `ERR_IDM_PROTOCOL`.
 */
export async function discover(issuer: string, trust: TlsTrust): Promise<Discovery> {
  const url = new URL(`${issuer.replace(/\/$/, '')}/.well-known/openid-configuration`);
  const d = jsonOf<Discovery>(await httpsRequest(url, { method: 'GET' }, trust), `discovery of ${issuer}`);
  if (d.issuer !== issuer) throw new IdmClientError('ERR_IDM_PROTOCOL', `discovery of ${issuer} names issuer ${d.issuer}`);
  for (const k of ['authorization_endpoint', 'token_endpoint', 'jwks_uri'] as const) {
    if (typeof d[k] !== 'string') throw new IdmClientError('ERR_IDM_PROTOCOL', `discovery of ${issuer} lacks ${k}`);
  }
  return d;
}

async function tokenRequest(endpoint: string, form: Record<string, string>, trust: TlsTrust, what: string): Promise<Record<string, unknown>> {
  const json = jsonOf<Record<string, unknown>>(await httpsRequest(new URL(endpoint), { method: 'POST', form }, trust), what);
  if (typeof json.access_token !== 'string') throw new IdmClientError('ERR_IDM_PROTOCOL', `${what}: no access_token in the answer`);
  return json;
}

function tokenSet(j: Record<string, unknown>): TokenSet {
  const s = (k: string): string | undefined => (typeof j[k] === 'string' ? (j[k] as string) : undefined);
  return {
    accessToken: j.access_token as string, tokenType: s('token_type') ?? '', expiresIn: typeof j.expires_in === 'number' ? j.expires_in : undefined,
    refreshToken: s('refresh_token'), idToken: s('id_token'), scope: s('scope'),
  };
}

/** Options of {@link redeemCode}. */
export interface RedeemOptions extends TlsTrust {
  discovery: Discovery;
  clientId: string;
  redirectUri: string;
  code: string;
  /** The PKCE verifier; undefined sends none (to test that the IdMS insists). */
  verifier: string | undefined;
}

/**
 * Exchanges an authorization code for tokens.
 * @throws IdmClientError `ERR_IDM_OAUTH` (e.g. `invalid_grant` for a wrong or missing verifier).
 */
export async function redeemCode(o: RedeemOptions): Promise<TokenSet> {
  const form: Record<string, string> = { grant_type: 'authorization_code', code: o.code, redirect_uri: o.redirectUri, client_id: o.clientId };
  if (o.verifier !== undefined) form.code_verifier = o.verifier;
  return tokenSet(await tokenRequest(o.discovery.token_endpoint, form, o, 'code redemption'));
}

/**
 * Validates an ID token: RS256 signature by a key of the issuer's JWKS, `iss`, `aud` = client, `exp`, `nonce`.
 * @throws IdmClientError `ERR_IDM_TOKEN` naming the failed check.
 */
export async function validateIdToken(idToken: string, o: TlsTrust & { discovery: Discovery; clientId: string; nonce: string }): Promise<JWTPayload> {
  const jwks = jsonOf<JSONWebKeySet>(await httpsRequest(new URL(o.discovery.jwks_uri), { method: 'GET' }, o), 'JWKS');
  let claims: JWTPayload;
  try {
    claims = (await jwtVerify(idToken, createLocalJWKSet(jwks), {
      algorithms: ['RS256'], issuer: o.discovery.issuer, audience: o.clientId, clockTolerance: 30, requiredClaims: ['sub', 'iat', 'exp'],
    })).payload;
  } catch (e) {
    throw new IdmClientError('ERR_IDM_TOKEN', `ID token rejected: ${(e as Error).message}`);
  }
  if (claims.nonce !== o.nonce) throw new IdmClientError('ERR_IDM_TOKEN', 'ID token nonce does not match the request');
  return claims;
}

/** Options of {@link refresh}. */
export interface RefreshOptions extends TlsTrust {
  issuer: string;
  clientId: string;
  refreshToken: string;
  scope?: string;
}

/**
 * Uses a refresh token (TS 33.180 B.5); the IdMS rotates it, so keep the returned one.
 * @throws IdmClientError `ERR_IDM_OAUTH` (`invalid_grant` for a used or revoked refresh token).
 */
export async function refresh(o: RefreshOptions): Promise<TokenSet> {
  const d = await discover(o.issuer, o);
  const form: Record<string, string> = { grant_type: 'refresh_token', refresh_token: o.refreshToken, client_id: o.clientId };
  if (o.scope) form.scope = o.scope;
  return tokenSet(await tokenRequest(d.token_endpoint, form, o, 'refresh'));
}

/** Options of {@link exchangeToken}. */
export interface ExchangeOptions extends TlsTrust {
  primaryIssuer: string;
  /** The user's access token from the primary IdMS (C.2 step 3). */
  accessToken: string;
  /** The partner IdMS issuer URL (the security token's second `aud`). */
  partnerIssuer: string;
  clientId: string;
  /** Default `urn:ietf:params:oauth:token-type:jwt`, as 33.180 Table B.7.2-1 fixes it. */
  subjectTokenType?: string;
}

/** The security token and what the primary said about it (RFC 8693 §2.2.1). */
export interface SecurityTokenResponse {
  securityToken: string;
  issuedTokenType: string;
  tokenType: string;
  expiresIn: number | undefined;
}

/**
 * RFC 8693 token exchange at the primary IdMS (C.2 steps 6a/6b): access token in, security token for the partner out.
 * @throws IdmClientError `ERR_IDM_OAUTH` (`invalid_target` for a partner the primary does not know,
 *   `invalid_request` for a rejected access token).
 */
export async function exchangeToken(o: ExchangeOptions): Promise<SecurityTokenResponse> {
  const d = await discover(o.primaryIssuer, o);
  const j = await tokenRequest(d.token_endpoint, {
    grant_type: TOKEN_EXCHANGE, subject_token: o.accessToken, subject_token_type: o.subjectTokenType ?? TOKEN_TYPE_JWT,
    requested_token_type: TOKEN_TYPE_JWT, resource: o.partnerIssuer, client_id: o.clientId,
  }, o, 'token exchange');
  if (j.issued_token_type !== TOKEN_TYPE_JWT) {
    throw new IdmClientError('ERR_IDM_PROTOCOL', `token exchange issued ${String(j.issued_token_type)}, not a JWT security token`);
  }
  return {
    securityToken: j.access_token as string, issuedTokenType: j.issued_token_type, tokenType: String(j.token_type ?? ''),
    expiresIn: typeof j.expires_in === 'number' ? j.expires_in : undefined,
  };
}

/** Options of {@link jwtBearer}. */
export interface JwtBearerOptions extends TlsTrust {
  partnerIssuer: string;
  /** The security token from {@link exchangeToken}. */
  assertion: string;
  /** Space-separated partner scopes, e.g. `3gpp:mc:migration`. */
  scope: string;
  /** The client's id at the partner IdMS (33.180 B.6). */
  clientId: string;
}

/**
 * RFC 7523 jwt-bearer grant at the partner IdMS (C.2 steps 8a/8b): security token in, partner access token out.
 * @throws IdmClientError `ERR_IDM_OAUTH` (`invalid_grant` with the partner's reason for a refused security token).
 */
export async function jwtBearer(o: JwtBearerOptions): Promise<TokenSet> {
  const d = await discover(o.partnerIssuer, o);
  return tokenSet(await tokenRequest(d.token_endpoint, {
    grant_type: JWT_BEARER, assertion: o.assertion, scope: o.scope, client_id: o.clientId,
  }, o, 'jwt-bearer grant'));
}
