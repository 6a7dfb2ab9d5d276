/**
 * The registrar as one running thing (DESIGN §2, row `registrar/`): store → Diameter node with the HSS peers (which
 * may end an identity's registrations with a Registration-Termination-Request: rtr.ts) → SIP stack (UDP, TCP, TLS)
 * whose requests go to the REGISTER state machine → optional admin API → optional metrics listener (`--metrics`;
 * readiness: an open HSS peer). REGISTER is handled (register.ts), SUBSCRIBE to the reg event package too
 * (reg-event.ts), OPTIONS answered 200 (or 416/420 like a REGISTER), other methods of RFC 3261 and its extensions 405,
 * methods it does not recognise 501; malformed requests are answered 400 by lib/sip before they get here. `close()`
 * stops as every role does (lib/lifecycle.ts): SIP listeners and admin API (no new work), DPR to the peers, store.
 */
import type { FastifyInstance } from 'fastify';
import { listenAdmin } from '../lib/admin/server.ts';
import { ensureAdminToken } from '../lib/admin/token.ts';
import { formatHostPort } from '../lib/config/address.ts';
import { readTlsFiles, type TlsPem } from '../lib/config/files.ts';
import { Teardown } from '../lib/lifecycle.ts';
import { CX_APPLICATION_ID, CxCommand } from '../lib/diameter/cx/index.ts';
import { CX_APPLICATION, DiameterNode } from '../lib/diameter/node.ts';
import { observeDiameter } from '../lib/metrics/diameter.ts';
import { openPeerCheck } from '../lib/metrics/readiness.ts';
import { RoleTelemetry } from '../lib/metrics/telemetry.ts';
import { parseUri } from '../lib/sip/headers/uri.ts';
import type { SipRequest } from '../lib/sip/message.ts';
import { SIP_METHODS } from '../lib/sip/methods.ts';
import { SipStack, type BoundAddress, type RequestHandler } from '../lib/sip/stack.ts';
import type { ServerTransaction } from '../lib/sip/transaction/server.ts';
import { tlsServerOptions } from '../lib/sip/transport/tls.ts';
import { hostForm } from '../lib/sip/transport/types.ts';
import { openStore, type Store } from '../lib/store/store.ts';
import { workerSlot } from '../lib/workers/group.ts';
import { onSiblingMessage } from '../lib/workers/messages.ts';
import { createRegistrarAdminApi } from './admin-api.ts';
import { BindingStore } from './bindings.ts';
import { ChallengeStore } from './challenges.ts';
import { MAX_CX_BATCH_MS, resolveConfig, type RegistrarConfig, type ResolvedRegistrarConfig, type SipListen } from './config.ts';
import { CxClient } from './cx.ts';
import { RegistrarError } from './errors.ts';
import { SUPPORTED_OPTION_TAGS, checkExtensions } from './extensions.ts';
import { IssuedNonces } from './issued-nonces.ts';
import { RegistrarMetrics } from './metrics.ts';
import { PendingChallenges } from './pending-challenges.ts';
import { handleRegister, type RegisterContext } from './register.ts';
import { REG_EVENT, REG_EVENT_TOPIC, RegEvent } from './reg-event.ts';
import { RegSubscriptions } from './reg-subscriptions.ts';
import { RTR_TOPIC, createRtrHandler, endImpis } from './rtr.ts';
import { AUTH_FAILED_TOPIC, SourceGuard } from './source-guard.ts';
import { RegistrarStats } from './stats.ts';
import { MAX_AUTH_VECTORS, VectorCache } from './vector-cache.ts';

/** Methods the registrar answers. */
const ALLOWED_METHODS: readonly string[] = ['REGISTER', 'OPTIONS', 'SUBSCRIBE'];

/** The rest get 405 (or 501) with this list (RFC 3261 §21.4.6). */
export const ALLOW = ALLOWED_METHODS.join(', ');

/**
 * Methods the registrar recognises but does not allow: the stack's known methods ({@link SIP_METHODS}) but those of
 * {@link ALLOW}. They get `405` with Allow; a method outside this list is not recognised and gets `501 Not
 * Implemented` (RFC 3261 §8.2.1; RFC 4475 §3.1.1.2, §3.1.1.5).
 */
