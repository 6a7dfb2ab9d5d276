/**
 * What the kernel counts for a process (proc(5)): CPU time (`/proc/<pid>/stat` utime + stime, in clock ticks, all
 * threads of the process) and memory (`/proc/<pid>/status` VmHWM, the peak resident set; `smaps_rollup` Pss, the
 * proportional share, for process trees such as Kamailio's forked workers whose shared memory VmHWM would count once
 * per worker). Read right before and after a measured window, so startup and warm-up cost is not in the figure.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync, readdirSync } from 'node:fs';

/** Milliseconds per clock tick (`getconf CLK_TCK`, 100 on Linux). */
export const TICK_MS = 1000 / clockTicks();

function clockTicks(): number {
  try {
    const n = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim());
    if (Number.isInteger(n) && n > 0) return n;
  } catch {
    // getconf missing: the kernel's USER_HZ is 100 on every Linux architecture Node runs on
  }
  return 100;
}

/**
 * CPU ms the whole machine spent busy so far (every CPU: user, nice, system, irq, softirq, steal; not idle or iowait),
 * from `/proc/stat`: what else ran beside the measured processes is this minus theirs.
 */
export function machineBusyMs(): number {
  try {
    const f = readFileSync('/proc/stat', 'latin1').split('\n')[0]?.trim().split(/\s+/).slice(1).map(Number) ?? [];
    const total = f.slice(0, 8).reduce((a, b) => a + b, 0);
    return (total - (f[3] ?? 0) - (f[4] ?? 0)) * TICK_MS;
  } catch {
    return NaN;
  }
}

/** The fields of `/proc/<pid>/stat` after the command name (which may hold spaces and parentheses). */
function statFields(pid: number | 'self'): string[] | undefined {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/stat`, 'latin1');
  } catch {
    return undefined;
  }
  // Field 3 (state) starts after the last ')'; index 0 here is field 3.
  return text.slice(text.lastIndexOf(')') + 2).trim().split(' ');
}

/** Whether `pid` is running (present and not a zombie). */
export function alive(pid: number): boolean {
  const state = statFields(pid)?.[0];
  return state !== undefined && state !== 'Z' && state !== 'X';
}

/** CPU time of a process, ms: in user space (utime) and in the kernel on its behalf (stime). */
export interface Cpu {
  user: number;
  sys: number;
}

/** utime and stime of `pid` in ms (0 when it is gone). */
export function cpuMs(pid: number): Cpu {
  const f = statFields(pid);
  return f ? { user: Number(f[11]) * TICK_MS, sys: Number(f[12]) * TICK_MS } : { user: 0, sys: 0 };
}

/**
 * cutime + cstime of this process in ms: the CPU of every child it has waited for. A child that has exited (SIPp after
 * its `-m` calls) can no longer be read in /proc; its time is here once Node has reaped it.
 */
export function reapedChildrenCpuMs(): number {
  const f = statFields('self');
  return f ? (Number(f[13]) + Number(f[14])) * TICK_MS : 0;
}

/** `pid` and its descendants, found through the parent pid of every process. */
export function processTree(pid: number): number[] {
  const parent = new Map<number, number>();
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const ppid = Number(statFields(Number(name))?.[1]);
    if (Number.isInteger(ppid)) parent.set(Number(name), ppid);
  }
  const out = [pid];
  for (let i = 0; i < out.length; i++) for (const [p, pp] of parent) if (pp === out[i] && !out.includes(p)) out.push(p);
  return out;
}

function statusKb(pid: number, field: string): number {
  try {
    const m = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(readFileSync(`/proc/${pid}/status`, 'latin1'));
    return m ? Number(m[1]) : 0;
  } catch {
    return 0;
  }
}

/** Peak resident set of `pid` so far (VmHWM), kB. */
export function peakRssKb(pid: number): number {
  return statusKb(pid, 'VmHWM');
}

/** Resident set of `pid` now (VmRSS), kB. */
export function rssKb(pid: number): number {
  return statusKb(pid, 'VmRSS');
}

/** Proportional set size of `pid` now (shared pages divided among their users), kB. */
export function pssKb(pid: number): number {
  try {
    const m = /^Pss:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/smaps_rollup`, 'latin1'));
    return m ? Number(m[1]) : 0;
  } catch {
    return 0;
  }
}

/** One process (or process tree) whose cost a run reports. */
export interface Measured {
  /** `registrar`, `partner-mms`, `kamailio`, `redis-server` … */
  name: string;
  pid: number;
  /** Count the descendants too (Kamailio forks its workers). */
  tree: boolean;
  /** What it wrote so far (stdout and stderr), to say why it died. */
  output?: () => string;
}

/**
 * CPU ms of every process of a measured tree (or the one process), by pid. A tree's workers may come and go: the
 * caller keeps the last reading of each pid, so a worker that exits mid-window still counts up to its last reading.
 */
export function cpuByPid(m: Measured): Map<number, Cpu> {
  return new Map((m.tree ? processTree(m.pid) : [m.pid]).map((p) => [p, cpuMs(p)]));
}

/** Memory of a measured process, kB: VmHWM of one process, or the Pss sum of a tree right now. */
export function measuredRssKb(m: Measured): number {
  return m.tree ? processTree(m.pid).reduce((s, p) => s + pssKb(p), 0) : peakRssKb(m.pid);
}
