/**
 * SIPp (sip-tester 3.6.1) as a load of AKA UEs for `npm run bench`: the scenario, the injection files, the SIPp
 * processes, and what their files say afterwards.
 *
 * The scenario is deploy/peers/sipp-register-aka.xml.tmpl (through deploy/sipp.ts's `writeAkaScenario`, so keys are
 * escaped the way SIPp 3.6.1 reads them), changed in three ways:
 * - the IMPI and IMPU come from the injection file (`[field0]`, `[field1]`): one call is one user's registration.
 *   Inside `[authentication …]` the field must be quoted (`username="[field0]"`), or SIPp 3.6.1 ends the keyword at
 *   the field's `]`. K/OP cannot come from the file (they do not nest), so every user has the same keys.
 * - no 20 ms pause before answering the 401: the UE answers as fast as it can. Kamailio 5.6 may then re-challenge
 *   (it stores the vector after sending the 401, DESIGN §4), so further 401s are answered too, up to
 *   {@link MAX_RECHALLENGES} (one more fails the call), and counted; their time is part of the latency, as a real UE
 *   would see it. Our registrar re-challenges only a REGISTER whose nonce is used up or gone, e.g. a retransmission
 *   (500 ms) of one whose 200 was still on its way under overload.
 * - `gettimeofday` before the first REGISTER and after the final 200, logged per call (`-trace_logs`): microsecond
 *   latencies. SIPp's own `-trace_rtt` has whole milliseconds and loses the calls after the last `-rtt_freq` dump.
 * SIPp's own CPU is what this process's reaped children used while the load ran (SIPp has exited by then, so /proc
 * no longer has it): nothing else of ours starts or ends while a load runs.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { start, type Proc } from '../deploy/process.ts';
import { writeAkaScenario } from '../deploy/sipp.ts';
import { reapedChildrenCpuMs } from './proc-stat.ts';

/** Further 401s a registration answers (Kamailio's re-challenges of a fast UE) before one more fails the call. */
export const MAX_RECHALLENGES = 3;

/** One registering identity (an injection-file line). */
export interface LoadUser {
  impi: string;
  impu: string;
}

/** What a load run gives back for one target. */
export interface LoadResult {
  /** Calls SIPp created (each is one registration: REGISTER → 401 → REGISTER → 200). */
  attempted: number;
  succeeded: number;
  /**
   * attempted − succeeded: failed calls and calls still unanswered when SIPp stopped (cause `OpenWhenSIPpStopped`).
   * A call SIPp counts successful is a success even when its latency line is missing from the call log (a note says so).
   */
  failed: number;
  /** Successful registrations that needed a second challenge. */
  rechallenged: number;
  /** First REGISTER → final 200, milliseconds, sorted ascending. */
  latenciesMs: number[];
  /** Successful registrations per second over the window from the first REGISTER to the last 200. */
  perSecond: number;
  /** SIPp's nonzero failure counters (`TimeoutOnRecv` … of `FailedTimeoutOnRecv(C)`), summed over the processes. */
  failureCauses: Record<string, number>;
  /** Status lines of the unexpected responses that failed calls (from SIPp's error file), e.g. `500 Server Error`. */
  unexpected: Record<string, number>;
  /** Anything unusual: a SIPp exit code other than 0/1, a missing statistics file. */
  notes: string[];
  /** CPU ms of the SIPp processes of the run (utime + stime). */
  sippCpuMs: number;
  /** Wall-clock ms from the start of the first SIPp process to the exit of the last. */
  wallMs: number;
}

/**
 * Writes the load scenario `<name>.xml` into `dir` for users of `domain` with the common keys (hex) and returns its
 * path.
 */
export function writeLoadScenario(dir: string, name: string, keys: { domain: string; k: string; op: string; amf: string }): string {
  const base = writeAkaScenario({ ...keys, impi: '[field0]', impu: '[field1]' }, dir);
  let xml = readFileSync(base, 'utf8');
  const expect = (what: string): void => {
    if (!xml.includes(what)) throw new Error(`the SIPp template changed: ${JSON.stringify(what)} expected`);
  };
  for (const s of ['[authentication username=[field0] ', '<pause milliseconds="20"/>', '<recv response="200"/>', 'CSeq: 2 REGISTER']) expect(s);
  xml = xml.replaceAll('[authentication username=[field0] ', '[authentication username="[field0]" ').replace(/\s*<pause milliseconds="20"\/>/, '');
  const firstSend = xml.indexOf('<send');
  const secondSend = xml.indexOf('<send', firstSend + 1);
  const answer = xml.slice(secondSend, xml.indexOf('</send>', secondSend) + '</send>'.length);
  // Each further 401 is answered with the next CSeq; after MAX_RECHALLENGES the next 401 fails the call.
  const rechallenge = (n: number): string[] => [
    `<label id="rechallenged${n}"/>`,
    `<nop><action><assignstr assign_to="rc" value="${n}"/></action></nop>`,
    answer.replace('CSeq: 2 REGISTER', `CSeq: ${n + 2} REGISTER`),
    ...(n < MAX_RECHALLENGES ? [`<recv response="401" optional="true" auth="true" next="rechallenged${n + 1}"/>`, '<recv response="200" next="done"/>'] : ['<recv response="200"/>']),
  ];
  xml = xml.slice(0, firstSend)
    + '<nop><action><assignstr assign_to="rc" value="0"/><gettimeofday assign_to="s0,u0"/></action></nop>\n  '
    + xml.slice(firstSend).replace('<recv response="200"/>', [
      '<recv response="401" optional="true" auth="true" next="rechallenged1"/>',
      '<recv response="200" next="done"/>',
      ...Array.from({ length: MAX_RECHALLENGES }, (_, i) => rechallenge(i + 1)).flat(),
      '<label id="done"/>',
      '<nop><action><gettimeofday assign_to="s1,u1"/><log message="ok [$s0] [$u0] [$s1] [$u1] [$rc]"/></action></nop>',
    ].join('\n  '));
  const file = join(dir, `${name}.xml`);
  writeFileSync(file, xml);
  return file;
}

