/**
 * `--trace FILE` of `mcx hss|relay|mms|registrar` and `mcx testbed`: the option's schema and help, and the start of
 * a role with its trace file — opened before the role (so its first CER is in it), closed after the role's own
 * graceful stop (lib/lifecycle.ts: listeners, DPR/DPA to every peer, store), so the DPR/DPA exchange is the last
 * thing in the file and nothing is cut.
 */
import { statSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { z } from 'zod';
import type { Closeable } from '../lifecycle.ts';
import type { Logger } from '../log.ts';
import type { MessageTrace } from './types.ts';
import { TraceWriter } from './writer.ts';

/** The `--trace` help line of every command that has it. */
export const TRACE_HELP = 'write every SIP and Diameter message sent and received (TLS legs in plaintext) to this pcapng file, '
  + 'one exported PDU each: wireshark FILE / tshark -r FILE decode it without keys (replaced if it exists)';

/** `--trace`: a file path whose folder exists (the file is created, or replaced). */
export const traceFileSchema = z.string().min(1, 'must not be empty').superRefine((path, ctx) => {
  const folder = dirname(resolve(path));
  let isFolder: boolean;
  try {
    isFolder = statSync(folder).isDirectory();
  } catch {
    isFolder = false;
  }
  if (!isFolder) ctx.addIssue({ code: 'custom', message: `its folder ${folder} does not exist` });
  else if (isDirectory(path)) ctx.addIssue({ code: 'custom', message: 'is a folder; give a file such as trace.pcapng' });
});

function isDirectory(path: string): boolean {
  try {
    return statSync(path).isDirectory();
  } catch {
    return false;
  }
}

/**
 * Starts a role with the trace file `file` (none when undefined): `start` gets `{ trace }` to spread into the
 * role's configuration; the running role's `close()` then also closes the file, after the role stopped.
 * @throws ConfigFileError when the file cannot be created (the CLI's exit 2), or what `start` throws (the file is
 *   closed first).
 */
export async function startTraced<T extends Closeable>(file: string | undefined, logger: Logger,
  start: (traced: { trace?: MessageTrace }) => Promise<T>): Promise<T> {
  if (file === undefined) return start({});
  const writer = await TraceWriter.open(file, { logger });
  let running: T;
  try {
    running = await start({ trace: writer });
  } catch (e) {
    await writer.close();
    throw e;
  }
  const stopRole = running.close.bind(running);
  running.close = async () => {
    await stopRole();
    await writer.close();
  };
  return running;
}
