/**
 * `mcx ue`: the UE from the command line.
 *
 * - `mcx ue register --registrar HOST:PORT --domain D --impi I --impu sip:… (--isim-state F [--k --op|--opc --amf] |
 *   --password P) [--transport udp|tcp|tls] [--flow static|dynamic|home] [--expires N] [--hold] [--keep] …`
 * - `mcx ue deregister …` (same identity options): removes every binding of the IMPU;
 * - `mcx ue isim show|reset --isim-state F`: the secret-free view / a factory-fresh SEQ_MS array.
 *
 * Extension point: each subcommand group is one entry of {@link UE_SUBCOMMANDS}; `mcx ue migrate` (IdM login, token
 * exchange, migration configuration, then the registration of run.ts with the partner identities) adds itself there.
 */
import { Option, type Command } from 'commander';
import { UsageError, type CommandModule } from '../lib/cli.ts';
import { collectOption } from '../lib/config/options.ts';
import { createLogger } from '../lib/log.ts';
import { UeError } from './errors.ts';
import { Isim } from './isim.ts';
import { UE_OPTION_FIELDS, parseUeOptions } from './options.ts';
import { runDeregister, runRegister, type UeIo } from './run.ts';

/** Adds one group of subcommands to `mcx ue`. */
export type UeSubcommand = (ue: Command) => void;

const io = (): UeIo => ({
  out: (line) => process.stdout.write(`${line}\n`),
  err: (line) => process.stderr.write(`mcx: ${line}\n`),
  // Logs go to stderr so stdout stays the ladder; MCX_LOG_LEVEL=debug shows SIP.js's own lines too.
  logger: createLogger('ue', { level: process.env.MCX_LOG_LEVEL ?? 'warn', destination: process.stderr }),
});

/** Adds the options `register` and `deregister` share (and `migrate` will, for the registration after it). */
export function addRegistrationOptions(cmd: Command): Command {
  return cmd
    .option('--registrar <host:port>', 'where REGISTER goes (P-CSCF / registrar of the system registered with)')
    .option('--domain <domain>', 'home network domain of the registration: Request-URI sip:<domain>, Authorization realm')
    .option('--impi <impi>', 'private identity registered (the partner IMPI when migrating)')
    .option('--impu <sip-uri>', 'public identity registered (the partner IMPU when migrating)')
    .option('--transport <udp|tcp|tls>', 'SIP transport (default udp)')
    .option('--isim-state <file>', 'software ISIM state (K, OP/OPc, SEQ_MS); created from --k/--op|--opc when missing')
    .option('--k <hex>', 'subscriber key K (32 hex digits), to create or check the ISIM')
    .option('--op <hex>', 'operator variant OP (32 hex digits)')
    .option('--opc <hex>', 'operator variant OPc (32 hex digits), instead of --op')
    .option('--amf <hex>', 'expected AMF (4 hex digits); the ISIM takes AMF from AUTN and only notes a different one')
    .option('--isim-impi <impi>', "the ISIM's own IMPI when creating it (default --impi; the primary IMPI when migrating)")
    .option('--isim-impu <sip-uri>', "the ISIM's own IMPU when creating it (default --impu)")
    .option('--isim-domain <domain>', "the ISIM's home domain when creating it (default --domain)")
    .option('--password <password>', 'SIP Digest password (MD5/SHA-256 challenges) instead of, or besides, an ISIM')
    .option('--flow <static|dynamic|home>', 'seed flow whose step numbers the ladder shows (default home: plain labels)')
    .option('--expires <s>', 'requested expiry (default 600000, TS 24.229; the registrar shortens it)')
    .option('--tls-ca <file>', 'CA(s) the registrar certificate must chain to (repeatable; default: system roots)', collectOption)
    .option('--tls-servername <name>', 'name the registrar certificate must carry (default: the --registrar host)')
    .option('--local-port <port>', 'UDP: local port (default: any)')
    .option('--timeout <s>', 'give up one REGISTER exchange after this many seconds (default 40)')
    .option('--credentials <file.json>', 'JSON object of these options by name (e.g. {"k": "…", "op": "…"}); flags override it')
    .option('--json', 'print one JSON report at the end instead of text')
    .addOption(new Option('--test-drop <fraction:seed>', 'test hook: drop this share of UDP datagrams, seeded').hideHelp())
    .addOption(new Option('--test-t1 <ms>', 'test hook: RFC 3261 T1 of the UDP transport').hideHelp());
}

/** Commander's camelCase option values, by flag name, as {@link parseUeOptions} takes them. */
export function byFlag(opts: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(UE_OPTION_FIELDS.map((f) => [f, opts[f.replace(/-([a-z0-9])/g, (_m, c: string) => c.toUpperCase())]]));
}

function signalled(): Promise<void> {
  return new Promise((resolve) => {
    process.once('SIGINT', () => resolve());
    process.once('SIGTERM', () => resolve());
  });
}

/** `register` and `deregister`. */
export const registrationSubcommands: UeSubcommand = (ue) => {
  addRegistrationOptions(ue.command('register').description('register (IMS AKA or SIP Digest), print the ladder and the result, then de-register'))
    .option('--hold', 'stay registered (refreshing per TS 24.229) until SIGINT/SIGTERM')
    .option('--keep', 'do not de-register at the end')
    .action(async (opts: Record<string, unknown>) => {
      const cfg = await parseUeOptions(byFlag(opts));
      process.exitCode = await runRegister(cfg, io(), cfg.hold ? signalled() : undefined);
    });
  addRegistrationOptions(ue.command('deregister').description('remove every binding of the IMPU (Contact: *), answering the challenge'))
    .action(async (opts: Record<string, unknown>) => {
      process.exitCode = await runDeregister(await parseUeOptions(byFlag(opts)), io());
    });
};

/** `isim show|reset`. */
export const isimSubcommands: UeSubcommand = (ue) => {
  const isim = ue.command('isim').description('the software ISIM state file');
  const open = async (file: unknown): Promise<Isim> => {
    if (typeof file !== 'string' || file === '') throw new UsageError('--isim-state: required');
    try {
      return await Isim.open(file);
    } catch (err) {
      throw new UeError('UE_ISIM', (err as Error).message, { cause: err });
    }
  };
  const run = (action: (isim: Isim) => Promise<void>) => async (opts: { isimState?: string }) => {
    try {
      await action(await open(opts.isimState));
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

/** The groups of `mcx ue`, in help order; `migrate` is added here once the IdM client is in. */
export const UE_SUBCOMMANDS: UeSubcommand[] = [registrationSubcommands, isimSubcommands];

/** Adds `mcx ue`. */
export const ueCommand: CommandModule = (program) => {
  const ue = program.command('ue').description('the MC service UE: SIP registration with the software ISIM (IMS AKA) or a password');
  for (const add of UE_SUBCOMMANDS) add(ue);
};
