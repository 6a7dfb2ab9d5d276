/**
 * `mcx mms` (partner or primary MMS) and `mcx relay` (the primary "SIP core / IMS"): each runs until
 * SIGINT/SIGTERM and prints one ready line, `mms: listening diameter=tls://HOST:PORT [admin=URL] role=ROLE` /
 * `relay: listening diameter=…`. Every option is validated with zod through parseConfig, so each bad one is named
 * (exit 2); so are a bad mapping file (by line) and unreadable TLS files.
 */
import { z } from 'zod';
import type { Command } from 'commander';
import type { CommandModule } from '../lib/cli.ts';
import { hostPortSchema, realmSchema } from '../lib/config/address.ts';
import { checkTlsTriple, collectOption, storeSpecSchema, tlsFilesOf, tlsOptionsShape } from '../lib/config/options.ts';
import { parseConfig } from '../lib/config/validate.ts';
import { createLogger, type Logger } from '../lib/log.ts';
import { serveUntilSignal } from '../lib/serve.ts';
import type { AgentNodeConfig } from './cx-node.ts';
import { checkLinkSecurity, endpointSchema, routesSchema } from './options.ts';
import { startMms, startRelay, type MmsConfig } from './run.ts';

const required = z.string({ error: 'required' });

const nodeShape = {
  'listen': endpointSchema,
  'origin-host': required.pipe(realmSchema),
  'realm': required.pipe(realmSchema),
  'route': routesSchema,
  ...tlsOptionsShape,
};

const INTER_SYSTEM = 'every Diameter link between the two systems is mutual TLS: give --tls-cert, --tls-key and --tls-ca, and no tcp://';
const PARTNER_ONLY = ['mappings', 'admin', 'admin-token-file', 'sip-uri', 'topology-hiding'] as const;

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
}).superRefine((o, ctx) => {
  checkTlsTriple(o, ctx);
  const tls = tlsFilesOf(o) !== undefined;
  const peers = o.route.flatMap((r) => r.peers);
  // The side facing the other system must be TLS: the partner's routes, the primary's listener.
  checkLinkSecurity([o.listen], tls, 'listen', o.role === 'primary' ? INTER_SYSTEM : undefined, ctx);
  checkLinkSecurity(peers, tls, 'route', o.role === 'partner' ? INTER_SYSTEM : undefined, ctx);
  if (o.role === 'primary') {
    for (const f of PARTNER_ONLY) if (o[f] !== undefined) ctx.addIssue({ code: 'custom', path: [f], message: 'only for --role partner (the primary MMS passes Cx through)' });
  }
});

const relaySchema = z.object(nodeShape).superRefine((o, ctx) => {
  checkTlsTriple(o, ctx);
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
}

function nodeInput(o: AgentCliOptions): Record<string, unknown> {
  return {
    'listen': o.listen, 'origin-host': o.originHost, 'realm': o.realm, 'route': o.route, 'tls-cert': o.tlsCert, 'tls-key': o.tlsKey, 'tls-ca': o.tlsCa,
  };
}

function nodeConfig(c: z.output<typeof relaySchema>, logger: Logger): AgentNodeConfig {
  const tls = tlsFilesOf(c);
  return { listen: c.listen, originHost: c['origin-host'], realm: c.realm, routes: c.route, logger, ...(tls ? { tls } : {}) };
}

/**
 * Validates `mcx mms` options into an {@link MmsConfig}.
 * @throws UsageError naming every invalid option.
 */
export function parseMmsOptions(o: MmsCliOptions, logger: Logger): MmsConfig {
  const c = parseConfig(mmsSchema, {
    ...nodeInput(o), 'role': o.role, 'mappings': o.mappings, 'store': o.store ?? 'memory', 'state-dir': o.stateDir ?? `.state/mms-${o.role ?? 'partner'}`,
    'admin': o.admin, 'admin-token-file': o.adminTokenFile, 'topology-hiding': o.topologyHiding, 'sip-uri': o.sipUri,
  });
  const node = nodeConfig(c, logger);
  if (c.role === 'primary') return { role: 'primary', ...node };
  return {
    role: 'partner', ...node, store: c.store, stateDir: c['state-dir'], topologyHiding: c['topology-hiding'] ?? false,
    ...(c.mappings === undefined ? {} : { mappingsCsv: c.mappings }),
    ...(c.admin === undefined ? {} : { admin: c.admin }),
    ...(c['admin-token-file'] === undefined ? {} : { adminTokenFile: c['admin-token-file'] }),
    ...(c['sip-uri'] === undefined ? {} : { sipUri: c['sip-uri'] }),
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
    .option('--route <realm=host:port[,host:port]>', 'peers of a realm, in order of preference; each [tcp://|tls://] (repeatable)', collectOption)
    .option('--tls-cert <file>', 'PEM certificate (Diameter mutual TLS, admin HTTPS)')
    .option('--tls-key <file>', 'PEM private key')
    .option('--tls-ca <file[,file]>', 'PEM CAs trusted for peers: own system, then the other system (repeatable or comma-separated)', collectOption);
}

/** Adds `mcx mms [serve]`; `serve` is a default subcommand so later `mcx mms <subcommand>`s keep their own options. */
export const mmsCommand: CommandModule = (program: Command) => {
  const mms = program.command('mms').description('migration management server (TS 23.280 §10.6.2): partner (translation agent) or primary role');
  addNodeOptions(mms.command('serve', { isDefault: true }).description('run the MMS until SIGINT/SIGTERM (`mcx mms --role …` is `mcx mms serve --role …`)'))
    .option('--role <role>', 'partner | primary')
    .option('--mappings <file.csv>', 'partner: static mappings loaded at start (partner_impi,partner_impu,primary_impi,primary_impu,primary_realm)')
    .option('--store <spec>', 'partner: memory | redis | redis://… | rediss://…', 'memory')
    .option('--state-dir <dir>', 'partner: memory store journal and admin token (default .state/mms-<role>)')
    .option('--admin <host:port>', 'partner: admin API for the mappings (none without it)')
    .option('--admin-token-file <file>', 'partner: admin bearer token file (default: <state-dir>/admin-token, created 0600)')
    .option('--topology-hiding', 'partner: send its own SIP URI as Server-Name, hide primary error hosts')
    .option('--sip-uri <uri>', 'partner: its SIP URI (default sip:<origin-host>)')
    .action(async (opts: MmsCliOptions) => {
      const logger = createLogger('mms');
      const config = parseMmsOptions(opts, logger);
      await serveUntilSignal({
        role: 'mms', logger, start: () => startMms(config),
        ready: (m) => `listening diameter=${m.diameterUrl}${m.adminUrl ? ` admin=${m.adminUrl}` : ''} role=${m.role}`,
      });
    });
};

/** Adds `mcx relay`: the primary system's "SIP core / IMS" as an RFC 6733 relay toward the HSS. */
export const relayCommand: CommandModule = (program: Command) => {
  addNodeOptions(program.command('relay').description('Diameter relay standing for the primary SIP core / IMS (RFC 6733: Route-Record, loop detection, 1 s upstream)'))
    .action(async (opts: AgentCliOptions) => {
      const logger = createLogger('relay');
      const config = parseRelayOptions(opts, logger);
      await serveUntilSignal({ role: 'relay', logger, start: () => startRelay(config), ready: (r) => `listening diameter=${r.diameterUrl}` });
    });
};
