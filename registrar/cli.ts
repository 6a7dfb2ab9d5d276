/**
 * `mcx registrar`: runs the partner SIP core (REGISTER with IMS-AKA or SIP Digest, Cx client) until SIGINT/SIGTERM,
 * printing one ready line `registrar: listening sip=udp://…,tcp://… diameter-peers=… admin=… metrics=…`;
 * `mcx registrar bindings` lists the current bindings (cli-bindings.ts). Every option is validated with zod through
 * parseConfig, so each bad one is named (exit 2).
 */
import { z } from 'zod';
import type { Command } from 'commander';
import { UsageError, type CommandModule } from '../lib/cli.ts';
import { formatHostPort, hostPortListSchema, hostPortSchema, parseHostPort, realmSchema } from '../lib/config/address.ts';
import {
  checkTlsTriple, checkWorkersAlone, checkWorkersStore, collectOption, enumListSchema, storeSpecSchema, tlsFilesOf, tlsOptionsShape, processOptionsShape,
} from '../lib/config/options.ts';
import { parseConfig } from '../lib/config/validate.ts';
import { createLogger, type Logger } from '../lib/log.ts';
import { METRICS_OPTION_HELP, metricsReadySuffix } from '../lib/metrics/telemetry.ts';
import { serveUntilSignal } from '../lib/serve.ts';
import { TRACE_HELP, startTraced } from '../lib/trace/cli.ts';
import { workerSlot } from '../lib/workers/group.ts';
import { addBindingsCommand } from './cli-bindings.ts';
import { AKA_ALGORITHMS, BAN_ACTIONS, DIGEST_ALGORITHMS, MAX_CX_BATCH_MS, REGISTRAR_DEFAULTS as D, type RegistrarConfig, type SipListen } from './config.ts';
import { isRegistrarError } from './errors.ts';
import { IND_SLOTS, MAX_AUTH_VECTORS } from './vector-cache.ts';

const required = z.string({ error: 'required' });
const seconds = z.coerce.number().int().min(1).max(2 ** 31 - 1);
const count = (min: number, max = 2 ** 31 - 1) => z.coerce.number().int().min(min).max(max);

/** `udp:HOST:PORT[,tcp:HOST:PORT][,tls:HOST:PORT]`. */
export const sipListenListSchema = z.string().transform((text, ctx): SipListen[] => {
  const out: SipListen[] = [];
  const parts = text.split(',').map((s) => s.trim()).filter(Boolean);
  for (const part of parts) {
    const m = /^(udp|tcp|tls):(.+)$/i.exec(part);
    const hp = m ? parseHostPort(m[2] as string) : `expected udp:|tcp:|tls:HOST:PORT, got ${JSON.stringify(part)}`;
    if (typeof hp === 'string') ctx.addIssue({ code: 'custom', message: hp });
    else out.push({ transport: (m?.[1] as string).toLowerCase() as SipListen['transport'], ...hp });
  }
  if (parts.length === 0) ctx.addIssue({ code: 'custom', message: 'at least one transport:HOST:PORT' });
  return out;
});

const serveSchema = z.object({
  'sip': required.pipe(sipListenListSchema),
  'domain': required.pipe(realmSchema),
  'hss': required.pipe(hostPortListSchema),
  'origin-host': required.pipe(realmSchema),
  'realm': required.pipe(realmSchema),
  'hss-realm': realmSchema.optional(),
  'diameter-tls': z.boolean(),
  ...tlsOptionsShape,
  'store': storeSpecSchema,
  'state-dir': z.string().min(1),
  'algorithm': z.enum(AKA_ALGORITHMS),
  'digest-algorithms': enumListSchema(DIGEST_ALGORITHMS),
  'default-expires': seconds,
  'min-expires': seconds,
  'max-expires': seconds,
  'reg-await-auth': seconds,
  'server-name': z.string().regex(/^sips?:[^\s<>]+$/, 'must be a sip: or sips: URI').optional(),
  'admin': hostPortSchema.optional(),
  'admin-token-file': z.string().min(1).optional(),
  'ban-after': count(0),
  'ban-window': seconds,
  'ban-time': seconds,
  'ban-action': z.enum(BAN_ACTIONS),
  'rate-limit': count(1),
  'rate-burst': count(1),
  'max-pending-challenges': count(1, 1000),
  'auth-vectors': count(1, MAX_AUTH_VECTORS),
  'auth-vector-lifetime': seconds,
  'cx-batch-ms': count(0, MAX_CX_BATCH_MS),
  'max-tracked-sources': count(1000),
  'max-connections': count(1),
  'max-connections-per-source': count(1),
  'first-message-timeout': seconds,
  ...processOptionsShape,
}).superRefine((o, ctx) => {
  checkTlsTriple(o, ctx);
  checkWorkersStore(o, ctx);
  checkWorkersAlone(o, ctx);
  if (o.workers * o['auth-vectors'] > IND_SLOTS) {
    ctx.addIssue({
      code: 'custom', path: ['workers'],
      message: `${o.workers} workers × --auth-vectors ${o['auth-vectors']}: up to ${o.workers * o['auth-vectors']} vectors of one user kept at once, more than the ISIM's ${IND_SLOTS} IND slots (TS 33.102 Annex C.1.2) — fewer workers or a smaller --auth-vectors`,
    });
  }
  const tls = tlsFilesOf(o) !== undefined;
  if (!tls && o.sip.some((s) => s.transport === 'tls')) ctx.addIssue({ code: 'custom', path: ['sip'], message: 'a tls: listener needs --tls-cert, --tls-key and --tls-ca' });
  if (!tls && o['diameter-tls']) ctx.addIssue({ code: 'custom', path: ['diameter-tls'], message: 'needs --tls-cert, --tls-key and --tls-ca' });
  if (o['min-expires'] > o['max-expires']) ctx.addIssue({ code: 'custom', path: ['min-expires'], message: 'must not exceed --max-expires' });
});

