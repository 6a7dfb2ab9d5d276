/**
 * `mcx hss`: runs the primary HSS (Diameter Cx server + admin API) until SIGINT/SIGTERM, printing one ready line
 * `hss: listening diameter=tcp://HOST:PORT admin=http://HOST:PORT` (and ` metrics=http://HOST:PORT` with `--metrics`); `mcx hss subscriber …` provisions (cli-subscriber.ts).
 * Every option is validated with zod through parseConfig, so each bad one is named (exit 2).
 */
import { z } from 'zod';
import type { Command } from 'commander';
import type { CommandModule } from '../lib/cli.ts';
import { formatHostPort, hostPortSchema, realmSchema } from '../lib/config/address.ts';
import {
  checkTlsTriple, checkWorkersAlone, checkWorkersStore, collectOption, storeSpecSchema, tlsFilesOf, tlsOptionsShape, processOptionsShape,
} from '../lib/config/options.ts';
import { parseConfig } from '../lib/config/validate.ts';
import { createLogger, type Logger } from '../lib/log.ts';
import { METRICS_OPTION_HELP, metricsReadySuffix } from '../lib/metrics/telemetry.ts';
import { serveUntilSignal } from '../lib/serve.ts';
import { TRACE_HELP, startTraced } from '../lib/trace/cli.ts';
import { workerSlot } from '../lib/workers/group.ts';
import { addSubscriberCommands } from './cli-subscriber.ts';
import type { HssConfig } from './run.ts';
import { RAND_POLICIES } from './vectors.ts';

/** Defaults shown in `--help` and used when an option is absent. */
export const HSS_DEFAULTS = {
  listen: '127.0.0.1:3868',
  store: 'memory',
  stateDir: '.state/hss',
  admin: '127.0.0.1:8868',
  randPolicy: 'uniform',
  maxAuthItems: '5',
} as const;

const required = z.string({ error: 'required' });

const serveSchema = z.object({
  'listen': hostPortSchema,
  'origin-host': required.pipe(realmSchema),
  'realm': required.pipe(realmSchema),
  'subscribers': z.string().min(1).optional(),
  'store': storeSpecSchema,
  'state-dir': z.string().min(1),
  ...tlsOptionsShape,
  'rand-policy': z.enum(RAND_POLICIES),
  'admin': hostPortSchema,
  'admin-token-file': z.string().min(1).optional(),
  'max-auth-items': z.coerce.number().int().min(1).max(32),
  'mms-host': z.array(realmSchema).max(16).optional(),
  ...processOptionsShape,
}).superRefine((o, ctx) => {
  checkTlsTriple(o, ctx);
  checkWorkersStore(o, ctx);
  checkWorkersAlone(o, ctx);
});

/** Raw commander options of `mcx hss`. */
export interface HssCliOptions {
  listen?: string;
  originHost?: string;
  realm?: string;
  subscribers?: string;
  store?: string;
  stateDir?: string;
  tlsCert?: string;
  tlsKey?: string;
  tlsCa?: string[];
  randPolicy?: string;
  admin?: string;
  adminTokenFile?: string;
  maxAuthItems?: string;
  mmsHost?: string[];
  metrics?: string;
  trace?: string;
  workers?: string;
}

/**
 * Validates `mcx hss` options into an {@link HssConfig}.
 * @throws UsageError naming every invalid option.
 */
export function parseHssOptions(o: HssCliOptions, logger: Logger): HssConfig & { workers: number } {
  const c = parseConfig(serveSchema, {
    'listen': o.listen ?? HSS_DEFAULTS.listen, 'origin-host': o.originHost, 'realm': o.realm, 'subscribers': o.subscribers,
    'store': o.store ?? HSS_DEFAULTS.store, 'state-dir': o.stateDir ?? HSS_DEFAULTS.stateDir, 'tls-cert': o.tlsCert, 'tls-key': o.tlsKey,
    'tls-ca': o.tlsCa, 'rand-policy': o.randPolicy ?? HSS_DEFAULTS.randPolicy, 'admin': o.admin ?? HSS_DEFAULTS.admin,
    'admin-token-file': o.adminTokenFile, 'max-auth-items': o.maxAuthItems ?? HSS_DEFAULTS.maxAuthItems, 'mms-host': o.mmsHost,
    'metrics': o.metrics, 'trace': o.trace,
    'workers': o.workers ?? 1,
  });
  const tls = tlsFilesOf(c);
  return {
    listen: c.listen, originHost: c['origin-host'], realm: c.realm, store: c.store, stateDir: c['state-dir'],
    randPolicy: c['rand-policy'], admin: c.admin, maxAuthItems: c['max-auth-items'], logger, workers: c.workers,
    ...(c.subscribers === undefined ? {} : { subscribersCsv: c.subscribers }),
    ...(c['admin-token-file'] === undefined ? {} : { adminTokenFile: c['admin-token-file'] }),
    ...(tls ? { tls } : {}),
    ...(c['mms-host']?.length ? { mmsHosts: c['mms-host'] } : {}),
    ...(c.metrics ? { metrics: { listen: c.metrics } } : {}),
  };
}

