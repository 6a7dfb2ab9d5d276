/**
 * `mcx trace pcap IN OUT`: a trace file (`--trace`, exported PDUs) rewritten as a classic pcap of raw IP/UDP/TCP
 * packets (to-pcap.ts), for tools that do not read exported PDUs — sngrep (`sngrep -I OUT`) above all.
 */
import { readFile, writeFile } from 'node:fs/promises';
import type { Command } from 'commander';
import { UsageError, type CommandModule } from '../cli.ts';
import { traceToPcap } from './to-pcap.ts';

/**
 * Converts `input` into `output` and says how many packets it wrote.
 * @throws UsageError for a file that cannot be read or written, or is not a trace.
 */
export async function convertTrace(input: string, output: string): Promise<{ packets: number; skipped: number }> {
  let bytes: Buffer;
  try {
    bytes = await readFile(input);
  } catch (e) {
    throw new UsageError(`${input}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
  let r: ReturnType<typeof traceToPcap>;
  try {
    r = traceToPcap(bytes);
  } catch (e) {
    throw new UsageError(`${input}: ${(e as Error).message}`);
  }
  try {
    await writeFile(output, r.pcap, { mode: 0o600 });
  } catch (e) {
    throw new UsageError(`${output}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
  return { packets: r.packets, skipped: r.skipped };
}

/** Adds `mcx trace pcap`. */
export const traceCommand: CommandModule = (program: Command) => {
  const trace = program.command('trace').description('trace files of --trace (pcapng of exported PDUs)');
  trace
    .command('pcap <in.pcapng> <out.pcap>')
    .description('rewrite a trace as plain IP/UDP/TCP packets (LINKTYPE_RAW pcap) for tools that decode only link layers: sngrep -I out.pcap')
    .action(async (input: string, output: string) => {
      const r = await convertTrace(input, output);
      process.stdout.write(`trace: ${r.packets} packets written to ${output}${r.skipped ? ` (${r.skipped} records too large for one IP packet left out)` : ''}\n`);
    });
};