/** Raw commander options of `mcx registrar`. */
export interface RegistrarCliOptions {
  sip?: string;
  domain?: string;
  hss?: string;
  originHost?: string;
  realm?: string;
  hssRealm?: string;
  diameterTls?: boolean;
  tlsCert?: string;
  tlsKey?: string;
  tlsCa?: string[];
  store?: string;
  stateDir?: string;
  algorithm?: string;
  digestAlgorithms?: string;
  defaultExpires?: string;
  minExpires?: string;
  maxExpires?: string;
  regAwaitAuth?: string;
  serverName?: string;
  admin?: string;
  adminTokenFile?: string;
  banAfter?: string;
  banWindow?: string;
  banTime?: string;
  banAction?: string;
  rateLimit?: string;
  rateBurst?: string;
  maxPendingChallenges?: string;
  authVectors?: string;
  authVectorLifetime?: string;
  cxBatchMs?: string;
  maxTrackedSources?: string;
  maxConnections?: string;
  maxConnectionsPerSource?: string;
  firstMessageTimeout?: string;
  metrics?: string;
  trace?: string;
  workers?: string;
}

/**
 * Validates `mcx registrar` options into a {@link RegistrarConfig}.
 * @throws UsageError naming every invalid option.
 */
export function parseRegistrarOptions(o: RegistrarCliOptions, logger: Logger): RegistrarConfig & { workers: number } {
  const c = parseConfig(serveSchema, {
    'sip': o.sip, 'domain': o.domain, 'hss': o.hss, 'origin-host': o.originHost, 'realm': o.realm, 'hss-realm': o.hssRealm,
    'diameter-tls': o.diameterTls === true, 'tls-cert': o.tlsCert, 'tls-key': o.tlsKey, 'tls-ca': o.tlsCa,
    'store': o.store ?? D.store, 'state-dir': o.stateDir ?? D.stateDir, 'algorithm': o.algorithm ?? D.algorithm,
    'digest-algorithms': o.digestAlgorithms ?? D.digestAlgorithms.join(','), 'default-expires': o.defaultExpires ?? D.defaultExpires,
    'min-expires': o.minExpires ?? D.minExpires, 'max-expires': o.maxExpires ?? D.maxExpires,
    'reg-await-auth': o.regAwaitAuth ?? D.regAwaitAuthMs / 1000, 'server-name': o.serverName,
    'admin': o.admin, 'admin-token-file': o.adminTokenFile,
    'ban-after': o.banAfter ?? D.banAfter, 'ban-window': o.banWindow ?? D.banWindowMs / 1000, 'ban-time': o.banTime ?? D.banMs / 1000,
    'ban-action': o.banAction ?? D.banAction, 'rate-limit': o.rateLimit ?? D.rateLimit, 'rate-burst': o.rateBurst ?? D.rateBurst,
    'max-pending-challenges': o.maxPendingChallenges ?? D.maxPendingChallenges, 'max-tracked-sources': o.maxTrackedSources ?? D.maxTrackedSources,
    'auth-vectors': o.authVectors ?? D.authVectors, 'auth-vector-lifetime': o.authVectorLifetime ?? D.authVectorLifetimeMs / 1000,
    'cx-batch-ms': o.cxBatchMs ?? D.cxBatchMs,
    'max-connections': o.maxConnections ?? D.maxConnections, 'max-connections-per-source': o.maxConnectionsPerSource ?? D.maxConnectionsPerSource,
    'first-message-timeout': o.firstMessageTimeout ?? D.firstMessageTimeoutMs / 1000, 'metrics': o.metrics, 'trace': o.trace,
    'workers': o.workers ?? 1,
  });
  const tls = tlsFilesOf(c);
  return {
    sip: c.sip, domain: c.domain, hss: c.hss, originHost: c['origin-host'], realm: c.realm, hssRealm: c['hss-realm'] ?? c.realm,
    diameterTls: c['diameter-tls'], store: c.store, stateDir: c['state-dir'], algorithm: c.algorithm,
    digestAlgorithms: c['digest-algorithms'], defaultExpires: c['default-expires'], minExpires: c['min-expires'],
    maxExpires: c['max-expires'], regAwaitAuthMs: c['reg-await-auth'] * 1000, logger,
    banAfter: c['ban-after'], banWindowMs: c['ban-window'] * 1000, banMs: c['ban-time'] * 1000, banAction: c['ban-action'],
    rateLimit: c['rate-limit'], rateBurst: c['rate-burst'], maxPendingChallenges: c['max-pending-challenges'],
    authVectors: c['auth-vectors'], authVectorLifetimeMs: c['auth-vector-lifetime'] * 1000, cxBatchMs: c['cx-batch-ms'],
    maxTrackedSources: c['max-tracked-sources'], maxConnections: c['max-connections'],
    maxConnectionsPerSource: c['max-connections-per-source'], firstMessageTimeoutMs: c['first-message-timeout'] * 1000,
    workers: c.workers, ...(tls ? { tls } : {}),
    ...(c['server-name'] === undefined ? {} : { serverName: c['server-name'] }),
    ...(c.admin === undefined ? {} : { admin: c.admin }),
    ...(c['admin-token-file'] === undefined ? {} : { adminTokenFile: c['admin-token-file'] }),
    ...(c.metrics === undefined ? {} : { metrics: { listen: c.metrics } }),
  };
}

