/**
 * One running IdMS: store → users (CSV at start) → signing key → oidc-provider with the role's grant → HTTPS server
 * (login page first, then the provider) → optional admin API → optional metrics listener (`--metrics`: grants by
 * type and result, metrics.ts). HTTPS only: the issuer is an https URL and the server
 * never speaks plain HTTP (TS 33.180 §5.1.4.2: CSC-1 is protected with HTTPS). `close()` stops as every role does
 * (lib/lifecycle.ts): HTTPS server and admin API, then the store (an IdMS has no Diameter peers).
 */
import { randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:https';
import type { FastifyInstance } from 'fastify';
import type { Provider } from 'oidc-provider';
import { listenAdmin } from '../lib/admin/server.ts';
import { ensureAdminToken } from '../lib/admin/token.ts';
import { formatHostPort, type HostPort } from '../lib/config/address.ts';
import { ConfigFileError, readConfigFile } from '../lib/config/files.ts';
import { Teardown } from '../lib/lifecycle.ts';
import type { Logger } from '../lib/log.ts';
import { RoleTelemetry, type MetricsConfig } from '../lib/metrics/telemetry.ts';
import { openStore, type Store } from '../lib/store/store.ts';
import { createIdmsAdminApi } from './admin-api.ts';
import { MC_SERVICE_SCOPES, MIGRATION_SCOPE, type IdmsRole, type IdmsTtls } from './constants.ts';
import { isIdmsError } from './errors.ts';
import { loadSigningMaterial, loadTrustedCert, type TrustedCert } from './keys.ts';
import { createLoginHandler } from './login.ts';
import { idmsMetrics } from './metrics.ts';
import { createProvider, type ClientSpec } from './provider.ts';
import { UserRepo, parseUsersCsv } from './users.ts';

/** A trusted primary IdMS: its issuer URL and the signing certificate file(s) provisioned for it. */
export interface TrustedIssuerConfig {
  issuer: string;
  certFiles: string[];
}

/** Everything `mcx idms` configures. */
export interface IdmsConfig {
  role: IdmsRole;
  listen: HostPort;
  issuer: string;
  tls: { cert: string; key: string };
  signing: { key: string; cert: string };
  /** Audience of this IdMS's access tokens (see ProviderOptions.resource). */
  resource: string;
  clients: ClientSpec[];
  /** Primary: partner name → issuer URL. */
  partners: Map<string, string>;
  /** Partner: trusted primary IdMSs. */
  trusted: TrustedIssuerConfig[];
  store: string;
  stateDir: string;
  /** Tests only: a memory store without a journal. */
  ephemeral?: boolean;
  admin?: HostPort;
  adminTokenFile?: string;
  usersCsv?: string;
  ttls: IdmsTtls;
  /** `--metrics` (system label default: the role). */
  metrics?: MetricsConfig;
  logger: Logger;
}

/** A started IdMS. */
export interface RunningIdms {
  /** `https://host:port` as bound. */
  url: string;
  issuer: string;
  role: IdmsRole;
  adminUrl?: string;
  adminTokenPath?: string;
  store: Store;
  users: UserRepo;
  provider: Provider;
  /** Metrics and readiness. */
  telemetry: RoleTelemetry;
  /** `http://host:port` of the metrics listener (`--metrics`). */
  metricsUrl?: string;
  close(): Promise<void>;
}

/** The store key prefix of an IdMS role, shared with `mcx idms user … --store`. */
export function idmsNamespace(role: IdmsRole): string {
  return `idms:${role}:`;
}

async function cookieKeys(store: Store, ns: string): Promise<string[]> {
  // Shared through the store, so every process of this IdMS accepts the others' signed cookies.
  await store.setIfAbsent(`${ns}cookie-keys`, [randomBytes(32).toString('base64url')]);
  const keys = await store.get<string[]>(`${ns}cookie-keys`);
  if (!keys?.length) throw new Error('cookie keys missing from the store');
  return keys;
}

async function loadUsers(users: UserRepo, file: string, log: Logger): Promise<void> {
  try {
    const list = parseUsersCsv(await readConfigFile('users', file));
    for (const u of list) await users.add(u, { replace: true });
    log.info({ file, users: list.length }, 'users loaded from CSV');
  } catch (e) {
    if (isIdmsError(e)) throw new ConfigFileError(`--users ${file}: ${e.message}`);
    throw e;
  }
}

function listen(server: Server, at: HostPort): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(at.port, at.host, () => {
      server.off('error', reject);
      const a = server.address();
      resolve(typeof a === 'object' && a ? a.port : at.port);
    });
  });
}

