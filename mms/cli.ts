/**
 * `mcx mms` (partner or primary MMS) and `mcx relay` (the primary "SIP core / IMS"): each runs until
 * SIGINT/SIGTERM and prints one ready line, `mms: listening diameter=tls://HOST:PORT [admin=URL] role=ROLE` /
 * `relay: listening diameter=…` (each ending ` metrics=URL` with `--metrics`). Every option is validated with zod through parseConfig, so each bad one is named
 * (exit 2); so are a bad mapping file (by line) and unreadable TLS files.
 */
import { z } from 'zod';
import type { Command } from 'commander';
import type { CommandModule } from '../lib/cli.ts';
import { formatHostPort, hostPortSchema, isLoopback, realmSchema, type HostPort } from '../lib/config/address.ts';
import {
  caListSchema, checkTlsTriple, checkWorkersAlone, checkWorkersStore, collectOption, storeSpecSchema, tlsFilesOf, tlsOptionsShape, processOptionsShape,
} from '../lib/config/options.ts';
import { parseConfig } from '../lib/config/validate.ts';
import { defaultResource } from '../lib/idm/vocabulary.ts';
import { createLogger, type Logger } from '../lib/log.ts';
import { METRICS_OPTION_HELP, metricsReadySuffix } from '../lib/metrics/telemetry.ts';
import { serveUntilSignal } from '../lib/serve.ts';
import { TRACE_HELP, startTraced } from '../lib/trace/cli.ts';
import { workerSlot } from '../lib/workers/group.ts';
import type { AgentNodeConfig } from './cx-node.ts';
import { checkLinkSecurity, endpointSchema, primarySystemsSchema, routesSchema, type EndpointSpec } from './options.ts';
import type { MmsConfig } from './run.ts';

const required = z.string({ error: 'required' });

const nodeShape = {
  'listen': endpointSchema,
  'origin-host': required.pipe(realmSchema),
  'realm': required.pipe(realmSchema),
  'route': routesSchema,
  ...tlsOptionsShape,
  ...processOptionsShape,
};

const INTER_SYSTEM = 'every Diameter link between the two systems is mutual TLS: give --tls-cert, --tls-key and --tls-ca, and no tcp://';
const PARTNER_ONLY = ['mappings', 'admin', 'admin-token-file', 'sip-uri', 'topology-hiding', 'migration-api', 'token-issuer', 'token-cert', 'token-audience', 'registrar-uri'] as const;
const PRIMARY_ONLY = ['binding-api', 'hss-admin', 'hss-admin-token-file'] as const;
const seconds = (max: number) => z.coerce.number({ error: 'must be a number of seconds' }).int('must be whole seconds').min(60, 'at least 60 s').max(max, `at most ${max} s`);
const httpsUrl = z.string().refine((s) => {
  try {
    return new URL(s).protocol === 'https:';
  } catch {
    return false;
  }
}, 'must be an https:// URL');
// The admin APIs serve plain HTTP on loopback only (lib/admin/server.ts); so does a client take it.
const adminUrl = z.string().refine((s) => {
  try {
    const u = new URL(s);
    return u.protocol === 'https:' || (u.protocol === 'http:' && isLoopback(u.hostname.replace(/^\[|\]$/g, '')));
  } catch {
    return false;
  }
}, 'must be an https:// URL (http:// only on a loopback address)');