/**
 * The worker group of `--workers N` (lib/workers): N registrar processes on the same SIP listeners and admin address,
 * sharing challenges, bindings and issued nonces through the store. A listener or admin port 0 is fixed first, so all
 * of them bind the same one.
 */
async function superviseRegistrars(config: RegistrarConfig, workers: number, logger: Logger): Promise<never> {
  const { fixedPort, superviseWorkers } = await import('../lib/workers/supervisor.ts');
  const sip = await Promise.all(config.sip.map(async (l) => ({ ...l, port: await fixedPort(l.host, l.port, 'sip') })));
  const admin = config.admin ? { ...config.admin, port: await fixedPort(config.admin.host, config.admin.port, 'tcp') } : undefined;
  return superviseWorkers({
    role: 'registrar', count: workers, logger,
    extraArgs: ['--sip', sip.map((l) => `${l.transport}:${formatHostPort(l)}`).join(','), ...(admin ? ['--admin', formatHostPort(admin)] : [])],
    ...(config.metrics?.listen ? { metrics: config.metrics.listen } : {}),
  });
}

/** Runs the registrar (or, with `--workers N`, a group of them) until SIGINT/SIGTERM; resolves after the graceful stop. */
export async function runRegistrarCommand(o: RegistrarCliOptions): Promise<void> {
  const logger = createLogger('registrar');
  const { workers, ...config } = parseRegistrarOptions(o, logger);
  if (workers > 1 && !workerSlot()) await superviseRegistrars(config, workers, logger);
  // Loaded here, not at the top: `--help` and `mcx registrar bindings` need none of the SIP core (issue #12).
  const { startRegistrar } = await import('./server.ts');
  await serveUntilSignal({
    role: 'registrar', logger,
    // --trace was validated with the rest above.
    start: () => startTraced(o.trace, logger, (t) => startRegistrar({ ...config, ...t })).catch((e: unknown) => {
      throw isRegistrarError(e, 'ERR_REGISTRAR_CONFIG') ? new UsageError(e.message) : e;
    }),
    ready: (r) => `listening sip=${r.addresses.sipUrls.join(',')} diameter-peers=${r.addresses.diameterPeers.join(',')}` +
      (r.addresses.admin ? ` admin=${r.addresses.admin}` : '') + metricsReadySuffix(r.addresses.metrics),
  });
}

/**
 * Adds `mcx registrar [serve]` and `mcx registrar bindings`. The server is the default subcommand `serve` (as for
 * `mcx hss`), so the subcommands' options of the same name (`--admin`, `--store`) stay theirs.
 */
