/**
 * What `mcx ue migrate` does (TS 23.280 §10.6.2.3 from the UE): open the primary ISIM, run the IdM steps and the
 * migration configuration request (migrate.ts: step 1 and the precondition), put each on the message ladder, then
 * register with the partner identities at the registrar the configuration names (migration-target.ts) through the
 * same run as `mcx ue register` (run.ts), with the §10.6.2.3 step numbers; `--end` deletes the configuration after
 * de-registration. Returns the exit status; IdM failures exit with {@link idmExitStatus} and name the step.
 *
 * Trust is per system: the primary IdMS (which gets the password) is verified against `--primary-ca` alone; the
 * partner IdMS, the partner MMS and the registrar's TLS against `--partner-ca` alone. Every file is read before the
 * first request, so a bad one ends the run (exit 2) before anything is sent. Interrupted (`stop`), the run abandons
 * what is outstanding, de-registers if it is registered, and with `--end` still deletes the configuration, each
 * clean-up exchange bounded by {@link cleanupTimeoutS}.
 */
import { UsageError } from '../lib/cli.ts';
import { silentLogger, type Logger } from '../lib/log.ts';
import { seedStep, type SeedStepNumber } from '../lib/seed-steps.ts';
import type { UeSecrets } from './aka-auth.ts';
import { UE_EXIT_STATUS, UeError, errorReport } from './errors.ts';
import { IdmClientError, endMigration, type IdmClientErrorCode, type MigrationConfiguration } from './idm-client.ts';
import { eventLines, type LadderEvent } from './ladder.ts';
import { migrate, type MigrateOptions, type Migration, type MigrateStep } from './migrate.ts';
import type { MigrateConfig } from './migrate-options.ts';
import { registrationTarget } from './migration-target.ts';
import { cleanupTimeoutS, closeUeSecrets, openUeSecrets, readCaFiles, registerOnce, type UeIo, type UeRunReport } from './run.ts';

/**
 * Exit status per IdM failure code: 3 the user's password refused, 4 refused by or a fault of a server (an OAuth
 * error, an answer this client cannot use — an ID token that does not verify included), 5 no answer in time, 6
 * transport or TLS. OAuth errors that refuse a credential or token are 3 ({@link idmExitStatus}).
 */
export const IDM_EXIT_STATUS: Readonly<Record<IdmClientErrorCode, number>> = {
  ERR_IDM_LOGIN: 3,
  ERR_IDM_OAUTH: 4,
  ERR_IDM_TOKEN: 4,
  ERR_IDM_PROTOCOL: 4,
  ERR_IDM_TIMEOUT: 5,
  ERR_IDM_TRANSPORT: 6,
};

/** OAuth `error`s that refuse the user's grant or token (RFC 6749 §5.2, RFC 6750 §3.1): authentication, exit 3. */
const REFUSED_CREDENTIALS: ReadonlySet<string> = new Set(['invalid_grant', 'invalid_token']);

/** The exit status of `mcx ue migrate` for an IdM failure (see {@link IDM_EXIT_STATUS}). */
export function idmExitStatus(err: IdmClientError): number {
  if (err.code === 'ERR_IDM_OAUTH' && err.error !== undefined && REFUSED_CREDENTIALS.has(err.error)) return 3;
  return IDM_EXIT_STATUS[err.code];
}

/** The `--json` report: the registration run's, plus the migration configuration (no tokens). */
export interface MigrateReport extends UeRunReport {
  migration?: MigrationConfiguration & { ended: boolean };
  /** The step an IdM failure happened in. */
  failedStep?: MigrateStep;
}

/** How each step shows on the ladder: who the UE talks to and what it asks; the answer line is migrate.ts's detail. */
const STEP_LINES: Readonly<Record<MigrateStep, { peer: string; request: string; step?: SeedStepNumber }>> = {
  'login': { peer: 'primary IdMS', request: 'authorization request + login (OIDC code, PKCE S256)', step: 1 },
  'token-exchange': { peer: 'primary IdMS', request: 'token exchange (RFC 8693)', step: 1 },
  'jwt-bearer': { peer: 'partner IdMS', request: 'jwt-bearer grant (RFC 7523)', step: 1 },
  'configuration': { peer: 'partner MMS', request: 'POST /migration/v1/configurations (precondition)' },
  'end': { peer: 'partner MMS', request: 'DELETE /migration/v1/configurations/{id}' },
};
const ORDER: readonly MigrateStep[] = ['login', 'token-exchange', 'jwt-bearer', 'configuration'];

