/**
 * What `mcx ue register|deregister` do, as functions over a validated {@link UeConfig}, so `mcx ue migrate` can run
 * the same registration after the migration configuration gave it the partner identities and registrar:
 * {@link openUeSecrets} → {@link registerOnce} (register, print ladder and result, hold or not, de-register unless
 * kept; {@link runRegister} adds the JSON report) and {@link runDeregister}. They return the exit status; failures
 * are printed with their {@link UeError} code.
 */
import { access } from 'node:fs/promises';
import { UsageError } from '../lib/cli.ts';
import { ConfigFileError, readConfigFile } from '../lib/config/files.ts';
import { formatHostPort } from '../lib/config/address.ts';
import { silentLogger, type Logger } from '../lib/log.ts';
import { AkaError } from '../lib/aka/index.ts';
import type { UeSecrets } from './aka-auth.ts';
import { eventLines, type LadderEvent } from './ladder.ts';
import { UeError, errorReport } from './errors.ts';
import { Isim } from './isim.ts';
import type { UeConfig } from './options.ts';
import { Registration, type RegistrationResult } from './register.ts';
import { RegEventWatch } from './reg-event.ts';
import { UeAgent, type UeAgentOptions } from './ua.ts';

/** Where a run writes: stdout lines, stderr lines, the log. */
export interface UeIo {
  out: (line: string) => void;
  err: (line: string) => void;
  logger?: Logger;
}

/** The JSON `--json` prints at the end of a run. */
export interface UeRunReport {
  ok: boolean;
  registered?: RegistrationResult;
  deregistered?: boolean;
  error?: { code: string; message: string; status?: number; detail?: string };
  ladder: string[];
}

/** The ISIM options, and the registration's identities the ISIM takes as its own when it is created without any. */
export type IsimSource = Pick<UeConfig, 'isim'> & Partial<Pick<UeConfig, 'impi' | 'impu' | 'domain'>>;

/**
 * Opens the ISIM of `cfg`: an existing state file as it is (checked against K/OP when they are given, so SQN state
 * never moves between subscriptions), or a new one from K with OP/OPc and the ISIM's identities (default: the
 * registration's). For migration the ISIM keeps the primary identities while REGISTER carries partner ones. The ISIM
 * holds its file's lock until closed ({@link closeUeSecrets}).
 * @throws UeError `UE_ISIM`, or `UE_ISIM_LOCKED` when another process has the file open.
 */
export async function openIsim(cfg: IsimSource): Promise<Isim | undefined> {
  const i = cfg.isim;
  if (!i) return undefined;
  const exists = await access(i.file).then(() => true, () => false);
  try {
    if (exists) {
      const isim = await Isim.open(i.file);
      if (i.k && !isim.holdsKeys({ k: i.k, op: i.op, opc: i.opc })) {
        await isim.close();
        throw new UeError('UE_ISIM', `ISIM state ${i.file} holds another K/OP; remove it to re-provision`);
      }
      return isim;
    }
    if (!i.k) throw new UeError('UE_ISIM', `no ISIM state at ${i.file}: give --k with --op or --opc to create it`);
    const impi = i.impi ?? cfg.impi;
    const impus = i.impus ?? (cfg.impu === undefined ? undefined : [cfg.impu]);
    const domain = i.domain ?? cfg.domain;
    if (impi === undefined || impus === undefined || domain === undefined) throw new UeError('UE_ISIM', `cannot create ${i.file}: the ISIM's own IMPI, IMPU and domain are needed`);
    return await Isim.open(i.file, { k: i.k, ...(i.op ? { op: i.op } : { opc: i.opc }), impi, impus, domain });
  } catch (err) {
    if (err instanceof UeError) throw err;
    const msg = err instanceof AkaError ? err.message.replace('holds other credentials', 'holds another K/OP') : (err as Error).message;
    throw new UeError('UE_ISIM', msg, { cause: err });
  }
}

/** ISIM and/or password of `cfg`; whoever opens them closes them ({@link closeUeSecrets}). */
export async function openUeSecrets(cfg: IsimSource & Pick<UeConfig, 'password' | 'amf'>): Promise<UeSecrets> {
  const isim = await openIsim(cfg);
  return { ...(isim ? { isim } : {}), ...(cfg.password ? { password: cfg.password } : {}), ...(cfg.amf ? { expectedAmf: cfg.amf } : {}) };
}

