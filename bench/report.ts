/**
 * The bench's markdown report: the loads (rate, failures, latency), CPU per registration per process and the chain
 * sum, peak memory, the step mode, the scale of state, and the acceptance targets.
 */
import type { Verdict, ScaleResult, StepResult } from './acceptance.ts';
import type { RunRow } from './measure.ts';
import { formatCount } from './scale.ts';
import type { WorkersResult } from './workers.ts';

/** Columns of the per-process tables, in path order; a target shows `—` where it has no such process. */
const PROCESSES = ['registrar', 'partner-mms', 'primary-mms', 'relay', 'hss', 'kamailio'] as const;

function table(head: string[], rows: string[][]): string {
  return [`| ${head.join(' | ')} |`, `|${head.map((h) => (/^(target|store|phase|failures|notes)$/.test(h) ? '---' : '---:')).join('|')}|`, ...rows.map((r) => `| ${r.join(' | ')} |`)].join('\n');
}

const f = (v: number | undefined, digits = 3): string => (v === undefined || !Number.isFinite(v) ? '—' : v.toFixed(digits));
const lat = (v: number): string => (Number.isFinite(v) ? v.toFixed(v < 10 ? 2 : 1) : '—');

/** `static` + ` 100k` for scale rows. */
function what(r: RunRow): string {
  return r.phase === 'scale' ? `${r.target} (${formatCount(r.bindings ?? 0)} bindings)` : r.target;
}

function failures(r: RunRow): string {
  const causes = Object.entries(r.failures).map(([k, n]) => `${k} ${n}`).join(', ');
  return r.failed === 0 ? '0' : `${r.failed}${causes ? ` (${causes})` : ''}`;
}

/** Loads: offered, achieved, success, failures by cause, latency. */
export function loadTable(rows: RunRow[]): string {
  return table(['target', 'store', 'phase', 'offered/s', 'achieved/s', 'success %', 'failures', 'p50 ms', 'p90 ms', 'p99 ms', 'max ms', 'SIPp ×', 'box busy / others (cores)'],
    rows.map((r) => [what(r), r.store, r.phase, String(r.offered), r.achieved.toFixed(0), r.attempted > 0 ? ((100 * r.succeeded) / r.attempted).toFixed(2) : '—',
      failures(r) + (r.rechallenged > 0 ? `; ${r.rechallenged} re-challenged (ok)` : '') + [...r.notes, ...r.died].map((n) => `; ${n}`).join(''),
      lat(r.latencyMs.p50), lat(r.latencyMs.p90), lat(r.latencyMs.p99), lat(r.latencyMs.max), String(r.sippProcesses),
      `${f(r.machineBusyCores, 2)} / ${f(r.otherCores, 2)}`]));
}

/** CPU ms per successful registration per process (with its kernel share), the chain sum, SIPp and the rest. */
export function cpuTable(rows: RunRow[]): string {
  const cell = (r: RunRow, p: string): string => (r.cpuMsPerReg[p] === undefined ? '—' : `${f(r.cpuMsPerReg[p])} (${f(100 * (r.sysShare[p] ?? NaN), 0)} %)`);
  return table(['target', 'store', 'offered/s', ...PROCESSES.map((p) => `${p} (sys %)`), 'chain Σ', 'SIPp', 'other'],
    rows.map((r) => [what(r), r.store, String(r.offered), ...PROCESSES.map((p) => cell(r, p)), `**${f(r.chainMsPerReg)}**`, f(r.sippMsPerReg),
      Object.entries(r.auxCpuMsPerReg).map(([k, v]) => `${k} ${f(v)}`).join(', ') || '—']));
}

/** Peak resident memory per process. */
export function rssTable(rows: RunRow[]): string {
  const names = [...new Set(rows.flatMap((r) => Object.keys(r.peakRssMb)))];
  return table(['target', 'store', 'offered/s', ...names], rows.map((r) => [what(r), r.store, String(r.offered), ...names.map((n) => f(r.peakRssMb[n], 0))]));
}

/** The step mode: each step and the highest clean rate. */
export function stepTable(steps: StepResult[]): string {
  return table(['target', 'store', 'steps: offered → achieved/s, failed, p99 ms (cores busy with other work)', 'highest clean rate/s'],
    steps.map((s) => [s.target, s.store, s.rows.map((r) => `${r.offered}→${r.achieved.toFixed(0)}, ${r.failed}, ${lat(r.latencyMs.p99)}${r.clean ? '' : ' ✗'} (others ${f(r.otherCores, 2)})`).join('; '),
      `**${s.highestClean}**`]));
}

/** Scale of state: preload, rate, CPU and memory of the registrar beside N bindings. */
export function scaleTable(scale: ScaleResult[]): string {
  return table(['store', 'bindings', 'preload s', 'registrar start s', 'registrar RSS after start MB', 'offered/s', 'achieved/s', 'failed', 'p50 ms', 'p99 ms',
    'registrar ms/reg', 'hss ms/reg', 'registrar peak RSS MB', 'redis-server peak RSS MB', 'notes'],
  scale.map((s) => [s.store, formatCount(s.bindings), (s.preload.ms / 1000).toFixed(1), f(s.registrarStartS, 1), f(s.registrarStartRssMb, 0), s.row ? String(s.row.offered) : '—',
    s.row ? s.row.achieved.toFixed(0) : '—', s.row ? String(s.row.failed) : '—', s.row ? lat(s.row.latencyMs.p50) : '—', s.row ? lat(s.row.latencyMs.p99) : '—',
    f(s.row?.cpuMsPerReg.registrar), f(s.row?.cpuMsPerReg.hss), f(s.row?.peakRssMb.registrar, 0), f(s.row?.peakRssMb['redis-server'], 0),
    [s.preload.bounded, s.error].filter(Boolean).join('; ') || '—']));
}

/** The acceptance targets. */
export function verdictList(v: Verdict[]): string {
  const mark = { met: '✅ met', missed: '❌ missed', 'not measured': '➖ not measured' } as const;
  return v.map((x) => `- ${mark[x.status]} — ${x.target}: ${x.figure}`).join('\n');
}

/** `--workers`: per registrar process count, the highest clean rate and each fixed rate's figures. */
export function workersTable(results: WorkersResult[]): string {
  const rows = results.flatMap((w) => {
    const step = w.step ? `**${w.step.highestClean}** (${w.step.rows.map((r) => `${r.offered}→${r.achieved.toFixed(0)}${r.clean ? '' : ' ✗'}`).join(', ')})` : '—';
    const fixed = w.rows.length > 0 ? w.rows : [undefined];
    return fixed.map((r) => [String(w.workers), step, r ? String(r.offered) : '—', r ? r.achieved.toFixed(0) : '—', r ? failures(r) : '—',
      r ? lat(r.latencyMs.p50) : '—', r ? lat(r.latencyMs.p99) : '—', f(r?.cpuMsPerReg.registrar), f(r?.cpuMsPerReg.hss),
      f(r?.auxCpuMsPerReg['redis-server']), r ? `**${f(r.chainMsPerReg)}**` : '—', f(r?.sippMsPerReg), r ? `${f(r.machineBusyCores, 2)} / ${f(r.otherCores, 2)}` : '—']);
  });
  return table(['registrar processes', 'highest clean rate/s (steps offered→achieved)', 'offered/s', 'achieved/s', 'failures', 'p50 ms', 'p99 ms',
    'registrar ms/reg (all processes)', 'hss ms/reg', 'redis-server ms/reg', 'chain Σ', 'SIPp ms/reg', 'box busy / others (cores)'], rows);
}
