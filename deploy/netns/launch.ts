/**
 * Runs the roles of the rehearsal the way their systemd units would on real hosts: each from its template in
 * deploy/systemd, resolved by systemd/unit.ts (Environment=, EnvironmentFile=, ExecStart= with its specifiers and
 * variables, LoadCredential= copied into the unit's credentials directory, StateDirectory=), inside the namespace of
 * its system through `ip netns exec`. The paths of a real host are mapped into the rehearsal's directory:
 * /opt/mcx-migrate → this checkout, /etc/mcx → hosts/<system>/etc, %S → hosts/<system>/state, %d →
 * hosts/<system>/credentials/<unit>. What systemd adds on top (User=, the sandboxing options) is not rehearsed: the
 * roles run as root in their namespace, and the units' own test checks those settings.
 *
 * Each role is a detached process writing to hosts/<system>/log/<unit>.log, so `up` can leave the deployment running;
 * network.ts stops whatever runs in the namespaces.
 */
import { spawn } from 'node:child_process';
import { chmod, copyFile, mkdir, open, readFile } from 'node:fs/promises';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { NODE, ROOT } from '../process.ts';
import { instantiate, parseUnit } from '../systemd/unit.ts';
import { alive, tool } from './network.ts';
import { PORTS, ROLES, readinessOf, unitName, type Namespaces, type RoleKey } from './plan.ts';
import type { NetnsLayout } from './provision.ts';

/** How long one role may take to become ready (its ready line and its Diameter routes). */
const READY_MS = 30_000;
/** Where the templates live. */
export const SYSTEMD_DIR = join(ROOT, 'deploy', 'systemd');

/** A started role. */
export interface StartedUnit {
  key: RoleKey | 'redis';
  unit: string;
  ns: string;
  pid: number;
  log: string;
  /** What it had logged when it was ready. */
  output: string;
}

/** Maps the real host's paths (/etc/mcx/…, /opt/mcx-migrate/…) into the rehearsal's directory. */
export function hostPathRewrite(etc: string): (text: string) => string {
  const root = ROOT.replace(/\/$/, '');
  return (text) => text.replace(/\/etc\/mcx(?=\/)/g, etc).replace(/\/opt\/mcx-migrate(?=\/)/g, root);
}

/**
 * Starts `argv` in namespace `ns` as a detached process appending to `log` (as a journal would keep earlier runs).
 * @returns its pid and the log's length before it: what it writes starts there.
 */
async function spawnIn(ns: string, argv: readonly string[], o: { env: Record<string, string>; cwd: string; log: string }): Promise<{ pid: number; from: number }> {
  await mkdir(join(o.log, '..'), { recursive: true });
  const fh = await open(o.log, 'a');
  try {
    const from = (await fh.stat()).size;
    const child = spawn(tool('ip'), ['netns', 'exec', ns, ...argv], { env: o.env, cwd: o.cwd, detached: true, stdio: ['ignore', fh.fd, fh.fd] });
    const pid = await new Promise<number>((resolve, reject) => {
      child.once('spawn', () => resolve(child.pid as number));
      child.once('error', reject);
    });
    child.unref();
    return { pid, from };
  } finally {
    await fh.close();
  }
}

/**
 * Waits until every pattern has appeared in `log` after offset `from`.
 * @throws Error with the log's tail when the process exits or `ms` pass first.
 */
