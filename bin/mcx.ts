/**
 * `mcx`: the one CLI of mcx-migrate. Each role adds its own subcommands from the module that lives with it.
 *
 * Only the module of the subcommand that runs is loaded (issue #12: loading every role eagerly cost each `mcx`
 * process ~1.6 s of start-up); root help, `mcx help …` and an unknown name load them all, in the order the help
 * lists them. Each role's cli module in turn imports the role itself only in its action, so `--help` stays cheap.
 */
import { Command, CommanderError } from 'commander';
import { UsageError, EXIT_USAGE, type CommandModule } from '../lib/cli.ts';

/** Subcommand name → the module that adds it, in the order of the root help. */
const MODULES: ReadonlyArray<readonly [string, () => Promise<CommandModule>]> = [
  ['testbed', async () => (await import('../deploy/testbed.ts')).testbedCommand],
  ['selfcheck', async () => (await import('../deploy/selfcheck.ts')).selfcheckCommand],
  ['milenage', async () => (await import('../lib/aka/cli.ts')).milenageCommand],
  ['certs', async () => (await import('../certs/cli.ts')).certsCommand],
  ['hss', async () => (await import('../hss/cli.ts')).hssCommand],
  ['mms', async () => (await import('../mms/cli.ts')).mmsCommand],
  ['relay', async () => (await import('../mms/cli.ts')).relayCommand],
  ['idms', async () => (await import('../idms/cli.ts')).idmsCommand],
  ['registrar', async () => (await import('../registrar/cli.ts')).registrarCommand],
  ['ue', async () => (await import('../ue-client/cli.ts')).ueCommand],
  ['deploy', async () => (await import('../deploy/netns/cli.ts')).deployCommand],
  ['trace', async () => (await import('../lib/trace/command.ts')).traceCommand],
];

const program = new Command('mcx')
  .description('mcx-migrate: MC user migration to a partner MC system with IMS-AKA (TS 23.280 §10.6.2, TS 33.180 §5.1.4.2)')
  .showHelpAfterError()
  .exitOverride();
// The first operand names the subcommand (the root program has no options of its own but --help).
const named = MODULES.find(([name]) => name === process.argv[2]);
const adders = await Promise.all((named ? [named] : MODULES).map(([, load]) => load()));
for (const add of adders) add(program);

try {
  await program.parseAsync(process.argv);
} catch (err) {
  if (err instanceof CommanderError) {
    // help and version are "errors" to commander; they already printed.
    if (err.code === 'commander.helpDisplayed' || err.code === 'commander.version' || err.code === 'commander.help') process.exit(0);
    process.exit(EXIT_USAGE);
  }
  if (err instanceof UsageError) {
    process.stderr.write(`mcx: ${err.message}\n`);
    process.exit(err.exitCode);
  }
  process.stderr.write(`mcx: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
}
