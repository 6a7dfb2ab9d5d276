/**
 * What the status page (issue #14) costs the testbed: CPU ms of the `mcx testbed` process per registration under the
 * same bounded SIPp 3.6.1 load (the testbed's own client files for alice: REGISTER → 401 → REGISTER → 200), with
 * `--status-port off` (no page), with the page served but nobody looking (its ladders are still built, so a page that
 * loads later has them), and with the page open in Debian's headless Chromium (ladders and state pushed over its
 * WebSocket); then, for the "with and without --trace and an open page, same load, same run", with
 * `--trace FILE.pcapng` and the page off, and with both `--trace` and the page open. Modes alternate over `--rounds` so a busy neighbour on the shared machine hits each alike; the host's
 * other CPU use in each window (/proc/stat) is printed beside it.
 *
 *   node --import tsx bench/status-page.ts [--calls 500] [--rate 25] [--rounds 2]
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { spawn } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { chromium, type BrowserContext } from 'playwright-core';
import { layoutOf } from '../deploy/topology.ts';
import { startMcx, type Proc } from '../deploy/process.ts';
import { cpuMs, machineBusyMs } from './proc-stat.ts';

type Mode = 'off' | 'closed' | 'open' | 'trace' | 'trace+open';
const MODES: readonly Mode[] = ['off', 'closed', 'open', 'trace', 'trace+open'];
const CHROMIUM = '/usr/bin/chromium';
const FLAGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];

const { values } = parseArgs({ options: { calls: { type: 'string', default: '500' }, rate: { type: 'string', default: '25' }, rounds: { type: 'string', default: '2' } } });
const calls = Number(values.calls);
const rate = Number(values.rate);
const rounds = Number(values.rounds);
if (![calls, rate, rounds].every((n) => Number.isInteger(n) && n > 0) || calls > 5000 || rate > 500 || rounds > 5) {
  throw new Error('--calls 1…5000, --rate 1…500, --rounds 1…5');
}

/**
 * SIPp with the testbed's files for alice, `n` registrations at `r`/s, one at a time (REGISTERs of one user at once may
 * meet a stale nonce, which is not what is measured here); resolves with the failed calls.
 */
function sipp(dir: string, udp: number, n: number, r: number): Promise<number> {
  const c = join(layoutOf(dir).clientsDir, 'sipp');
  return new Promise((resolve, reject) => {
    const child = spawn('sipp', [`127.0.0.1:${udp}`, '-sf', join(c, 'alice.xml'), '-inf', join(c, 'alice.csv'), '-t', 'u1', '-i', '127.0.0.1', '-p', '0',
      '-m', String(n), '-r', String(r), '-l', '1', '-nostdin', '-timeout', `${Math.ceil(n / r) + 30}s`, '-timeout_error', '-default_behaviors', 'none'],
    { stdio: ['ignore', 'pipe', 'pipe'], cwd: tmpdir() });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.once('error', reject);
    child.once('exit', () => {
      const failed = /Failed call\s*\|\s*\d+\s*\|\s*(\d+)/.exec(out);
      resolve(failed ? Number(failed[1]) : NaN);
    });
  });
}

async function round(dir: string, mode: Mode): Promise<{ mode: Mode; msPerReg: number; otherMs: number; failed: number }> {
  const served = mode === 'closed' || mode.endsWith('open');
  const trace = mode.startsWith('trace') ? ['--trace', join(dir, `bench-${mode.replace('+', '-')}.pcapng`)] : [];
  const proc: Proc = startMcx(['testbed', '--ports', 'auto', '--dir', dir, '--status-port', served ? 'auto' : 'off', ...trace]);
  let browser: BrowserContext | undefined;
  const profile = await mkdtemp(join(tmpdir(), 'mcx-bench-chromium-'));
  try {
    const udp = Number((await proc.waitFor(/^testbed: ready udp=127\.0\.0\.1:(\d+) /m, 90_000))[1]);
    await proc.waitFor(/Ctrl-C stops every role/, 10_000);
    if (mode.endsWith('open')) {
      const url = (await proc.waitFor(/^ {2}status page (http:\/\/\S+) /m, 1000))[1] as string;
      browser = await chromium.launchPersistentContext(profile, { executablePath: CHROMIUM, headless: true, args: FLAGS });
      const page = browser.pages()[0] ?? await browser.newPage();
      await page.goto(url);
      await page.waitForSelector('#link[data-state="live"]', { timeout: 10_000 });
    }
    await sipp(dir, udp, 20, 20); // warm-up: JIT, connections, the first MARs
    const pid = proc.child.pid as number;
    const before = cpuMs(pid);
    const busyBefore = machineBusyMs();
    const failed = await sipp(dir, udp, calls, rate);
    const after = cpuMs(pid);
    const own = after.user + after.sys - before.user - before.sys;
    return { mode, msPerReg: own / calls, otherMs: machineBusyMs() - busyBefore - own, failed };
  } finally {
    await browser?.close();
    await proc.stop('SIGTERM');
    await rm(profile, { recursive: true, force: true });
  }
}

const dir = await mkdtemp(join(tmpdir(), 'mcx-bench-status-'));
try {
  const rows: Array<Awaited<ReturnType<typeof round>>> = [];
  for (let i = 0; i < rounds; i++) for (const mode of i % 2 ? [...MODES].reverse() : MODES) rows.push(await round(join(dir, 'tb'), mode));
  process.stdout.write(`status page and trace cost: ${calls} SIPp registrations at ${rate}/s per window, testbed process CPU\n\n`);
  process.stdout.write('| mode | CPU ms / registration | failed calls | other CPU ms on the host in the window |\n|---|---|---|---|\n');
  for (const r of rows) process.stdout.write(`| ${r.mode} | ${r.msPerReg.toFixed(3)} | ${r.failed} | ${Math.round(r.otherMs)} |\n`);
} finally {
  await rm(dir, { recursive: true, force: true });
}