async function waitReady(u: Omit<StartedUnit, 'output'>, from: number, patterns: readonly RegExp[], ms = READY_MS): Promise<string> {
  const deadline = Date.now() + ms;
  for (;;) {
    const text = (await readFile(u.log).catch(() => Buffer.alloc(0))).subarray(from).toString('utf8');
    const missing = patterns.find((p) => !p.test(text));
    if (!missing) return text;
    const why = !(await alive(u.pid)) ? 'exited' : Date.now() > deadline ? `not ready within ${ms} ms` : undefined;
    if (why) throw new Error(`${u.unit} in ${u.ns} ${why} (waiting for ${missing}); ${u.log}:\n${text.slice(-3000)}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/**
 * Starts the role `key` from its unit template in its system's namespace and waits until it is ready.
 * @throws UnitError for a template or env file it cannot resolve; Error when the role does not come up.
 */
export async function startUnit(l: NetnsLayout, ns: Namespaces, key: RoleKey): Promise<StartedUnit> {
  const r = ROLES[key];
  const unit = unitName(r);
  const dirs = l.host(r.host);
  const credentials = join(dirs.credentials, unit);
  const rewrite = hostPathRewrite(dirs.etc);
  const inst = instantiate(parseUnit(await readFile(join(SYSTEMD_DIR, r.template), 'utf8')), {
    specifiers: { i: r.host, d: credentials, S: dirs.state }, readFile: (p) => readFileSync(p, 'utf8'), rewrite,
  });
  for (const d of inst.stateDirectories) await mkdir(join(dirs.state, d), { recursive: true, mode: 0o700 });
  await mkdir(credentials, { recursive: true, mode: 0o700 });
  for (const c of inst.credentials) {
    const to = join(credentials, c.id);
    await chmod(to, 0o600).catch(() => undefined);
    await copyFile(c.path, to);
    await chmod(to, 0o400);
  }
  const env = { ...inst.env, MCX_LOG_LEVEL: 'info', ...(inst.stateDirectories.length ? { STATE_DIRECTORY: join(dirs.state, inst.stateDirectories[0] as string) } : {}),
    ...(inst.credentials.length ? { CREDENTIALS_DIRECTORY: credentials } : {}) };
  const log = join(dirs.log, `${unit}.log`);
  const { pid, from } = await spawnIn(ns[r.host], inst.argv, { env, cwd: inst.workingDirectory ?? '/', log });
  const started = { key, unit, ns: ns[r.host], pid, log };
  return { ...started, output: await waitReady(started, from, readinessOf(key)) };
}

/**
 * A system's own Redis (README: one per system) on the loopback of its namespace, as the store insists on: AOF with
 * `appendfsync always`; its data under the host's state directory.
 */
export async function startRedis(l: NetnsLayout, ns: Namespaces, host: 'primary' | 'partner'): Promise<StartedUnit> {
  const dir = join(l.host(host).state, 'redis');
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const argv = ['redis-server', '--port', String(PORTS.redis), '--bind', '127.0.0.1', '--dir', dir, '--save', '', '--appendonly', 'yes',
    '--appendfsync', 'always', '--protected-mode', 'no', '--daemonize', 'no'];
  const log = join(l.host(host).log, 'redis-server.log');
  const { pid, from } = await spawnIn(ns[host], argv, { env: { PATH: '/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin' }, cwd: dir, log });
  const started = { key: 'redis' as const, unit: 'redis-server.service', ns: ns[host], pid, log };
  return { ...started, output: await waitReady(started, from, [/Ready to accept connections/]) };
}

/** What a command in a namespace printed and how it ended. */
export interface CommandResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/**
 * Runs `mcx args…` in namespace `ns` and waits for it (SIGTERM after `ms`, SIGKILL 5 s later).
 * @returns its exit code and output, whatever the code.
 */
export function mcxIn(ns: string, args: readonly string[], ms: number): Promise<CommandResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(tool('ip'), ['netns', 'exec', ns, NODE, join(ROOT, 'bin', 'mcx.mjs'), ...args], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString('utf8')));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString('utf8')));
    const term = setTimeout(() => child.kill('SIGTERM'), ms);
    const kill = setTimeout(() => child.kill('SIGKILL'), ms + 5_000);
    child.once('error', reject);
    child.once('close', (code) => {
      clearTimeout(term);
      clearTimeout(kill);
      resolve({ code, stdout, stderr });
    });
  });
}