const mmsSchema = z.object({
  ...nodeShape,
  'role': z.enum(['partner', 'primary'], { error: 'required: partner or primary' }),
  'mappings': z.string().min(1).optional(),
  'store': storeSpecSchema,
  'state-dir': z.string().min(1),
  'admin': hostPortSchema.optional(),
  'admin-token-file': z.string().min(1).optional(),
  'topology-hiding': z.literal(true).optional(),
  'sip-uri': z.string().regex(/^sips?:\S+$/i, 'must be a sip: or sips: URI such as sip:mms.partner.example').optional(),
  'primary-system': primarySystemsSchema,
  'migration-api': hostPortSchema.optional(),
  'token-issuer': httpsUrl.optional(),
  'token-cert': z.string().min(1).optional(),
  'token-audience': z.string().min(1).optional(),
  'registrar-uri': z.string().regex(/^sips?:\S+$/i, 'must be a sip: or sips: URI such as sip:127.0.0.1:5060;transport=udp').optional(),
  'migration-ttl': seconds(7 * 86_400).default(43_200),
  'binding-api': hostPortSchema.optional(),
  'hss-admin': adminUrl.optional(),
  'hss-admin-token-file': z.string().min(1).optional(),
  'binding-ca': caListSchema.optional(),
}).superRefine((o, ctx) => {
  checkTlsTriple(o, ctx);
  checkWorkersStore(o, ctx);
  checkWorkersAlone(o, ctx);
  const tls = tlsFilesOf(o) !== undefined;
  const peers = o.route.flatMap((r) => r.peers);
  // The side facing the other system must be TLS: the partner's routes, the primary's listener.
  checkLinkSecurity([o.listen], tls, 'listen', o.role === 'primary' ? INTER_SYSTEM : undefined, ctx);
  checkLinkSecurity(peers, tls, 'route', o.role === 'partner' ? INTER_SYSTEM : undefined, ctx);
  const need = (f: keyof typeof o, why: string): void => {
    if (o[f] === undefined) ctx.addIssue({ code: 'custom', path: [f], message: `required ${why}` });
  };
  if (o.role === 'primary') {
    for (const f of PARTNER_ONLY) if (o[f] !== undefined) ctx.addIssue({ code: 'custom', path: [f], message: 'only for --role partner' });
    if (o['primary-system'].length) ctx.addIssue({ code: 'custom', path: ['primary-system'], message: 'only for --role partner' });
    for (const f of PRIMARY_ONLY) need(f, 'for --role primary (the binding API of the dynamic configuration)');
    if (!tls) ctx.addIssue({ code: 'custom', path: ['tls-cert'], message: 'required for --role primary (the binding API is mutual TLS)' });
  } else {
    for (const f of [...PRIMARY_ONLY, 'binding-ca'] as const) if (o[f] !== undefined) ctx.addIssue({ code: 'custom', path: [f], message: 'only for --role primary' });
    if (o['migration-api'] !== undefined) {
      for (const f of ['token-issuer', 'token-cert', 'registrar-uri'] as const) need(f, 'with --migration-api');
      if (!o['primary-system'].length) ctx.addIssue({ code: 'custom', path: ['primary-system'], message: 'at least one with --migration-api (where bindings are confirmed)' });
      if (!tls) ctx.addIssue({ code: 'custom', path: ['migration-api'], message: 'needs --tls-cert, --tls-key and --tls-ca (HTTPS only)' });
    }
    checkLinkSecurity(o['primary-system'].flatMap((p) => p.cx), tls, 'primary-system', INTER_SYSTEM, ctx);
  }
});

const relaySchema = z.object(nodeShape).superRefine((o, ctx) => {
  checkTlsTriple(o, ctx);
  checkWorkersAlone(o, ctx);
  const tls = tlsFilesOf(o) !== undefined;
  checkLinkSecurity([o.listen], tls, 'listen', undefined, ctx);
  checkLinkSecurity(o.route.flatMap((r) => r.peers), tls, 'route', undefined, ctx);
});

/** Raw commander options shared by `mcx mms` and `mcx relay`. */
export interface AgentCliOptions {
  listen?: string;
  originHost?: string;
  realm?: string;
  route?: string[];
  tlsCert?: string;
  tlsKey?: string;
  tlsCa?: string[];
  metrics?: string;
  trace?: string;
  workers?: string;
}