/**
 * The worker group of `--workers N` (lib/workers): N HSS processes on the same Diameter listener and admin address,
 * sharing subscribers and SQN counters through the store (each allocation one atomic Lua step: no SQN twice). Each
 * Diameter connection is one worker's, so the load spreads over the peers' connections. Ports 0 are fixed first.
 */
async function superviseHss(config: HssConfig, workers: number, logger: Logger): Promise<never> {
  const { fixedPort, superviseWorkers } = await import('../lib/workers/supervisor.ts');
  const listen = { ...config.listen, port: await fixedPort(config.listen.host, config.listen.port, 'tcp') };
  const admin = { ...config.admin, port: await fixedPort(config.admin.host, config.admin.port, 'tcp') };
  return superviseWorkers({
    role: 'hss', count: workers, logger, extraArgs: ['--listen', formatHostPort(listen), '--admin', formatHostPort(admin)],
    ...(config.metrics?.listen ? { metrics: config.metrics.listen } : {}),
  });
}

/** Runs the HSS (or, with `--workers N`, a group of them) until SIGINT/SIGTERM; resolves after the graceful stop. */
export async function runHssCommand(o: HssCliOptions): Promise<void> {
  const logger = createLogger('hss');
  const { workers, ...config } = parseHssOptions(o, logger);
  if (workers > 1 && !workerSlot()) await superviseHss(config, workers, logger);
  // In a group the first worker loads the CSV; the others would only replace the same subscribers again.
  if ((workerSlot()?.index ?? 1) > 1) delete config.subscribersCsv;
  // Loaded here, not at the top: `mcx hss --help` and the other subcommands need none of the HSS (issue #12).
  const { startHss } = await import('./run.ts');
  await serveUntilSignal({
    // --trace was validated with the rest above.
    role: 'hss', logger, start: () => startTraced(o.trace, logger, (t) => startHss({ ...config, ...t })),
    ready: (hss) => `listening diameter=${hss.diameterUrl} admin=${hss.adminUrl}${metricsReadySuffix(hss.metricsUrl)}`,
  });
}

/**
 * Adds `mcx hss [serve]` and `mcx hss subscriber …` to the root program. The server is the default subcommand
 * `serve` rather than options of `hss` itself: commander would otherwise let `hss` swallow the subcommands' options
 * of the same name (`--admin`, `--store`, …) unless the root program enabled positional options.
 */
export const hssCommand: CommandModule = (program: Command) => {
  const hss = program
    .command('hss')
    .description('primary HSS: Diameter Cx server (MAR/MAA, SAR/SAA, UAR, LIR; TS 29.228/29.229) with an admin API');
  hss
    .command('serve', { isDefault: true })
    .description('run the HSS until SIGINT/SIGTERM (the default: `mcx hss --listen …` is `mcx hss serve --listen …`)')
    .option('--listen <host:port>', 'Diameter listen address', HSS_DEFAULTS.listen)
    .option('--origin-host <fqdn>', 'Diameter identity (Origin-Host)')
    .option('--realm <realm>', 'Diameter realm (Origin-Realm), also the realm of SIP Digest HA1s')
    .option('--subscribers <file.csv>', 'provision subscribers from CSV at start (replacing same IMPIs)')
    .option('--store <spec>', 'memory | redis | redis://… | rediss://… | redis+cluster://h:p,h:p | redis+sentinel://h:p/<master>', HSS_DEFAULTS.store)
    .option('--state-dir <dir>', 'memory store journal and admin token', HSS_DEFAULTS.stateDir)
    .option('--tls-cert <file>', 'PEM certificate (Diameter mutual TLS and admin HTTPS)')
    .option('--tls-key <file>', 'PEM private key')
    .option('--tls-ca <file>', 'PEM CA(s) trusted for Diameter peers (repeatable or comma-separated)', collectOption)
    .option('--rand-policy <policy>', 'uniform | sipp361 (no 0x00 in RES, for SIPp 3.6.1)', HSS_DEFAULTS.randPolicy)
    .option('--max-auth-items <n>', 'cap on SIP-Number-Auth-Items', HSS_DEFAULTS.maxAuthItems)
    .option('--admin <host:port>', 'admin API listen address', HSS_DEFAULTS.admin)
    .option('--admin-token-file <file>', 'admin bearer token file (default: <state-dir>/admin-token, created 0600)')
    .option('--mms-host <fqdn>', 'Diameter identity of a primary MMS (repeatable; default mms.<realm>): requests that crossed it are ' +
      'the dynamic migration path, all others from a partner realm the static one', collectOption)
    .option('--metrics <host:port>', METRICS_OPTION_HELP)
    .option('--trace <file.pcapng>', TRACE_HELP)
    .option('--workers <n>', 'HSS processes on the same Diameter and admin addresses, sharing subscribers and SQNs through --store redis://… (README "Several processes per role")', '1')
    .action((opts: HssCliOptions) => runHssCommand(opts));
  addSubscriberCommands(hss);
};