export const KNOWN_METHODS: ReadonlySet<string> = new Set(SIP_METHODS.filter((m) => !ALLOWED_METHODS.includes(m)));

/** Where a started registrar can be reached. */
export interface RegistrarAddresses {
  /** Bound SIP listeners. */
  sip: BoundAddress[];
  /** `udp://host:port` per listener, in configuration order. */
  sipUrls: string[];
  /** HSS peers as configured (`host:port`). */
  diameterPeers: string[];
  /** `http(s)://host:port` of the admin API, when configured. */
  admin?: string;
  /** `http://host:port` of the metrics listener, when configured. */
  metrics?: string;
}

/** A started registrar. */
export interface RunningRegistrar {
  addresses: RegistrarAddresses;
  /** The registrar's SIP URI (Server-Name of MAR/SAR). */
  serverName: string;
  /** Where the admin token lives, when the admin API runs. */
  adminTokenPath?: string;
  store: Store;
  node: DiameterNode;
  stack: SipStack;
  /** The registrar's own counters (also in the admin API's stats and metrics). */
  stats: RegistrarStats;
  /** Metrics and readiness. */
  telemetry: RoleTelemetry;
  /** Graceful stop (idempotent). */
  close(): Promise<void>;
}

function checkConfig(c: ResolvedRegistrarConfig): void {
  if (c.sip.length === 0) throw new RegistrarError('ERR_REGISTRAR_CONFIG', 'at least one SIP listener is needed');
  if (c.hss.length === 0) throw new RegistrarError('ERR_REGISTRAR_CONFIG', 'at least one HSS peer is needed');
  if (!c.tls && c.sip.some((s) => s.transport === 'tls')) throw new RegistrarError('ERR_REGISTRAR_CONFIG', 'a tls: SIP listener needs TLS files');
  if (!c.tls && c.diameterTls) throw new RegistrarError('ERR_REGISTRAR_CONFIG', 'Diameter TLS needs TLS files');
  if (c.minExpires > c.maxExpires) throw new RegistrarError('ERR_REGISTRAR_CONFIG', 'min-expires is above max-expires');
  const positive = {
    banWindowMs: c.banWindowMs, banMs: c.banMs, rateLimit: c.rateLimit, rateBurst: c.rateBurst, maxPendingChallenges: c.maxPendingChallenges,
    maxTrackedSources: c.maxTrackedSources, maxConnections: c.maxConnections, maxConnectionsPerSource: c.maxConnectionsPerSource,
    firstMessageTimeoutMs: c.firstMessageTimeoutMs, authVectorLifetimeMs: c.authVectorLifetimeMs,
  };
  for (const [name, v] of Object.entries(positive)) {
    if (!Number.isFinite(v) || v <= 0) throw new RegistrarError('ERR_REGISTRAR_CONFIG', `${name} must be a positive number, got ${v}`);
  }
  if (!Number.isInteger(c.banAfter) || c.banAfter < 0) throw new RegistrarError('ERR_REGISTRAR_CONFIG', `banAfter must be an integer ≥ 0, got ${c.banAfter}`);
  if (!Number.isInteger(c.cxBatchMs) || c.cxBatchMs < 0 || c.cxBatchMs > MAX_CX_BATCH_MS) {
    throw new RegistrarError('ERR_REGISTRAR_CONFIG', `cxBatchMs must be an integer in 0…${MAX_CX_BATCH_MS}, got ${c.cxBatchMs}`);
  }
  if (!Number.isInteger(c.authVectors) || c.authVectors < 1 || c.authVectors > MAX_AUTH_VECTORS) {
    throw new RegistrarError('ERR_REGISTRAR_CONFIG', `authVectors must be an integer in 1…${MAX_AUTH_VECTORS}, got ${c.authVectors}`);
  }
}

/** The stack's listeners from the configured ones. */
function listeners(sip: readonly SipListen[], tls: TlsPem | undefined): ConstructorParameters<typeof SipStack>[0] {
  const on = (t: SipListen['transport']) => sip.filter((s) => s.transport === t).map(({ host, port }) => ({ host, port }));
  return {
    udp: on('udp'),
    tcp: on('tcp'),
    tls: tls ? on('tls').map((l) => ({ ...l, options: tlsServerOptions({ cert: tls.cert, key: tls.key, ca: tls.ca }) })) : [],
  };
}

