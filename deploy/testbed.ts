/**
 * `mcx testbed`: the all-in-one migration testbed, the project's main job. One command brings up, in this process and
 * on loopback, the primary system (HSS, relay standing for the SIP core / IMS, primary MMS, primary IdMS) and the
 * partner system (partner IdMS, partner MMS with its static mappings and migration API, registrar on UDP/TCP/TLS),
 * with mutual TLS on every Diameter leg and every link between the systems; then two demo UEs register under partner
 * identities with the keys of their primary ISIMs — one by static configuration (TS 23.280 §10.6.2.2), one after
 * the dynamic migration configuration (§10.6.2.3: IdMS login, token exchange, jwt-bearer, configuration request) —
 * and each message ladder is printed from what the roles logged. Then it writes the softphone files of the demo users
 * (client-files.ts) and serves until SIGINT/SIGTERM (or, with `--once`, exits 0 on success and 1 naming the failing
 * step).
 *
 * `--partners N` (N ≥ 2) starts N partner systems instead of one (`partner-a`, … in realms derived from
 * `--partner-realm`, topology.ts), each with its own PKI, IdMS, MMS and registrar, trusting the primary only; the
 * demos are then alice statically to partner A, carol dynamically to every partner at once, and dave refused at
 * partner B (demo-partners.ts). Without it everything is as with one partner always was.
 *
 * Every role's Prometheus metrics are served together on `--metrics` (loopback, no token; metrics-endpoint.ts),
 * named in the summary.
 */
import { isIP } from 'node:net';
import { z } from 'zod';
import type { Command } from 'commander';
import type { CommandModule } from '../lib/cli.ts';
import { UsageError } from '../lib/cli.ts';
import { hostPortSchema, isLoopback, realmSchema } from '../lib/config/address.ts';
import { enumListSchema, storeSpecSchema } from '../lib/config/options.ts';
import { parseConfig } from '../lib/config/validate.ts';
import { createLogger, type Logger } from '../lib/log.ts';
import type { MetricsListener } from '../lib/metrics/endpoint.ts';
import { isConfigurationFailure, serveUntilSignal } from '../lib/serve.ts';
import { TRACE_HELP, traceFileSchema } from '../lib/trace/cli.ts';
import { TraceWriter } from '../lib/trace/writer.ts';
import { RAND_POLICIES } from '../hss/vectors.ts';
import { DIGEST_ALGORITHMS, REGISTRAR_DEFAULTS } from '../registrar/config.ts';
import { Isim } from '../ue-client/isim.ts';
import type { MigrationConfiguration } from '../ue-client/idm-client.ts';
import { writeTestbedClientFiles, type TestbedClientFiles } from './client-files.ts';
import { runDynamicDemo } from './demo-dynamic.ts';
import { runPartnersDynamicDemo, runRefusedDemo } from './demo-partners.ts';
import { registerDemoUe } from './demo-ue.ts';
import { LogCollector, buildLadder, formatLadder } from './ladder.ts';
import { listenTestbedMetrics } from './metrics-endpoint.ts';
import { startStatusPage } from './status/page.ts';
import type { StatusServer } from './status/server.ts';
import { TwoSystemTestbed, type TestbedPlan } from './testbed-builder.ts';
import { formatSummary } from './summary.ts';
import { formatPartnersSummary } from './summary-partners.ts';
import {
  MAX_PARTNERS, demoProvisioning, ensureDemoUsers, ensureDynamicUser, identityIn, multiPartnerProvisioning, partnerSystems,
  type DemoUser, type DynamicUser, type PartnerSystem, type PasswordUser, type Realms, type TestbedLayout,
} from './topology.ts';

const PORTS_HELP = 'auto, or UDP,TCP,TLS ports such as 5060,5060,5061';

/** `--ports`: `auto` (0: the system picks) or three ports. */
const portsSchema = z.string().transform((text, ctx): { udp: number; tcp: number; tls: number } => {
  if (text === 'auto') return { udp: 0, tcp: 0, tls: 0 };
  const parts = text.split(',').map((s) => s.trim());
  const nums = parts.map(Number);
  if (parts.length !== 3 || nums.some((n, i) => !/^\d+$/.test(parts[i] as string) || n < 1 || n > 65535)) {
    ctx.addIssue({ code: 'custom', message: `expected ${PORTS_HELP}, got ${JSON.stringify(text)}` });
    return z.NEVER;
  }
  const [udp, tcp, tls] = nums as [number, number, number];
  if (tls === tcp) ctx.addIssue({ code: 'custom', message: 'the TLS port must differ from the TCP port' });
  return { udp, tcp, tls };
});

