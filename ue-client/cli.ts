/**
 * `mcx ue`: the UE from the command line.
 *
 * - `mcx ue register --registrar HOST:PORT --domain D --impi I --impu sip:… (--isim-state F [--k --op|--opc --amf] |
 *   --password P) [--transport udp|tcp|tls] [--flow static|dynamic|home] [--expires N] [--hold] [--keep] …`
 * - `mcx ue deregister …` (same identity options): removes every binding of the IMPU;
 * - `mcx ue migrate --primary-idms URL (--partner-idms URL --partner-mms URL | --partner name=N,idms=URL,mms=URL[,ca=F]…)
 *   --username U (--password P | --password-file F) --isim-state F [--k --op|--opc --amf --isim-impi] [--primary-ca F]…
 *   [--partner-ca F]… [--transport …]
 *   [--registrar H:P] [--end] …`: IdM login, token exchange, migration configuration, then the registration of run.ts
 *   with the partner identities (migrate-run.ts); SIGINT/SIGTERM always wind it down (de-register, `--end`);
 *   `--configure-only [--clients-dir D]` stops before the registration and writes softphone files, `--end-only --id ID`
 *   ends a configuration (migrate-softphone.ts);
 * - `mcx ue isim show|reset --isim-state F`: the secret-free view / a factory-fresh SEQ_MS array.
 *
 * Secrets given on the command line, and secrets files others can read, get a warning on stderr.
 *
 * Extension point: each subcommand group is one entry of {@link UE_SUBCOMMANDS}.
 */
import { Option, type Command } from 'commander';
import { UsageError, type CommandModule } from '../lib/cli.ts';
import { collectOption } from '../lib/config/options.ts';
import { createLogger } from '../lib/log.ts';
import { UE_EXIT_STATUS, UeError } from './errors.ts';
import type { Isim } from './isim.ts';
import { MIGRATE_OPTION_FIELDS, parseMigrateOptions } from './migrate-options.ts';
import { PARTNER_OPTION_FORM } from './partner-option.ts';
import { UE_OPTION_FIELDS, parseUeOptions, type Warn } from './options.ts';
import type { UeIo } from './run.ts';

/** The UE itself, loaded when a subcommand runs: registering them (and `--help`) needs none of it (issue #12). */
const ueRun = () => import('./run.ts');

/** Adds one group of subcommands to `mcx ue`. */
export type UeSubcommand = (ue: Command) => void;

const io = (): UeIo => ({
  out: (line) => process.stdout.write(`${line}\n`),
  err: (line) => process.stderr.write(`mcx: ${line}\n`),
  // Logs go to stderr so stdout stays the ladder; MCX_LOG_LEVEL=debug shows SIP.js's own lines too.
  logger: createLogger('ue', { level: process.env.MCX_LOG_LEVEL ?? 'warn', destination: process.stderr }),
});

const warn: Warn = (message) => process.stderr.write(`mcx: warning: ${message}\n`);

/** Adds the ISIM options; `defaults` says what the ISIM's own identities default to when it is created. */
function addIsimOptions(cmd: Command, defaults: { impi: string; impu: string; domain: string }): Command {
  return cmd
    .option('--isim-state <file>', 'software ISIM state (K, OP/OPc, SEQ_MS); created from --k/--op|--opc when missing')
    .option('--k <hex>', 'subscriber key K (32 hex digits), to create or check the ISIM')
    .option('--op <hex>', 'operator variant OP (32 hex digits)')
    .option('--opc <hex>', 'operator variant OPc (32 hex digits), instead of --op')
    .option('--amf <hex>', 'expected AMF (4 hex digits); the ISIM takes AMF from AUTN and only notes a different one')
    .option('--isim-impi <impi>', `the ISIM's own IMPI when creating it (${defaults.impi})`)
    .option('--isim-impu <sip-uri>', `the ISIM's own IMPU when creating it (${defaults.impu})`)
    .option('--isim-domain <domain>', `the ISIM's home domain when creating it (${defaults.domain})`);
}

