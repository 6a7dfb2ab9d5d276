/**
 * The versions a bench report names: ours, Node's, and those of the peers it drives.
 */
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { ROOT } from '../deploy/process.ts';

const run = promisify(execFile);

/** The first line of `cmd args` matching `pattern` (group 1), or `unknown` (SIPp's `-v` exits 99). */
async function versionOf(cmd: string, args: string[], pattern: RegExp): Promise<string> {
  const out = await run(cmd, args).then((r) => r.stdout + r.stderr, (e: { stdout?: string; stderr?: string }) => `${e.stdout ?? ''}${e.stderr ?? ''}`);
  return pattern.exec(out)?.[1] ?? 'unknown';
}

/** mcx, node, sipp, kamailio and redis-server versions (`unknown` for one that is not installed). */
export async function versions(): Promise<Record<'mcx' | 'node' | 'sipp' | 'kamailio' | 'redis', string>> {
  const [sipp, kamailio, redis] = await Promise.all([
    versionOf('sipp', ['-v'], /SIPp v(\d+(?:\.\d+)+)/),
    versionOf('kamailio', ['-v'], /version: kamailio (\S+)/),
    versionOf('redis-server', ['--version'], /v=(\S+)/),
  ]);
  return { mcx: (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string }).version, node: process.version, sipp, kamailio, redis };
}