const STATUS_PORT_HELP = 'auto (an ephemeral port), off, or a port 1…65535';

/** `--status-port`: the status page's port on 127.0.0.1 (0: the system picks), or none. */
const statusPortSchema = z.string().transform((text, ctx): number | 'off' => {
  if (text === 'off') return 'off';
  if (text === 'auto') return 0;
  const n = Number(text);
  if (!/^\d+$/.test(text) || n < 1 || n > 65535) {
    ctx.addIssue({ code: 'custom', message: `expected ${STATUS_PORT_HELP}, got ${JSON.stringify(text)}` });
    return z.NEVER;
  }
  return n;
});

const optionsSchema = z.object({
  'dir': z.string().min(1, 'must not be empty'),
  // A unicast address: the partner MMS hands it to UEs as the registrar's, and 0.0.0.0 / :: names no host.
  'listen': z.string().refine((s) => isIP(s) !== 0 && s !== '0.0.0.0' && !/^[0:]+$/.test(s), 'must be a unicast IP address such as 127.0.0.1 (not 0.0.0.0 or ::)'),
  'ports': portsSchema,
  'store': storeSpecSchema,
  'primary-realm': realmSchema,
  'partner-realm': realmSchema,
  'rand-policy': z.enum(RAND_POLICIES, { error: `must be one of ${RAND_POLICIES.join(', ')}` }),
  'digest-algorithms': enumListSchema(DIGEST_ALGORITHMS),
  // Absent (callers other than the command line): one partner, the default layout.
  'partners': z.string().regex(/^\d+$/, `must be a whole number 1…${MAX_PARTNERS}`).default('1').transform(Number)
    .refine((n) => n >= 1 && n <= MAX_PARTNERS, `must be 1…${MAX_PARTNERS} (each partner system adds an IdMS, an MMS and a registrar)`),
  // Absent (callers other than the command line): any free loopback port.
  'metrics': z.string().default('127.0.0.1:0').pipe(hostPortSchema)
    .refine((a) => isLoopback(a.host), 'must be a loopback address such as 127.0.0.1:9464 (the endpoint has no token)'),
  // Absent (callers other than the command line, whose default is auto): no status page.
  'status-port': statusPortSchema.default('off'),
  'once': z.boolean(),
  'verbose': z.boolean(),
  'trace': traceFileSchema.optional(),
}).superRefine((o, ctx) => {
  if (o['primary-realm'].toLowerCase() === o['partner-realm'].toLowerCase()) {
    ctx.addIssue({ code: 'custom', path: ['partner-realm'], message: 'must differ from --primary-realm (two systems, two realms)' });
  } else if (o.partners > 1 && o.partners <= MAX_PARTNERS) {
    const clash = partnerSystems(o['partner-realm'], o.partners).find((p) => p.realm.toLowerCase() === o['primary-realm'].toLowerCase());
    if (clash) ctx.addIssue({ code: 'custom', path: ['partner-realm'], message: `gives partner ${clash.name} the realm of --primary-realm (${clash.realm})` });
  }
});

/** The validated options. */
export type TestbedOptions = z.output<typeof optionsSchema>;

/**
 * Validates the options as given on the command line (kebab-case keys).
 * @throws UsageError naming every bad option.
 */
export function parseTestbedOptions(raw: Record<string, unknown>): TestbedOptions {
  return parseConfig(optionsSchema, raw);
}

/** A testbed that is up: the roles, and what its users are. */
export interface RunningTestbed {
  layout: TestbedLayout;
  realms: Realms;
  testbed: TwoSystemTestbed;
  alice: DemoUser;
  /** The partner identity alice registers with by static configuration (the one partner's, or partner A's). */
  alicePartner: { impi: string; impu: string };
  bob: PasswordUser;
  /** The public identity bob registers with (the one partner's, or partner A's). */
  bobImpu: string;
  carol: DynamicUser;
  /** With N ≥ 2 partners: the user whose primary allows partner A only, refused at partner B. */
  dave?: DynamicUser;
  /** The partner systems (one: `partner`). */
  partners: readonly PartnerSystem[];
  logs: LogCollector;
  /** The testbed's logger (into `logs`): the demo UEs log their seed steps through it. */
  logger: Logger;
  pki: 'created' | 'reused';
  /** carol's migration configuration, while the dynamic demo's is live (it was not ended). */
  dynamicConfiguration?: MigrationConfiguration;
  /** With N ≥ 2 partners: carol's live configurations, one per partner, in partner order. */
  dynamicConfigurations?: MigrationConfiguration[];
  /** The softphone files, once written (client-files.ts). */
  clients?: TestbedClientFiles;
  /** `http://127.0.0.1:PORT` of the testbed's metrics endpoint (`/metrics`, `/healthz`, `/readyz`). */
  metricsUrl: string;
  /** The status page (deploy/status), unless `--status-port off`. */
  status?: StatusServer;
  close(): Promise<void>;
}