/** Raw commander options of `mcx mms`. */
export interface MmsCliOptions extends AgentCliOptions {
  role?: string;
  mappings?: string;
  store?: string;
  stateDir?: string;
  admin?: string;
  adminTokenFile?: string;
  topologyHiding?: boolean;
  sipUri?: string;
  primarySystem?: string[];
  migrationApi?: string;
  tokenIssuer?: string;
  tokenCert?: string;
  tokenAudience?: string;
  registrarUri?: string;
  migrationTtl?: string;
  bindingApi?: string;
  hssAdmin?: string;
  hssAdminTokenFile?: string;
  bindingCa?: string[];
}

function nodeInput(o: AgentCliOptions): Record<string, unknown> {
  return {
    'listen': o.listen, 'origin-host': o.originHost, 'realm': o.realm, 'route': o.route, 'tls-cert': o.tlsCert, 'tls-key': o.tlsKey, 'tls-ca': o.tlsCa,
    'metrics': o.metrics, 'trace': o.trace,
    'workers': o.workers ?? 1,
  };
}

function nodeConfig(c: z.output<typeof relaySchema>, logger: Logger): AgentNodeConfig {
  const tls = tlsFilesOf(c);
  return {
    listen: c.listen, originHost: c['origin-host'], realm: c.realm, routes: c.route, logger, ...(tls ? { tls } : {}),
    ...(c.metrics ? { metrics: { listen: c.metrics } } : {}),
  };
}

/**
 * Validates `mcx mms` options into an {@link MmsConfig}.
 * @throws UsageError naming every invalid option.
 */
export function parseMmsOptions(o: MmsCliOptions, logger: Logger): MmsConfig {
  const c = parseConfig(mmsSchema, {
    ...nodeInput(o), 'role': o.role, 'mappings': o.mappings, 'store': o.store ?? 'memory', 'state-dir': o.stateDir ?? `.state/mms-${o.role ?? 'partner'}`,
    'admin': o.admin, 'admin-token-file': o.adminTokenFile, 'topology-hiding': o.topologyHiding, 'sip-uri': o.sipUri,
    'primary-system': o.primarySystem, 'migration-api': o.migrationApi, 'token-issuer': o.tokenIssuer, 'token-cert': o.tokenCert,
    'token-audience': o.tokenAudience, 'registrar-uri': o.registrarUri, 'migration-ttl': o.migrationTtl, 'binding-api': o.bindingApi,
    'hss-admin': o.hssAdmin, 'hss-admin-token-file': o.hssAdminTokenFile, 'binding-ca': o.bindingCa,
  });
  const node = nodeConfig(c, logger);
  if (c.role === 'primary') {
    return {
      role: 'primary', ...node, store: c.store, stateDir: c['state-dir'], bindingApi: c['binding-api'] as HostPort,
      hssAdminUrl: c['hss-admin'] as string, hssAdminTokenFile: c['hss-admin-token-file'] as string, maxBindingTtlS: c['migration-ttl'],
      ...(c['binding-ca'] ? { bindingCaFiles: c['binding-ca'] } : {}),
    };
  }
  const issuer = c['token-issuer'];
  return {
    role: 'partner', ...node, store: c.store, stateDir: c['state-dir'], topologyHiding: c['topology-hiding'] ?? false,
    primarySystems: c['primary-system'],
    ...(c.mappings === undefined ? {} : { mappingsCsv: c.mappings }),
    ...(c.admin === undefined ? {} : { admin: c.admin }),
    ...(c['admin-token-file'] === undefined ? {} : { adminTokenFile: c['admin-token-file'] }),
    ...(c['sip-uri'] === undefined ? {} : { sipUri: c['sip-uri'] }),
    ...(c['migration-api'] === undefined || issuer === undefined ? {} : {
      migration: {
        listen: c['migration-api'], tokenIssuer: issuer, tokenCertFile: c['token-cert'] as string,
        tokenAudience: c['token-audience'] ?? defaultResource('partner', issuer),
        registrar: c['registrar-uri'] as string, ttlS: c['migration-ttl'],
      },
    }),
  };
}