/** Closes the ISIM of `secrets` (releasing its state file's lock); never throws. */
export async function closeUeSecrets(secrets: UeSecrets | undefined): Promise<void> {
  await secrets?.isim?.close().catch(() => undefined);
}

/** Seconds the clean-up after an interruption (de-REGISTER, the end of a migration) may take per exchange. */
export function cleanupTimeoutS(timeoutS: number): number {
  return Math.min(timeoutS, 10);
}

/**
 * The PEMs of the CA files named by `--<option>` (undefined: none given).
 * @throws UsageError naming a file that cannot be read (exit 2).
 */
export async function readCaFiles(option: string, paths: readonly string[] | undefined): Promise<string[] | undefined> {
  try {
    return paths ? await Promise.all(paths.map((p) => readConfigFile(option, p))) : undefined;
  } catch (err) {
    throw err instanceof ConfigFileError ? new UsageError(err.message) : err;
  }
}

/**
 * The agent options of `cfg`: the TLS CA files are read here unless `caPem` gives their content already.
 * @throws UsageError when a `--tls-ca` file cannot be read (exit 2).
 */
export async function agentOptions(cfg: UeConfig, secrets: UeSecrets, logger: Logger, caPem?: string[]): Promise<UeAgentOptions> {
  const ca = caPem ?? await readCaFiles('tls-ca', cfg.tls?.ca);
  return {
    registrar: cfg.registrar, transport: cfg.transport, domain: cfg.domain, impi: cfg.impi, impu: cfg.impu, secrets, flow: cfg.flow,
    expires: cfg.expires, logger,
    ...(cfg.transport === 'tls' ? { tls: { ...(ca ? { ca } : {}), ...(cfg.tls?.servername ? { servername: cfg.tls.servername } : {}) } } : {}),
    ...(cfg.transport === 'udp' ? {
      udp: {
        ...(cfg.localPort === undefined ? {} : { localPort: cfg.localPort }),
        ...(cfg.test?.drop ? { drop: cfg.test.drop } : {}), ...(cfg.test?.t1 ? { timers: { t1: cfg.test.t1 } } : {}),
      },
    } : {}),
  };
}

/** One line describing a registration. */
export function describeRegistration(r: RegistrationResult): string {
  return `registered: ${r.impu} (IMPI ${r.impi}) expires=${r.expires}s contact=${r.contact} rspauth=${r.rspauth}` +
    `${r.resynchronised ? ' resynchronised' : ''}${r.serviceRoute.length ? ` service-route=${r.serviceRoute.join(',')}` : ''}`;
}

/** What a caller of {@link registerOnce} adds to a plain registration run. */
export interface RunExtras {
  /** The UE's secrets, already opened (default: {@link openUeSecrets} of the configuration). */
  secrets?: UeSecrets;
  /** Ladder lines of what came before (the migration steps of `mcx ue migrate`), printed ahead of the SIP ones. */
  prelude?: readonly LadderEvent[];
  /** The CA PEMs the registrar certificate must chain to, read already (instead of `cfg.tls.ca`'s files). */
  tlsCa?: string[];
  /** The command failures are reported under (`ue <command> failed: …`; default `register`). */
  command?: string;
  /** Told once the registration completed, before any hold. */
  onRegistered?: () => void;
  /**
   * Without `hold`: stay registered (refreshing) until this resolves, then de-register unless `keep` — how `mcx ue
   * migrate` keeps one registration per partner system alive at once and releases them together.
   */
  until?: Promise<unknown>;
}

/**
 * `mcx ue register`: {@link registerOnce}, then the JSON report when `cfg.json`.
 * @param stop resolves on SIGINT/SIGTERM in the CLI: ends a held registration, aborts one not yet complete.
 * @returns the exit status: 0, or the failure's {@link UeError.exitStatus}.
 */
