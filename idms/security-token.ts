/**
 * The TS 33.180 Annex B.8 security token: a JWS (RFC 7515, RS256) the primary IdMS issues by token exchange and the
 * partner IdMS accepts as an RFC 7523 assertion. Issuing and verifying live side by side so the two ends cannot drift.
 *
 * Claims: `iss` (primary IdMS issuer URL), `sub`, `aud` = [client_id, partner IdMS issuer URL], `exp`, `iat`, `jti`,
 * `mcptt_id`, and `client_id` for the record. Verification pins RS256, the issuer's certificate from the trust file,
 * the partner's own issuer in `aud`, ≤ 30 s skew, a bounded lifetime and a single use of each `jti`.
 */
import { createHash, randomUUID } from 'node:crypto';
import { SignJWT, decodeJwt, decodeProtectedHeader, errors as joseErrors, jwtVerify, type JWTPayload } from 'jose';
import type { Store } from '../lib/store/store.ts';
import { MAX_CLOCK_SKEW_S, MCPTT_ID_CLAIM, SIGNING_ALG } from './constants.ts';
import { certValidAt, type SigningMaterial, type TrustedCert } from './keys.ts';

/** The claims of a security token. */
export interface SecurityTokenClaims extends JWTPayload {
  iss: string;
  sub: string;
  aud: string[];
  exp: number;
  iat: number;
  jti: string;
  mcptt_id: string;
  client_id: string;
}

/** What the primary puts in a security token. */
export interface SecurityTokenInput {
  signing: SigningMaterial;
  issuer: string;
  sub: string;
  clientId: string;
  /** The partner IdMS issuer URL: the second `aud` entry. */
  partnerIssuer: string;
  mcpttId: string;
  ttlS: number;
}

/**
 * Signs a security token.
 * @returns the compact JWS and its claims.
 */
export async function issueSecurityToken(i: SecurityTokenInput): Promise<{ token: string; claims: SecurityTokenClaims }> {
  const iat = Math.floor(Date.now() / 1000);
  const claims: SecurityTokenClaims = {
    iss: i.issuer, sub: i.sub, aud: [i.clientId, i.partnerIssuer], exp: iat + i.ttlS, iat, jti: randomUUID(),
    [MCPTT_ID_CLAIM]: i.mcpttId, client_id: i.clientId,
  };
  const token = await new SignJWT(claims).setProtectedHeader({ alg: SIGNING_ALG, kid: i.signing.kid, typ: 'JWT' }).sign(i.signing.privateKey);
  return { token, claims };
}

/** Why the partner refused a security token; each has its own `error_description`. Closed set. */
export type SecurityTokenRejection =
  | 'malformed'
  | 'alg_not_allowed'
  | 'untrusted_issuer'
  | 'trust_cert_expired'
  | 'bad_signature'
  | 'expired'
  | 'not_yet_valid'
  | 'too_old'
  | 'lifetime_too_long'
  | 'wrong_audience'
  | 'missing_claim'
  | 'replayed';

/** A refused security token. */
export class SecurityTokenError extends Error {
  override readonly name = 'SecurityTokenError';

  /** @param reason the machine-readable cause; `message` is the `error_description`. */
  constructor(readonly reason: SecurityTokenRejection, message: string) {
    super(message);
  }
}

/** How the partner verifies. */
export interface SecurityTokenPolicy {
  /** Trusted primary issuer URL → its signing certificate(s) (several during a key rollover). */
  trusted: ReadonlyMap<string, readonly TrustedCert[]>;
  /** The partner's own issuer URL, which `aud` must contain. */
  audience: string;
  /** Replay cache: `jti`s seen, kept until the token could no longer pass `exp`. */
  replay: { store: Store; prefix: string };
  /** Clock skew accepted on `exp`, `iat`, `nbf` (default and maximum 30 s, 33.180 B.8). */
  clockSkewS?: number;
  /** Longest accepted `exp − iat` and age (default 600 s). */
  maxLifetimeS?: number;
}