/** Adds the options of every registering command after the identities: expiry, TLS name, timers, output, test hooks. */
function addRunOptions(cmd: Command): Command {
  return cmd
    .option('--expires <s>', 'requested expiry (default 600000, TS 24.229; the registrar shortens it)')
    .option('--tls-servername <name>', 'name the registrar certificate must carry (default: the registrar host)')
    .option('--local-port <port>', 'UDP: local port (default: any)')
    .option('--timeout <s>', 'give up one REGISTER exchange (one HTTPS request for migrate) after this many seconds (default 40)')
    .option('--credentials <file.json>', 'JSON object of these options by name (e.g. {"k": "…", "op": "…"}); flags override it')
    .option('--json', 'print one JSON report at the end instead of text: alone on stdout (diagnostics go to stderr)')
    .addOption(new Option('--test-drop <fraction:seed>', 'test hook: drop this share of UDP datagrams, seeded').hideHelp())
    .addOption(new Option('--test-t1 <ms>', 'test hook: RFC 3261 T1 of the UDP transport').hideHelp());
}

/** `--hold` and `--keep`, for the commands that register. */
function addHoldOptions(cmd: Command): Command {
  return cmd
    .option('--hold', 'stay registered (refreshing per TS 24.229, watching its reg event) until SIGINT/SIGTERM or the network ends it (exit 4)')
    .option('--keep', 'do not de-register at the end');
}

/** Adds the options `register` and `deregister` share. */
export function addRegistrationOptions(cmd: Command): Command {
  cmd
    .option('--registrar <host:port>', 'where REGISTER goes (P-CSCF / registrar of the system registered with)')
    .option('--domain <domain>', 'home network domain of the registration: Request-URI sip:<domain>, Authorization realm')
    .option('--impi <impi>', 'private identity registered (the partner IMPI when migrating)')
    .option('--impu <sip-uri>', 'public identity registered (the partner IMPU when migrating)')
    .option('--transport <udp|tcp|tls>', 'SIP transport (default udp)');
  addIsimOptions(cmd, { impi: 'default --impi; the primary IMPI when migrating', impu: 'default --impu', domain: 'default --domain' })
    .option('--password <password>', 'SIP Digest password (MD5/SHA-256 challenges) instead of, or besides, an ISIM (visible to other local users: prefer --credentials)')
    .option('--flow <static|dynamic|home>', 'seed flow whose step numbers the ladder shows (default home: plain labels)')
    .option('--tls-ca <file>', 'CA(s) the registrar certificate must chain to (repeatable; default: system roots)', collectOption);
  return addRunOptions(cmd);
}

/** Commander's camelCase option values, by flag name, as {@link parseUeOptions} takes them. */
export function byFlag(opts: Record<string, unknown>, fields: readonly string[] = UE_OPTION_FIELDS): Record<string, unknown> {
  return Object.fromEntries(fields.map((f) => [f, opts[f.replace(/-([a-z0-9])/g, (_m, c: string) => c.toUpperCase())]]));
}

/** What {@link interruptible} needs of the process (a stand-in in tests). */
export interface SignalHost {
  on(signal: NodeJS.Signals, listener: (signal: NodeJS.Signals) => void): unknown;
  off(signal: NodeJS.Signals, listener: (signal: NodeJS.Signals) => void): unknown;
  exit(code: number): void;
}

/** A run's SIGINT/SIGTERM handling (see {@link interruptible}). */
export interface Interruptible {
  /** Resolves with the first signal. */
  stopped: Promise<NodeJS.Signals>;
  /** Removes the handlers (the default action is back) and the grace timer. */
  dispose(): void;
}

/**
 * SIGINT/SIGTERM for one run: the first signal resolves `stopped` and says what the run does now (`notice`); a second
 * one, or the run still going `graceMs` after the first, exits at once with {@link UE_EXIT_STATUS} `UE_INTERRUPTED`.
 */
