/**
 * What the real-softphone tests share: a fresh testbed started the way `mcx testbed` starts it (startTestbed, in
 * this process, every role, mutual TLS) with the softphone files it writes (writeTestbedClientFiles), the registrar
 * granting at most {@link MAX_EXPIRES_S} s so a client's refresh comes within the test; the clients themselves
 * (Twinkle, linphonec, baresip) as child processes, each with its own HOME in a temporary directory, fed their console
 * commands on stdin and stopped by their own quit command (SIGKILL after a bound); a registration awaited as the
 * registrar's seed step 13 log line (an event, not a sleep); the registrar's bindings read through its admin API as
 * `mcx registrar bindings` reads them; the SIP exchange decoded by tshark from a loopback capture.
 */
import { after, before } from 'node:test';
import { spawnSync } from 'node:child_process';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { caPaths } from '../../certs/layout.ts';
import { writeTestbedClientFiles, type TestbedClientFiles } from '../../deploy/client-files.ts';
import { start, type Proc } from '../../deploy/process.ts';
import { parseTestbedOptions, startTestbed, type RunningTestbed } from '../../deploy/testbed.ts';
import type { BindingView } from '../../registrar/admin-api.ts';
import { listBindings } from '../../registrar/cli-bindings.ts';
import { startCapture, type Capture } from '../helpers/tshark.ts';

/** The longest binding the test registrar grants: a client asking for an hour refreshes at ~90 % of this. */
export const MAX_EXPIRES_S = 10;

/** The Debian command each client is; a test without it fails, naming the package the test command installs. */
const PACKAGES: Readonly<Record<string, string>> = { 'twinkle-console': 'twinkle-console', 'linphonec': 'linphone-cli', 'baresip': 'baresip', 'tshark': 'tshark', 'sipp': 'sip-tester' };

/** Fails (never skips) when `cmd` is missing. */
export function requireCommand(cmd: string): void {
  if (spawnSync('sh', ['-c', `command -v ${cmd}`]).status !== 0) {
    throw new Error(`${cmd} is needed: the test command installs the Debian package ${PACKAGES[cmd] ?? cmd} (scripts/debian-peers.sh)`);
  }
}

/** A registrar log line of seed step 13 (the 200 to a REGISTER). */
export interface Step13 {
  impu: string;
  bindings: number;
  server_assignment_type?: number;
}

/** The softphone testbed of one test file. */
export interface SoftphoneBed {
  tb: RunningTestbed;
  files: TestbedClientFiles;
  /** A temporary directory of the file, for clients' homes and copies. */
  tmp: string;
  /** The registrar's UDP/TCP port and its TLS port. */
  port: number;
  tlsPort: number;
  /**
   * The next 200 the registrar sends for `aor` whose line `pred` accepts (registered before the client starts, so it
   * cannot be missed).
   */
  step13(aor: string, pred: (l: Step13) => boolean, what: string, ms?: number): Promise<Step13>;
  /** The registrar's bindings of `aor` now (admin API, as `mcx registrar bindings --admin …`). */
  bindings(aor: string): Promise<BindingView['contacts']>;
  /** A loopback capture of the registrar's SIP ports. */
  capture(): Promise<Capture>;
}

/**
 * The `before`/`after` hooks of a softphone test file.
 * @param name tags the temporary directory.
 */
export function softphoneTestbed(name: string): SoftphoneBed {
  const state: Partial<SoftphoneBed> = {};
  const captures: Capture[] = [];
  before(async () => {
    requireCommand('tshark');
    state.tmp = await mkdtemp(join(tmpdir(), `mcx-${name}-`));
    const o = parseTestbedOptions({
      'dir': join(state.tmp, 'testbed'), 'listen': '127.0.0.1', 'ports': 'auto', 'store': 'memory', 'primary-realm': 'primary.mcx.test',
      'partner-realm': 'partner.mcx.test', 'rand-policy': 'sipp361', 'digest-algorithms': 'MD5', 'once': false, 'verbose': false,
    });
    state.tb = await startTestbed(o, { expires: { min: 5, max: MAX_EXPIRES_S } });
    state.files = await writeTestbedClientFiles(state.tb);
    state.tb.clients = state.files;
    state.port = state.files.at.port;
    state.tlsPort = state.files.at.tls?.port ?? 0;
  });
  after(async () => {
    for (const c of captures) {
      await c.stop().catch(() => undefined);
      c.remove();
    }
    await state.tb?.close();
    if (state.tmp) await rm(state.tmp, { recursive: true, force: true });
  });
  const need = <K extends keyof SoftphoneBed>(k: K): NonNullable<SoftphoneBed[K]> => {
    const v = state[k];
    if (v === undefined || v === null) throw new Error(`softphone testbed: ${k} is not ready (before() failed?)`);
    return v as NonNullable<SoftphoneBed[K]>;
  };
  return {
    get tb() { return need('tb'); },
    get files() { return need('files'); },
    get tmp() { return need('tmp'); },
    get port() { return need('port'); },
    get tlsPort() { return need('tlsPort'); },
    step13(aor, pred, what, ms = 20_000) {
      const line = need('tb').logs.waitFor(what, (l) => l.role === 'registrar' && l.step === 13 && l.impu === aor && pred(l as unknown as Step13), ms);
      return line as unknown as Promise<Step13>;
    },
    async bindings(aor) {
      const tb = need('tb');
      const reg = tb.testbed.role('registrar').addresses;
      const all = await listBindings({ admin: reg.adminUrl as string, adminTokenFile: reg.adminTokenPath as string, tlsCa: caPaths(tb.layout.pki, 'partner').cert });
      return all.find((b) => b.aor === aor)?.contacts ?? [];
    },
    async capture() {
      const c = await startCapture(`port ${need('port')} or port ${need('tlsPort')}`);
      captures.push(c);
      return c;
    },
  };
}

/** A client process fed console commands on stdin. */
export interface Client {
  proc: Proc;
  /** Writes a console command line. */
  type(line: string): void;
  /** Types `quit` (the client's own: it de-registers) and waits for the exit, SIGKILL after `ms`. */
  quit(command: string, ms?: number): Promise<number | null>;
}

/** Starts `cmd args` with `env` over the test's environment and stdin open for console commands. */
export function startClient(cmd: string, args: string[], o: { env?: Record<string, string>; cwd: string }): Client {
  const proc = start(cmd, args, { cwd: o.cwd, env: { ...process.env, ...o.env }, stdio: ['pipe', 'pipe', 'pipe'] });
  after(() => proc.stop('SIGKILL', 1000));
  const type = (line: string): void => {
    proc.child.stdin?.write(`${line}\n`);
  };
  return {
    proc, type,
    async quit(command, ms = 8000) {
      type(command);
      const killer = setTimeout(() => proc.child.kill('SIGKILL'), ms);
      try {
        return await proc.exited;
      } finally {
        clearTimeout(killer);
      }
    },
  };
}

/** A fresh HOME under `tmp` (with the XDG data directory linphone needs to open its listening points). */
export async function freshHome(tmp: string, name: string): Promise<string> {
  const home = join(tmp, name);
  await mkdir(join(home, '.local', 'share', 'linphone'), { recursive: true });
  return home;
}