/**
 * Writes one SEQUENTIAL injection file per SIPp process (`<name>-<P>-<p>.csv`): process p gets users p, p+P, p+2P, …,
 * so a user always registers from the same process (one Contact) and never twice at once unless a registration
 * outlasts a full round of that process's users.
 */
export function writeInjectionFiles(dir: string, name: string, users: readonly LoadUser[], processes: number): string[] {
  return Array.from({ length: processes }, (_, p) => {
    const file = join(dir, `${name}-${processes}-${p}.csv`);
    const lines = users.filter((_, i) => i % processes === p).map((u) => `${u.impi};${u.impu}`);
    writeFileSync(file, ['SEQUENTIAL', ...lines].join('\n') + '\n');
    return file;
  });
}

/** How to drive one target. */
export interface LoadOptions {
  /** HOST:PORT of the target's SIP listener. */
  target: string;
  scenario: string;
  /** One per process (writeInjectionFiles). */
  injections: string[];
  /** One local port per process. */
  localPorts: number[];
  /**
   * `udp`: one socket per SIPp process (`-t u1`); `udp-per-call`: one socket per call (`-t un`), so the calls of one
   * process come from many source ports — what spreads them over the workers of a registrar whose UDP port is
   * shared by SO_REUSEPORT (the kernel picks a worker by source address and port); `tcp`: one connection per process.
   */
  transport: 'udp' | 'udp-per-call' | 'tcp';
  /** Registrations per second, over all processes. */
  rate: number;
  durationS: number;
  /** Files of this run go here (`<tag>-<p>-…`). */
  dir: string;
  tag: string;
  /** Called with each SIPp process, so the caller can stop it on SIGINT. */
  track?: (p: Proc) => void;
}

const SIPP_TRANSPORT: Readonly<Record<LoadOptions['transport'], string>> = { 'udp': 'u1', 'udp-per-call': 'un', 'tcp': 't1' };

/** The arguments of SIPp process `p`: `rate/P` calls per second (`-r rate -rp P·1000`) for `calls` calls. */
function sippArgs(o: LoadOptions, p: number, calls: number, files: RunFiles): string[] {
  const processes = o.injections.length;
  const perProcess = o.rate / processes;
  return [
    o.target, '-sf', o.scenario, '-inf', o.injections[p] as string, '-s', 'ue', '-i', '127.0.0.1', '-p', String(o.localPorts[p]),
    '-t', SIPP_TRANSPORT[o.transport],
    // One socket per call: SIPp refuses to start while its socket cap (50,000) exceeds the open-file limit; past 1,000
    // open ones it reuses them.
    ...(o.transport === 'udp-per-call' ? ['-max_socket', '1000'] : []), '-r', String(o.rate), '-rp', String(1000 * processes), '-m', String(calls),
    // At most 5 s of calls in flight: a stalled target makes SIPp stop creating calls rather than grow without bound.
    '-l', String(Math.max(10, Math.ceil(perProcess * 5))),
    '-nostdin', '-timeout', `${o.durationS + 20}s`, '-recv_timeout', '5s', '-default_behaviors', 'abortunexp',
    '-trace_stat', '-stf', files.stat, '-fd', '1', '-trace_logs', '-log_file', files.log, '-trace_err', '-error_file', files.err,
  ];
}

/** The files one SIPp process writes: statistics, one line per registration, errors. */
interface RunFiles {
  stat: string;
  log: string;
  err: string;
}

/** `calls` split over `processes` as evenly as whole numbers allow. */
function split(calls: number, processes: number): number[] {
  return Array.from({ length: processes }, (_, p) => Math.floor(calls / processes) + (p < calls % processes ? 1 : 0));
}

/**
 * Runs `rate × durationS` registrations against `o.target` with one SIPp process per injection file and reads the
 * results. Each process is bounded by `-m`, SIPp's `-timeout` and a kill timer a little after that.
 */