/**
 * Starts the IdMS.
 * @throws ConfigFileError for unreadable or invalid files (keys, certificates, CSV); StoreError when the store
 *   cannot be opened; listen errors as they come.
 */
export async function startIdms(c: IdmsConfig): Promise<RunningIdms> {
  const log = c.logger;
  // One after the other, so a configuration with several bad files always names the first one.
  const tlsCert = await readConfigFile('tls-cert', c.tls.cert);
  const tlsKey = await readConfigFile('tls-key', c.tls.key);
  const signing = await loadSigningMaterial(c.signing.key, c.signing.cert);
  const trusted = new Map<string, TrustedCert[]>();
  for (const t of c.trusted) trusted.set(t.issuer, await Promise.all(t.certFiles.map(loadTrustedCert)));
  const teardown = new Teardown({ logger: log, name: 'IdMS' });
  return teardown.guard(async () => {
    const store = await openStore(c.store, { stateDir: c.stateDir, ephemeral: c.ephemeral ?? false, logger: log.child({ component: 'store' }) });
    teardown.add('store', () => store.close());
    const ns = idmsNamespace(c.role);
    const users = new UserRepo(store, ns);
    if (c.usersCsv !== undefined) await loadUsers(users, c.usersCsv, log);
    const provider = createProvider({
      role: c.role, issuer: c.issuer, signing, store, namespace: ns, users, clients: c.clients, resource: c.resource, ttls: c.ttls,
      cookieKeys: await cookieKeys(store, ns), logger: log, partners: c.partners,
      partnerScopes: [MIGRATION_SCOPE, ...MC_SERVICE_SCOPES],
      ...(c.role === 'partner' ? { trust: { trusted, audience: c.issuer, replay: { store, prefix: `${ns}jti:` } } } : {}),
    });
    const telemetry = new RoleTelemetry('idms', c.metrics?.system ?? c.role);
    idmsMetrics(telemetry.metrics, provider);
    const login = createLoginHandler({ provider, users, resource: c.resource, store, namespace: ns, logger: log });
    const callback = provider.callback();
    const server = createServer({ cert: tlsCert, key: tlsKey, minVersion: 'TLSv1.2' }, (req, res) => {
      void (async () => {
        if (!(await login(req, res))) await callback(req, res);
      })().catch((e: unknown) => {
        log.error({ err: (e as Error).message, url: req.url?.split('?')[0] }, 'request failed');
        if (!res.headersSent) res.writeHead(500, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ error: 'server_error', error_description: 'internal error' }));
      });
    });
    teardown.add('listeners', () => new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeIdleConnections();
      setTimeout(() => server.closeAllConnections(), 2000).unref();
    }));
    const port = await listen(server, c.listen);
    const url = `https://${formatHostPort({ host: c.listen.host, port })}`;

    let adminUrl: string | undefined;
    let adminTokenPath: string | undefined;
    if (c.admin) {
      const { token, path } = await ensureAdminToken({
        stateDir: c.stateDir, logger: log, ...(c.adminTokenFile === undefined ? {} : { tokenFile: c.adminTokenFile }),
      });
      const admin: FastifyInstance = createIdmsAdminApi({ users, token, logger: log, tls: { cert: tlsCert, key: tlsKey } });
      teardown.add('listeners', () => admin.close());
      adminUrl = await listenAdmin(admin, c.admin, true, log);
      adminTokenPath = path;
    }
    const metricsUrl = await telemetry.serve(c.metrics?.listen, teardown, log);
    log.info({ url, role: c.role, issuer: c.issuer, resource: c.resource, admin: adminUrl, metrics: metricsUrl, store: store.kind, kid: signing.kid,
      partners: Object.fromEntries(c.partners), trusted_issuers: [...trusted.keys()] }, 'IdMS ready');
    return {
      url, issuer: c.issuer, role: c.role, store, users, provider, telemetry, ...(metricsUrl ? { metricsUrl } : {}),
      ...(adminUrl === undefined ? {} : { adminUrl }), ...(adminTokenPath === undefined ? {} : { adminTokenPath }),
      close: () => teardown.run(),
    };
  });
}
