/**
 * One measured load against a started target: SIPp at an offered rate for a duration, with the CPU (utime + stime)
 * of every process of the target read right before the first SIPp process starts and right after the last one
 * exits, divided by the registrations that succeeded in that window; peak memory read at the end (sampled every
 * second for process trees). A probe (one registration, a few tries) proves the path before anything is measured, and
 * a warm-up whose results are dropped lets the JIT and the TLS sessions settle.
 */
import { freePorts } from '../deploy/ports.ts';
import type { Proc } from '../deploy/process.ts';
import { alive, cpuByPid, machineBusyMs, measuredRssKb, type Cpu, type Measured } from './proc-stat.ts';
import type { BenchContext, StoreKind, Target, TargetName } from './roles.ts';
import { quantile, runLoad, writeInjectionFiles, writeLoadScenario, type LoadResult } from './sipp-load.ts';

/** A run is clean when nothing failed, p99 ≤ this, and ≥ 97 % of the offered rate was achieved. */
export const CLEAN_P99_MS = 50;
export const CLEAN_ACHIEVED = 0.97;
/** SIPp processes are added so none is asked for more than this many calls/s (one tops out near 1,000). */
const PER_SIPP = 700;

/** What one load run measured. */
export interface RunRow {
  target: TargetName;
  store: StoreKind;
  phase: 'fixed' | 'step' | 'scale';
  /** Scale runs: location bindings present in the registrar's store before the load. */
  bindings?: number;
  /** Registrations/s offered. */
  offered: number;
  durationS: number;
  sippProcesses: number;
  attempted: number;
  succeeded: number;
  failed: number;
  /** Successful registrations that needed a second challenge (Kamailio). */
  rechallenged: number;
  /** Successful registrations/s from the first REGISTER to the last 200. */
  achieved: number;
  /** SIPp's failure counters and the statuses of unexpected answers, with counts. */
  failures: Record<string, number>;
  latencyMs: { p50: number; p90: number; p99: number; max: number };
  /** CPU ms per successful registration of each process on the path. */
  cpuMsPerReg: Record<string, number>;
  /** The share of that spent in the kernel (stime: syscalls, fsync, network stack), 0…1. */
  sysShare: Record<string, number>;
  /** Their sum. */
  chainMsPerReg: number;
  /** Other processes of the target (idle roles, redis-server). */
  auxCpuMsPerReg: Record<string, number>;
  /** The SIPp processes together. */
  sippMsPerReg: number;
  /** Peak resident memory per process (VmHWM; Pss sum for trees), MB. */
  peakRssMb: Record<string, number>;
  /**
   * Cores the machine was busy on average over the window, and how many of them went to processes that are not the
   * target's, SIPp or the bench (other users of the box): a figure taken while others load the box is less clean.
   */
  machineBusyCores: number;
  otherCores: number;
  clean: boolean;
  /** Processes of the target that were no longer running after the load (with the end of their output). */
  died: string[];
  notes: string[];
}

/** SIPp processes for `rate` over `users` users: at least two, none above {@link PER_SIPP}, each with users of its own. */
function sippProcessesFor(rate: number, users: number): number {
  return Math.min(users, Math.max(2, Math.ceil(rate / PER_SIPP)));
}

/** Drives the loads of one run (one temp folder, one set of keys). */
export class LoadRunner {
  private readonly files = new Map<string, string[]>();
  private readonly scenarios = new Map<string, string>();

  /** @param track told of every SIPp process, so SIGINT can stop it. */
  constructor(private readonly ctx: BenchContext, private readonly track: (p: Proc) => void) {}

  private scenario(domain: string): string {
    let s = this.scenarios.get(domain);
    if (!s) this.scenarios.set(domain, (s = writeLoadScenario(this.ctx.dir, `scenario-${domain}`, { domain, ...this.ctx.keys })));
    return s;
  }

  private injections(t: Target, processes: number, key: string): string[] {
    const id = `${key}-${processes}`;
    let f = this.files.get(id);
    if (!f) this.files.set(id, (f = writeInjectionFiles(this.ctx.dir, `users-${key}`, t.users, processes)));
    return f;
  }

  private async load(t: Target, key: string, rate: number, durationS: number, tag: string, users?: number): Promise<LoadResult> {
    const processes = users === 1 ? 1 : sippProcessesFor(rate, t.users.length);
    const injections = users === 1 ? this.injections({ ...t, users: t.users.slice(0, 1) }, 1, `${key}-one`) : this.injections(t, processes, key);
    return runLoad({
      target: t.sip, scenario: this.scenario(t.domain), injections, localPorts: await freePorts(processes), transport: t.sipTransport ?? 'udp',
      rate, durationS, dir: this.ctx.dir, tag, track: this.track,
    });
  }

  /**
   * One registration, up to `tries` tries a second apart (a Diameter peer behind the registrar may still be opening).
   * @throws naming what SIPp saw when none succeeded.
   */
  async probe(t: Target, key: string, tries = 5): Promise<void> {
    let r: LoadResult | undefined;
    for (let attempt = 0; attempt < tries; attempt++) {
      if (attempt > 0) await new Promise((res) => setTimeout(res, 1000));
      r = await this.load(t, key, 1, 1, `${key}-probe${attempt}`, 1);
      if (r.succeeded === 1) return;
    }
    throw new Error(`no registration succeeded in ${tries} tries (${JSON.stringify({ ...r?.failureCauses, ...r?.unexpected })} ${r?.notes.join('; ') ?? ''})`);
  }