/**
 * Validates `mcx relay` options.
 * @throws UsageError naming every invalid option.
 */
export function parseRelayOptions(o: AgentCliOptions, logger: Logger): AgentNodeConfig {
  return nodeConfig(parseConfig(relaySchema, nodeInput(o)), logger);
}

function addNodeOptions(cmd: Command): Command {
  return cmd
    .option('--listen <[tcp://|tls://]host:port>', 'Diameter listen address (TLS when the TLS files are given, unless tcp://)')
    .option('--origin-host <fqdn>', 'Diameter identity (Origin-Host); with TLS, a DNS name of the certificate')
    .option('--realm <realm>', 'Diameter realm (Origin-Realm)')
    .option('--metrics <host:port>', METRICS_OPTION_HELP)
    .option('--route <realm=host:port[,host:port]>', 'peers of a realm, in order of preference; each [tcp://|tls://] (repeatable)', collectOption)
    .option('--tls-cert <file>', 'PEM certificate (Diameter mutual TLS, admin HTTPS)')
    .option('--tls-key <file>', 'PEM private key')
    .option('--tls-ca <file[,file]>', 'PEM CAs trusted for peers: own system, then the other system (repeatable or comma-separated)', collectOption)
    .option('--trace <file.pcapng>', TRACE_HELP)
    .option('--workers <n>', 'processes on the same Diameter and HTTPS addresses (mms: sharing its state through --store redis://…; README "Several processes per role")', '1');
}

/**
 * The worker group of `--workers N` (lib/workers): N processes of the agent on its Diameter listener and HTTPS APIs
 * (`apis`: option name → address), each connected to every `--route` peer. Ports 0 are fixed first.
 */