/**
 * Prepares `--dir` (PKI, users, provisioning files; reused when present) and starts every role in this process.
 * @param more what the command line does not set (tests: the registrar's expiry limits; a log collector that keeps
 *   every role's lines and echoes none).
 * @throws UsageError for a `--dir` made for other realms; the roles' start errors.
 */
export async function startTestbed(o: TestbedOptions, more: Pick<TestbedPlan, 'expires' | 'logs'> = {}): Promise<RunningTestbed> {
  const realms: Realms = { primary: o['primary-realm'], partner: o['partner-realm'] };
  const partners = partnerSystems(realms.partner, o.partners);
  const logs = more.logs ?? new LogCollector(o.verbose);
  const logger = createLogger('testbed', { level: o.verbose ? 'debug' : 'info', destination: logs.stream });
  // Opened before any role starts, so their first CER/CEA are in it; closed after they all stopped (DPR/DPA in it).
  const trace = o.trace === undefined ? undefined : await TraceWriter.open(o.trace, { logger });
  if (trace) process.stdout.write(`testbed: tracing every SIP and Diameter message of the roles to ${trace.path} (wireshark, tshark -r)\n`);
  try {
    return await startRoles(o, more, realms, partners, logs, logger, trace);
  } catch (e) {
    await trace?.close();
    throw e;
  }
}

/** {@link startTestbed} once its trace file, if any, is open. */
async function startRoles(o: TestbedOptions, more: Pick<TestbedPlan, 'expires' | 'logs'>, realms: Realms, partners: readonly PartnerSystem[],
  logs: LogCollector, logger: Logger, trace: TraceWriter | undefined): Promise<RunningTestbed> {
  const [first] = partners as [PartnerSystem];
  let users: { alice: DemoUser; bob: PasswordUser; carol: DynamicUser; dave?: DynamicUser } | undefined;
  const testbed = await TwoSystemTestbed.create({
    dir: o.dir, realms, partners, store: o.store, randPolicy: o['rand-policy'],
    // `auto` (0) is resolved by the builder: UDP and TCP share one port as with the defaults (5060), TLS another.
    sip: { host: o.listen, udp: o.ports.udp, tcp: o.ports.tcp, tls: o.ports.tls },
    digestAlgorithms: o['digest-algorithms'], logs, logger, ...more, ...(trace ? { trace } : {}),
    // The registrar's admin API: `mcx registrar bindings` shows what a softphone registered.
    admin: true,
    provisioning: async (layout) => {
      const note = (line: string): void => {
        process.stdout.write(`testbed: ${line}\n`);
      };
      const u = await ensureDemoUsers(layout, realms, note);
      if (partners.length === 1) {
        users = u;
        return demoProvisioning(realms, u.alice, u.bob, u.carol);
      }
      const dave = await ensureDynamicUser(layout, realms, note, 'dave');
      users = { ...u, dave };
      const p = multiPartnerProvisioning(partners, { ...u, dave });
      // bob, the plain softphone user, at partner A: his IMPI as saved (HA1 is bound to it), a public identity there.
      return {
        subscribers: [...p.subscribers, { impi: u.bob.impi, impus: [u.bob.primaryImpu], password: u.bob.password, allowedPartners: [first.realm] }],
        mappings: [...p.mappings, { system: first.name, partner: { impi: u.bob.impi, impu: `sip:bob@${first.realm}` }, primary: { impi: u.bob.impi, impu: u.bob.primaryImpu } }],
        idmsUsers: p.idmsUsers,
      };
    },
  });
  if (testbed.pkiState === 'regenerated') {
    process.stdout.write(`testbed: ${testbed.pki} was of an older PKI version (certificates without realm and role); regenerated it\n`);
  }
  if (testbed.pkiState === 'extended') {
    process.stdout.write(`testbed: ${testbed.pki} had no system for ${partners.map((p) => p.name).join(', ')}; made it anew with them\n`);
  }
  try {
    await testbed.start();
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'EADDRINUSE') {
      throw new Error(`${(e as Error).message}: a SIP port is taken (another SIP server?); pick others with --ports (${PORTS_HELP})`, { cause: e });
    }
    throw e;
  }
  let metrics: MetricsListener;
  try {
    metrics = await listenTestbedMetrics(o.metrics, () => testbed.metricsSources(), logger);
  } catch (e) {
    await testbed.close();
    if ((e as NodeJS.ErrnoException).code === 'EADDRINUSE') throw new UsageError(`--metrics ${o.metrics.host}:${o.metrics.port}: the port is taken; pick another (or port 0: any free one)`);
    throw e;
  }
  const { alice, bob, carol, dave } = users as NonNullable<typeof users>;
  const single = partners.length === 1;
  let status: StatusServer | undefined;
  if (o['status-port'] !== 'off') {
    try {
      status = await startStatusPage(testbed, logs, o['status-port'], logger);
    } catch (e) {
      await testbed.close();
      if ((e as NodeJS.ErrnoException).code === 'EADDRINUSE') throw new Error(`${(e as Error).message}: the status page's port is taken; pick another with --status-port (${STATUS_PORT_HELP})`, { cause: e });
      throw e;
    }
  }
  return {
    layout: testbed.layout, realms, testbed, alice, bob, carol, ...(dave ? { dave } : {}), partners, logs, logger, ...(status ? { status } : {}),
    alicePartner: single ? alice.partner : identityIn(alice.partner, first.realm), bobImpu: single ? bob.impu : `sip:bob@${first.realm}`,
    pki: testbed.pkiState === 'reused' ? 'reused' : 'created', metricsUrl: metrics.url,
    close: async () => {
      await status?.close();
      await metrics.close();
      await testbed.close();
      await trace?.close();
    },
  };
}

