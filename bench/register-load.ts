/**
 * Benchmark (not a test; DESIGN §5) of IMS-AKA registration under SIPp load, side by side:
 *
 *   node --import tsx bench/register-load.ts [--users 200] [--rate 300] [--duration 20] [--sipp-processes 2]
 *                                            [--transport udp|tcp] [--warmup 2]
 *
 * 1. "mcx registrar + mcx hss": `mcx hss` (N AKA subscribers, one K/OP, `--rand-policy sipp361`) and `mcx registrar`,
 *    each its own process, on loopback.
 * 2. "Kamailio S-CSCF + mcx hss": a fresh `mcx hss` and Kamailio 5.6 (ims_auth, ims_registrar_scscf) with it as its Cx
 *    peer.
 * Each target in turn gets the same load: P SIPp processes (one tops out near 1,000 calls/s), each with its own local
 * port and its share of the users, `rate` registrations/s in all for `duration` s, after a readiness probe and a
 * warm-up whose results are dropped. One call = one registration, REGISTER → 401 → REGISTER → 200; its latency runs
 * from the first REGISTER to the 200 (bench/sipp-load.ts). The targets run one after the other, so neither competes
 * with the other for the CPUs. Exit 0, or 1 when a target could not be started (the other is still measured), 2 on a
 * bad option; everything started is stopped and the temp folder removed, also on error and SIGINT.
 */
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { freePorts } from '../test/helpers/ports.ts';
import type { Proc } from '../test/helpers/process.ts';
import { ROOT } from '../test/helpers/process.ts';
import { quantile, runLoad, writeInjectionFiles, writeLoadScenario, type LoadOptions, type LoadResult } from './sipp-load.ts';
import { Stopper, startKamailioTarget, startMcxTarget, versionOf, type Target, type TargetOptions } from './targets.ts';

const REALM = 'ims.mcx.test';
const AMF = '8000';

/** The command line, validated. */
interface Options {
  users: number;
  rate: number;
  duration: number;
  processes: number;
  transport: 'udp' | 'tcp';
  warmup: number;
}

/** Every option with its default and bounds: the run stays bounded in count and time whatever is asked. */
const OPTIONS = {
  users: { default: 200, min: 1, max: 10_000, help: 'AKA subscribers (each SIPp process registers its share in turn)' },
  rate: { default: 300, min: 1, max: 5_000, help: 'registrations/s offered, over all SIPp processes' },
  duration: { default: 20, min: 1, max: 30, help: 'seconds of load per target' },
  'sipp-processes': { default: 2, min: 1, max: 16, help: 'SIPp processes (one tops out near 1,000 calls/s)' },
  warmup: { default: 2, min: 0, max: 10, help: 'seconds of load per target before the measurement (dropped)' },
} as const;

function usage(): string {
  return ['usage: node --import tsx bench/register-load.ts [options]',
    ...Object.entries(OPTIONS).map(([k, o]) => `  --${k} N`.padEnd(24) + `${o.help} (default ${o.default}, ${o.min}…${o.max})`),
    '  --transport udp|tcp'.padEnd(24) + 'SIP transport of the UEs (default udp)'].join('\n');
}

/** Parses argv; a bad option is named and the process exits 2. */
function parseOptions(argv: string[]): Options {
  const fail = (msg: string): never => {
    process.stderr.write(`register-load: ${msg}\n${usage()}\n`);
    process.exit(2);
  };
  let values: Record<string, string | boolean | undefined> = {};
  try {
    values = parseArgs({
      args: argv, strict: true, allowPositionals: false,
      options: { ...Object.fromEntries(Object.keys(OPTIONS).map((k) => [k, { type: 'string' as const }])), transport: { type: 'string' }, help: { type: 'boolean' } },
    }).values;
  } catch (e) {
    fail((e as Error).message);
  }
  if (values.help) {
    process.stdout.write(usage() + '\n');
    process.exit(0);
  }
  const num = (k: keyof typeof OPTIONS): number => {
    const o = OPTIONS[k];
    const raw = values[k];
    if (raw === undefined) return o.default;
    const n = Number(raw);
    return Number.isInteger(n) && n >= o.min && n <= o.max ? n : fail(`--${k} must be an integer ${o.min}…${o.max}, not ${String(raw)}`);
  };
  const transport = values.transport ?? 'udp';
  if (transport !== 'udp' && transport !== 'tcp') fail(`--transport must be udp or tcp, not ${String(transport)}`);
  const o: Options = { users: num('users'), rate: num('rate'), duration: num('duration'), processes: num('sipp-processes'), transport: transport as 'udp' | 'tcp', warmup: num('warmup') };
  if (o.processes > o.users) fail(`--sipp-processes (${o.processes}) must not exceed --users (${o.users}): each process needs its own users`);
  return o;
}

