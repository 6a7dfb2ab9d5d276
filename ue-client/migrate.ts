/**
 * The UE's side of the dynamic migration configuration, before it registers (TS 23.280 §10.6.2.3 step 1 and its
 * precondition; TS 33.180 §5.1.4.2 / Annex C.2): MC service user authentication at the primary IdMS (OIDC code +
 * PKCE), RFC 8693 token exchange for the security token, RFC 7523 jwt-bearer at the partner IdMS for the partner
 * access token, then the migration configuration request to the partner MMS, which answers the partner SIP
 * identities and the partner SIP core to register with — or, for `--end-only`, the deletion of one. Each step reports
 * itself through `onStep`.
 *
 * Several partner systems (TS 23.280 §10.6.2.1: the procedures are performed "for each partner MC system"; TS 33.180
 * §5.1.4.2: the token exchange "shall be repeated for each partner identity management domain"): one login
 * ({@link loginAtPrimary}), then per partner a token exchange naming that partner's IdMS (the security token's `aud`
 * names it, so no other partner accepts it), a jwt-bearer grant there ({@link accessAtPartner}) and a configuration
 * request to that partner's MMS.
 */
import { MIGRATION_SCOPE } from '../lib/idm/vocabulary.ts';
import { endMigration, exchangeToken, jwtBearer, login, requestMigration, type MigrationConfiguration, type TlsTrust } from './idm-client.ts';

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

/** The steps, in order (`end`: `--end-only` deletes a configuration instead of requesting one). */
export type MigrateStep = 'login' | 'token-exchange' | 'jwt-bearer' | 'configuration' | 'end';

/** The outcome: where and as whom to register, and the token that can end the migration. */
export interface Migration {
  configuration: MigrationConfiguration;
  /** The partner access token (for `endMigration`). */
  partnerAccessToken: string;
  /** The user's MC service ID, from the primary IdMS's ID token. */
  mcpttId: string;
}

/** A CA option as TLS trust, with the deadline and abort signal of `o`. */
function trustWith(o: Pick<MigrateOptions, 'timeoutMs' | 'signal'>, ca: string | string[] | undefined): TlsTrust {
  return { ...(ca === undefined ? {} : { ca }), ...(o.timeoutMs === undefined ? {} : { timeoutMs: o.timeoutMs }), ...(o.signal ? { signal: o.signal } : {}) };
}

/** The TLS trust of the primary and of the partner servers, with the deadline and abort signal of `o`. */
function trustOf(o: MigrateOptions): { primary: TlsTrust; partner: TlsTrust } {
  return { primary: trustWith(o, o.primaryCa), partner: trustWith(o, o.partnerCa) };
}

/** The user at the primary IdMS after step 1's login: what every partner's token exchange starts from. */
export interface PrimaryLogin {
  /** The access token of the primary IdMS (the token exchange's subject token, one per partner). */
  accessToken: string;
  /** The user's MC service ID, from the ID token. */
  mcpttId: string;
}

/** The primary half of {@link MigrateOptions}: the login, its client and trust, deadlines. */
export type PrimaryOptions = Omit<MigrateOptions, 'partnerIssuer' | 'partnerMms' | 'partnerCa'>;

/**
 * The login at the primary IdMS (authorization code + PKCE S256), once for every partner of a run.
 * @throws IdmClientError as {@link migrate}.
 */
export async function loginAtPrimary(o: PrimaryOptions): Promise<PrimaryLogin> {
  const scope = ['openid', ...(o.scopes ?? ['3gpp:mc:ptt_service']), MIGRATION_SCOPE].join(' ');
  const session = await login({
    issuer: o.primaryIssuer, clientId: o.clientId, redirectUri: o.redirectUri, scope, username: o.username, password: o.password, ...trustWith(o, o.primaryCa),
  });
  const mcpttId = String(session.idTokenClaims.mcptt_id ?? '');
  o.onStep?.('login', `MC service user ${o.username} authenticated at ${o.primaryIssuer} (authorization code + PKCE S256), mcptt_id ${mcpttId}`);
  return { accessToken: session.accessToken, mcpttId };
}

