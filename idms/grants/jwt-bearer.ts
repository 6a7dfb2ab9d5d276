/**
 * The partner IdMS's RFC 7523 JWT bearer grant (TS 33.180 Annex B.7.4/B.7.5, C.2 steps 8a/8b): the MC client presents
 * the security token from the primary IdMS as `assertion`; the partner verifies it against the primary IdMS
 * certificate provisioned out of band (security-token.ts) and issues a partner access token scoped for migration,
 * carrying the primary identity (`primary_iss`, `primary_sub`, `mcptt_id`) for the partner MMS.
 */
import { randomUUID } from 'node:crypto';
import { SignJWT } from 'jose';
import type { Provider } from 'oidc-provider';
import type { PartnerAccessTokenClaims } from '../../lib/idm/access-token.ts';
import type { Logger } from '../../lib/log.ts';
import { seedStep } from '../../lib/seed-steps.ts';
import { GRANT_JWT_BEARER, MCPTT_ID_CLAIM, MIGRATION_SCOPE, SIGNING_ALG } from '../constants.ts';
import { oauthError } from '../errors.ts';
import type { SigningMaterial } from '../keys.ts';
import { SecurityTokenError, verifySecurityToken, type SecurityTokenClaims, type SecurityTokenPolicy } from '../security-token.ts';

/** What the jwt-bearer grant needs from the partner IdMS. */
export interface JwtBearerOptions {
  issuer: string;
  signing: SigningMaterial;
  policy: SecurityTokenPolicy;
  /** `aud` of the partner access token: the partner MMS resource (`--resource`). */
  resource: string;
  /** Scopes the partner grants to visiting users; the first is the default when none is asked for. */
  scopes: readonly string[];
  ttlS: number;
  logger: Logger;
}

/**
 * Signs a partner access token for the identity in a verified security token.
 * @returns the JWT and its claims.
 */
export async function issuePartnerAccessToken(
  o: Pick<JwtBearerOptions, 'issuer' | 'signing' | 'resource' | 'ttlS'>, st: SecurityTokenClaims, clientId: string, scope: string,
): Promise<{ token: string; claims: PartnerAccessTokenClaims }> {
  const iat = Math.floor(Date.now() / 1000);
  const claims: PartnerAccessTokenClaims = {
    iss: o.issuer, sub: st.sub, aud: o.resource, client_id: clientId, scope, jti: randomUUID(), iat, exp: iat + o.ttlS,
    primary_iss: st.iss, primary_sub: st.sub, [MCPTT_ID_CLAIM]: st.mcptt_id,
  };
  const token = await new SignJWT({ ...claims }).setProtectedHeader({ alg: SIGNING_ALG, kid: o.signing.kid, typ: 'at+jwt' }).sign(o.signing.privateKey);
  return { token, claims };
}

/** Registers the grant on the provider. */
export function registerJwtBearer(provider: Provider, o: JwtBearerOptions): void {
  const log = o.logger.child({ component: 'jwt-bearer' });
  const allowed = new Set(o.scopes);
  provider.registerGrantType(GRANT_JWT_BEARER, async (ctx) => {
    const client = ctx.oidc.client;
    if (!client) throw oauthError('invalid_client', 'client authentication failed');
    const assertion = ctx.oidc.params.assertion;
    if (typeof assertion !== 'string' || assertion === '') throw oauthError('invalid_request', 'assertion (the security token) is required');
    const raw = ctx.oidc.params.scope;
    const requested = typeof raw === 'string' ? raw.split(' ').filter(Boolean) : [];
    const unknown = requested.filter((s) => !allowed.has(s));
    if (unknown.length) throw oauthError('invalid_scope', `scope ${unknown.join(' ')} is not granted by this partner IdMS (allowed: ${o.scopes.join(' ')})`);
    const scope = (requested.length ? requested : [o.scopes[0] ?? MIGRATION_SCOPE]).join(' ');

    let st: SecurityTokenClaims;
    try {
      st = await verifySecurityToken(assertion, o.policy);
    } catch (e) {
      if (!(e instanceof SecurityTokenError)) throw e;
      log.warn({ client_id: client.clientId, reason: e.reason }, `security token rejected: ${e.message}`);
      throw oauthError('invalid_grant', e.message);
    }
    const { token, claims } = await issuePartnerAccessToken(o, st, client.clientId, scope);
    seedStep(log, 'dynamic', 1, 'partner-idms', 'TS 33.180 C.2 step 8b: security token verified, partner access token issued',
      { primary_iss: st.iss, primary_sub: st.sub, mcptt_id: st.mcptt_id, security_token_jti: st.jti, scope, aud: claims.aud }, 'info');
    ctx.body = { access_token: token, token_type: 'Bearer', expires_in: o.ttlS, scope };
  }, ['assertion', 'scope']);
}
