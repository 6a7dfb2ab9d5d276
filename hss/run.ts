/**
 * The primary HSS as one running thing (DESIGN §2, table row `hss/`): store → subscribers (CSV loaded at start) →
 * Cx handlers on a {@link DiameterNode} (TCP, or mutual TLS) → admin API (HTTP, or HTTPS with the same certificate) →
 * metrics listener (`--metrics`; the metrics are also at the admin API's `/metrics`).
 * `close()` stops as every role does (lib/lifecycle.ts): admin API and Diameter listener, DPR to every peer (RFC 6733
 * §5.4), store.
 */
import type { FastifyInstance } from 'fastify';
import { listenAdmin } from '../lib/admin/server.ts';
import { ensureAdminToken } from '../lib/admin/token.ts';
import type { HostPort } from '../lib/config/address.ts';
import { formatHostPort } from '../lib/config/address.ts';
import { Teardown } from '../lib/lifecycle.ts';
import { CxCommand, CX_APPLICATION_ID } from '../lib/diameter/cx/index.ts';
import { CX_APPLICATION, DiameterNode } from '../lib/diameter/node.ts';
import type { Logger } from '../lib/log.ts';
import { observeDiameter } from '../lib/metrics/diameter.ts';
import { RoleTelemetry, type MetricsConfig } from '../lib/metrics/telemetry.ts';
import type { MessageTrace } from '../lib/trace/types.ts';
import { openStore, type Store } from '../lib/store/store.ts';
import { ConfigFileError, readConfigFile, readTlsFiles } from '../lib/config/files.ts';
import { createAdminApi } from './admin-api.ts';
import { importSubscriberCsv } from './csv.ts';
import { hssMetrics } from './metrics.ts';
import { DEFAULT_MAX_AUTH_ITEMS, createCxHandlers, type CxContext } from './server.ts';
import { ServingRegistry } from './serving.ts';
import { HssStats } from './stats.ts';
import { SubscriberError, SubscriberRepo } from './subscribers.ts';
import { VectorIssuer, type RandPolicy } from './vectors.ts';

/** Everything `mcx hss` configures. */
export interface HssConfig {
  listen: HostPort;
  originHost: string;
  realm: string;
  /** CSV loaded (with replace) at start. */
  subscribersCsv?: string;
  /** `memory`, `redis`, or a redis:// / rediss:// URL. */
  store: string;
  stateDir: string;
  /** Paths of the PEM files: Diameter mutual TLS and admin HTTPS. */
  tls?: { cert: string; key: string; ca: string[] };
  randPolicy: RandPolicy;
  admin: HostPort;
  adminTokenFile?: string;
  maxAuthItems?: number;
  /** Diameter identities of the primary MMS (`--mms-host`; default `mms.<realm>`): their requests are the dynamic path. */
  mmsHosts?: string[];
  /** `--metrics` (system label default `primary`). */
  metrics?: MetricsConfig;
  /** Records every Diameter message (`--trace`, lib/trace); shared with other roles of the process, not closed here. */
  trace?: MessageTrace;
  logger: Logger;
}

/** A started HSS. */
export interface RunningHss {
  /** `tcp://host:port` or `tls://host:port`. */
  diameterUrl: string;
  /** `http://host:port` or `https://host:port`. */
  adminUrl: string;
  /** Where the admin token lives. */
  adminTokenPath: string;
  node: DiameterNode;
  store: Store;
  ctx: CxContext;
  /** Metrics and readiness. */
  telemetry: RoleTelemetry;
  /** `http://host:port` of the metrics listener (`--metrics`). */
  metricsUrl?: string;
  /** Graceful stop (idempotent). */
  close(): Promise<void>;
}

/** Raised for problems in the configuration's files (CSV, TLS); the CLI turns it into exit status 2. */
export class HssConfigError extends ConfigFileError {
  override readonly name = 'HssConfigError';
}

/**
 * Starts the HSS.
 * @throws ConfigFileError (HssConfigError for the CSV) for unreadable or invalid files; StoreError when the store cannot be opened (not durable,
 *   locked, unreachable); listen errors (EADDRINUSE) as they come.
 */