export function interruptible(notice: string, graceMs: number, err: (line: string) => void, host: SignalHost = process): Interruptible {
  let resolveStopped: (signal: NodeJS.Signals) => void = () => undefined;
  const stopped = new Promise<NodeJS.Signals>((resolve) => { resolveStopped = resolve; });
  let first: NodeJS.Signals | undefined;
  let grace: NodeJS.Timeout | undefined;
  const exitNow = (why: string): void => {
    err(why);
    host.exit(UE_EXIT_STATUS.UE_INTERRUPTED);
  };
  const onSignal = (signal: NodeJS.Signals): void => {
    if (first !== undefined) return exitNow(`${signal} again: exiting at once (what was not cleaned up expires by itself)`);
    first = signal;
    err(`${signal}: ${notice} (at most ${graceMs / 1000} s; a second SIGINT/SIGTERM exits at once)`);
    grace = setTimeout(() => exitNow(`still not done ${graceMs / 1000} s after ${signal}: exiting (what was not cleaned up expires by itself)`), graceMs);
    grace.unref();
    resolveStopped(signal);
  };
  host.on('SIGINT', onSignal);
  host.on('SIGTERM', onSignal);
  return {
    stopped,
    dispose() {
      host.off('SIGINT', onSignal);
      host.off('SIGTERM', onSignal);
      clearTimeout(grace);
    },
  };
}

/** `register` and `deregister`. */
export const registrationSubcommands: UeSubcommand = (ue) => {
  addHoldOptions(addRegistrationOptions(ue.command('register').description('register (IMS AKA or SIP Digest), print the ladder and the result, then de-register')))
    .action(async (opts: Record<string, unknown>) => {
      const cfg = await parseUeOptions(byFlag(opts), warn);
      const out = io();
      const { cleanupTimeoutS, runRegister } = await ueRun();
      const signals = cfg.hold ? interruptible('stopping: abandoning what is outstanding, de-registering if registered', (cleanupTimeoutS(cfg.timeoutS) + 5) * 1000, out.err) : undefined;
      try {
        process.exitCode = await runRegister(cfg, out, signals?.stopped);
      } finally {
        signals?.dispose();
      }
    });
  addRegistrationOptions(ue.command('deregister').description('remove every binding of the IMPU (Contact: *), answering the challenge'))
    .action(async (opts: Record<string, unknown>) => {
      const { runDeregister } = await ueRun();
      process.exitCode = await runDeregister(await parseUeOptions(byFlag(opts), warn), io());
    });
};

/** `isim show|reset`. */
export const isimSubcommands: UeSubcommand = (ue) => {
  const isim = ue.command('isim').description('the software ISIM state file');
  const open = async (file: unknown): Promise<Isim> => {
    if (typeof file !== 'string' || file === '') throw new UsageError('--isim-state: required');
    try {
      const { Isim } = await import('./isim.ts');
      return await Isim.open(file);
    } catch (err) {
      throw err instanceof UeError ? err : new UeError('UE_ISIM', (err as Error).message, { cause: err });
    }
  };
  const run = (action: (isim: Isim) => Promise<void>) => async (opts: { isimState?: string }) => {
    try {
      const i = await open(opts.isimState);
      try {
        await action(i);
      } catch (err) {
        throw err instanceof UeError ? err : new UeError('UE_ISIM', (err as Error).message, { cause: err });
      } finally {
        await i.close();
      }
    } catch (err) {
      if (!(err instanceof UeError)) throw err;
      process.stderr.write(`mcx: ${err.code}: ${err.message}\n`);
      process.exitCode = err.exitStatus;
    }
  };
  isim.command('show').description('print identities and SQN state as JSON (never K, OP or OPc)')
    .option('--isim-state <file>', 'ISIM state file')
    .action(run(async (i) => {
      process.stdout.write(`${JSON.stringify(i.toJSON(), null, 2)}\n`);
    }));
  isim.command('reset').description('zero the SEQ_MS array (a factory-fresh ISIM: it accepts the next SQN of the network, 33.102 Annex C.2)')
    .option('--isim-state <file>', 'ISIM state file')
    .action(run(async (i) => {
      await i.reset();
      process.stdout.write(`${JSON.stringify(i.toJSON(), null, 2)}\n`);
    }));
};

