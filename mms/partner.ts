/**
 * The partner MMS of TS 23.280 §10.6.2.2 and §10.6.2.3 as one running thing: store → static mappings (CSV at start)
 * → the translation agent (agent.ts) as the Cx server of the partner SIP core and Cx client of the primary system
 * (mutual TLS against the primary CA, 1 s per request: unreachable or late → 3002) → admin API for the mappings →
 * migration configuration API (dynamic bindings). A dynamic binding is looked up before the static mappings and its
 * requests go by the `primary-mms` path (the primary MMS of its realm), static ones by the realm route (the relay).
 * When a mapping or binding ends, the registrar that served it gets a Registration-Termination-Request (rtr.ts).
 * Metrics (metrics.ts) at the admin API's `/metrics` and on `--metrics`; ready while its routes are up.
 */
import { ensureAdminToken } from '../lib/admin/token.ts';
import { listenAdmin } from '../lib/admin/server.ts';
import type { FastifyInstance } from 'fastify';
import { ConfigFileError, readConfigFile, type TlsPem } from '../lib/config/files.ts';
import type { DiameterNode } from '../lib/diameter/node.ts';
import type { Logger } from '../lib/log.ts';
import { Teardown } from '../lib/lifecycle.ts';
import { RoleTelemetry } from '../lib/metrics/telemetry.ts';
import { openStore } from '../lib/store/store.ts';
import type { Store } from '../lib/store/store.ts';
import { createMmsAdminApi } from './admin-api.ts';
import { createTranslationAgent } from './agent.ts';
import { BindingMappingSource } from './bindings.ts';
import { parseAgentConfig } from './config.ts';
import { formatListening, startCxNode } from './cx-node.ts';
import { formatProblem, isMmsError } from './errors.ts';
import { importMappingsCsv } from './mappings-csv.ts';
import { StoreMappingSource, chainMappingSources } from './mappings.ts';
import { partnerMmsMetrics } from './metrics.ts';
import { createMigrationApi, tokenKeyOf } from './migration-api.ts';
import { listenMigration } from './migration-http.ts';
import { RegistrationTerminations } from './rtr.ts';
import { MmsStats } from './stats.ts';
import type { MigrationApiConfig, PartnerMmsConfig, RunningMms } from './run.ts';

/** The named path of dynamic bindings: toward the primary MMS of their realm. */
export const PRIMARY_MMS_PATH = 'primary-mms';

async function startMigrationApi(config: PartnerMmsConfig, m: MigrationApiConfig, store: Store, pem: TlsPem | undefined, log: Logger, stats: MmsStats,
  onEnded: (partnerImpi: string, reason: string) => Promise<void>): Promise<{ api: FastifyInstance; url: string }> {
  if (!pem) throw new ConfigFileError('--migration-api needs --tls-cert, --tls-key and --tls-ca (it is HTTPS only)');
  // --tls-ca lists the own system's CA first: a primary MMS is trusted on the other systems' CAs only.
  const others = pem.ca.slice(1);
  const caByRealm = new Map<string, string[]>();
  for (const sys of config.primarySystems ?? []) {
    if (sys.caFiles) caByRealm.set(sys.realm, await Promise.all(sys.caFiles.map((f) => readConfigFile('primary-system ca', f))));
    else if (others.length === 0) throw new ConfigFileError(`--primary-system ${sys.realm}: no CA for its binding API (give ca=FILE, or its CA after the own one in --tls-ca)`);
  }
  const api = createMigrationApi({
    store, domain: config.realm, registrar: m.registrar, ttlS: m.ttlS, primarySystems: config.primarySystems ?? [],
    token: { issuer: m.tokenIssuer, key: tokenKeyOf(await readConfigFile('token-cert', m.tokenCertFile), m.tokenCertFile), audience: m.tokenAudience },
    tls: { cert: pem.cert, key: pem.key }, clientTls: { cert: pem.cert, key: pem.key, ca: others }, caOf: (sys) => caByRealm.get(sys.realm) ?? others,
    logger: log, stats, onEnded,
  });
  try {
    return { api, url: await listenMigration(api, m.listen) };
  } catch (e) {
    await api.close();
    throw e;
  }
}

async function loadMappings(store: Store, path: string, log: Logger): Promise<void> {
  const text = await readConfigFile('mappings', path);
  try {
    const r = await importMappingsCsv(store, text);
    log.info({ file: path, mappings: r.mappings, impus: r.impus }, 'static mappings loaded from CSV');
  } catch (e) {
    if (isMmsError(e, 'ERR_MMS_INPUT') || isMmsError(e, 'ERR_MMS_CONFLICT')) {
      const lines = e.problems.length ? e.problems.map(formatProblem) : [e.message];
      throw new ConfigFileError(`--mappings ${path}:\n  ${lines.join('\n  ')}`);
    }
    throw e;
  }
}