export async function runRegister(cfg: UeConfig, io: UeIo, stop?: Promise<unknown>): Promise<number> {
  const { status, report } = await registerOnce(cfg, io, stop);
  if (cfg.json) io.out(JSON.stringify(report));
  return status;
}

/**
 * Registers, prints the ladder and the result (unless `cfg.json`); with `hold` stays registered (refreshing) until
 * `stop` resolves or a refresh fails; de-registers unless `keep`. `stop` resolving before the registration completed
 * aborts it (`UE_INTERRUPTED`); after it, the run winds down as usual (de-registering within
 * {@link cleanupTimeoutS}). Prints no JSON: the caller decides what goes in it. Closes the secrets it opened.
 * @returns the exit status (0, or the failure's {@link UeError.exitStatus}) and the report.
 * @throws UsageError for a bad file named by an option (exit 2).
 */
export async function registerOnce(cfg: UeConfig, io: UeIo, stop: Promise<unknown> = new Promise(() => undefined), extras: RunExtras = {}): Promise<{ status: number; report: UeRunReport }> {
  const log = io.logger ?? silentLogger;
  const report: UeRunReport = { ok: false, ladder: [] };
  let ue: UeAgent | undefined;
  let secrets = extras.secrets;
  let registered = false;
  let stopped = false;
  let onStop: () => void = () => undefined;
  void stop.then(() => {
    stopped = true;
    onStop();
  });
  const interrupted = (): UeError => new UeError('UE_INTERRUPTED', 'interrupted before the registration completed: the outstanding exchange was abandoned');
  const ladderOf = (agent: UeAgent | undefined): string[] => agent?.ladder.lines() ?? eventLines(cfg.flow, extras.prelude ?? []);
  try {
    secrets ??= await openUeSecrets(cfg);
    ue = await UeAgent.start({ ...await agentOptions(cfg, secrets, log, extras.tlsCa), ...(extras.prelude ? { prelude: extras.prelude } : {}) });
    if (!cfg.json) io.out(`UE ${cfg.impu} → ${cfg.transport}:${formatHostPort(cfg.registrar)} (${cfg.flow === 'home' ? 'home registration' : `TS 23.280 §10.6.2.${cfg.flow === 'static' ? 2 : 3} ${cfg.flow} flow`})`);
    if (stopped) throw interrupted();
    if (cfg.hold && !cfg.json) {
      // Held runs print the ladder as it grows: what is there already (the prelude) first.
      for (const line of ue.ladder.lines()) io.out(line);
      ue.ladder.addListener((_e, line) => io.out(line));
    }
    let refreshFailed: (e: UeError) => void = () => undefined;
    const failedRefresh = new Promise<UeError>((resolve) => { refreshFailed = resolve; });
    const reg = new Registration(ue, {
      timeoutMs: cfg.timeoutS * 1000, logger: log,
      onRefresh: (o) => (o instanceof UeError ? refreshFailed(o) : cfg.json || io.out(`refreshed: expires=${o.expires}s`)),
    });
    onStop = () => reg.abort(interrupted());
    try {
      report.registered = await reg.register();
    } finally {
      onStop = () => undefined;
    }
    registered = true;
    extras.onRegistered?.();
    if (!cfg.hold && !cfg.json) for (const line of ue.ladder.lines()) io.out(line);
    if (!cfg.json) io.out(describeRegistration(report.registered));
    if (cfg.hold || extras.until) {
      if (cfg.hold && !cfg.json) io.out('holding the registration; SIGINT/SIGTERM ends it');
      const byNetwork = cfg.hold ? watchRegistration(ue, cfg.json ? () => undefined : io.out, log) : undefined;
      const failure = await Promise.race([
        stop.then(() => undefined), ...(extras.until ? [extras.until.then(() => undefined)] : []), failedRefresh, ...(byNetwork ? [byNetwork.ended] : []),
      ]);
      if (failure?.code === 'UE_DEREGISTERED') {
        reg.close();
        registered = false;
      }
      if (failure) throw failure;
      await byNetwork?.stop();
    }
    reg.close();
    if (!cfg.keep) {
      const before = ue.ladder.entries.length;
      await reg.deregister(false, stopped ? { timeoutMs: cleanupTimeoutS(cfg.timeoutS) * 1000 } : {});
      registered = false;
      report.deregistered = true;
      if (!cfg.hold && !cfg.json) for (const line of ue.ladder.lines().slice(before)) io.out(line);
      if (!cfg.json) io.out('deregistered');
    } else if (!cfg.json) {
      io.out('binding kept (--keep): it expires on the registrar');
    }
    report.ok = true;
    return { status: 0, report };
  } catch (err) {
    if (err instanceof UsageError) throw err;
    const e = err instanceof UeError ? err : new UeError('UE_STATE', (err as Error).message, { cause: err });
    report.error = errorReport(e);
    // Without a UE (it could not connect) the ladder is what came before, if anything.
    if (!cfg.json && (!cfg.hold || !ue)) for (const line of ladderOf(ue)) io.out(line);
    io.err(`ue ${extras.command ?? 'register'} failed: ${e.code}: ${e.message}`);
    return { status: e.exitStatus, report };
  } finally {
    report.ladder = ladderOf(ue);
    await ue?.stop(registered).catch(() => undefined);
    if (!extras.secrets) await closeUeSecrets(secrets);
  }
}