/** What the IdM steps came to, with their ladder lines. */
export type IdmOutcome<T> = { prelude: LadderEvent[] } & ({ result: T } | { error: IdmClientError; failedStep: MigrateStep });

/** The CA PEMs of each system. */
export interface Trust {
  primary: string[] | undefined;
  partner: string[] | undefined;
}

/**
 * The CA files of `--primary-ca` and `--partner-ca`, read before anything is sent.
 * @throws UsageError for a file that cannot be read (exit 2).
 */
export async function readTrust(cfg: MigrateConfig): Promise<Trust> {
  return { primary: await readCaFiles('primary-ca', cfg.idm.primaryCa), partner: await readCaFiles('partner-ca', cfg.idm.partnerCa) };
}

/**
 * The IdM steps (migrate.ts: `migrate` for the configuration request, `endMigrationById` for `--end-only`), each put
 * on the ladder as it completes (and logged).
 * @param order the steps `run` takes, to name the one that failed.
 */
export async function idmSteps<T>(cfg: MigrateConfig, ca: Trust, signal: AbortSignal, log: Logger,
  run: (o: MigrateOptions) => Promise<T>, order: readonly MigrateStep[] = ORDER): Promise<IdmOutcome<T>> {
  const prelude: LadderEvent[] = [];
  let completed = 0;
  let since = Date.now();
  const request = (s: MigrateStep): LadderEvent => {
    const l = STEP_LINES[s];
    return { at: since, direction: 'out', peer: l.peer, label: l.request, ...(l.step ? { step: l.step } : {}) };
  };
  const { idm } = cfg;
  try {
    const result = await run({
      primaryIssuer: idm.primaryIssuer, partnerIssuer: idm.partnerIssuer, partnerMms: idm.partnerMms, primaryCa: ca.primary, partnerCa: ca.partner,
      clientId: idm.clientId, redirectUri: idm.redirectUri, username: idm.username, password: idm.password, scopes: idm.scopes,
      timeoutMs: cfg.ue.timeoutS * 1000, signal,
      onStep: (s, detail) => {
        const l = STEP_LINES[s];
        const at = Date.now();
        const label = s === 'configuration' ? `${detail} (precondition)` : detail;
        prelude.push(request(s), { at, direction: 'in', peer: l.peer, label, ...(l.step ? { step: l.step } : {}) });
        since = at;
        completed++;
        if (l.step) seedStep(log, 'dynamic', l.step, 'ue', detail);
        else log.info({ flow: 'dynamic' }, `migration configuration: ${detail}`);
      },
    });
    return { prelude, result };
  } catch (err) {
    if (!(err instanceof IdmClientError)) throw err;
    const failedStep = order[completed] ?? order[order.length - 1] ?? 'configuration';
    const note = signal.aborted ? 'interrupted' : `${err.code}: ${err.message}`;
    prelude.push(request(failedStep), { at: Date.now(), direction: 'in', peer: STEP_LINES[failedStep].peer, label: 'failed', note });
    return { prelude, error: err, failedStep };
  }
}

/** A failure as the report and the error line carry it. */
interface Failure {
  code: string;
  message: string;
  status?: number | undefined;
  detail?: string | undefined;
}

/**
 * `mcx ue migrate`.
 * @param stop resolves on SIGINT/SIGTERM in the CLI: ends a held registration, or interrupts the run (see above).
 * @returns the exit status.
 * @throws UsageError for a file that cannot be read (exit 2), before anything is sent.
 */