const MIGRATE_HELP = `
Before it registers, the UE logs in at the primary IdMS (OIDC code + PKCE S256), exchanges the access token for the
security token (RFC 8693), gets a partner access token from the partner IdMS (RFC 7523) — TS 23.280 §10.6.2.3 step 1,
TS 33.180 §5.1.4.2 — and asks the partner MMS for a migration configuration (the precondition). These go onto the
message ladder before the SIP exchange, which carries the §10.6.2.3 step numbers.

Trust, per system: the primary IdMS certificate (it receives the password) must chain to a --primary-ca; the partner
IdMS, partner MMS and registrar (TLS) certificates to a --partner-ca. Neither trusts the other, so a certificate of
one system cannot pose as the other's servers. Without them the system roots are used.

Where it registers: the configuration names the registrar as a SIP URI (e.g. sip:192.0.2.1:5060;transport=udp):
host, port and transport. --transport changes the transport: UDP and TCP use the URI's port; between TLS and UDP/TCP
the port follows only the defaults of RFC 3261 §19.1.2 (5060 <-> 5061), so for a TLS registrar on another port give
its TLS listener with --registrar HOST:PORT (else exit 2). --registrar overrides the address for any transport.
--end deletes the configuration at the end (also after a failed registration, and after SIGINT/SIGTERM).

A dynamic identity for a softphone: --configure-only runs the IdM steps and the configuration request, registers
nothing, prints the partner IMPI/IMPU, registrar and expiry, and writes Twinkle profiles (UDP, TCP) and a SIPp
scenario for that identity with the ISIM's K and OP (--amf, default 8000, for SIPp's MAC check) into --clients-dir
(default clients/ beside --isim-state). It prints the command that ends it: the same IdM options with
--end-only --id ID, which logs in again for a fresh partner token and deletes the configuration (no token is kept).

Several partner systems (TS 23.280 §10.6.2.1: the procedures run for each partner MC system): give --partner once per
partner. One process keeps them all — the ISIM state file is locked to one process, and every partner's vectors come
from the one primary HSS in one SQN space. It logs in once, then per partner, in order, exchanges the token for a
security token naming that partner's IdMS (TS 33.180 §5.1.4.2), gets that partner's access token, asks its MMS for a
configuration and registers at the registrar it names; each partner's lines are prefixed [name]. The registrations
then stay alive together (--hold: until SIGINT/SIGTERM) and end together (de-registered unless --keep, each
configuration deleted with --end). A partner that fails does not stop the others; the exit status is the first
failure's, in the order given. --json prints {ok, partners: [{name, ...the report of one partner}]}. Not with
--registrar or --local-port (one registrar, one port), nor --configure-only/--end-only (run those once per partner).

SIGINT/SIGTERM: the first abandons what is outstanding, de-registers if registered and, with --end, deletes the
configuration, each exchange bounded (10 s at most, less with a smaller --timeout); a second exits at once (130).
Before the registration completed the run then exits 130; after it (e.g. ending --hold) it ends as usual (0).

Exit status: 0 registered (and de-registered unless --keep); 2 a bad option (named); 3 authentication: the IdMS
refused the password (ERR_IDM_LOGIN) or a grant or token (invalid_grant, invalid_token), or IMS AKA failed (MAC
failure, resync, 403; a 403 after a MAC failure is UE_AUTH_REJECTED, detail mac_failure: the partner refused the
identity or its challenge did not authenticate — unknown identity, or keys that differ); 4 refused by or a fault of the IdMS, MMS or registrar: another OAuth error (e.g.
migration_not_allowed), an answer the UE cannot use (ERR_IDM_PROTOCOL), an ID token that does not verify
(ERR_IDM_TOKEN), or a held registration (--hold) the network ended (UE_DEREGISTERED: the reg event NOTIFY said so); 5 timeout (an IdMS or MMS request with no complete answer within --timeout, ERR_IDM_TIMEOUT, or no
final SIP response); 6 transport or TLS; 1 local: the ISIM state file (UE_ISIM), also when another process has it
open (UE_ISIM_LOCKED); 130 interrupted before the run completed.`;