export async function startHss(config: HssConfig): Promise<RunningHss> {
  const log = config.logger;
  const tls = config.tls ? await readTlsFiles(config.tls) : undefined;
  const teardown = new Teardown({ logger: log, name: 'HSS' });
  return teardown.guard(async () => {
    const store = await openStore(config.store, { stateDir: config.stateDir, keepsSqn: true, logger: log.child({ component: 'store' }) });
    teardown.add('store', () => store.close());
    const stats = new HssStats();
    const subscribers = new SubscriberRepo(store, { realm: config.realm, logger: log.child({ component: 'subscribers' }) });
    const telemetry = new RoleTelemetry('hss', config.metrics?.system ?? 'primary');
    const info = { origin_host: config.originHost, realm: config.realm, rand_policy: config.randPolicy, store: store.kind };
    const timing = hssMetrics(telemetry.metrics, { stats: () => ({ ...info, ...stats.snapshot() }), subscribers });
    if (config.subscribersCsv !== undefined) await loadCsv(subscribers, config.subscribersCsv, log);
    const ctx: CxContext = {
      originHost: config.originHost, originRealm: config.realm, subscribers, serving: new ServingRegistry(store), stats,
      logger: log.child({ component: 'cx' }), maxAuthItems: config.maxAuthItems ?? DEFAULT_MAX_AUTH_ITEMS,
      ...(config.mmsHosts?.length ? { mmsHosts: config.mmsHosts } : {}),
      vectors: new VectorIssuer({ store, stats, randPolicy: config.randPolicy, logger: log.child({ component: 'vectors' }), timing }),
    };
    // The node validates every request against the dictionary before a handler runs.
    const cx = createCxHandlers(ctx, { validate: false });
    const node = new DiameterNode({
      originHost: config.originHost, originRealm: config.realm, applications: [CX_APPLICATION],
      logger: log.child({ component: 'diameter' }), ...(config.trace ? { trace: config.trace } : {}),
    });
    observeDiameter(node, telemetry.metrics);
    // The handlers get the authenticated peer: what the allowed_partners check reads realm and path from.
    node.handle(CX_APPLICATION_ID, CxCommand.MAR, (req, c) => cx.mar(req, c.peer)).handle(CX_APPLICATION_ID, CxCommand.SAR, (req, c) => cx.sar(req, c.peer))
      .handle(CX_APPLICATION_ID, CxCommand.UAR, (req, c) => cx.uar(req, c.peer)).handle(CX_APPLICATION_ID, CxCommand.LIR, (req, c) => cx.lir(req, c.peer));
    teardown.addDiameter(node);
    const bound = await node.listen({ ...config.listen, ...(tls ? { tls } : {}) });

    const { token, path: adminTokenPath } = await ensureAdminToken({
      stateDir: config.stateDir, logger: log, ...(config.adminTokenFile === undefined ? {} : { tokenFile: config.adminTokenFile }),
    });
    const admin: FastifyInstance = createAdminApi({
      subscribers, stats, token, logger: log, ...(tls ? { tls: { cert: tls.cert, key: tls.key } } : {}), info, metrics: telemetry.metrics,
    });
    teardown.add('listeners', () => admin.close());
    const adminUrl = await listenAdmin(admin, config.admin, tls !== undefined, log);

    const metricsUrl = await telemetry.serve(config.metrics?.listen, teardown, log);

    const diameterUrl = `${tls ? 'tls' : 'tcp'}://${formatHostPort(bound)}`;
    log.info({ diameter: diameterUrl, admin: adminUrl, metrics: metricsUrl, store: store.kind, rand_policy: config.randPolicy }, 'HSS ready');
    return {
      diameterUrl, adminUrl, adminTokenPath, node, store, ctx, telemetry, ...(metricsUrl ? { metricsUrl } : {}),
      close: () => teardown.run(),
    };
  });
}

async function loadCsv(repo: SubscriberRepo, path: string, log: Logger): Promise<void> {
  const text = await readConfigFile('subscribers', path);
  try {
    const recs = await importSubscriberCsv(repo, text, { replace: true });
    log.info({ file: path, subscribers: recs.length }, 'subscribers loaded from CSV');
  } catch (e) {
    if (e instanceof SubscriberError) throw new HssConfigError(`--subscribers ${path}:\n  ${e.message.split('\n').join('\n  ')}`);
    throw e;
  }
}
