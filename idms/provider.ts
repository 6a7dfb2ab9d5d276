/**
 * The oidc-provider instance of one IdMS (TS 33.180 §5.1.2–5.1.4, Annex B): authorization code flow with PKCE S256
 * only, JWT access tokens (RFC 9068 shape, `mcptt_id` + `scope` + `client_id`) for this IdMS's MC services resource,
 * ID tokens with `mcptt_id`, refresh tokens, persistence on our Store, signing with the system's `idms-signing.key`;
 * plus the role's extension grant: RFC 8693 token exchange (primary) or RFC 7523 jwt-bearer (partner).
 */
import Provider, { type ClientMetadata, type Configuration, type OidcKoaContext } from 'oidc-provider';
import type { Logger } from '../lib/log.ts';
import type { Store } from '../lib/store/store.ts';
import { storeAdapter } from './adapter.ts';
import {
  ACR_PASSWORD, GRANT_JWT_BEARER, GRANT_TOKEN_EXCHANGE, MCPTT_ID_CLAIM, OIDC_SCOPES, RESOURCE_SCOPES, SIGNING_ALG, type IdmsRole,
  type IdmsTtls,
} from './constants.ts';
import { oauthError } from './errors.ts';
import { registerJwtBearer } from './grants/jwt-bearer.ts';
import { registerTokenExchange } from './grants/token-exchange.ts';
import type { SigningMaterial } from './keys.ts';
import type { SecurityTokenPolicy } from './security-token.ts';
import type { UserRepo } from './users.ts';

/** A registered native public client (33.180 B.3: MC clients are native; `token_endpoint_auth_method` none). */
export interface ClientSpec {
  clientId: string;
  redirectUris: string[];
}

/** Everything the provider is built from. */
export interface ProviderOptions {
  role: IdmsRole;
  issuer: string;
  signing: SigningMaterial;
  store: Store;
  /** Key prefix of this IdMS in the store. */
  namespace: string;
  users: UserRepo;
  clients: readonly ClientSpec[];
  /**
   * The resource indicator (and `aud`) of this IdMS's access tokens: on the primary the MC services of the code flow,
   * on the partner the partner MMS, for which RFC 7523 issues tokens.
   */
  resource: string;
  ttls: IdmsTtls;
  /** Keys signing the interaction and session cookies (shared by every process of this IdMS). */
  cookieKeys: string[];
  logger: Logger;
  /** Primary: partner name → partner IdMS issuer URL. */
  partners?: ReadonlyMap<string, string>;
  /** Partner: how security tokens are verified. */
  trust?: SecurityTokenPolicy;
  /** Partner: scopes granted to visiting users by jwt-bearer. */
  partnerScopes?: readonly string[];
}

const escapeHtml = (s: string): string =>
  s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c] as string);

function clientMetadata(c: ClientSpec, role: IdmsRole): ClientMetadata {
  return {
    client_id: c.clientId, redirect_uris: c.redirectUris, response_types: ['code'], token_endpoint_auth_method: 'none',
    application_type: 'native', id_token_signed_response_alg: SIGNING_ALG,
    grant_types: ['authorization_code', 'refresh_token', role === 'primary' ? GRANT_TOKEN_EXCHANGE : GRANT_JWT_BEARER],
  };
}

/**
 * Builds the provider (not listening: mount `provider.callback()` behind the HTTPS server, after the login page).
 * @throws Error from oidc-provider for an invalid configuration (bad client metadata, key).
 */