function mapJoseError(e: unknown, issuer: string, audience: string): SecurityTokenError {
  if (e instanceof joseErrors.JWTExpired) {
    return e.claim === 'iat'
      ? new SecurityTokenError('too_old', 'security token is too old (iat beyond the accepted age)')
      : new SecurityTokenError('expired', 'security token expired (exp is past, beyond the 30 s clock skew)');
  }
  if (e instanceof joseErrors.JWTClaimValidationFailed) {
    if (e.reason === 'missing') return new SecurityTokenError('missing_claim', `security token lacks the required "${e.claim}" claim`);
    if (e.claim === 'aud') return new SecurityTokenError('wrong_audience', `security token aud does not contain this IdMS (${audience})`);
    if (e.claim === 'iss') return new SecurityTokenError('untrusted_issuer', `security token issuer is not ${issuer}`);
    if (e.claim === 'iat' || e.claim === 'nbf') return new SecurityTokenError('not_yet_valid', `security token ${e.claim} is in the future (beyond the clock skew)`);
    return new SecurityTokenError('malformed', `security token claim "${e.claim}" is invalid`);
  }
  if (e instanceof joseErrors.JWSSignatureVerificationFailed) {
    return new SecurityTokenError('bad_signature', `security token signature does not verify with the trusted certificate of ${issuer}`);
  }
  if (e instanceof joseErrors.JOSEAlgNotAllowed) return new SecurityTokenError('alg_not_allowed', `security token must be signed with ${SIGNING_ALG}`);
  return new SecurityTokenError('malformed', 'security token is not a well-formed signed JWT');
}

/**
 * Verifies a security token presented to the partner (RFC 7523 §3, TS 33.180 B.7.4/B.8) and records its `jti`.
 * @throws SecurityTokenError with a distinct reason and description for every failed check.
 */
export async function verifySecurityToken(token: string, policy: SecurityTokenPolicy): Promise<SecurityTokenClaims> {
  let alg: unknown;
  let unverified: JWTPayload;
  try {
    alg = decodeProtectedHeader(token).alg;
    unverified = decodeJwt(token);
  } catch {
    throw new SecurityTokenError('malformed', 'security token is not a well-formed JWT');
  }
  // Pinned before any key is touched: "none" and HS256-with-the-public-key never reach a verifier.
  if (alg !== SIGNING_ALG) throw new SecurityTokenError('alg_not_allowed', `security token alg ${JSON.stringify(alg)} is not accepted: only ${SIGNING_ALG}`);
  const issuer = unverified.iss;
  const certs = typeof issuer === 'string' ? policy.trusted.get(issuer) : undefined;
  if (typeof issuer !== 'string' || !certs) {
    throw new SecurityTokenError('untrusted_issuer', `security token issuer ${JSON.stringify(issuer ?? null)} is not a trusted primary IdMS`);
  }
  const skew = Math.min(policy.clockSkewS ?? MAX_CLOCK_SKEW_S, MAX_CLOCK_SKEW_S);
  const maxLifetime = policy.maxLifetimeS ?? 600;
  const usable = certs.filter((c) => certValidAt(c.cert));
  if (usable.length === 0) throw new SecurityTokenError('trust_cert_expired', `no trusted certificate of ${issuer} is within its validity period`);
  let claims: JWTPayload | undefined;
  let failure: SecurityTokenError | undefined;
  for (const c of usable) {
    try {
      claims = (await jwtVerify(token, c.publicKey, {
        algorithms: [SIGNING_ALG], issuer, audience: policy.audience, clockTolerance: skew, maxTokenAge: maxLifetime,
        requiredClaims: ['sub', 'exp', 'iat', 'jti'],
      })).payload;
      break;
    } catch (e) {
      failure = mapJoseError(e, issuer, policy.audience);
      // Only a signature mismatch means "try the next certificate"; any other failure is about the token itself.
      if (failure.reason !== 'bad_signature') throw failure;
    }
  }
  if (!claims) throw failure ?? new SecurityTokenError('bad_signature', 'security token signature does not verify');
  const { exp, iat, jti } = claims as { exp: number; iat: number; jti: unknown };
  if (exp - iat > maxLifetime) throw new SecurityTokenError('lifetime_too_long', `security token lifetime exp-iat of ${exp - iat} s exceeds ${maxLifetime} s`);
  if (typeof jti !== 'string' || jti === '') throw new SecurityTokenError('missing_claim', 'security token jti must be a non-empty string');
  if (typeof claims[MCPTT_ID_CLAIM] !== 'string') throw new SecurityTokenError('missing_claim', `security token lacks the required "${MCPTT_ID_CLAIM}" claim`);
  const keyId = createHash('sha256').update(`${issuer}\n${jti}`).digest('base64url');
  const ttlMs = Math.max(1000, (exp + skew) * 1000 - Date.now() + 1000);
  if (!(await policy.replay.store.setIfAbsent(`${policy.replay.prefix}${keyId}`, exp, { ttlMs }))) {
    throw new SecurityTokenError('replayed', 'security token jti was already used (replay)');
  }
  const aud = Array.isArray(claims.aud) ? claims.aud : [claims.aud as string];
  return { ...claims, aud, client_id: typeof claims.client_id === 'string' ? claims.client_id : '' } as SecurityTokenClaims;
}
