/**
 * The primary IdMS's RFC 8693 token exchange (TS 33.180 Annex B.7.2/B.7.3, C.2 steps 6a/6b): the MC client presents
 * the user's access token and names the partner IdMS; the primary verifies the access token (its own signature, its
 * own issuer and resource, not expired, an access token rather than an ID token) and answers with the B.8 security
 * token for that partner.
 *
 * Errors follow RFC 8693 §2.2.2: a bad request or an unacceptable `subject_token` is `invalid_request`; a target that
 * is not a configured partner is `invalid_target`.
 */
import { errors as joseErrors, jwtVerify } from 'jose';
import type { OidcKoaContext, ParamValue, Provider } from 'oidc-provider';
import type { Logger } from '../../lib/log.ts';
import { seedStep } from '../../lib/seed-steps.ts';
import { GRANT_TOKEN_EXCHANGE, SIGNING_ALG, SUBJECT_TOKEN_TYPES, TOKEN_TYPE_JWT } from '../constants.ts';
import { oauthError } from '../errors.ts';
import type { SigningMaterial } from '../keys.ts';
import { issueSecurityToken } from '../security-token.ts';
import type { UserRepo } from '../users.ts';

/** What the token exchange grant needs from the primary IdMS. */
export interface TokenExchangeOptions {
  issuer: string;
  signing: SigningMaterial;
  /** The audience of this IdMS's access tokens: a subject token must carry it. */
  resource: string;
  /** Partner name → partner IdMS issuer URL (`--partner NAME=URL`). */
  partners: ReadonlyMap<string, string>;
  users: UserRepo;
  securityTokenTtlS: number;
  logger: Logger;
}

const PARAMETERS = [
  'subject_token', 'subject_token_type', 'requested_token_type', 'resource', 'audience', 'scope', 'actor_token', 'actor_token_type',
];

const values = (v: ParamValue): string[] => (v === undefined ? [] : Array.isArray(v) ? v : [v]);

function single(ctx: OidcKoaContext, name: string): string | undefined {
  const v = values(ctx.oidc.params[name]);
  return v[0];
}

/** The partner issuer named by `resource` (33.180 B.7.2) or `audience` (C.2 step 6a says "aud"), by URL or name. */
function resolvePartner(ctx: OidcKoaContext, partners: ReadonlyMap<string, string>): string {
  const targets = [...new Set([...values(ctx.oidc.params.resource), ...values(ctx.oidc.params.audience)])];
  if (targets.length === 0) throw oauthError('invalid_request', 'resource (or audience) naming the partner IdMS is required');
  const resolved = new Set<string>();
  for (const t of targets) {
    const byUrl = [...partners.values()].find((u) => u === t);
    const issuer = byUrl ?? partners.get(t);
    if (issuer === undefined) throw oauthError('invalid_target', `${t} is not a configured partner IdMS`);
    resolved.add(issuer);
  }
  if (resolved.size !== 1) throw oauthError('invalid_target', 'a security token is specific to one partner IdMS; name exactly one');
  return [...resolved][0] as string;
}

function subjectTokenProblem(e: unknown): string {
  if (e instanceof joseErrors.JWTExpired) return 'subject_token is expired';
  if (e instanceof joseErrors.JWSSignatureVerificationFailed) return 'subject_token signature does not verify with this IdMS key';
  if (e instanceof joseErrors.JOSEAlgNotAllowed) return `subject_token must be ${SIGNING_ALG}-signed`;
  if (e instanceof joseErrors.JWTClaimValidationFailed) {
    if (e.claim === 'typ') return 'subject_token is not an access token (typ at+jwt)';
    if (e.claim === 'iss') return 'subject_token was not issued by this IdMS';
    if (e.claim === 'aud') return 'subject_token is not an access token for this IdMS\'s MC services';
    return `subject_token claim ${e.claim} is invalid (${e.reason})`;
  }
  return 'subject_token is not a JWT access token of this IdMS';
}

/** Registers the grant on the provider. */
export function registerTokenExchange(provider: Provider, o: TokenExchangeOptions): void {
  const log = o.logger.child({ component: 'token-exchange' });
  provider.registerGrantType(GRANT_TOKEN_EXCHANGE, async (ctx) => {
    const client = ctx.oidc.client;
    if (!client) throw oauthError('invalid_client', 'client authentication failed');
    const subjectToken = single(ctx, 'subject_token');
    const subjectType = single(ctx, 'subject_token_type');
    if (!subjectToken) throw oauthError('invalid_request', 'subject_token is required');
    if (!subjectType) throw oauthError('invalid_request', 'subject_token_type is required');
    if (!SUBJECT_TOKEN_TYPES.includes(subjectType)) {
      throw oauthError('invalid_request', `subject_token_type must be ${SUBJECT_TOKEN_TYPES.join(' or ')}`);
    }
    const requested = single(ctx, 'requested_token_type');
    if (requested !== undefined && requested !== TOKEN_TYPE_JWT) {
      throw oauthError('invalid_request', `requested_token_type must be ${TOKEN_TYPE_JWT} (the security token)`);
    }
    if (single(ctx, 'actor_token') !== undefined) throw oauthError('invalid_request', 'actor_token (delegation) is not supported');
    const partnerIssuer = resolvePartner(ctx, o.partners);

    let claims;
    try {
      claims = (await jwtVerify(subjectToken, o.signing.publicKey, {
        algorithms: [SIGNING_ALG], issuer: o.issuer, audience: o.resource, typ: 'at+jwt', requiredClaims: ['sub', 'exp', 'client_id'],
      })).payload;
    } catch (e) {
      const why = subjectTokenProblem(e);
      log.info({ client_id: client.clientId, partner: partnerIssuer, reason: why }, 'token exchange refused');
      throw oauthError('invalid_request', why);
    }
    if (claims.client_id !== client.clientId) throw oauthError('invalid_request', 'subject_token was issued to another client');
    const user = await o.users.bySub(claims.sub as string);
    if (!user) throw oauthError('invalid_request', 'the user of subject_token no longer exists');

    const { token, claims: st } = await issueSecurityToken({
      signing: o.signing, issuer: o.issuer, sub: user.sub, clientId: client.clientId, partnerIssuer, mcpttId: user.mcpttId,
      ttlS: o.securityTokenTtlS,
    });
    seedStep(log, 'dynamic', 1, 'primary-idms', 'TS 33.180 C.2 step 6b: access token verified, security token issued for the partner IdMS',
      { sub: st.sub, mcptt_id: st.mcptt_id, aud: st.aud, jti: st.jti, exp: st.exp }, 'info');
    ctx.body = { access_token: token, issued_token_type: TOKEN_TYPE_JWT, token_type: 'N_A', expires_in: st.exp - st.iat };
  }, PARAMETERS, ['resource', 'audience']);
}