/** `<sip:orig@host[:port];lr>` from the registrar's SIP URI. */
function serviceRouteOf(serverName: string): string {
  const u = parseUri(serverName);
  if (u.kind !== 'sip') throw new RegistrarError('ERR_REGISTRAR_CONFIG', `server name ${serverName} is not a SIP URI`);
  return `<${u.scheme}:orig@${u.host}${u.port === undefined ? '' : `:${u.port}`};lr>`;
}

/**
 * Answers what is not a REGISTER, in the order of RFC 3261 §8.2: CANCEL by §9.2 (200 when the transaction it names is
 * still there, else 481; it changes nothing for a REGISTER or an OPTIONS), the method (§8.2.1: 405 for a known method,
 * 501 for an unknown one, both with Allow), then for OPTIONS the Request-URI scheme (§8.2.2.1: 416, RFC 4475
 * §3.3.2/§3.3.3) and the required extensions (§8.2.2.3: 420 with Unsupported, RFC 4475 §3.3.5), then 200 (§11.2).
 */
function answerOther(stack: SipStack, req: SipRequest, tx: ServerTransaction): void {
  if (req.method === 'CANCEL') {
    tx.reply(stack.cancelStatus(req, tx));
    return;
  }
  if (req.method !== 'OPTIONS') {
    tx.reply(KNOWN_METHODS.has(req.method) ? 405 : 501, { headers: [['Allow', ALLOW]] });
    return;
  }
  if (req.requestUri().kind !== 'sip') {
    tx.reply(416, { reason: 'Unsupported URI Scheme' });
    return;
  }
  const ext = checkExtensions(req, tx.flow);
  if (!ext.ok) {
    tx.reply(420, { headers: [['Unsupported', ext.unsupported.join(', ')]] });
    return;
  }
  tx.reply(200, { headers: [['Allow', ALLOW], ['Allow-Events', REG_EVENT], ['Supported', SUPPORTED_OPTION_TAGS.join(', ')]] });
}

/**
 * The source-address checks every request passes before its handler (source-guard.ts): a REGISTER from a banned
 * address gets 403 (or, with ban action `drop`, nothing: its transaction ends unanswered, so no state is held for
 * it), without a MAR; a request over the address's rate gets 503 with Retry-After.
 * @returns whether the request goes on.
 */
function admit(guard: SourceGuard, stats: RegistrarStats, req: SipRequest, tx: ServerTransaction): boolean {
  const source = tx.flow.remoteAddress;
  if (req.method === 'REGISTER' && guard.banned(source)) {
    stats.inc('banned_requests');
    if (guard.banAction === 'drop') tx.terminate('dropped');
    else tx.reply(403, { reason: 'Forbidden (Too Many Failed Authentications)' });
    return false;
  }
  const retryAfter = guard.admitRate(source);
  if (retryAfter > 0) {
    tx.reply(503, { reason: 'Service Unavailable (Rate Limit)', headers: [['Retry-After', String(retryAfter)]] });
    return false;
  }
  return true;
}

const isString = (x: unknown): x is string => typeof x === 'string' && x.length > 0 && x.length <= 1024;

/**
 * In a worker group (`--workers N`, lib/workers): what the sibling workers tell this one about state each keeps in
 * memory — a failed authentication (toward the same ban: source-guard.ts) and a Registration-Termination-Request
 * (the identity's kept vectors and pending challenges end here too: rtr.ts), and a registration change whose reg
 * event subscribers are on a connection of this worker (reg-event.ts). Nothing outside a group.
 */
function listenToSiblings(ctx: RegisterContext, teardown: Teardown): void {
  const offs = [
    onSiblingMessage(AUTH_FAILED_TOPIC, (p, from) => {
      const { source, impi, at } = (p ?? {}) as { source?: unknown; impi?: unknown; at?: unknown };
      if (isString(source) && isString(impi)) ctx.guard.authFailedElsewhere(source, impi, typeof at === 'number' && Number.isFinite(at) ? at : Date.now(), from);
    }),
    onSiblingMessage(REG_EVENT_TOPIC, (p) => {
      const { aor, cause } = (p ?? {}) as { aor?: unknown; cause?: unknown };
      if (isString(aor) && (cause === 'register' || cause === 'rtr' || cause === 'expiry')) ctx.regEvent?.changed(aor, cause, true);
    }),
    onSiblingMessage(RTR_TOPIC, (p) => {
      const impis = (p as { impis?: unknown } | undefined)?.impis;
      if (!Array.isArray(impis) || !impis.every(isString)) return;
      endImpis(ctx, impis).then((ended) => ctx.log.debug({ impis, vectors_dropped: ended.vectors, challenges_ended: ended.challenges },
        'Registration-Termination-Request handled by a sibling worker: kept vectors and pending challenges ended here too'),
      (err: unknown) => ctx.log.warn({ impis, err: (err as Error).message }, 'could not end the challenges of an identity a sibling worker terminated'));
    }),
  ];
  teardown.add('listeners', async () => {
    for (const off of offs) off();
  });
}

