/**
 * `npm run bench` (issue #12): SIPp 3.6.1 AKA load (several SIPp processes, one injection line per user, every user
 * with the same keys) against, one after the other,
 *   static   registrar → partner MMS → relay → HSS, mutual TLS on every leg (bench/migration-chain.ts)
 *   dynamic  registrar → partner MMS → primary MMS → relay → HSS, after migrating the users through the real IdM and
 *            migration APIs
 *   direct   registrar → HSS (bench/home-targets.ts)
 *   kamailio Kamailio 5.6 S-CSCF → our HSS
 * on the memory store and on Redis (appendfsync always): offered and achieved rate, failures by cause, latency
 * p50/p90/p99/max, CPU ms per registration per process and summed over the path, peak RSS; a step mode raising the
 * offered rate until a run is not clean; the registrar beside 1k, 100k and 1M bindings; the acceptance targets.
 * Prints markdown on stdout (progress on stderr) and writes JSON. Run on demand, never in `npm test`.
 */
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { ROOT } from '../deploy/process.ts';
import { verdicts, type ScaleResult } from './acceptance.ts';
import { HOME_REALM, startDirect, startKamailioTarget } from './home-targets.ts';
import { LoadRunner } from './measure.ts';
import { initPki, startMigrationSystems } from './migration-chain.ts';
import { USAGE, parseOptions, type BenchOptions } from './options.ts';
import { rssKb } from './proc-stat.ts';
import { cpuTable, loadTable, rssTable, scaleTable, stepTable, verdictList, workersTable } from './report.ts';
import { Stopper, type BenchContext, type Deployment } from './roles.ts';
import { runPlan, type Plan, type SessionResults } from './session.ts';
import { formatCount, preloadBindings } from './scale.ts';
import { versions } from './versions.ts';
import { runWorkersComparison, type WorkersResult } from './workers.ts';

/** How long a scale preload may write before it is cut short (and reported). */
const PRELOAD_MAX_MS = 240_000;

function fail(msg: string): never {
  process.stderr.write(`bench: ${msg}\n\n${USAGE}\n`);
  process.exit(2);
}

/** 16 random octets without 0x00: SIPp 3.6.1 reads aka_K/aka_OP as C strings (a 0x00 ends the key). */
function sippSafeKey(): string {
  for (;;) {
    const k = randomBytes(16);
    if (!k.includes(0)) return k.toString('hex');
  }
}

/** Everything a run collects. */
interface Results extends SessionResults {
  scale: ScaleResult[];
  /** `--workers`: the direct target per registrar process count. */
  workers: WorkersResult[];
}

/** Installs or names the Debian packages the chosen targets need (scripts/debian-peers.sh). */
function ensurePeers(o: BenchOptions): boolean {
  const cmds = ['sipp', ...(o.targets.includes('kamailio') ? ['kamailio'] : []), ...(o.stores.includes('redis') ? ['redis-server'] : [])];
  return spawnSync('bash', [join(ROOT, 'scripts/debian-peers.sh'), 'bench', ...cmds], { stdio: ['ignore', 2, 2] }).status === 0;
}

