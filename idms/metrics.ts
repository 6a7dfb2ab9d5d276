/**
 * The IdMS's metrics: its token endpoint's grants by type and result, from oidc-provider's own events (no hook in
 * the grant code): `mcx_idms_grants_total{grant_type,result}`. The RFC 8693 token exchange of the primary IdMS
 * (TS 33.180 §5.1.4.2: the security token for a partner) is `grant_type="token_exchange"`, the partner's RFC 7523
 * jwt-bearer grant that takes it `grant_type="jwt_bearer"`; `result` is `ok` or the OAuth error code (RFC 6749
 * §5.2). Both label sets are bounded: grant types outside the known ones count as `other`, error codes that are not
 * plain `snake_case` words as `other`.
 */
import type { Provider } from 'oidc-provider';
import type { RoleMetrics } from '../lib/metrics/role-metrics.ts';
import { GRANT_JWT_BEARER, GRANT_TOKEN_EXCHANGE } from './constants.ts';

const GRANT_LABELS: Readonly<Record<string, string>> = {
  authorization_code: 'authorization_code', refresh_token: 'refresh_token', client_credentials: 'client_credentials',
  [GRANT_TOKEN_EXCHANGE]: 'token_exchange', [GRANT_JWT_BEARER]: 'jwt_bearer',
};

/** The `grant_type` label of a token request (its parameter is the client's input: only known values pass). */
function grantLabel(ctx: unknown): string {
  const g = (ctx as { oidc?: { params?: Record<string, unknown> } } | undefined)?.oidc?.params?.grant_type;
  return typeof g === 'string' ? GRANT_LABELS[g] ?? 'other' : 'other';
}

/** The `result` label of a failed grant: its OAuth error code. */
function errorLabel(err: unknown): string {
  const code = (err as { error?: unknown } | undefined)?.error;
  return typeof code === 'string' && /^[a-z_]{1,40}$/.test(code) ? code : 'other';
}

/** Counts the grants of `provider` into `metrics`. */
export function idmsMetrics(metrics: RoleMetrics, provider: Provider): void {
  const grants = metrics.counter('grants_total',
    'token endpoint grants by grant_type (authorization_code, refresh_token, token_exchange, jwt_bearer, other) and result (ok or the OAuth error code)',
    ['grant_type', 'result']);
  provider.on('grant.success', (ctx) => grants.inc({ grant_type: grantLabel(ctx), result: 'ok' }));
  provider.on('grant.error', (ctx, err) => grants.inc({ grant_type: grantLabel(ctx), result: errorLabel(err) }));
  provider.on('server_error', (ctx) => {
    if ((ctx as { oidc?: { route?: string } } | undefined)?.oidc?.route === 'token') grants.inc({ grant_type: grantLabel(ctx), result: 'server_error' });
  });
}