/**
 * The demos: §10.6.2.2 (alice), then §10.6.2.3 (carol); with several partner systems carol to every partner, then
 * dave refused at partner B.
 * @param endMigration delete carol's configurations afterwards (`--once`).
 * @returns whether every demo did what it shows.
 */
export async function runDemo(tb: RunningTestbed, endMigration = false): Promise<boolean> {
  if (tb.partners.length === 1) return (await runStaticDemo(tb)) && (await runDynamicDemo(tb, endMigration));
  return (await runStaticDemo(tb)) && (await runPartnersDynamicDemo(tb, endMigration)) && (await runRefusedDemo(tb));
}

/**
 * The demo registration of §10.6.2.2 with the demo user's ISIM over UDP; prints the ladder and the result.
 * @returns whether the UE got its 200 with every step 2–13 seen.
 */
export async function runStaticDemo(tb: RunningTestbed): Promise<boolean> {
  const { alice, realms } = tb;
  const partner = tb.testbed.partner();
  // With several partner systems the lines name the partner (partner A); with one they are as they always were.
  const of = tb.partners.length > 1 ? partner.realm : undefined;
  const isim = await Isim.open(tb.layout.isimFile, {
    k: Buffer.from(alice.k, 'hex'), op: Buffer.from(alice.op, 'hex'), impi: alice.primary.impi, impus: [alice.primary.impu], domain: realms.primary,
  });
  const udp = tb.testbed.role(tb.testbed.rolesOf().registrar).addresses.sip?.find((s) => s.transport === 'udp');
  if (!udp) {
    await isim.close();
    throw new Error('testbed: the registrar has no UDP listener');
  }
  const recorded = tb.logs.record();
  const id = tb.alicePartner;
  process.stdout.write(`demo: ${id.impi} (ISIM of ${alice.primary.impi}) registers with the partner SIP core${of ? ` of ${of}` : ''} at udp://${udp.host}:${udp.port}\n`);
  const outcome = await registerDemoUe({ host: udp.host, port: udp.port, domain: partner.realm, impi: id.impi, impu: id.impu, isim })
    .finally(() => isim.close());
  const rungs = buildLadder(recorded(), outcome.sip);
  process.stdout.write(`${formatLadder('static', rungs, of)}\n`);
  const missing = rungs.find((r) => !r.line);
  if (outcome.failure !== undefined || missing) {
    const at = missing?.step ?? (outcome.sip[11] === undefined ? 11 : 13);
    process.stdout.write(`result: FAILED at step ${at}: ${outcome.failure ?? `no role logged step ${at}`}\n`);
    return false;
  }
  const resync = outcome.resynced ? ' after one resynchronisation (the HSS had lost its SQN counter)' : '';
  process.stdout.write(`result: OK — ${id.impu} registered (${outcome.final?.status} ${outcome.final?.reason})${resync}; ` +
    `the vectors came from the primary HSS for ${alice.primary.impi}\n`);
  return true;
}