export function createProvider(o: ProviderOptions): Provider {
  const log = o.logger.child({ component: 'oidc' });
  const resourceServer = {
    scope: RESOURCE_SCOPES.join(' '), audience: o.resource, accessTokenTTL: o.ttls.accessToken, accessTokenFormat: 'jwt' as const,
    jwt: { sign: { alg: SIGNING_ALG } },
  };
  const configuration: Partial<Configuration> = {
    adapter: storeAdapter(o.store, o.namespace),
    clients: o.clients.map((c) => clientMetadata(c, o.role)),
    jwks: { keys: [o.signing.jwk] },
    cookies: { keys: o.cookieKeys },
    claims: { acr: null, amr: null, auth_time: null, iss: null, sid: null, openid: ['sub', MCPTT_ID_CLAIM, 'acr', 'amr', 'auth_time'] },
    scopes: [...OIDC_SCOPES],
    acrValues: [ACR_PASSWORD],
    responseTypes: ['code'],
    clockTolerance: 5,
    // RFC 7636 for everyone: oidc-provider v9 knows only S256, so "plain" is refused at the authorization endpoint.
    pkce: { required: () => true },
    features: {
      devInteractions: { enabled: false },
      rpInitiatedLogout: { enabled: false },
      userinfo: { enabled: true },
      revocation: { enabled: false },
      introspection: { enabled: false },
      resourceIndicators: {
        enabled: true,
        // No `resource` in the request means this IdMS's MC services: every access token is then a JWT for them.
        defaultResource: async (_ctx, _client, oneOf) => (oneOf ? (oneOf.includes(o.resource) ? o.resource : oneOf) : o.resource),
        useGrantedResource: async () => true,
        getResourceServerInfo: async (_ctx, resource) => {
          if (resource !== o.resource) throw oauthError('invalid_target', `${resource} is not a resource of this IdMS`);
          return resourceServer;
        },
      },
    },
    findAccount: async (_ctx, sub) => {
      const user = await o.users.bySub(sub);
      if (!user) return undefined;
      return { accountId: user.sub, claims: async () => ({ sub: user.sub, [MCPTT_ID_CLAIM]: user.mcpttId }) };
    },
    extraTokenClaims: async (_ctx, token) => {
      if (token.kind !== 'AccessToken' || token.accountId === undefined) return undefined;
      const user = await o.users.bySub(token.accountId);
      return user ? { [MCPTT_ID_CLAIM]: user.mcpttId } : undefined;
    },
    // Refresh tokens for every client allowed the grant, not only with offline_access (33.180 B.4.2.5 returns one).
    issueRefreshToken: async (_ctx, client) => client.grantTypeAllowed('refresh_token'),
    // Native clients make no browser CORS requests.
    clientBasedCORS: () => false,
    renderError: async (ctx: OidcKoaContext, out: Record<string, string>) => {
      ctx.type = 'html';
      ctx.body = `<!DOCTYPE html><html><head><meta charset="utf-8"><title>IdMS error</title></head><body><h1>Sign-in failed</h1>${
        Object.entries(out).map(([k, v]) => `<p><b>${escapeHtml(k)}</b>: ${escapeHtml(String(v))}</p>`).join('')}</body></html>`;
    },
    interactions: { url: async (_ctx, interaction) => `/interaction/${interaction.uid}` },
    ttl: {
      AccessToken: o.ttls.accessToken, AuthorizationCode: o.ttls.authorizationCode, IdToken: o.ttls.idToken,
      RefreshToken: o.ttls.refreshToken, Interaction: o.ttls.interaction, Session: o.ttls.session, Grant: o.ttls.refreshToken,
    },
  };
  const provider = new Provider(o.issuer, configuration);
  provider.proxy = false;
  provider.on('server_error', (_ctx, err) => log.error({ err: (err as Error).message }, 'oidc-provider server error'));
  for (const event of ['grant.error', 'authorization.error'] as const) {
    provider.on(event, (_ctx, err) => {
      const e = err as { error?: string; error_description?: string; error_detail?: string };
      log.info({ event, error: e.error, error_description: e.error_description, detail: e.error_detail }, 'OAuth request refused');
    });
  }

  if (o.role === 'primary') {
    registerTokenExchange(provider, {
      issuer: o.issuer, signing: o.signing, resource: o.resource, partners: o.partners ?? new Map(), users: o.users,
      securityTokenTtlS: o.ttls.securityToken, logger: o.logger,
    });
  } else {
    if (!o.trust) throw new Error('a partner IdMS needs the trust policy (trusted issuers and certificates)');
    registerJwtBearer(provider, {
      issuer: o.issuer, signing: o.signing, policy: o.trust, resource: o.resource, scopes: o.partnerScopes ?? RESOURCE_SCOPES,
      ttlS: o.ttls.partnerAccessToken, logger: o.logger,
    });
  }
  return provider;
}