async function main(): Promise<number> {
  const parsed = parseOptions(process.argv.slice(2), fail);
  if (parsed === 'help') {
    process.stdout.write(USAGE + '\n');
    return 0;
  }
  const o = parsed;
  if (!ensurePeers(o)) return 1;
  const t0 = Date.now();
  const say = (line: string): void => void process.stderr.write(`bench [${((Date.now() - t0) / 1000).toFixed(0).padStart(4)} s] ${line}\n`);
  const stopper = new Stopper();
  let interrupted = false;
  const dir = await mkdtemp(join(tmpdir(), 'mcx-bench-'));
  stopper.add(() => rm(dir, { recursive: true, force: true }));
  for (const sig of ['SIGINT', 'SIGTERM'] as const) {
    process.once(sig, () => {
      interrupted = true;
      say(`${sig}: stopping everything`);
      void stopper.stop().finally(() => process.exit(130));
    });
  }
  const load0 = loadavg();
  const res: Results = { rows: [], steps: [], scale: [], migrations: [], errors: [], restarts: [], workers: [] };
  try {
    const keys = { k: sippSafeKey(), op: sippSafeKey(), amf: '8000' };
    const v = await versions();
    say(`${o.targets.join(', ')} on ${o.stores.join(' and ')}; rates ${o.rates.join(', ')}/s × ${o.durationS} s${o.step ? ', step mode' : ''}`
      + `${o.scale.length > 0 ? `, scale ${o.scale.map(formatCount).join(', ')}` : ''}; ${availableParallelism()} CPUs, load ${load0.map((x) => x.toFixed(2)).join(' ')}; temp ${dir}`);
    const pki = o.targets.some((t) => t === 'static' || t === 'dynamic') ? await initPki(dir) : '';
    if (o.trace) mkdirSync(resolve(o.trace), { recursive: true });
    for (const [si, store] of o.stores.entries()) {
      const ctx: BenchContext = { dir, store, keys, users: o.users, profileDir: o.profile ? resolve(o.profile) : undefined, traceDir: o.trace ? resolve(o.trace) : undefined, say };
      const runner = new LoadRunner(ctx, (p) => stopper.add(() => p.stop('SIGKILL')));
      const sessionOpts = { rates: o.rates, durationS: o.durationS, stepS: o.stepS, warmupS: o.warmupS, step: o.step && si === 0 };
      if (o.workers) {
        res.workers.push(...await runWorkersComparison(ctx, stopper, runner, sessionOpts, res, () => interrupted));
        continue;
      }
      for (const plan of deploymentsOf(o)) {
        if (interrupted) break;
        await runPlan(plan, ctx, stopper, pki, runner, sessionOpts, res, () => interrupted);
      }
      for (const n of o.scale) {
        if (interrupted) break;
        res.scale.push(await scaleRun(ctx, stopper, runner, o, n));
      }
    }
    if (interrupted) return 130;
    const load1 = loadavg();
    const report = render(o, res, v, [load0, load1], Date.now() - t0);
    process.stdout.write(report);
    const file = o.json ? resolve(o.json) : join(ROOT, 'bench', 'results', `bench-${new Date(t0).toISOString().replace(/[:.]/g, '-')}.json`);
    mkdirSync(dirname(file), { recursive: true });
    writeFileSync(file, JSON.stringify({
      started: new Date(t0).toISOString(), seconds: (Date.now() - t0) / 1000, options: o, versions: v, cpus: availableParallelism(),
      loadavg: { start: load0, end: load1 }, ...res, targets: verdicts(res.rows, res.steps, res.scale),
    }, (_k, x: unknown) => (typeof x === 'number' && !Number.isFinite(x) ? null : x), 2) + '\n');
    process.stdout.write(`\nJSON: ${file}\n`);
    return res.errors.length > 0 ? 1 : 0;
  } finally {
    await stopper.stop();
  }
}

/**
 * The deployments of the chosen targets: static and dynamic share one (both systems, every role) unless profiling,
 * where each gets its own so a profile holds one target's work only.
 */
function deploymentsOf(o: BenchOptions): Plan[] {
  const migrated = o.targets.filter((t) => t === 'static' || t === 'dynamic');
  const groups = o.profile ? migrated.map((t) => [t]) : migrated.length > 0 ? [migrated] : [];
  const plans: Plan[] = groups.map((g) => ({ name: g.join('-'), targets: g, start: (ctx, s, pki, timing) => startMigrationSystems(ctx, s, pki, g, g.join('-'), o.migrations, timing) }));
  if (o.targets.includes('direct')) plans.push({ name: 'direct', targets: ['direct'], start: (ctx, s) => startDirect(ctx, s, { name: 'direct' }) });
  if (o.targets.includes('kamailio')) plans.push({ name: 'kamailio', targets: ['kamailio'], start: (ctx, s) => startKamailioTarget(ctx, s) });
  return plans;
}