/**
 * A held registration's watch on its own state (reg-event.ts): each NOTIFY printed; `ended` resolves with
 * `UE_DEREGISTERED` when the network ends the registration (our contact terminated, or no longer listed in a
 * registration that ended). A registrar without the package is noted and the hold goes on.
 */
function watchRegistration(ue: UeAgent, out: (line: string) => void, log: Logger): { ended: Promise<UeError>; stop(): Promise<void> } {
  let end: (e: UeError) => void = () => undefined;
  const ended = new Promise<UeError>((resolve) => { end = resolve; });
  const watching = RegEventWatch.start(ue, {
    onState: (s) => {
      const contact = s.contact ? `${s.contact.state} (${s.contact.event})` : 'not listed';
      out(`reg event: registration ${s.registration}, this contact ${contact}; Subscription-State: ${s.subscriptionState}`);
      if (s.contact?.state === 'terminated' || (s.contact === undefined && s.registration === 'terminated')) {
        const again = s.contact?.event === 'deactivated' ? '; the network asks for a new registration' : '';
        end(new UeError('UE_DEREGISTERED', `the network ended the registration (reg event: contact ${s.contact?.event ?? 'gone'}${again})`));
      }
    },
    onRefused: (status) => out(`reg event: subscription refused${status ? ` (${status})` : ''}: a network de-registration shows only at the next refresh`),
    onLost: () => out('reg event: the subscription ended while registered: a network de-registration shows only at the next refresh'),
  }).catch((err: unknown) => {
    log.warn({ err: (err as Error).message }, 'reg event: could not subscribe');
    return undefined;
  });
  return { ended, stop: async () => (await watching)?.stop() };
}

/**
 * `mcx ue deregister`: removes every binding of the IMPU (`Contact: *`, `Expires: 0`, RFC 3261 §10.2.2) — a fresh
 * process cannot know the Contact an earlier `register --keep` left behind — answering the challenge as usual.
 * @returns the exit status.
 */
export async function runDeregister(cfg: UeConfig, io: UeIo): Promise<number> {
  const log = io.logger ?? silentLogger;
  let ue: UeAgent | undefined;
  let secrets: UeSecrets | undefined;
  try {
    secrets = await openUeSecrets(cfg);
    ue = await UeAgent.start(await agentOptions(cfg, secrets, log));
    const reg = new Registration(ue, { timeoutMs: cfg.timeoutS * 1000, logger: log });
    await reg.deregister(true);
    for (const line of ue.ladder.lines()) io.out(line);
    io.out(`deregistered: every binding of ${cfg.impu}`);
    return 0;
  } catch (err) {
    if (err instanceof UsageError) throw err;
    const e = err instanceof UeError ? err : new UeError('UE_STATE', (err as Error).message, { cause: err });
    if (ue) for (const line of ue.ladder.lines()) io.out(line);
    io.err(`ue deregister failed: ${e.code}: ${e.message}`);
    return e.exitStatus;
  } finally {
    await ue?.stop().catch(() => undefined);
    await closeUeSecrets(secrets);
  }
}