/** 16 random octets without 0x00: SIPp 3.6.1 reads aka_K/aka_OP as C strings (a leading 0x00 empties the key). */
function sippSafeKey(): string {
  for (;;) {
    const k = randomBytes(16);
    if (!k.includes(0)) return k.toString('hex');
  }
}

/** One target's outcome: its result, or why it could not be started. */
interface Row {
  label: string;
  server: string;
  result?: LoadResult;
  error?: string;
}

/**
 * Starts a target, proves the whole path with one registration (a few tries: the registrar's Cx peer may still be
 * opening), warms it up, measures, stops it.
 */
async function measure(o: Options, label: string, startTarget: () => Promise<Target>, load: Omit<LoadOptions, 'target' | 'tag' | 'rate' | 'durationS'>): Promise<Pick<Row, 'result' | 'error'>> {
  let target: Target | undefined;
  try {
    target = await startTarget();
    const tag = label.split(' ')[0]?.toLowerCase() ?? 'target';
    const base = { ...load, target: target.sip };
    let probe: LoadResult | undefined;
    for (let attempt = 0; attempt < 5 && !(probe && probe.succeeded === 1); attempt++) {
      if (attempt > 0) await new Promise((r) => setTimeout(r, 1000));
      probe = await runLoad({ ...base, injections: load.injections.slice(0, 1), localPorts: load.localPorts.slice(0, 1), rate: 1, durationS: 1, tag: `${tag}-probe${attempt}` });
    }
    if (probe?.succeeded !== 1) {
      const why = { ...probe?.failureCauses, ...probe?.unexpected };
      return { error: `could not be started: no registration succeeded in 5 tries (${JSON.stringify(why)} ${probe?.notes.join('; ') ?? ''})` };
    }
    if (o.warmup > 0) await runLoad({ ...base, rate: o.rate, durationS: o.warmup, tag: `${tag}-warmup` });
    process.stderr.write(`register-load: ${label}: ${o.rate}/s for ${o.duration} s …\n`);
    return { result: await runLoad({ ...base, rate: o.rate, durationS: o.duration, tag }) };
  } catch (e) {
    return { error: target ? `failed during the run: ${(e as Error).message}` : `could not be started: ${(e as Error).message.split('\n')[0]}` };
  } finally {
    await target?.stop();
  }
}

const ms = (v: number): string => (Number.isNaN(v) ? '—' : v.toFixed(v < 10 ? 2 : 1));

/** The side-by-side table. */
function table(o: Options, rows: Row[], versions: { sipp: string; mcx: string; node: string }): string {
  const offered = o.rate * o.duration;
  const cell = (r: Row, f: (x: LoadResult) => string): string => (r.result ? f(r.result) : '—');
  const list = (counts: Record<string, number>): string => Object.entries(counts).map(([k, n]) => `${k} ${n}`).join(', ');
  const causes = (x: LoadResult): string =>
    (list(x.failureCauses) + (Object.keys(x.unexpected).length > 0 ? ` (${list(x.unexpected)})` : '')) || '-';
  const lines: Array<[string, ...string[]]> = [
    ['', ...rows.map((r) => r.label)],
    ['offered', ...rows.map(() => `${offered} (${o.rate}/s × ${o.duration} s)`)],
    ['attempted', ...rows.map((r) => cell(r, (x) => String(x.attempted)))],
    ['succeeded', ...rows.map((r) => cell(r, (x) => String(x.succeeded)))],
    ['failed', ...rows.map((r) => cell(r, (x) => String(x.failed)))],
    ['  re-challenged (ok)', ...rows.map((r) => cell(r, (x) => String(x.rechallenged)))],
    ['  SIPp failure causes', ...rows.map((r) => cell(r, causes))],
    ['registrations/s', ...rows.map((r) => cell(r, (x) => x.perSecond.toFixed(1)))],
    ...(['p50', 'p90', 'p99'] as const).map((p): [string, ...string[]] => [`latency ${p} (ms)`, ...rows.map((r) => cell(r, (x) => ms(quantile(x.latenciesMs, Number(p.slice(1)) / 100))))]),
    ['latency max (ms)', ...rows.map((r) => cell(r, (x) => ms(x.latenciesMs[x.latenciesMs.length - 1] ?? NaN)))],
    ['registrar / S-CSCF', ...rows.map((r) => r.server)],
    ['HSS', ...rows.map(() => `mcx hss ${versions.mcx}`)],
    ['UE (load)', ...rows.map(() => `SIPp ${versions.sipp} ×${o.processes}`)],
  ];
  const widths = (lines[0] ?? []).map((_, c) => Math.max(...lines.map((l) => (l[c] ?? '').length)));
  const out = lines.map((l) => l.map((v, c) => v.padEnd(widths[c] ?? 0)).join('   ').trimEnd());
  out.splice(1, 0, widths.map((w) => '-'.repeat(w)).join('   '));
  for (const r of rows) {
    if (r.error) out.push(`${r.label}: ${r.error}`);
    for (const n of r.result?.notes ?? []) out.push(`${r.label}: ${n}`);
  }
  return out.join('\n');
}