/**
 * Starts the partner MMS.
 * @throws ConfigFileError for unreadable TLS files or a bad mapping file (every problem by line, nothing loaded);
 *   StoreError when the store cannot be opened; listen errors (EADDRINUSE) as they come.
 */
export async function startPartnerMms(config: PartnerMmsConfig): Promise<RunningMms> {
  const log = config.logger;
  const self = parseAgentConfig({
    originHost: config.originHost, originRealm: config.realm, sipUri: config.sipUri ?? `sip:${config.originHost}`,
    topologyHiding: config.topologyHiding, ...(config.timeoutMs === undefined ? {} : { primaryTimeoutMs: config.timeoutMs }),
  });
  const teardown = new Teardown({ logger: log, name: 'partner MMS' });
  return teardown.guard(async () => {
    const store = await openStore(config.store, { stateDir: config.stateDir, logger: log.child({ component: 'store' }) });
    teardown.add('store', () => store.close());
    if (config.mappingsCsv !== undefined) await loadMappings(store, config.mappingsCsv, log);

    const stats = new MmsStats();
    const statsRecord = (): Record<string, unknown> => ({ store: store.kind, origin_host: config.originHost, ...stats.snapshot() });
    const telemetry = new RoleTelemetry('mms', config.metrics?.system ?? 'partner');
    partnerMmsMetrics(telemetry.metrics, { stats: statsRecord, store });
    let node: DiameterNode | undefined;
    let routeOf: (m: { kind: 'static' | 'dynamic'; primaryRealm: string }) => readonly string[] = () => [];
    const mappings = chainMappingSources(new BindingMappingSource(store), new StoreMappingSource(store));
    const rtr = new RegistrationTerminations({
      store, node: () => node, timeoutMs: self.primaryTimeoutMs, logger: log, stats,
      resolves: async (impi) => (await mappings.byPartnerImpi(impi)) !== undefined,
    });
    teardown.add('peers', async () => rtr.close());
    const agent = createTranslationAgent({
      self, mappings, primaryTimeoutMs: self.primaryTimeoutMs, logger: log, stats,
      onServed: (m, registrar, impus) => rtr.served(m.partnerImpi, registrar, impus, m.expiresAt),
      // Always an explicit route: a realm with no route of its own must not fall back to any peer of that realm (which
      // may be the primary MMS for a static mapping, or the relay for a dynamic binding).
      forward: (req, o) => (node as DiameterNode).request(req, { timeoutMs: o.timeoutMs, route: routeOf(o.mapping) }),
      sessionIds: { next: () => (node as DiameterNode).nextSessionId() },
    });
    const paths = { [PRIMARY_MMS_PATH]: (config.primarySystems ?? []).map((s) => ({ realm: s.realm, peers: s.cx })) };
    const cx = await startCxNode({ ...config, paths }, (n) => {
      node = n;
      return { mar: agent.handle, sar: agent.handle };
    }, telemetry);
    teardown.addDiameter(cx.node);
    routeOf = (m) => (m.kind === 'dynamic' ? cx.path(PRIMARY_MMS_PATH, m.primaryRealm) : cx.route(m.primaryRealm));
    const pem = cx.tls;

    let admin: { adminUrl: string; adminTokenPath: string } | undefined;
    if (config.admin) {
      const { token, path } = await ensureAdminToken({
        stateDir: config.stateDir, logger: log, ...(config.adminTokenFile === undefined ? {} : { tokenFile: config.adminTokenFile }),
      });
      const api = createMmsAdminApi({
        store, token, logger: log, stats: statsRecord, metrics: telemetry.metrics,
        onRemoved: async (impis) => void (await Promise.all(impis.map((impi) => rtr.terminate(impi, 'static mapping removed')))),
        ...(pem ? { tls: { cert: pem.cert, key: pem.key } } : {}),
      });
      teardown.add('listeners', () => api.close());
      admin = { adminUrl: await listenAdmin(api, config.admin, pem !== undefined, log), adminTokenPath: path };
    }

    let migrationUrl: string | undefined;
    if (config.migration) {
      const m = await startMigrationApi(config, config.migration, store, pem, log, stats, (impi, reason) => rtr.terminate(impi, reason));
      teardown.add('listeners', () => m.api.close());
      migrationUrl = m.url;
    }

    const metricsUrl = await telemetry.serve(config.metrics?.listen, teardown, log);
    log.info({ ...formatListening({ ...config, paths }, cx.diameterUrl), admin: admin?.adminUrl, migration: migrationUrl, metrics: metricsUrl, store: store.kind, topologyHiding: self.topologyHiding }, 'partner MMS ready');
    return {
      role: 'partner', diameterUrl: cx.diameterUrl, node: cx.node, store, ...admin, ...(migrationUrl ? { migrationUrl } : {}),
      telemetry, ...(metricsUrl ? { metricsUrl } : {}),
      close: () => teardown.run(),
    };
  });
}
