/**
 * The acceptance targets of issue #12 against what a run measured, each met / missed / not measured with the figure
 * behind it. A target named at one rate but measured at another (`--quick` runs 500/s) says so: the verdict is then
 * indicative only. Stores: the targets are read on the memory store (the embedded default) when it ran, else Redis.
 */
import type { RunRow } from './measure.ts';
import type { TargetName } from './roles.ts';
import type { Preload } from './scale.ts';
import { formatCount } from './scale.ts';

/** One acceptance target's verdict. */
export interface Verdict {
  target: string;
  status: 'met' | 'missed' | 'not measured';
  /** The measured figure and where it comes from. */
  figure: string;
}

/** The step mode's outcome for one target and store. */
export interface StepResult {
  target: TargetName;
  store: RunRow['store'];
  highestClean: number;
  rows: RunRow[];
}

/** A scale run: the preload and the load beside it. */
export interface ScaleResult {
  store: RunRow['store'];
  bindings: number;
  preload: Preload;
  /** The registrar's resident memory right after it loaded the bindings (VmRSS), MB. */
  registrarStartRssMb?: number;
  /** Seconds from the registrar's spawn to its ready line (loading the memory store's snapshot and journal). */
  registrarStartS?: number;
  row?: RunRow;
  error?: string;
}

const ms = (v: number): string => (Number.isFinite(v) ? v.toFixed(3) : '—');

/** The fixed-rate row of `target` at `rate` (or, failing that, the one nearest to it), on the preferred store. */
function fixedRow(rows: RunRow[], target: TargetName, rate: number): RunRow | undefined {
  const mine = rows.filter((r) => r.phase === 'fixed' && r.target === target);
  const store = mine.some((r) => r.store === 'memory') ? 'memory' : 'redis';
  return mine.filter((r) => r.store === store).sort((a, b) => Math.abs(a.offered - rate) - Math.abs(b.offered - rate))[0];
}

function at(r: RunRow, rate: number): string {
  return `${r.store}, ${r.offered}/s offered${r.offered === rate ? '' : ` — indicative: the target names ${rate.toLocaleString('en')}/s`}`;
}

/** A CPU-per-registration target of one process (or the chain sum: `name` undefined) at `rate`. */
function cpuTarget(rows: RunRow[], label: string, rate: number, limit: number, name: string | undefined, needClean: boolean): Verdict {
  const r = fixedRow(rows, 'static', rate);
  if (!r) return { target: label, status: 'not measured', figure: 'the static chain did not run' };
  const v = name === undefined ? r.chainMsPerReg : (r.cpuMsPerReg[name] ?? NaN);
  const ok = v <= limit && (!needClean || r.failed === 0);
  const parts = name === undefined ? ` (${Object.entries(r.cpuMsPerReg).map(([k, x]) => `${k} ${ms(x)}`).join(' + ')})` : '';
  return { target: label, status: ok ? 'met' : 'missed', figure: `${ms(v)} ms${parts}, ${r.failed} failed (${at(r, rate)})` };
}

/** The first unclean step of a step result, briefly. */
function stepSummary(s: StepResult): string {
  const r = s.rows[s.rows.length - 1];
  return r ? `${r.offered}/s: ${r.failed} failed, p99 ${r.latencyMs.p99.toFixed(0)} ms${r.died.length > 0 ? ', died' : ''}` : 'no step ran';
}

/** Capacity of two cores for a target from its CPU per registration, SIPp's included (an estimate, not a run). */
function cpuCapacity(r: RunRow): number {
  return 2000 / (r.chainMsPerReg + r.sippMsPerReg);
}