  /** Load whose results are dropped. */
  async warmUp(t: Target, key: string, rate: number, durationS: number): Promise<void> {
    if (durationS > 0) await this.load(t, key, rate, durationS, `${key}-warmup`);
  }

  /** One measured load. */
  async measure(t: Target, key: string, rate: number, durationS: number, phase: RunRow['phase'], bindings?: number): Promise<RunRow> {
    const all = [...t.chain, ...t.aux];
    const trees = all.filter((m) => m.tree);
    const treePeak = new Map<string, number>();
    // Per pid, so a worker of a tree that exits mid-window counts up to its last reading and never goes negative.
    const last = new Map(all.map((m) => [m.name, cpuByPid(m)]));
    const first = new Map([...last].map(([k, v]) => [k, new Map(v)]));
    const sample = (): void => {
      for (const m of trees) {
        treePeak.set(m.name, Math.max(treePeak.get(m.name) ?? 0, measuredRssKb(m)));
        for (const [pid, c] of cpuByPid(m)) last.get(m.name)?.set(pid, c);
      }
    };
    const busy0 = machineBusyMs();
    const self0 = process.cpuUsage();
    const sampler = setInterval(sample, 1000);
    let r: LoadResult;
    try {
      r = await this.load(t, key, rate, durationS, `${key}-${phase}-${rate}${bindings === undefined ? '' : `-${bindings}`}`);
    } finally {
      clearInterval(sampler);
    }
    for (const m of all) for (const [pid, c] of cpuByPid(m)) last.get(m.name)?.set(pid, c);
    sample();
    const self = process.cpuUsage(self0);
    const busyMs = machineBusyMs() - busy0;
    const usedOf = (m: Measured, part: (c: Cpu) => number): number =>
      [...(last.get(m.name) ?? [])].reduce((sum, [pid, c]) => sum + part(c) - part(first.get(m.name)?.get(pid) ?? { user: 0, sys: 0 }), 0);
    const used = (m: Measured): number => usedOf(m, (c) => c.user + c.sys);
    const per = (ms: number): number => (r.succeeded > 0 ? ms / r.succeeded : NaN);
    const cpuMsPerReg = Object.fromEntries(t.chain.map((m) => [m.name, per(used(m))]));
    const oursMs = all.reduce((sum, m) => sum + used(m), 0) + r.sippCpuMs + (self.user + self.system) / 1000;
    const offeredCalls = Math.max(1, Math.round(rate * durationS));
    const latencyMs = {
      p50: quantile(r.latenciesMs, 0.5), p90: quantile(r.latenciesMs, 0.9), p99: quantile(r.latenciesMs, 0.99), max: r.latenciesMs[r.latenciesMs.length - 1] ?? NaN,
    };
    const failures: Record<string, number> = { ...r.failureCauses };
    for (const [status, n] of Object.entries(r.unexpected)) failures[`got ${status}`] = n;
    const notes = [...r.notes];
    if (r.attempted < offeredCalls) notes.push(`SIPp created ${r.attempted} of ${offeredCalls} calls`);
    const died = all.filter((m) => !alive(m.pid)).map((m) => `${m.name} exited: ${(m.output?.() ?? '').trim().split('\n').slice(-3).join(' | ').slice(-600)}`);
    const achieved = r.perSecond;
    return {
      target: t.name, store: this.ctx.store, phase, ...(bindings === undefined ? {} : { bindings }), offered: rate, durationS,
      sippProcesses: sippProcessesFor(rate, t.users.length), attempted: r.attempted, succeeded: r.succeeded, failed: r.failed,
      rechallenged: r.rechallenged, achieved, failures, latencyMs, cpuMsPerReg,
      sysShare: Object.fromEntries(t.chain.map((m) => [m.name, usedOf(m, (c) => c.sys) / used(m)])),
      chainMsPerReg: Object.values(cpuMsPerReg).reduce((sum, v) => sum + v, 0),
      auxCpuMsPerReg: Object.fromEntries(t.aux.map((m) => [m.name, per(used(m))])),
      sippMsPerReg: per(r.sippCpuMs),
      peakRssMb: Object.fromEntries(all.map((m) => [m.name, (m.tree ? (treePeak.get(m.name) ?? 0) : measuredRssKb(m)) / 1024])),
      machineBusyCores: busyMs / r.wallMs, otherCores: Math.max(0, busyMs - oursMs) / r.wallMs,
      clean: r.failed === 0 && r.attempted >= offeredCalls && latencyMs.p99 <= CLEAN_P99_MS && achieved >= CLEAN_ACHIEVED * rate && died.length === 0,
      died, notes,
    };
  }
}

/** The offered rates of the step mode, in order; it stops at the first run that is not clean. */
export const STEP_RATES = [250, 500, 1000, 1500, 2000, 3000, 4000, 5000] as const;

/**
 * Raises the offered rate along {@link STEP_RATES} until a run is not clean.
 * @returns every step run; the highest clean rate is the last clean one's offered rate (0 when none was).
 */
export async function stepUp(runner: LoadRunner, t: Target, key: string, durationS: number, stopped: () => boolean): Promise<{ rows: RunRow[]; highestClean: number }> {
  const rows: RunRow[] = [];
  let highestClean = 0;
  for (const rate of STEP_RATES) {
    if (stopped()) break;
    const row = await runner.measure(t, key, rate, durationS, 'step');
    rows.push(row);
    if (!row.clean || row.died.length > 0) break;
    highestClean = rate;
    // Let the last step's timers and queues drain before the next one starts.
    await new Promise((res) => setTimeout(res, 1000));
  }
  return { rows, highestClean };
}