/**
 * Token exchange at the primary IdMS for a security token naming `partner`'s IdMS, then the jwt-bearer grant there.
 * @returns the partner access token (what that partner's migration API takes).
 * @throws IdmClientError as {@link migrate}.
 */
export async function accessAtPartner(o: PrimaryOptions, session: PrimaryLogin, partner: { issuer: string; ca?: string | string[] | undefined }): Promise<string> {
  const st = await exchangeToken({ primaryIssuer: o.primaryIssuer, accessToken: session.accessToken, partnerIssuer: partner.issuer, clientId: o.clientId, ...trustWith(o, o.primaryCa) });
  o.onStep?.('token-exchange', `security token for ${partner.issuer} (RFC 8693 token exchange)`);
  const pat = await jwtBearer({ partnerIssuer: partner.issuer, assertion: st.securityToken, scope: MIGRATION_SCOPE, clientId: o.clientId, ...trustWith(o, partner.ca) });
  o.onStep?.('jwt-bearer', `partner access token from ${partner.issuer} (RFC 7523 jwt-bearer)`);
  return pat.accessToken;
}

/**
 * The first three steps: login at the primary IdMS, token exchange, jwt-bearer at the partner IdMS.
 * @returns the partner access token (what the migration API takes) and the user's MC service ID.
 * @throws IdmClientError as {@link migrate}.
 */
export async function partnerAccess(o: MigrateOptions): Promise<{ partnerAccessToken: string; mcpttId: string }> {
  const session = await loginAtPrimary(o);
  return { partnerAccessToken: await accessAtPartner(o, session, { issuer: o.partnerIssuer, ca: o.partnerCa }), mcpttId: session.mcpttId };
}

/**
 * The configuration request to a partner MMS with that partner's access token (the precondition of §10.6.2.3).
 * @throws IdmClientError as {@link migrate}.
 */
export async function configureAtPartner(o: Pick<MigrateOptions, 'timeoutMs' | 'signal' | 'onStep'>, partner: { mms: string; ca?: string | string[] | undefined },
  partnerAccessToken: string): Promise<MigrationConfiguration> {
  const configuration = await requestMigration({ mms: partner.mms, accessToken: partnerAccessToken, ...trustWith(o, partner.ca) });
  o.onStep?.('configuration', `partner identities ${configuration.partner_impi} ${configuration.partner_impus.join(' ')} at ${configuration.registrar} until ${configuration.expires_at}`);
  return configuration;
}

/**
 * Runs the four steps.
 * @throws IdmClientError naming the step's failure (ERR_IDM_LOGIN for bad credentials, ERR_IDM_OAUTH with the
 *   server's `error`, e.g. `migration_not_allowed`).
 */
export async function migrate(o: MigrateOptions): Promise<Migration> {
  const access = await partnerAccess(o);
  const configuration = await configureAtPartner(o, { mms: o.partnerMms, ca: o.partnerCa }, access.partnerAccessToken);
  return { configuration, ...access };
}

/**
 * Ends configuration `id` of the user (`--end-only`): the first three steps for a fresh partner access token (the
 * partner MMS lets the same MC service user of the same primary system delete it), then `DELETE`.
 * @throws IdmClientError as {@link migrate}; `ERR_IDM_OAUTH` `not_found` for an unknown or already ended `id`.
 */
export async function endMigrationById(o: MigrateOptions, id: string): Promise<void> {
  const access = await partnerAccess(o);
  await endMigration({ mms: o.partnerMms, accessToken: access.partnerAccessToken, id, ...trustOf(o).partner });
  o.onStep?.('end', `migration configuration ${id} deleted at the partner MMS (and the binding at the primary MMS)`);
}
