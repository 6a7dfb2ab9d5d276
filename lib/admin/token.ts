/**
 * The admin API's bearer token: read from `--admin-token-file`, or kept in `<state-dir>/admin-token` (created 0600
 * at first start, reused afterwards so CLI clients keep working across restarts). Compared in constant time.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { mkdir, readFile, stat, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { Logger } from '../log.ts';
import { silentLogger } from '../log.ts';

/** File name of the token inside the state directory. */
export const ADMIN_TOKEN_FILE = 'admin-token';
/** Shortest token accepted from a file: 128 bits as base64url is 22 characters. */
export const MIN_TOKEN_LENGTH = 22;

/** A fresh token: 256 random bits, base64url. */
export function newAdminToken(): string {
  return randomBytes(32).toString('base64url');
}

/**
 * Reads the token at `path`, creating it (mode 0600, directory 0700) when absent.
 * @returns the token and the path it lives at.
 * @throws Error when the file exists but holds a token shorter than {@link MIN_TOKEN_LENGTH}.
 */
export async function ensureAdminToken(opts: { tokenFile?: string; stateDir: string; logger?: Logger }): Promise<{ token: string; path: string }> {
  const log = opts.logger ?? silentLogger;
  const path = opts.tokenFile ?? join(opts.stateDir, ADMIN_TOKEN_FILE);
  try {
    return { token: await readAdminToken(path, log), path };
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
  }
  await mkdir(dirname(path), { recursive: true, mode: 0o700 });
  const token = newAdminToken();
  try {
    await writeFile(path, `${token}\n`, { mode: 0o600, flag: 'wx' });
    log.info({ path }, 'admin API token written (mode 0600)');
    return { token, path };
  } catch (e) {
    // Another process created it first: use theirs.
    if ((e as NodeJS.ErrnoException).code === 'EEXIST') return { token: await readAdminToken(path, log), path };
    throw e;
  }
}

/**
 * Reads a token file (first line, trimmed); warns when group or others may read it.
 * @throws Error (code ENOENT when absent) or when the token is too short.
 */
export async function readAdminToken(path: string, logger: Logger = silentLogger): Promise<string> {
  const token = (await readFile(path, 'utf8')).split(/\r?\n/)[0]?.trim() ?? '';
  if (token.length < MIN_TOKEN_LENGTH) throw new Error(`admin token in ${path} is shorter than ${MIN_TOKEN_LENGTH} characters`);
  if (process.platform !== 'win32' && ((await stat(path)).mode & 0o077) !== 0) {
    logger.warn({ path }, 'admin token file is readable by group or others; chmod 600 it');
  }
  return token;
}

/** Constant-time comparison of a presented token with the expected one (hashing first hides the length too). */
export function tokenMatches(presented: string, expected: string): boolean {
  const h = (s: string) => createHash('sha256').update(s, 'utf8').digest();
  return timingSafeEqual(h(presented), h(expected));
}