export async function runLoad(o: LoadOptions): Promise<LoadResult> {
  const calls = split(Math.max(1, Math.round(o.rate * o.durationS)), o.injections.length);
  const files = calls.map((_, p): RunFiles => {
    const base = join(o.dir, `${o.tag}-${p}`);
    return { stat: `${base}-stat.csv`, log: `${base}-calls.log`, err: `${base}-errors.log` };
  });
  const cpu0 = reapedChildrenCpuMs();
  const t0 = performance.now();
  const procs = calls.map((n, p) => start('sipp', sippArgs(o, p, n, files[p] as RunFiles), { cwd: o.dir }));
  for (const p of procs) o.track?.(p);
  const kill = setTimeout(() => void Promise.all(procs.map((p) => p.stop('SIGKILL'))), (o.durationS + 30) * 1000);
  const codes = await Promise.all(procs.map((p) => p.exited));
  clearTimeout(kill);
  const r = collect(files, codes, procs);
  r.wallMs = performance.now() - t0;
  r.sippCpuMs = reapedChildrenCpuMs() - cpu0;
  return r;
}

/** Reads the per-call log lines and the last statistics line of every process. */
function collect(files: RunFiles[], codes: Array<number | null>, procs: Proc[]): LoadResult {
  const r: LoadResult = {
    attempted: 0, succeeded: 0, failed: 0, rechallenged: 0, latenciesMs: [], perSecond: 0, failureCauses: {}, unexpected: {}, notes: [], sippCpuMs: 0, wallMs: 0,
  };
  let first = Infinity;
  let last = -Infinity;
  // SIPp's own end counts, to tell apart calls that failed, calls still open when it stopped and successes it logged no line of.
  let statSucceeded = 0;
  let statFailed = 0;
  files.forEach((f, p) => {
    const code = codes[p];
    // 0: every call succeeded; 1: some failed (counted below). Anything else is SIPp itself failing.
    if (code !== 0 && code !== 1) r.notes.push(`SIPp ${p} exited ${code}: ${lastLines(procs[p]?.output() ?? '', 3)}`);
    for (const line of readOr(f.log).split('\n')) {
      const m = /^ok (\d+)\.0+ (\d+)\.0+ (\d+)\.0+ (\d+)\.0+ (\d)/.exec(line);
      if (!m) continue;
      const t0 = Number(m[1]) * 1e6 + Number(m[2]);
      const t1 = Number(m[3]) * 1e6 + Number(m[4]);
      r.latenciesMs.push((t1 - t0) / 1000);
      if (m[5] !== '0') r.rechallenged++;
      first = Math.min(first, t0);
      last = Math.max(last, t1);
    }
    for (const m of readOr(f.err).matchAll(/Aborting call on unexpected message[^\n]*received 'SIP\/2\.0 (\d{3}[^\r\n']*)/g)) {
      const status = (m[1] as string).trim();
      r.unexpected[status] = (r.unexpected[status] ?? 0) + 1;
    }
    const stat = lastStat(readOr(f.stat));
    if (!stat) {
      r.notes.push(`SIPp ${p} wrote no statistics`);
      return;
    }
    r.attempted += Number(stat.TotalCallCreated ?? 0);
    statSucceeded += Number(stat['SuccessfulCall(C)'] ?? 0);
    statFailed += Number(stat['FailedCall(C)'] ?? 0);
    for (const [k, v] of Object.entries(stat)) {
      const cause = /^Failed(\w+)\(C\)$/.exec(k)?.[1];
      if (cause && cause !== 'Call' && Number(v) > 0) r.failureCauses[cause] = (r.failureCauses[cause] ?? 0) + Number(v);
    }
  });
  r.latenciesMs.sort((a, b) => a - b);
  r.succeeded = r.latenciesMs.length;
  const unlogged = statSucceeded - r.succeeded;
  if (unlogged > 0) {
    r.succeeded += unlogged;
    r.notes.push(`${unlogged} successful by SIPp's statistics without a line in its call log (no latency)`);
  }
  r.attempted = Math.max(r.attempted, r.succeeded);
  r.failed = r.attempted - r.succeeded;
  // Created, neither successful nor failed: still waiting for an answer when SIPp stopped (-timeout, the kill timer).
  const open = r.failed - statFailed;
  if (open > 0) r.failureCauses.OpenWhenSIPpStopped = (r.failureCauses.OpenWhenSIPpStopped ?? 0) + open;
  r.perSecond = r.succeeded > 0 && last > first ? r.succeeded / ((last - first) / 1e6) : 0;
  return r;
}

/** The last row of a SIPp `-trace_stat` file as column → value (its fields are `;`-separated). */
function lastStat(csv: string): Record<string, string> | undefined {
  const lines = csv.split('\n').filter((l) => l.trim() !== '');
  const header = lines[0]?.split(';');
  const row = lines.length > 1 ? lines[lines.length - 1]?.split(';') : undefined;
  if (!header || !row) return undefined;
  return Object.fromEntries(header.map((h, i) => [h, row[i] ?? '']));
}

function readOr(file: string): string {
  try {
    return readFileSync(file, 'latin1');
  } catch {
    return '';
  }
}

function lastLines(text: string, n: number): string {
  return text.trim().split('\n').slice(-n).join(' | ');
}

/** The value at quantile `q` (0…1) of ascending `sorted` (nearest rank), or NaN when empty. */
export function quantile(sorted: readonly number[], q: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))] as number;
}
