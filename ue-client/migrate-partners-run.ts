/**
 * `mcx ue migrate` with several `--partner`s: one UE migrating to several partner MC systems at once (TS 23.280
 * §10.6.2.1, "for each partner MC system to which the MC service UE wishes to migrate"; TS 33.180 §5.1.4.2, the
 * token exchange "repeated for each partner identity management domain"). One process, because the ISIM state file
 * is locked to one process (isim-lock.ts) and every partner's vectors come from the one primary HSS, in one SQN
 * space: the ISIM is opened once and answers every partner's challenges in the order they come.
 *
 * The run: the login at the primary IdMS once; then per partner, in the order given, the token exchange naming that
 * partner's IdMS, the jwt-bearer grant there, the configuration request to its MMS, and the registration with the
 * partner identities at the registrar the configuration names (run.ts, with that partner's CA) — each registration
 * complete before the next partner's steps begin. Once every partner is registered they stay so together: with
 * `--hold` until SIGINT/SIGTERM (each refreshing on its own), otherwise they are released at once; then each
 * de-registers (unless `--keep`) and, with `--end`, its configuration is deleted. A partner that fails does not stop
 * the others; the exit status is the first failure's, in partner order (0 when all succeeded). Every output line of a
 * partner is prefixed `[<name>] `; `--json` prints one report with a part per partner.
 */
import { silentLogger } from '../lib/log.ts';
import type { UeSecrets } from './aka-auth.ts';
import { UE_EXIT_STATUS, UeError, errorReport } from './errors.ts';
import { IdmClientError, endMigration, type MigrationConfiguration } from './idm-client.ts';
import { eventLines, type LadderEvent } from './ladder.ts';
import { accessAtPartner, configureAtPartner, loginAtPrimary, type PrimaryLogin } from './migrate.ts';
import type { MigrateConfig } from './migrate-options.ts';
import { idmExitStatus, idmSteps, type MigrateReport } from './migrate-run.ts';
import { registrationTarget } from './migration-target.ts';
import type { PartnerOption } from './partner-option.ts';
import { cleanupTimeoutS, closeUeSecrets, openUeSecrets, readCaFiles, registerOnce, type UeIo, type UeRunReport } from './run.ts';

/** One partner's part of the `--json` report. */
export interface PartnerPart extends MigrateReport {
  name: string;
}

/** The `--json` report of a run to several partners. */
export interface PartnersReport {
  ok: boolean;
  /** The login at the primary IdMS, when it failed (no partner was tried then). */
  error?: UeRunReport['error'];
  ladder: string[];
  partners: PartnerPart[];
}

/** A partner's live migration configuration, and what ends it. */
interface Configured {
  partner: PartnerOption;
  part: PartnerPart;
  configuration: MigrationConfiguration;
  accessToken: string;
  ca: string[] | undefined;
}

/** `io` with every line prefixed by the partner's name. */
function prefixed(io: UeIo, name: string): UeIo {
  return { ...io, out: (l) => io.out(`[${name}] ${l}`), err: (l) => io.err(`[${name}] ${l}`) };
}

/**
 * `mcx ue migrate --partner … --partner …`.
 * @param stop resolves on SIGINT/SIGTERM: interrupts what is under way, ends held registrations.
 * @returns the exit status.
 * @throws UsageError for a CA file that cannot be read (exit 2), before anything is sent.
 */