/** `--once`: up, demo, down. Exit status 0 on success, 1 otherwise. */
async function runOnce(o: TestbedOptions): Promise<void> {
  // Nobody could open a page that is gone once the demo ends.
  const tb = await startTestbed({ ...o, 'status-port': 'off' });
  const ok = await runDemo(tb, true).finally(() => tb.close());
  process.exitCode = ok ? 0 : 1;
  // A lingering handle (a Redis socket in reconnect back-off) must not keep a finished run alive.
  setTimeout(() => process.exit(), 1000).unref();
}

/** Runs `mcx testbed` with validated options. */
export async function runTestbed(o: TestbedOptions): Promise<void> {
  if (o.once) {
    try {
      await runOnce(o);
    } catch (e) {
      if (isConfigurationFailure(e)) throw new UsageError(e.message);
      throw e;
    }
    return;
  }
  await serveUntilSignal({
    role: 'testbed', logger: createLogger('testbed', { level: 'silent' }),
    start: async () => {
      const tb = await startTestbed(o);
      let ok = false;
      try {
        ok = await runDemo(tb);
        if (ok) tb.clients = await writeTestbedClientFiles(tb);
      } finally {
        // Every role stops with DPR, also when the demo threw (an ISIM file of other credentials, say).
        if (!ok || !tb.clients) await tb.close();
      }
      if (!ok) throw new Error('testbed: the demo registration failed (see the ladder above); stopped');
      return tb;
    },
    ready: (tb) => (tb.partners.length > 1 ? formatPartnersSummary(tb) : formatSummary(tb)),
  });
}

/** Adds `mcx testbed`. */
export const testbedCommand: CommandModule = (program: Command) => {
  program
    .command('testbed')
    .description('all-in-one migration testbed: both MC systems on loopback (HSS, relay, MMSs, IdMSs, registrar), then demo registrations of TS 23.280 §10.6.2.2 and §10.6.2.3')
    .option('--dir <path>', 'testbed directory (PKI, users, state), reused when present', '.testbed')
    .option('--listen <ip>', 'address of the registrar\'s SIP listeners', '127.0.0.1')
    .option('--ports <ports>', `SIP ports: ${PORTS_HELP}`, '5060,5060,5061')
    .option('--store <spec>', 'store of every role: memory (journals under <dir>/state) or a Redis URL (redis://…, redis+cluster://h:p,h:p, redis+sentinel://h:p/<master>)', 'memory')
    .option('--primary-realm <realm>', 'realm of the primary MC system', 'primary.mcx.test')
    .option('--partner-realm <realm>', 'realm of the partner MC system; with --partners N ≥ 2 the base of theirs: -a, -b, … after its first label '
      + '(partner-a.mcx.test, …)', 'partner.mcx.test')
    .option('--partners <n>', `partner MC systems, 1…${MAX_PARTNERS}: each its own realm, PKI, IdMS, MMS and registrar, trusting the primary only `
      + '(--ports are partner A\'s registrar\'s, the others get free ones)', '1')
    .option('--rand-policy <policy>', 'HSS RAND policy: sipp361 avoids RES with 0x00 octets, which SIPp 3.6.1 hashes wrong', 'sipp361')
    .option('--digest-algorithms <list>', 'SIP Digest algorithms the registrar offers password users, preferred first (SHA-256,MD5 offers both; '
      + 'baresip 1.0 and sipsak need MD5 alone)', REGISTRAR_DEFAULTS.digestAlgorithms.join(','))
    .option('--metrics <host:port>', 'the testbed\'s Prometheus endpoint, every role in one (loopback only, no token): GET /metrics, /healthz, /readyz', '127.0.0.1:0')
    .option('--status-port <port>', `the status page on 127.0.0.1 (every registration's ladder, live; the roles' state): ${STATUS_PORT_HELP}`, 'auto')
    .option('--once', 'run the demo registration and exit (0 on success)', false)
    .option('--verbose', 'role logs (JSON) on stderr', false)
    .option('--trace <file.pcapng>', TRACE_HELP)
    .action(async (opts: Record<string, unknown>) => {
      const kebab = Object.fromEntries(Object.entries(opts).map(([k, v]) => [k.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`), v]));
      await runTestbed(parseTestbedOptions(kebab));
    });
};