/** `migrate`: the dynamic migration (TS 23.280 §10.6.2.3) from login to registration. */
export const migrateSubcommands: UeSubcommand = (ue) => {
  const cmd = ue.command('migrate')
    .description('dynamic migration: IdM login, token exchange, migration configuration, then register with the partner identities')
    .option('--primary-idms <url>', 'issuer URL of the primary IdMS (the MC service user\'s home)')
    .option('--partner-idms <url>', 'issuer URL of the partner IdMS')
    .option('--partner-mms <url>', 'https://HOST:PORT of the partner MMS migration API')
    .option('--partner <spec>', `instead of --partner-idms/--partner-mms, once per partner system: ${PARTNER_OPTION_FORM} (ca= instead of --partner-ca); `
      + 'several: one login, a registration per partner, alive together (see below)', collectOption)
    .option('--username <user>', 'MC service user name at the primary IdMS')
    .option('--password <password>', 'the user\'s password at the primary IdMS (other local users can see a command line: prefer --password-file)')
    .option('--password-file <file>', 'read that password from the first line of a file instead')
    .option('--client-id <id>', 'the UE\'s OAuth client at both IdMSs (default mcx-ue)')
    .option('--redirect-uri <uri>', 'its registered redirect URI (default http://127.0.0.1/callback)')
    .option('--scope <scopes>', 'MC service scopes to log in with besides openid and 3gpp:mc:migration (default 3gpp:mc:ptt_service)')
    .option('--primary-ca <file>', 'CA(s) the primary IdMS certificate must chain to, and nothing else (repeatable; default: system roots)', collectOption)
    .option('--partner-ca <file>', 'CA(s) of the partner IdMS, partner MMS and registrar (TLS) certificates (repeatable; default: system roots)', collectOption)
    .addOption(new Option('--tls-ca <file>', 'refused: use --primary-ca and --partner-ca').argParser(collectOption).hideHelp())
    .option('--registrar <host:port>', 'register here instead of at the configuration\'s registrar (see below)')
    .option('--transport <udp|tcp|tls>', 'SIP transport (default: the configuration\'s)');
  addIsimOptions(cmd, { impi: 'the primary IMPI; required with --k', impu: 'default sip:<--isim-impi>', domain: 'default the domain of --isim-impi' });
  addHoldOptions(addRunOptions(cmd))
    .option('--end', 'end the migration (DELETE the configuration) after de-registration')
    .option('--configure-only', 'a dynamic identity for a softphone: the IdM steps and the migration configuration, no REGISTER; prints the partner identities and writes the softphone files')
    .option('--clients-dir <dir>', 'where --configure-only writes the softphone files (default: clients/ beside --isim-state)')
    .option('--end-only', 'end a migration configuration (--id) after the IdM steps, nothing else')
    .option('--id <id>', 'the configuration --end-only ends, as --configure-only printed it')
    .addHelpText('after', MIGRATE_HELP)
    .action(async (opts: Record<string, unknown>) => {
      const cfg = await parseMigrateOptions(byFlag(opts, MIGRATE_OPTION_FIELDS), warn);
      const out = io();
      const { cleanupTimeoutS } = await ueRun();
      if (cfg.mode !== 'register') {
        const { runSoftphoneMigrate } = await import('./migrate-softphone.ts');
        // Nothing to wind down but the request under way.
        const signals = interruptible('stopping: abandoning the request under way', (cleanupTimeoutS(cfg.ue.timeoutS) + 5) * 1000, out.err);
        try {
          process.exitCode = await runSoftphoneMigrate(cfg, out, signals.stopped);
        } finally {
          signals.dispose();
        }
        return;
      }
      const { runMigrate } = await import('./migrate-run.ts');
      const { runMigrateToPartners } = await import('./migrate-partners-run.ts');
      // Always: Ctrl-C must not leave a binding or (with --end) a configuration behind without saying so.
      const cleanup = cleanupTimeoutS(cfg.ue.timeoutS);
      const signals = interruptible(`stopping: abandoning what is outstanding, de-registering if registered${cfg.end ? ', then ending the migration (--end)' : ''}`,
        (2 * cleanup + 5) * 1000, out.err);
      try {
        // Several partner systems: one login, one registration per partner, alive together (migrate-partners-run.ts).
        process.exitCode = cfg.idm.partners.length > 1 ? await runMigrateToPartners(cfg, out, signals.stopped) : await runMigrate(cfg, out, signals.stopped);
      } finally {
        signals.dispose();
      }
    });
};

/** The groups of `mcx ue`, in help order. */
export const UE_SUBCOMMANDS: UeSubcommand[] = [registrationSubcommands, migrateSubcommands, isimSubcommands];

/** Adds `mcx ue`. */
export const ueCommand: CommandModule = (program) => {
  const ue = program.command('ue').description('the MC service UE: SIP registration with the software ISIM (IMS AKA) or a password');
  for (const add of UE_SUBCOMMANDS) add(ue);
};
