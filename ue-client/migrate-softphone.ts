/**
 * `mcx ue migrate --configure-only` and `--end-only`: a dynamic partner identity (TS 23.280 §10.6.2.3) for a softphone
 * instead of our UE.
 *
 * - `--configure-only` runs the IdM steps and the migration configuration request exactly as `mcx ue migrate` does
 *   (migrate-run.ts), registers nothing, prints the partner IMPI/IMPU, registrar and expiry, and writes the softphone
 *   files of that identity (Twinkle over UDP and TCP, SIPp: softphones/files.ts) with the keys of the primary ISIM
 *   (K, and OP: the ISIM's own, or `--op`) into `--clients-dir`. It prints the command that ends the configuration.
 * - `--end-only --id ID` runs the IdM steps again for a fresh partner access token (the partner MMS lets the same MC
 *   service user of the same primary system delete it) and deletes configuration ID. Nothing is kept between the two
 *   runs but the ID: no token at rest.
 *
 * Exit status as `mcx ue migrate` (0 done, 2 options, 3–6 IdM failures by kind, 1 the ISIM state file).
 */
import { readFile } from 'node:fs/promises';
import { isIP } from 'node:net';
import { AkaError } from '../lib/aka/index.ts';
import { freeSipPort } from '../lib/free-ports.ts';
import { silentLogger } from '../lib/log.ts';
import type { UeSecrets } from './aka-auth.ts';
import { UE_EXIT_STATUS, UeError, errorReport } from './errors.ts';
import { IdmClientError, type MigrationConfiguration } from './idm-client.ts';
import { decodeIsimState } from './isim-state.ts';
import { eventLines } from './ladder.ts';
import { endMigrationById, migrate, type MigrateStep } from './migrate.ts';
import type { MigrateConfig } from './migrate-options.ts';
import { idmExitStatus, idmSteps, readTrust } from './migrate-run.ts';
import { closeUeSecrets, openUeSecrets, type UeIo } from './run.ts';
import { dynamicSoftphoneUser, softphoneLabel, type SoftphoneKeys } from './softphones/dynamic.ts';
import { writeAkaClientFiles, type ClientFilesOutcome } from './softphones/files.ts';

/** The AMF the files give SIPp (which checks the MAC with it) when `--amf` is not given: the testbed's. */
export const DEFAULT_SOFTPHONE_AMF = '8000';

/** The `--json` report of both modes. */
export interface SoftphoneMigrateReport {
  ok: boolean;
  ladder: string[];
  migration?: MigrationConfiguration & { ended: boolean };
  clientFiles?: ClientFilesOutcome;
  /** The command that ends the configuration (`--configure-only`). */
  endCommand?: string;
  error?: { code: string; message: string; status?: number; detail?: string };
  failedStep?: MigrateStep;
}