export async function runMigrateToPartners(cfg: MigrateConfig, io: UeIo, stop: Promise<unknown> = new Promise(() => undefined)): Promise<number> {
  const log = io.logger ?? silentLogger;
  const json = cfg.ue.json;
  const primaryCa = await readCaFiles('primary-ca', cfg.idm.primaryCa);
  const partnerCas = await Promise.all(cfg.idm.partners.map((p) => readCaFiles('partner ca=', p.ca)));
  const report: PartnersReport = { ok: false, ladder: [], partners: [] };
  const aborter = new AbortController();
  let stopped = false;
  void stop.then(() => {
    stopped = true;
    aborter.abort();
  });
  const finish = (status: number): number => {
    if (json) io.out(JSON.stringify(report));
    return status;
  };
  let secrets: UeSecrets;
  try {
    secrets = await openUeSecrets(cfg.ue);
  } catch (err) {
    if (!(err instanceof UeError)) throw err;
    report.error = errorReport(err);
    io.err(`ue migrate failed: ${err.code}: ${err.message}`);
    return finish(err.exitStatus);
  }
  try {
    const { idm } = cfg;
    if (!json) io.out(`MC service user ${idm.username}: primary IdMS ${idm.primaryIssuer} → ${idm.partners.map((p) => `${p.name} (IdMS ${p.issuer}, MMS ${p.mms})`).join(', ')}`);
    const login = await idmSteps(cfg, { primary: primaryCa, partner: undefined }, aborter.signal, log, (o) => loginAtPrimary(o), ['login']);
    if ('error' in login) {
      report.ladder = eventLines('dynamic', login.prelude);
      if (!json) for (const line of report.ladder) io.out(line);
      const e = stopped ? new UeError('UE_INTERRUPTED', 'interrupted at the login: no migration configuration was requested') : login.error;
      report.error = errorReport(e);
      io.err(`ue migrate failed at login: ${e.code}: ${e.message}`);
      return finish(e instanceof UeError ? e.exitStatus : idmExitStatus(login.error));
    }
    const session: PrimaryLogin = login.result;
    let release: () => void = () => undefined;
    const together = new Promise<void>((resolve) => { release = resolve; });
    const configured: Configured[] = [];
    const runs: Array<{ part: PartnerPart; run: Promise<{ status: number; report: UeRunReport }> }> = [];
    const statuses: number[] = [];
    const registeredWith: string[] = [];
    for (const [i, partner] of idm.partners.entries()) {
      const part: PartnerPart = { name: partner.name, ok: false, ladder: [] };
      report.partners.push(part);
      const out = prefixed(io, partner.name);
      const fail = (e: { code: string; message: string; status?: number | undefined; detail?: string | undefined }, status: number, where = ''): void => {
        part.error = errorReport(e);
        out.err(`ue migrate failed${where}: ${e.code}: ${e.message}`);
        statuses.push(status);
      };
      if (stopped) {
        fail(new UeError('UE_INTERRUPTED', 'interrupted before the migration to this partner started: nothing was requested'), UE_EXIT_STATUS.UE_INTERRUPTED);
        continue;
      }
      const ca = partnerCas[i];
      const forPartner: MigrateConfig = { ...cfg, idm: { ...idm, partnerIssuer: partner.issuer, partnerMms: partner.mms } };
      const steps = await idmSteps(forPartner, { primary: primaryCa, partner: ca }, aborter.signal, log, async (o) => {
        const accessToken = await accessAtPartner(o, session, { issuer: o.partnerIssuer, ca: o.partnerCa });
        return { accessToken, configuration: await configureAtPartner(o, { mms: o.partnerMms, ca: o.partnerCa }, accessToken) };
      }, ['token-exchange', 'jwt-bearer', 'configuration']);
      // The first partner's ladder carries the login that every partner's token exchange started from.
      const prelude: LadderEvent[] = [...(i === 0 ? login.prelude : []), ...steps.prelude];
      if ('error' in steps) {
        part.ladder = eventLines('dynamic', prelude);
        part.failedStep = steps.failedStep;
        if (!json) for (const line of part.ladder) out.out(line);
        fail(steps.error, stopped ? UE_EXIT_STATUS.UE_INTERRUPTED : idmExitStatus(steps.error), ` at ${steps.failedStep}`);
        continue;
      }
      const { configuration: c, accessToken } = steps.result;
      part.migration = { ...c, ended: false };
      configured.push({ partner, part, configuration: c, accessToken, ca });
      if (!json) out.out(`migration configuration ${c.id}: ${c.partner_impi} ${c.partner_impus.join(' ')} at ${c.registrar} until ${c.expires_at}`);
      let target;
      try {
        target = registrationTarget(c, cfg);
      } catch (err) {
        if (!(err instanceof IdmClientError || err instanceof UeError)) throw err;
        part.ladder = eventLines('dynamic', prelude);
        fail(err, err instanceof UeError ? err.exitStatus : idmExitStatus(err));
        continue;
      }
      let registered: () => void = () => undefined;
      const done = new Promise<void>((resolve) => {
        registered = () => {
          registeredWith.push(partner.name);
          resolve();
        };
      });
      const run = registerOnce({ ...cfg.ue, ...target, flow: 'dynamic' }, out, stop, {
        secrets, prelude, tlsCa: ca, command: 'migrate', onRegistered: registered, ...(cfg.ue.hold ? {} : { until: together }),
      });
      runs.push({ part, run });
      // One registration at a time: the next partner's steps begin once this one is registered (or failed).
      await Promise.race([done, run]);
    }
    if (!json && registeredWith.length > 1 && !stopped) io.out(`registered with ${registeredWith.length} partner systems at once (${registeredWith.join(', ')}), one ISIM`);
    release();
    for (const { part, run } of runs) {
      const { status, report: r } = await run;
      Object.assign(part, r, { name: part.name, migration: part.migration });
      statuses.push(status);
    }
    /** `--end`: DELETE one configuration (and, through its partner MMS, the binding at the primary); its exit status. */
    const end = async (s: Configured): Promise<number> => {
      if (!cfg.end) {
        if (stopped) prefixed(io, s.partner.name).err(`ue migrate: configuration ${s.configuration.id} stays until ${s.configuration.expires_at} (no --end)`);
        return 0;
      }
      const timeoutS = stopped ? cleanupTimeoutS(cfg.ue.timeoutS) : cfg.ue.timeoutS;
      try {
        await endMigration({ mms: s.partner.mms, accessToken: s.accessToken, id: s.configuration.id, ...(s.ca ? { ca: s.ca } : {}), timeoutMs: timeoutS * 1000 });
      } catch (err) {
        if (!(err instanceof IdmClientError)) throw err;
        prefixed(io, s.partner.name).err(`ue migrate failed to end the migration: ${err.code}: ${err.message}`);
        s.part.ok = false;
        s.part.error ??= errorReport(err);
        return idmExitStatus(err);
      }
      if (s.part.migration) s.part.migration.ended = true;
      if (!json) prefixed(io, s.partner.name).out(`migration ended: configuration ${s.configuration.id} deleted at the partner MMS`);
      return 0;
    };
    // All at once, as the de-registrations: the clean-up after a signal stays within one exchange's bound.
    statuses.push(...await Promise.all(configured.map(end)));
    const status = statuses.find((x) => x !== 0) ?? 0;
    report.ok = status === 0;
    return finish(status);
  } finally {
    await closeUeSecrets(secrets);
  }
}