export async function runMigrate(cfg: MigrateConfig, io: UeIo, stop?: Promise<unknown>): Promise<number> {
  const log = io.logger ?? silentLogger;
  const json = cfg.ue.json;
  const ca = await readTrust(cfg);
  const report: MigrateReport = { ok: false, ladder: [] };
  const aborter = new AbortController();
  let stopped = false;
  void stop?.then(() => {
    stopped = true;
    aborter.abort();
  });
  const finish = (status: number): number => {
    if (json) io.out(JSON.stringify(report));
    return status;
  };
  const fail = (err: Failure, status: number, where = ''): number => {
    report.ok = false;
    report.error = errorReport(err);
    io.err(`ue migrate failed${where}: ${err.code}: ${err.message}`);
    return finish(status);
  };
  // The ISIM first: no configuration is requested for a UE that could not answer the challenge anyway.
  let secrets: UeSecrets;
  try {
    secrets = await openUeSecrets(cfg.ue);
  } catch (err) {
    if (err instanceof UeError) return fail(err, err.exitStatus);
    throw err;
  }
  try {
    const { idm } = cfg;
    if (!json) io.out(`MC service user ${idm.username}: primary IdMS ${idm.primaryIssuer} → partner IdMS ${idm.partnerIssuer}, partner MMS ${idm.partnerMms}`);
    const outcome = await idmSteps(cfg, ca, aborter.signal, log, migrate);
    const { prelude } = outcome;
    const printLadder = (): void => {
      report.ladder = eventLines('dynamic', prelude);
      if (!json) for (const line of report.ladder) io.out(line);
    };
    if ('error' in outcome) {
      printLadder();
      report.failedStep = outcome.failedStep;
      if (stopped) {
        const step = outcome.failedStep;
        const left = step === 'configuration'
          ? 'a configuration the partner MMS may have created meanwhile stays until it expires (the next migrate of this user gets it back)'
          : 'no migration configuration was requested';
        return fail(new UeError('UE_INTERRUPTED', `interrupted: the request to the ${STEP_LINES[step].peer} was abandoned; ${left}`), UE_EXIT_STATUS.UE_INTERRUPTED, ` at ${step}`);
      }
      return fail(outcome.error, idmExitStatus(outcome.error), ` at ${outcome.failedStep}`);
    }

    const migration: Migration = outcome.result;
    const c = migration.configuration;
    const view = { ...c, ended: false };
    report.migration = view;
    /** `--end`: DELETE the configuration (here and, through the partner MMS, at the primary MMS). */
    const end = async (): Promise<IdmClientError | undefined> => {
      const timeoutS = stopped ? cleanupTimeoutS(cfg.ue.timeoutS) : cfg.ue.timeoutS;
      try {
        await endMigration({ mms: idm.partnerMms, accessToken: migration.partnerAccessToken, id: c.id, ...(ca.partner ? { ca: ca.partner } : {}), timeoutMs: timeoutS * 1000 });
      } catch (err) {
        if (err instanceof IdmClientError) return err;
        throw err;
      }
      view.ended = true;
      if (!json) io.out(`migration ended: configuration ${c.id} deleted at the partner MMS`);
      return undefined;
    };
    /** Ends the migration with `--end` (the user asked for none to be left behind, whatever the outcome) or says it stays. */
    const wrapUp = async (failed: boolean): Promise<IdmClientError | undefined> => {
      if (!cfg.end) {
        if (stopped) io.err(`ue migrate: configuration ${c.id} stays until ${c.expires_at} (no --end)`);
        return undefined;
      }
      const notEnded = await end();
      if (notEnded && failed) io.err(`ue migrate: ending the migration failed too: ${notEnded.code}: ${notEnded.message}`);
      return notEnded;
    };
    if (!json) io.out(`migration configuration ${c.id}: ${c.partner_impi} ${c.partner_impus.join(' ')} at ${c.registrar} until ${c.expires_at}`);
    let run: Awaited<ReturnType<typeof registerOnce>>;
    try {
      if (stopped) throw new UeError('UE_INTERRUPTED', 'interrupted before the registration started');
      const target = registrationTarget(c, cfg);
      if (target.transport !== 'udp' && (cfg.ue.test?.drop || cfg.ue.localPort !== undefined)) {
        throw new UsageError(`--transport: --local-port and the drop pattern need udp; the configuration names ${c.registrar}`);
      }
      run = await registerOnce({ ...cfg.ue, ...target, flow: 'dynamic' }, io, stop, { secrets, prelude, tlsCa: ca.partner, command: 'migrate' });
    } catch (err) {
      // Nothing was registered: the ladder is the IdM steps, and the report says why.
      if (!(err instanceof UsageError || err instanceof UeError || err instanceof IdmClientError)) throw err;
      printLadder();
      await wrapUp(true);
      if (err instanceof UsageError) return fail({ code: err.code, message: err.message }, err.exitCode);
      return fail(err, err instanceof UeError ? err.exitStatus : idmExitStatus(err));
    }
    Object.assign(report, run.report, { migration: view });
    const notEnded = await wrapUp(run.status !== 0);
    if (!notEnded || run.status !== 0) return finish(run.status);
    return fail(notEnded, idmExitStatus(notEnded), ' to end the migration');
  } finally {
    await closeUeSecrets(secrets);
  }
}
