/**
 * Files a role reads at start (TLS PEMs, CSV provisioning), with failures that name the option the path came from,
 * so `mcx <role>` can answer a bad file the way it answers a bad option: exit 2 with `--option path: why`.
 */
import { readFile } from 'node:fs/promises';

/** A configured file is missing, unreadable or invalid; CLIs turn it into a UsageError (exit 2). */
export class ConfigFileError extends Error {
  override readonly name: string = 'ConfigFileError';
}

/**
 * Reads a UTF-8 file named by an option.
 * @param option the option name without dashes (`tls-cert`), for the message.
 * @throws ConfigFileError `--option path: ENOENT` and the like.
 */
export async function readConfigFile(option: string, path: string): Promise<string> {
  try {
    return await readFile(path, 'utf8');
  } catch (e) {
    throw new ConfigFileError(`--${option} ${path}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
}

/** Paths of the PEM files of mutual TLS: own certificate and key, trusted CAs (own system's, then peers'). */
export interface TlsFiles {
  cert: string;
  key: string;
  ca: string[];
}

/** The PEM contents of {@link TlsFiles}, as `DiameterNode.listen` / `addPeer` and fastify's `https` take them. */
export interface TlsPem {
  cert: string;
  key: string;
  ca: string[];
}

/**
 * Reads the PEM files of `--tls-cert`, `--tls-key` and every `--tls-ca`.
 * @throws ConfigFileError naming every file that cannot be read, one per line.
 */
export async function readTlsFiles(files: TlsFiles): Promise<TlsPem> {
  const named: Array<[string, string]> = [['tls-cert', files.cert], ['tls-key', files.key], ...files.ca.map((p): [string, string] => ['tls-ca', p])];
  const read = await Promise.allSettled(named.map(([option, path]) => readConfigFile(option, path)));
  const failed = read.flatMap((r) => (r.status === 'rejected' ? [(r.reason as Error).message] : []));
  if (failed.length) throw new ConfigFileError(failed.join('\n'));
  const [cert, key, ...ca] = read.map((r) => (r as PromiseFulfilledResult<string>).value) as [string, string, ...string[]];
  return { cert, key, ca };
}
