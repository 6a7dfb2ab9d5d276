/**
 * Writes the softphone files of users under one directory (`.testbed/clients/` for `mcx testbed`, `--clients-dir` for
 * `mcx ue migrate --configure-only`), each as the client loads it unchanged:
 *
 *   twinkle/.twinkle/twinkle.sys            Twinkle's system settings (kept when present): HOME=<dir>/twinkle
 *   twinkle/.twinkle/<label>-{udp,tcp}.cfg  IMS AKA users: `HOME=<dir>/twinkle twinkle-console <label>-udp.cfg`
 *   sipp/<label>.xml, sipp/<label>.csv      IMS AKA users: `sipp H:P -sf … -inf … -t u1 -m 1`
 *   linphone/<label>-{udp,tcp,tls}.linphonerc  SIP Digest users: `linphonec -c …`
 *   baresip/<label>/{config,accounts}       SIP Digest users: `baresip -f <dir>/baresip/<label>`
 *
 * Every file holding a key or a password is 0600. A user whose keys a format cannot carry (model.ts) gets no file of
 * that format, and the outcome says why.
 */
import { mkdir, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { baresipAccounts, baresipConfig } from './baresip.ts';
import { linphonerc } from './linphone.ts';
import { uriHost, type AkaClientUser, type ClientTransport, type DigestClientUser, type RegistrarListeners } from './model.ts';
import { sippInjection, sippScenario } from './sipp.ts';
import { twinkleProfile, twinkleSystemSettings } from './twinkle.ts';

/** The clients files are written for. */
export type SoftphoneClient = 'twinkle' | 'linphone' | 'baresip' | 'sipp';

/** One file (or directory) a client loads, and how to start the client with it. */
export interface ClientFile {
  client: SoftphoneClient;
  label: string;
  transport?: ClientTransport;
  /** The profile, rc file, config directory or scenario. */
  path: string;
  /** The command line that runs it (from any directory). */
  run: string;
}

/** What was written, and what could not be (client and reason). */
export interface ClientFilesOutcome {
  files: ClientFile[];
  skipped: Array<{ client: SoftphoneClient; label: string; reason: string }>;
}

/** Where Twinkle's home is under `dir`: `HOME=<this>` makes `<this>/.twinkle` its configuration directory. */
export function twinkleHome(dir: string): string {
  return join(dir, 'twinkle');
}

async function exists(path: string): Promise<boolean> {
  return stat(path).then(() => true, () => false);
}

async function put(path: string, data: string | Buffer, secret: boolean): Promise<void> {
  await writeFile(path, data, { mode: secret ? 0o600 : 0o644 });
}

/** Shell-quotes a path when it needs it. */
function sh(path: string): string {
  return /^[\w@%+=:,./-]+$/.test(path) ? path : `'${path.replace(/'/g, "'\\''")}'`;
}

/**
 * Twinkle profiles (UDP, TCP) and the SIPp scenario of an IMS AKA user.
 * @param twinklePort Twinkle's own SIP port, for `twinkle.sys` when the directory has none yet.
 */
export async function writeAkaClientFiles(dir: string, u: AkaClientUser, at: RegistrarListeners, twinklePort: number): Promise<ClientFilesOutcome> {
  const out: ClientFilesOutcome = { files: [], skipped: [] };
  const home = twinkleHome(dir);
  const conf = join(home, '.twinkle');
  try {
    const profiles = (['udp', 'tcp'] as const).map((t) => ({ t, bytes: twinkleProfile(u, at, t) }));
    await mkdir(conf, { recursive: true, mode: 0o700 });
    const sys = join(conf, 'twinkle.sys');
    if (!(await exists(sys))) await put(sys, twinkleSystemSettings(twinklePort), false);
    for (const { t, bytes } of profiles) {
      const name = `${u.label}-${t}.cfg`;
      await put(join(conf, name), bytes, true);
      out.files.push({ client: 'twinkle', label: u.label, transport: t, path: join(conf, name), run: `HOME=${sh(home)} twinkle-console ${name}` });
    }
  } catch (e) {
    out.skipped.push({ client: 'twinkle', label: u.label, reason: (e as Error).message });
  }
  try {
    const xml = sippScenario(u);
    const sipp = join(dir, 'sipp');
    await mkdir(sipp, { recursive: true, mode: 0o700 });
    const [scenario, csv] = [join(sipp, `${u.label}.xml`), join(sipp, `${u.label}.csv`)];
    await put(scenario, xml, true);
    await put(csv, sippInjection(u), false);
    const target = `${uriHost(at.host)}:${at.port}`;
    out.files.push({ client: 'sipp', label: u.label, transport: 'udp', path: scenario, run: `sipp ${target} -sf ${sh(scenario)} -inf ${sh(csv)} -t u1 -m 1 -i ${at.host}` });
  } catch (e) {
    out.skipped.push({ client: 'sipp', label: u.label, reason: (e as Error).message });
  }
  return out;
}

/** linphonerc files (UDP, TCP, and TLS when the registrar has it) and the baresip directory of a SIP Digest user. */
export async function writeDigestClientFiles(dir: string, u: DigestClientUser, at: RegistrarListeners): Promise<ClientFilesOutcome> {
  const out: ClientFilesOutcome = { files: [], skipped: [] };
  const lp = join(dir, 'linphone');
  await mkdir(lp, { recursive: true, mode: 0o700 });
  const transports: ClientTransport[] = at.tls ? ['udp', 'tcp', 'tls'] : ['udp', 'tcp'];
  for (const t of transports) {
    const file = join(lp, `${u.label}-${t}.linphonerc`);
    await put(file, linphonerc(u, at, t), true);
    out.files.push({ client: 'linphone', label: u.label, transport: t, path: file, run: `linphonec -c ${sh(file)}` });
  }
  try {
    const accounts = baresipAccounts(u, at);
    const bs = join(dir, 'baresip', u.label);
    await mkdir(bs, { recursive: true, mode: 0o700 });
    await put(join(bs, 'config'), baresipConfig(at.host), false);
    await put(join(bs, 'accounts'), accounts, true);
    out.files.push({ client: 'baresip', label: u.label, transport: 'udp', path: bs, run: `baresip -f ${sh(bs)}` });
  } catch (e) {
    out.skipped.push({ client: 'baresip', label: u.label, reason: (e as Error).message });
  }
  return out;
}

/** Both outcomes in one. */
export function mergeOutcomes(...o: ClientFilesOutcome[]): ClientFilesOutcome {
  return { files: o.flatMap((x) => x.files), skipped: o.flatMap((x) => x.skipped) };
}