/** The direct target with `n` bindings preloaded into its registrar's store, loaded at the first rate. */
async function scaleRun(ctx: BenchContext, stopper: Stopper, runner: LoadRunner, o: BenchOptions, n: number): Promise<ScaleResult> {
  const rate = o.rates[0] as number;
  const name = `scale-${formatCount(n)}`;
  let preload: ScaleResult['preload'] = { requested: n, written: 0, ms: 0 };
  ctx.say(`${ctx.store}: ${name}: preloading ${n} bindings, then ${rate}/s for ${o.durationS} s`);
  let dep: Deployment | undefined;
  try {
    dep = await startDirect(ctx, stopper, {
      name, readyMs: 300_000,
      prepare: async (spec, stateDir) => {
        preload = await preloadBindings(spec, stateDir, n, HOME_REALM, PRELOAD_MAX_MS);
        ctx.say(`${ctx.store}: ${name}: ${preload.written} bindings written in ${(preload.ms / 1000).toFixed(1)} s${preload.bounded ? ` (${preload.bounded})` : ''}`);
      },
    });
    const t = dep.targets[0];
    if (!t) throw new Error('no target');
    const registrarStartRssMb = rssKb(t.chain[0]?.pid ?? 0) / 1024;
    const registrarStartS = t.readyS.registrar;
    const key = `${ctx.store}-${name}`;
    await runner.probe(t, key);
    await runner.warmUp(t, key, Math.min(500, rate), o.warmupS);
    const row = await runner.measure(t, key, rate, o.durationS, 'scale', n);
    return { store: ctx.store, bindings: n, preload, registrarStartRssMb, ...(registrarStartS === undefined ? {} : { registrarStartS }), row };
  } catch (e) {
    return { store: ctx.store, bindings: n, preload, error: (e as Error).message.split('\n').slice(0, 3).join(' | ') };
  } finally {
    await dep?.stop();
  }
}

function render(o: BenchOptions, res: Results, v: Record<string, string>, load: number[][], ms: number): string {
  const fixed = res.rows.filter((r) => r.phase !== 'step');
  const out = [
    `# mcx-migrate bench${o.quick ? ' (--quick)' : ''}`, '',
    `${new Date().toISOString()} · ${availableParallelism()} CPUs shared by SIPp and the roles · load average ${load[0]?.map((x) => x.toFixed(2)).join(' ')} → ${load[1]?.map((x) => x.toFixed(2)).join(' ')}`
      + ` · ${(ms / 1000).toFixed(0)} s · mcx ${v.mcx} on Node ${v.node} · SIPp ${v.sipp} · Kamailio ${v.kamailio} · redis-server ${v.redis}`,
    `${o.users} users per target (dynamic: ${o.migrations}, migrated first), UDP, one registration = REGISTER → 401 → REGISTER → 200; CPU = utime + stime per successful registration over each load window; roles at log level warn.`,
    ...res.migrations.map((m) => `Dynamic users migrated (${m.store}): ${m.count} through IdM login + token exchange + jwt-bearer + configuration POST in ${(m.ms / 1000).toFixed(1)} s (${m.concurrency} at a time).`),
  ];
  if (res.workers.length > 0) {
    out.push('', '## Registrar processes (direct target, Redis, SIPp one UDP socket per call)', '', workersTable(res.workers), '',
      'Every figure of the registrar is its processes together (with --workers 2: the supervisor and both workers).');
  }
  if (fixed.length > 0) out.push('', '## Loads', '', loadTable(fixed), '', '## CPU ms per registration', '', cpuTable(fixed), '', '## Peak RSS (MB)', '', rssTable(fixed));
  if (res.steps.length > 0) out.push('', '## Step mode (✗: the step that was not clean)', '', stepTable(res.steps));
  if (res.scale.length > 0) out.push('', '## Scale of state (direct target, bindings in the registrar\'s store)', '', scaleTable(res.scale));
  if (res.restarts.length > 0) out.push('', '## Restarts', '', ...res.restarts.map((e) => `- ${e}`));
  if (res.errors.length > 0) out.push('', '## Could not run', '', ...res.errors.map((e) => `- ${e}`));
  if (!o.workers) out.push('', '## Targets', '', verdictList(verdicts(res.rows, res.steps, res.scale)), '');
  return out.join('\n');
}

process.exit(await main().catch((e: unknown) => {
  process.stderr.write(`bench: ${(e as Error).stack ?? String(e)}\n`);
  return 1;
}));