/** The flags that reach the same user at the same systems, as a command line (the password never printed). */
function idmFlags(cfg: MigrateConfig): string {
  const { idm } = cfg;
  const words = ['--primary-idms', idm.primaryIssuer, '--partner-idms', idm.partnerIssuer, '--partner-mms', idm.partnerMms, '--username', idm.username,
    ...(idm.passwordFile ? ['--password-file', idm.passwordFile] : ['--password', "'<password>'"]),
    ...(idm.primaryCa ?? []).flatMap((f) => ['--primary-ca', f]), ...(idm.partnerCa ?? []).flatMap((f) => ['--partner-ca', f])];
  return words.map((w) => (/^[\w@%+=:,./'<>-]+$/.test(w) ? w : `'${w.replace(/'/g, "'\\''")}'`)).join(' ');
}

/**
 * K and OP of the primary ISIM for the files: its state file's (opened and locked meanwhile), OP from `--op` when the
 * ISIM holds OPc.
 * @returns the keys, or why there are none for softphones.
 */
async function isimKeys(cfg: MigrateConfig): Promise<SoftphoneKeys | string> {
  const file = cfg.ue.isim?.file as string;
  const state = decodeIsimState(JSON.parse(await readFile(file, 'utf8')));
  const op = state.opVariant.kind === 'op' ? state.opVariant.value : cfg.ue.isim?.op;
  if (!op) return `the ISIM ${file} holds OPc, and Twinkle 1.10 and SIPp 3.6.1 need OP: give --op`;
  return { k: state.k, op: Buffer.from(op), amf: cfg.ue.amf ?? Buffer.from(DEFAULT_SOFTPHONE_AMF, 'hex') };
}

/**
 * The softphone files of configuration `c`.
 * @throws IdmClientError for a configuration no UE can register with.
 */
async function writeFiles(cfg: MigrateConfig, c: MigrationConfiguration, keys: SoftphoneKeys | string): Promise<ClientFilesOutcome> {
  if (typeof keys === 'string') {
    const label = softphoneLabel(c.partner_impi);
    return { files: [], skipped: [{ client: 'twinkle', label, reason: keys }, { client: 'sipp', label, reason: keys }] };
  }
  const { user, at } = dynamicSoftphoneUser(c, keys, cfg.registrar);
  const twinklePort = await freeSipPort(isIP(at.host) === 6 ? '::1' : '127.0.0.1', [at.port]);
  return writeAkaClientFiles(cfg.clientsDir as string, user, at, twinklePort);
}

/** Runs `--configure-only` or `--end-only` (see the module comment); returns the exit status. */
export async function runSoftphoneMigrate(cfg: MigrateConfig, io: UeIo, stop?: Promise<unknown>): Promise<number> {
  const log = io.logger ?? silentLogger;
  const json = cfg.ue.json;
  const ca = await readTrust(cfg);
  const report: SoftphoneMigrateReport = { ok: false, ladder: [] };
  const aborter = new AbortController();
  void stop?.then(() => aborter.abort());
  const finish = (status: number): number => {
    report.ok = status === 0;
    if (json) io.out(JSON.stringify(report));
    return status;
  };
  const fail = (err: { code: string; message: string; status?: number | undefined; detail?: string | undefined }, status: number, where = ''): number => {
    report.error = errorReport(err);
    io.err(`ue migrate failed${where}: ${err.code}: ${err.message}`);
    return finish(status);
  };
  const say = (line: string): void => {
    if (!json) io.out(line);
  };
  say(`MC service user ${cfg.idm.username}: primary IdMS ${cfg.idm.primaryIssuer} → partner IdMS ${cfg.idm.partnerIssuer}, partner MMS ${cfg.idm.partnerMms}`);

  if (cfg.mode === 'end-only') {
    const id = cfg.id as string;
    const outcome = await idmSteps(cfg, ca, aborter.signal, log, (o) => endMigrationById(o, id), ['login', 'token-exchange', 'jwt-bearer', 'end']);
    report.ladder = eventLines('dynamic', outcome.prelude);
    for (const l of report.ladder) say(l);
    if ('error' in outcome) {
      report.failedStep = outcome.failedStep;
      return fail(outcome.error, aborter.signal.aborted ? UE_EXIT_STATUS.UE_INTERRUPTED : idmExitStatus(outcome.error), ` at ${outcome.failedStep}`);
    }
    say(`migration ended: configuration ${id} deleted at the partner MMS`);
    return finish(0);
  }

  // The ISIM first, as for a registration: its keys go into the files.
  let secrets: UeSecrets | undefined;
  let keys: SoftphoneKeys | string;
  try {
    secrets = await openUeSecrets(cfg.ue);
    keys = await isimKeys(cfg);
  } catch (err) {
    await closeUeSecrets(secrets);
    if (err instanceof UeError) return fail(err, err.exitStatus);
    if (err instanceof AkaError || err instanceof SyntaxError) return fail(new UeError('UE_ISIM', (err as Error).message), UE_EXIT_STATUS.UE_ISIM);
    throw err;
  }
  try {
    const outcome = await idmSteps(cfg, ca, aborter.signal, log, migrate);
    report.ladder = eventLines('dynamic', outcome.prelude);
    for (const l of report.ladder) say(l);
    if ('error' in outcome) {
      report.failedStep = outcome.failedStep;
      return fail(outcome.error, aborter.signal.aborted ? UE_EXIT_STATUS.UE_INTERRUPTED : idmExitStatus(outcome.error), ` at ${outcome.failedStep}`);
    }
    const c = outcome.result.configuration;
    report.migration = { ...c, ended: false };
    say(`migration configuration ${c.id}: partner IMPI ${c.partner_impi}, IMPU ${c.partner_impus.join(' ')}, registrar ${c.registrar}, until ${c.expires_at} (not registered: --configure-only)`);
    let files: ClientFilesOutcome;
    try {
      files = await writeFiles(cfg, c, keys);
    } catch (err) {
      if (err instanceof IdmClientError) return fail(err, idmExitStatus(err));
      throw err;
    }
    report.clientFiles = files;
    report.endCommand = `npx mcx ue migrate ${idmFlags(cfg)} --end-only --id ${c.id}`;
    say(`softphone files in ${cfg.clientsDir as string}:`);
    for (const f of files.files) say(`  ${f.client} (${f.transport ?? '-'}): ${f.run}`);
    for (const s of files.skipped) say(`  no ${s.client} file: ${s.reason}`);
    say(`end the migration with: ${report.endCommand}`);
    return finish(0);
  } finally {
    await closeUeSecrets(secrets);
  }
}