async function superviseAgents(role: 'mms' | 'relay', listen: EndpointSpec, apis: Record<string, HostPort | undefined>, workers: number, metrics: HostPort | undefined, logger: Logger): Promise<never> {
  const { fixedPort, superviseWorkers } = await import('../lib/workers/supervisor.ts');
  const fixed = async (a: HostPort): Promise<string> => formatHostPort({ ...a, port: await fixedPort(a.host, a.port, 'tcp') });
  const extraArgs = ['--listen', `${listen.transport ? `${listen.transport}://` : ''}${await fixed(listen)}`];
  for (const [option, a] of Object.entries(apis)) if (a) extraArgs.push(`--${option}`, await fixed(a));
  return superviseWorkers({ role, count: workers, logger, extraArgs, ...(metrics ? { metrics } : {}) });
}

/** The count of `--workers` (validated with the rest by the role's parse). */
const workersOf = (o: AgentCliOptions): number => Number(o.workers ?? 1);

/** Adds `mcx mms [serve]`; `serve` is a default subcommand so later `mcx mms <subcommand>`s keep their own options. */
export const mmsCommand: CommandModule = (program: Command) => {
  const mms = program.command('mms').description('migration management server (TS 23.280 §10.6.2): partner (translation agent) or primary role');
  addNodeOptions(mms.command('serve', { isDefault: true }).description('run the MMS until SIGINT/SIGTERM (`mcx mms --role …` is `mcx mms serve --role …`)'))
    .option('--role <role>', 'partner | primary')
    .option('--mappings <file.csv>', 'partner: static mappings loaded at start (partner_impi,partner_impu,primary_impi,primary_impu,primary_realm)')
    .option('--store <spec>', 'memory | redis | redis://… | rediss://… | redis+cluster://h:p,h:p | redis+sentinel://h:p/<master> (partner: mappings and bindings; primary: bindings)', 'memory')
    .option('--state-dir <dir>', 'memory store journal and admin token (default .state/mms-<role>)')
    .option('--admin <host:port>', 'partner: admin API for the mappings (none without it)')
    .option('--admin-token-file <file>', 'partner: admin bearer token file (default: <state-dir>/admin-token, created 0600)')
    .option('--topology-hiding', 'partner: send its own SIP URI as Server-Name, hide primary error hosts')
    .option('--sip-uri <uri>', 'partner: its SIP URI (default sip:<origin-host>)')
    .option('--primary-system <realm=R,idms=URL,api=URL,cx=H:P>', 'partner: a primary system of dynamic migrations: realm, IdMS issuer, primary MMS binding API and Cx peers (repeatable)', collectOption)
    .option('--migration-api <host:port>', 'partner: serve the migration configuration API here (HTTPS)')
    .option('--token-issuer <url>', 'partner: the partner IdMS issuer whose access tokens the migration API takes')
    .option('--token-cert <file>', 'partner: that IdMS token-signing certificate (certs: partner/idms-signing.pem)')
    .option('--token-audience <uri>', 'partner: aud of those tokens (default <token-issuer>/migration, the IdMS default)')
    .option('--registrar-uri <sip-uri>', 'partner: the registrar the UE is told to register with, e.g. sip:127.0.0.1:5060;transport=udp')
    .option('--migration-ttl <s>', 'partner: lifetime of a migration configuration; primary: longest binding confirmed (default 43200)')
    .option('--binding-api <host:port>', 'primary: serve the binding API here (HTTPS, mutual TLS with the partner CAs)')
    .option('--hss-admin <url>', 'primary: the HSS admin API (https://…), the subscriber directory')
    .option('--hss-admin-token-file <file>', 'primary: its bearer token file')
    .option('--binding-ca <file[,file]>', 'primary: partner CAs whose MMSs the binding API takes (default: every --tls-ca but the first)', collectOption)
    .action(async (opts: MmsCliOptions) => {
      const logger = createLogger('mms');
      const config = parseMmsOptions(opts, logger);
      if (workersOf(opts) > 1 && !workerSlot()) {
        await superviseAgents('mms', config.listen, config.role === 'partner'
          ? { 'admin': config.admin, 'migration-api': config.migration?.listen } : { 'binding-api': config.bindingApi }, workersOf(opts), config.metrics?.listen, logger);
      }
      // In a group the first worker loads the mapping file; the others would only replace the same mappings again.
      if (config.role === 'partner' && (workerSlot()?.index ?? 1) > 1) delete config.mappingsCsv;
      // Loaded here, not at the top: `--help` needs none of the MMS (issue #12).
      const { startMms } = await import('./run.ts');
      await serveUntilSignal({
        // --trace was validated with the rest above.
        role: 'mms', logger, start: () => startTraced(opts.trace, logger, (t) => startMms({ ...config, ...t })),
        ready: (m) => `listening diameter=${m.diameterUrl}${m.adminUrl ? ` admin=${m.adminUrl}` : ''}${m.migrationUrl ? ` ${m.role === 'partner' ? 'migration' : 'bindings'}=${m.migrationUrl}` : ''} role=${m.role}${metricsReadySuffix(m.metricsUrl)}`,
      });
    });
};

/** Adds `mcx relay`: the primary system's "SIP core / IMS" as an RFC 6733 relay toward the HSS. */
export const relayCommand: CommandModule = (program: Command) => {
  addNodeOptions(program.command('relay').description('Diameter relay standing for the primary SIP core / IMS (RFC 6733: Route-Record, loop detection, 1 s upstream)'))
    .action(async (opts: AgentCliOptions) => {
      const logger = createLogger('relay');
      const config = parseRelayOptions(opts, logger);
      if (workersOf(opts) > 1 && !workerSlot()) await superviseAgents('relay', config.listen, {}, workersOf(opts), config.metrics?.listen, logger);
      const { startRelay } = await import('./run.ts');
      await serveUntilSignal({
        role: 'relay', logger, start: () => startTraced(opts.trace, logger, (t) => startRelay({ ...config, ...t })),
        ready: (r) => `listening diameter=${r.diameterUrl}${metricsReadySuffix(r.metricsUrl)}`,
      });
    });
};
