/**
 * The UE's side of the dynamic migration configuration, before it registers (TS 23.280 §10.6.2.3 step 1 and its
 * precondition; TS 33.180 §5.1.4.2 / Annex C.2): MC service user authentication at the primary IdMS (OIDC code +
 * PKCE), RFC 8693 token exchange for the security token, RFC 7523 jwt-bearer at the partner IdMS for the partner
 * access token, then the migration configuration request to the partner MMS, which answers the partner SIP
 * identities and the partner SIP core to register with. Each step reports itself through `onStep`.
 */
import { MIGRATION_SCOPE } from '../lib/idm/vocabulary.ts';
import { exchangeToken, jwtBearer, login, requestMigration, type MigrationConfiguration, type TlsTrust } from './idm-client.ts';

/** What the migration needs to know. */
export interface MigrateOptions {
  /** The primary IdMS issuer, and the CA(s) of the primary system (default: the system roots). */
  primaryIssuer: string;
  primaryCa?: string | string[];
  /** The partner IdMS issuer, the partner MMS migration API, and the CA(s) of the partner system (default: the system roots). */
  partnerIssuer: string;
  partnerMms: string;
  partnerCa?: string | string[];
  /** Give up one HTTPS request after this long (default 10 s). */
  timeoutMs?: number;
  /** Aborts the request under way (IdmClientError `ERR_IDM_TRANSPORT`, "aborted"). */
  signal?: AbortSignal;
  /** The native client registered at both IdMSs, and its redirect URI. */
  clientId: string;
  redirectUri: string;
  username: string;
  password: string;
  /** MC service scopes to log in with besides `openid` and the migration scope. */
  scopes?: readonly string[];
  /** Told each step as it completes. */
  onStep?(step: MigrateStep, detail: string): void;
}

/** The steps, in order. */
export type MigrateStep = 'login' | 'token-exchange' | 'jwt-bearer' | 'configuration';

/** The outcome: where and as whom to register, and the token that can end the migration. */
export interface Migration {
  configuration: MigrationConfiguration;
  /** The partner access token (for `endMigration`). */
  partnerAccessToken: string;
  /** The user's MC service ID, from the primary IdMS's ID token. */
  mcpttId: string;
}

/**
 * Runs the four steps.
 * @throws IdmClientError naming the step's failure (ERR_IDM_LOGIN for bad credentials, ERR_IDM_OAUTH with the
 *   server's `error`, e.g. `migration_not_allowed`).
 */
export async function migrate(o: MigrateOptions): Promise<Migration> {
  const step = o.onStep ?? (() => undefined);
  const scope = ['openid', ...(o.scopes ?? ['3gpp:mc:ptt_service']), MIGRATION_SCOPE].join(' ');
  const trust = (ca: string | string[] | undefined): TlsTrust => ({
    ...(ca === undefined ? {} : { ca }), ...(o.timeoutMs === undefined ? {} : { timeoutMs: o.timeoutMs }), ...(o.signal ? { signal: o.signal } : {}),
  });
  const primary = trust(o.primaryCa);
  const partner = trust(o.partnerCa);
  const session = await login({ issuer: o.primaryIssuer, clientId: o.clientId, redirectUri: o.redirectUri, scope, username: o.username, password: o.password, ...primary });
  const mcpttId = String(session.idTokenClaims.mcptt_id ?? '');
  step('login', `MC service user ${o.username} authenticated at ${o.primaryIssuer} (authorization code + PKCE S256), mcptt_id ${mcpttId}`);
  const st = await exchangeToken({ primaryIssuer: o.primaryIssuer, accessToken: session.accessToken, partnerIssuer: o.partnerIssuer, clientId: o.clientId, ...primary });
  step('token-exchange', `security token for ${o.partnerIssuer} (RFC 8693 token exchange)`);
  const pat = await jwtBearer({ partnerIssuer: o.partnerIssuer, assertion: st.securityToken, scope: MIGRATION_SCOPE, clientId: o.clientId, ...partner });
  step('jwt-bearer', `partner access token from ${o.partnerIssuer} (RFC 7523 jwt-bearer)`);
  const configuration = await requestMigration({ mms: o.partnerMms, accessToken: pat.accessToken, ...partner });
  step('configuration', `partner identities ${configuration.partner_impi} ${configuration.partner_impus.join(' ')} at ${configuration.registrar} until ${configuration.expires_at}`);
  return { configuration, partnerAccessToken: pat.accessToken, mcpttId };
}
