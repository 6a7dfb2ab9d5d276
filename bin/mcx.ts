/**
 * `mcx`: the one CLI of mcx-migrate. Each role adds its own subcommands from the module that lives with it.
 */
import { Command, CommanderError } from 'commander';
import { UsageError, EXIT_USAGE, type CommandModule } from '../lib/cli.ts';
import { milenageCommand } from '../lib/aka/cli.ts';
import { certsCommand } from '../certs/cli.ts';
import { selfcheckCommand } from '../deploy/selfcheck.ts';
import { testbedCommand } from '../deploy/testbed.ts';
import { hssCommand } from '../hss/cli.ts';
import { idmsCommand } from '../idms/cli.ts';
import { mmsCommand, relayCommand } from '../mms/cli.ts';
import { registrarCommand } from '../registrar/cli.ts';
import { ueCommand } from '../ue-client/cli.ts';

const modules: CommandModule[] = [testbedCommand, selfcheckCommand, milenageCommand, certsCommand, hssCommand, mmsCommand, relayCommand, idmsCommand, registrarCommand, ueCommand];

const program = new Command('mcx')
  .description('mcx-migrate: MC user migration to a partner MC system with IMS-AKA (TS 23.280 §10.6.2, TS 33.180 §5.1.4.2)')
  .showHelpAfterError()
  .exitOverride();
for (const add of modules) add(program);

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