/** Every acceptance target of the issue against the run. */
export function verdicts(rows: RunRow[], steps: StepResult[], scale: ScaleResult[]): Verdict[] {
  const out: Verdict[] = [
    cpuTarget(rows, 'static chain ≤ 0.5 ms CPU/registration summed over its four processes at 1,000/s offered, 0 failures', 1000, 0.5, undefined, true),
  ];
  const r2 = fixedRow(rows, 'static', 2000);
  if (!r2) out.push({ target: 'static chain at 2,000/s offered: ≥ 97 % achieved, 0 failures, p99 ≤ 50 ms', status: 'not measured', figure: 'the static chain did not run' });
  else {
    const ok = r2.achieved >= 0.97 * r2.offered && r2.failed === 0 && r2.latencyMs.p99 <= 50;
    out.push({
      target: 'static chain at 2,000/s offered: ≥ 97 % achieved, 0 failures, p99 ≤ 50 ms', status: ok ? 'met' : 'missed',
      figure: `${r2.achieved.toFixed(0)}/s achieved (${((100 * r2.achieved) / r2.offered).toFixed(1)} %), ${r2.failed} failed, p99 ${r2.latencyMs.p99.toFixed(1)} ms (${at(r2, 2000)})`,
    });
  }
  out.push(cpuTarget(rows, 'registrar alone ≤ 0.2 ms CPU/registration (static chain, 1,000/s)', 1000, 0.2, 'registrar', false));
  out.push(cpuTarget(rows, 'HSS ≤ 0.1 ms CPU/registration (static chain, 1,000/s)', 1000, 0.1, 'hss', false));
  out.push(cpuTarget(rows, 'next step, DESIGN §2.8: static chain ≤ 0.3 ms CPU/registration summed at 1,000/s', 1000, 0.3, undefined, false));

  const label = "direct path's highest clean rate ≥ 2× Kamailio's (same run)";
  const stepOf = (t: TargetName): StepResult | undefined => steps.find((s) => s.target === t && s.store === 'memory') ?? steps.find((s) => s.target === t);
  const [sd, sk] = [stepOf('direct'), stepOf('kamailio')];
  if (sd && sk) {
    const none = [sd, sk].filter((x) => x.highestClean === 0).map((x) => x.target);
    out.push(none.length > 0
      ? { target: label, status: 'not measured', figure: `no clean step of ${none.join(' and ')} (step mode, ${sd.store}: ${[sd, sk].map((x) => `${x.target} ${stepSummary(x)}`).join('; ')})` }
      : { target: label, status: sd.highestClean >= 2 * sk.highestClean ? 'met' : 'missed', figure: `direct ${sd.highestClean}/s, Kamailio ${sk.highestClean}/s (step mode, ${sd.store})` });
  } else {
    const [d, k] = [fixedRow(rows, 'direct', 1000), fixedRow(rows, 'kamailio', 1000)];
    out.push(d && k && Number.isFinite(cpuCapacity(d)) && Number.isFinite(cpuCapacity(k))
      ? {
        target: label, status: cpuCapacity(d) >= 2 * cpuCapacity(k) ? 'met' : 'missed',
        figure: `estimate without the step mode: 2 cores ÷ (target + SIPp CPU per registration) = direct ${cpuCapacity(d).toFixed(0)}/s, Kamailio ${cpuCapacity(k).toFixed(0)}/s (${d.store}, ${d.offered}/s offered)`,
      }
      : { target: label, status: 'not measured', figure: 'needs the direct and kamailio targets' });
  }

  for (const store of ['memory', 'redis'] as const) {
    const runs = scale.filter((s) => s.store === store && s.row && s.row.succeeded > 0).sort((a, b) => a.bindings - b.bindings);
    if (runs.length === 0) continue;
    const lo = runs[0] as ScaleResult;
    const hi = runs[runs.length - 1] as ScaleResult;
    const target = `rate within 10 % from 1k to 1M bindings (${store})`;
    if (runs.length < 2 || hi.bindings < 1_000_000 || lo.bindings > 1_000) {
      out.push({ target, status: 'not measured', figure: `measured ${runs.map((s) => formatCount(s.bindings)).join(', ')} only (needs --scale 1k,1m)` });
      continue;
    }
    const [a, b] = [lo.row as RunRow, hi.row as RunRow];
    // Below saturation the achieved rate is the offered one whatever the state costs, so the capacity the CPU per
    // registration allows is compared too: neither may drop by more than 10 % (a rise is no miss).
    const change = (b.achieved - a.achieved) / a.achieved;
    const capChange = (cpuCapacity(b) - cpuCapacity(a)) / cpuCapacity(a);
    const bounded = hi.preload.bounded ? ` (1M preload ${hi.preload.bounded})` : '';
    out.push({
      target, status: change >= -0.1 && capChange >= -0.1 && !hi.preload.bounded && b.failed === 0 ? 'met' : 'missed',
      figure: `achieved ${a.achieved.toFixed(0)}/s at ${formatCount(lo.bindings)} → ${b.achieved.toFixed(0)}/s at ${formatCount(hi.bindings)} (${(100 * change).toFixed(1)} %, `
        + `${b.failed} failed, ${a.offered}/s offered); CPU capacity 2 cores ÷ (direct + SIPp ms/registration) ${cpuCapacity(a).toFixed(0)}/s → ${cpuCapacity(b).toFixed(0)}/s `
        + `(${(100 * capChange).toFixed(1)} %; registrar ${ms(a.cpuMsPerReg.registrar ?? NaN)} → ${ms(b.cpuMsPerReg.registrar ?? NaN)} ms); p99 ${a.latencyMs.p99.toFixed(0)} → ${b.latencyMs.p99.toFixed(0)} ms${bounded}`,
    });
  }
  if (!scale.some((s) => s.row)) out.push({ target: 'rate within 10 % from 1k to 1M bindings', status: 'not measured', figure: 'no scale run (--scale)' });
  return out;
}