/**
 * Starts the registrar: store, Diameter peers (waiting up to `diameterTimeoutMs`·2 for the first, so a REGISTER just
 * after start does not meet "no open peer"), SIP listeners, admin API.
 * @throws RegistrarError ERR_REGISTRAR_CONFIG; ConfigFileError for unreadable TLS files; StoreError; listen errors.
 */
export async function startRegistrar(config: RegistrarConfig): Promise<RunningRegistrar> {
  const c = resolveConfig(config);
  checkConfig(c);
  const log = c.logger;
  const tls = c.tls ? await readTlsFiles(c.tls) : undefined;
  const teardown = new Teardown({ logger: log, name: 'registrar' });
  return teardown.guard(async () => {
    const store = await openStore(c.store, { stateDir: c.stateDir, ephemeral: c.ephemeralStore, now: c.now, logger: log.child({ component: 'store' }) });
    teardown.add('store', () => store.close());
    const node = new DiameterNode({
      originHost: c.originHost, originRealm: c.realm, applications: [CX_APPLICATION], logger: log.child({ component: 'diameter' }),
      timeouts: { requestMs: c.diameterTimeoutMs }, writeHoldMs: c.cxBatchMs, ...(c.reconnect ? { reconnect: c.reconnect } : {}), ...(c.trace ? { trace: c.trace } : {}),
    });
    teardown.addDiameter(node);
    const telemetry = new RoleTelemetry('registrar', c.metrics?.system ?? 'partner');
    observeDiameter(node, telemetry.metrics);
    telemetry.ready.add('hss-peer', openPeerCheck(node, `HSS peer (${c.hss.map(formatHostPort).join(', ')})`));
    for (const peer of c.hss) node.addPeer({ ...peer, ...(c.diameterTls && tls ? { tls } : {}) });

    const route: { dispatch?: RequestHandler } = {};
    const stack = new SipStack({
      ...listeners(c.sip, tls), logger: log.child({ component: 'sip' }), ...(c.sipTimers ? { timers: c.sipTimers } : {}),
      maxConnections: c.maxConnections, maxConnectionsPerSource: c.maxConnectionsPerSource, firstMessageTimeoutMs: c.firstMessageTimeoutMs,
      ...(c.trace ? { trace: c.trace } : {}),
      // Listeners bind one after the other: a request on the first before the handler exists is asked to retry.
      onRequest: (req, tx) => (route.dispatch ? route.dispatch(req, tx) : void tx.reply(503, { headers: [['Retry-After', '1']] })),
    });
    teardown.add('listeners', () => stack.stop());
    const bound = await stack.start();
    const first = bound[0] as BoundAddress;
    const serverName = c.serverName ?? `sip:${c.originHost}:${first.port}`;
    const bindings = new BindingStore(store);
    const stats = new RegistrarStats();
    const slot = workerSlot();
    // In a worker group the counters are this worker's: the answer says which one it is (labels of the info metric).
    const statsRecord = (): Record<string, unknown> => ({
      store: store.kind, server_name: serverName, ...stack.stats, ...stats.snapshot(), vectors_kept: vectors.size,
      ...(slot ? { worker: String(slot.index), workers: String(slot.count) } : {}),
    });
    const metrics = new RegistrarMetrics(telemetry.metrics, { stats: statsRecord, store });
    const vectors = new VectorCache(c.authVectorLifetimeMs, c.maxTrackedSources, stats, c.now);
    teardown.add('store', async () => vectors.close());
    const guard = new SourceGuard({
      banAfter: c.banAfter, banWindowMs: c.banWindowMs, banMs: c.banMs, banAction: c.banAction, rateLimit: c.rateLimit,
      rateBurst: c.rateBurst, maxTrackedSources: c.maxTrackedSources, stats, log: log.child({ component: 'guard' }), now: c.now,
    });
    // Other registrar processes may share a Redis store: what this one did not see may be in it.
    const sharedStore = store.kind === 'redis';
    const regEvent = new RegEvent({
      stack, subscriptions: new RegSubscriptions(store), bindings, serverName, maxExpires: c.maxExpires, sharedStore,
      stats, log: log.child({ component: 'reg-event' }), now: c.now,
    });
    teardown.add('listeners', async () => regEvent.close());
    const ctx: RegisterContext = {
      cx: new CxClient({ node, destinationRealm: c.hssRealm, serverName, timeoutMs: c.diameterTimeoutMs }),
      challenges: new ChallengeStore(store, c.regAwaitAuthMs), bindings, domain: c.domain, algorithm: c.algorithm,
      digestAlgorithms: c.digestAlgorithms, log: log.child({ component: 'register' }), now: c.now,
      limits: { defaultExpires: c.defaultExpires, minExpires: c.minExpires, maxExpires: c.maxExpires },
      serviceRoute: serviceRouteOf(serverName), guard, stats,
      pending: new PendingChallenges(c.maxPendingChallenges, c.regAwaitAuthMs, c.maxTrackedSources, c.now),
      issued: new IssuedNonces(c.regAwaitAuthMs + c.maxExpires * 1000, c.maxTrackedSources, c.now), sharedStore,
      vectors, authVectors: c.authVectors, metrics, regEvent,
      digestShape: { realm: c.hssRealm, qop: ['auth'], algorithms: [...c.digestAlgorithms] },
    };
    node.handle(CX_APPLICATION_ID, CxCommand.RTR, createRtrHandler({
      originHost: c.originHost, originRealm: c.realm, vectors, pending: ctx.pending, challenges: ctx.challenges, bindings, stats, log: ctx.log, now: c.now, regEvent,
    }));
    listenToSiblings(ctx, teardown);
    route.dispatch = (req, tx) => {
      if (!admit(guard, stats, req, tx)) return;
      if (req.method === 'REGISTER') return handleRegister(ctx, req, tx);
      return req.method === 'SUBSCRIBE' ? regEvent.subscribe(req, tx) : answerOther(stack, req, tx);
    };
    // Subscriptions of the store get their timers only in the first worker of a group (indexes start at 1): one last
    // NOTIFY each.
    if ((slot?.index ?? 1) === 1) await regEvent.start();

    const addresses: RegistrarAddresses = {
      sip: bound,
      sipUrls: bound.map((b) => `${b.transport.toLowerCase()}://${hostForm(b.address)}:${b.port}`),
      diameterPeers: c.hss.map(formatHostPort),
    };
    let adminTokenPath: string | undefined;
    if (c.admin) {
      const { token, path } = await ensureAdminToken({ stateDir: c.stateDir, logger: log, ...(c.adminTokenFile ? { tokenFile: c.adminTokenFile } : {}) });
      adminTokenPath = path;
      const admin: FastifyInstance = createRegistrarAdminApi({
        bindings, token, logger: log, ...(tls ? { tls: { cert: tls.cert, key: tls.key } } : {}), stats: statsRecord, metrics: telemetry.metrics,
      });
      teardown.add('listeners', () => admin.close());
      addresses.admin = await listenAdmin(admin, c.admin, tls !== undefined, log);
    }
    await node.waitForPeer({}, c.diameterTimeoutMs * 2).catch(() => {
      log.warn({ peers: addresses.diameterPeers }, 'no HSS peer open yet: REGISTERs get 504 until one is');
    });
    const metricsUrl = await telemetry.serve(c.metrics?.listen, teardown, log);
    if (metricsUrl) addresses.metrics = metricsUrl;
    log.info({ sip: addresses.sipUrls, diameter_peers: addresses.diameterPeers, admin: addresses.admin, metrics: metricsUrl, server_name: serverName, store: store.kind },
      'registrar ready');
    return { addresses, serverName, store, node, stack, stats, telemetry, ...(adminTokenPath ? { adminTokenPath } : {}), close: () => teardown.run() };
  });
}