export const registrarCommand: CommandModule = (program: Command) => {
  const reg = program
    .command('registrar')
    .description('partner SIP core: REGISTER with IMS-AKA (RFC 3310/4169) or SIP Digest (RFC 8760), Cx MAR/SAR to its HSS peer');
  reg
    .command('serve', { isDefault: true })
    .description('run the registrar until SIGINT/SIGTERM (the default: `mcx registrar --sip …` is `mcx registrar serve --sip …`)')
    .option('--sip <listeners>', 'udp:HOST:PORT[,tcp:HOST:PORT][,tls:HOST:PORT]')
    .option('--domain <domain>', 'partner home domain: realm of AKA challenges')
    .option('--hss <host:port,…>', 'HSS peers (partner MMS or HSS), primary first')
    .option('--origin-host <fqdn>', 'Diameter identity (Origin-Host)')
    .option('--realm <realm>', 'Diameter realm (Origin-Realm)')
    .option('--hss-realm <realm>', 'Destination-Realm of MAR/SAR (default: --realm)')
    .option('--diameter-tls', 'mutual TLS to the HSS peers with the --tls-* files')
    .option('--tls-cert <file>', 'PEM certificate (SIP TLS, Diameter TLS, admin HTTPS)')
    .option('--tls-key <file>', 'PEM private key')
    .option('--tls-ca <file>', 'PEM CA(s) (repeatable or comma-separated)', collectOption)
    .option('--store <spec>', 'memory | redis | redis://… | rediss://… | redis+cluster://h:p,h:p | redis+sentinel://h:p/<master>', D.store)
    .option('--state-dir <dir>', 'memory store journal and admin token', D.stateDir)
    .option('--algorithm <alg>', 'AKAv1-MD5 | AKAv2-MD5', D.algorithm)
    .option('--digest-algorithms <list>', 'SIP Digest algorithms offered to password users, preferred first (SHA-256,MD5 offers both; MD5 alone is what every softphone answers)', D.digestAlgorithms.join(','))
    .option('--default-expires <s>', 'binding lifetime when the UA proposes none', String(D.defaultExpires))
    .option('--min-expires <s>', 'shorter requests get 423 Interval Too Brief', String(D.minExpires))
    .option('--max-expires <s>', 'longer requests are shortened to this', String(D.maxExpires))
    .option('--reg-await-auth <s>', 'how long a challenge stays valid', String(D.regAwaitAuthMs / 1000))
    .option('--server-name <sip-uri>', "the registrar's SIP URI (Server-Name, Service-Route; default sip:<origin-host>:<first SIP port>)")
    .option('--admin <host:port>', 'admin API listen address (listing bindings); none when absent')
    .option('--admin-token-file <file>', 'admin bearer token file (default: <state-dir>/admin-token, created 0600)')
    .option('--ban-after <n>', 'failed authentications (403 for a wrong response) one source address may have within --ban-window; one more bans it', String(D.banAfter))
    .option('--ban-window <s>', 'the window of --ban-after', String(D.banWindowMs / 1000))
    .option('--ban-time <s>', 'how long a banned source stays banned', String(D.banMs / 1000))
    .option('--ban-action <action>', '403 | drop: what a banned source\'s REGISTERs get (never a MAR)', D.banAction)
    .option('--rate-limit <n>', 'requests per second per source address; the excess gets 503 with Retry-After (never a ban)', String(D.rateLimit))
    .option('--rate-burst <n>', 'requests a source address may send at once above --rate-limit', String(D.rateBurst))
    .option('--max-pending-challenges <n>', 'unanswered challenges per IMPI; further REGISTERs get the newest again (no MAR)', String(D.maxPendingChallenges))
    .option('--auth-vectors <n>', `vectors one MAR asks for (1…${MAX_AUTH_VECTORS}); the unused ones serve the identity's next challenges without a MAR`, String(D.authVectors))
    .option('--auth-vector-lifetime <s>', 'how long an unused vector is kept in memory (never stored)', String(D.authVectorLifetimeMs / 1000))
    .option('--cx-batch-ms <ms>', `under load, how long a MAR or SAR may wait to leave with others, so each hop to the HSS wakes once per batch (0…${MAX_CX_BATCH_MS}; 0: never waits)`, String(D.cxBatchMs))
    .option('--max-tracked-sources <n>', 'source addresses (and IMPIs) the ban, rate and challenge tables hold, least recent forgotten first', String(D.maxTrackedSources))
    .option('--max-connections <n>', 'TCP/TLS connections per listener', String(D.maxConnections))
    .option('--max-connections-per-source <n>', 'TCP/TLS connections per listener from one IP address (refused before a TLS handshake)', String(D.maxConnectionsPerSource))
    .option('--first-message-timeout <s>', 'a TCP/TLS connection that has sent no complete SIP message by then is closed', String(D.firstMessageTimeoutMs / 1000))
    .option('--metrics <host:port>', METRICS_OPTION_HELP)
    .option('--trace <file.pcapng>', TRACE_HELP)
    .option('--workers <n>', 'registrar processes on the same SIP listeners and admin address, sharing state through --store redis://… (README "Several processes per role")', '1')
    .action((opts: RegistrarCliOptions) => runRegistrarCommand(opts));
  addBindingsCommand(reg);
};