async function main(): Promise<number> {
  const o = parseOptions(process.argv.slice(2));
  const stopper = new Stopper();
  // Set by SIGINT/SIGTERM: the run stops starting things and prints no table of cut-short loads.
  let interrupted = false;
  const dir = await mkdtemp(join(tmpdir(), 'mcx-bench-'));
  stopper.add(() => rm(dir, { recursive: true, force: true }));
  for (const sig of ['SIGINT', 'SIGTERM'] as const) {
    process.once(sig, () => {
      interrupted = true;
      process.stderr.write(`register-load: ${sig}: stopping everything\n`);
      void stopper.stop().finally(() => process.exit(130));
    });
  }
  try {
    const keys = { k: sippSafeKey(), op: sippSafeKey(), amf: AMF };
    const subscribers = Array.from({ length: o.users }, (_, i) => ({ impi: `bench${i}@${REALM}`, impu: `sip:bench${i}@${REALM}` }));
    const scenario = writeLoadScenario(dir, { domain: REALM, ...keys });
    const injections = writeInjectionFiles(dir, subscribers, o.processes);
    const versions = {
      sipp: await versionOf('sipp', ['-v'], /SIPp v(\d+(?:\.\d+)+)/),
      kamailio: await versionOf('kamailio', ['-v'], /version: kamailio (\S+)/),
      mcx: (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string }).version,
      node: process.version,
    };
    // A missing binary is named up front: the process helper does not catch a spawn error (ENOENT) of its own.
    if (versions.sipp === 'unknown') throw new Error('sipp not found: install the Debian package sip-tester (SIPp 3.6.1)');
    const targets: Array<{ label: string; server: string; start: (t: TargetOptions) => Promise<Target>; missing?: string }> = [
      { label: 'mcx registrar + mcx hss', server: `mcx registrar ${versions.mcx} (Node ${versions.node})`, start: startMcxTarget },
      { label: 'Kamailio S-CSCF + mcx hss', server: `Kamailio ${versions.kamailio}`, start: startKamailioTarget,
        ...(versions.kamailio === 'unknown' ? { missing: 'kamailio not found: install kamailio kamailio-ims-modules kamailio-presence-modules' } : {}) },
    ];
    process.stderr.write(`register-load: ${o.users} users, ${o.rate} registrations/s for ${o.duration} s per target (+${o.warmup} s warm-up), `
      + `${o.processes} SIPp process(es), ${o.transport.toUpperCase()}, ${availableParallelism()} CPUs; temp ${dir}\n`);
    const rows: Row[] = [];
    for (const t of targets) {
      if (interrupted) break;
      if (t.missing) {
        rows.push({ label: t.label, server: t.server, error: `could not be started: ${t.missing}` });
        continue;
      }
      const [sip, diameter, admin, acceptor, ...local] = await freePorts(4 + o.processes);
      const topts: TargetOptions = { realm: REALM, subscribers, keys, dir, ports: [sip, diameter, admin, acceptor] as [number, number, number, number], stopper };
      const load = { scenario, injections, localPorts: local, transport: o.transport, dir, track: (p: Proc) => stopper.add(() => p.stop('SIGKILL')) };
      rows.push({ label: t.label, server: t.server, ...(await measure(o, t.label, () => t.start(topts), load)) });
    }
    if (interrupted) return 130;
    if (o.rate / o.processes > 1000) process.stdout.write(`note: ${o.rate / o.processes}/s per SIPp process is above the ~1,000 calls/s one process manages; raise --sipp-processes\n`);
    process.stdout.write(`register-load: ${o.users} users, ${o.rate}/s offered for ${o.duration} s per target, ${o.processes} SIPp process(es) over ${o.transport.toUpperCase()}, `
      + `loopback, ${availableParallelism()} CPUs shared by the UEs and the target\n\n${table(o, rows, versions)}\n`);
    return rows.some((r) => r.error && !r.result) ? 1 : 0;
  } finally {
    await stopper.stop();
  }
}

process.exit(await main().catch((e: unknown) => {
  process.stderr.write(`register-load: ${(e as Error).message}\n`);
  return 1;
}));
