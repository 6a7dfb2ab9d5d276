/**
 * The lock that keeps an ISIM state file to one process (isim.ts): `<file>.lock`, created exclusively (`wx`, 0600)
 * holding `{"pid","host","token"}` of its owner, removed when the ISIM is closed and, as a last resort, when the
 * process exits. Why: two processes on one file each keep SEQ_MS in memory, and the later write drops the SQN the
 * other accepted — after which a replay of that challenge verifies (TS 33.102 Annex C.2 freshness lost).
 *
 * A lock whose owner is gone (same host, pid not running; or our own pid without us holding it: a leftover of an
 * earlier process) is taken over by renaming it aside first, so of two processes taking over one stale lock only
 * one can win. A lock of another host is never taken over (its pid cannot be checked from here). The pid test can be
 * fooled by pid reuse; the error then names the pid and the lock file to remove.
 */
import { randomBytes } from 'node:crypto';
import { readFileSync, unlinkSync } from 'node:fs';
import { link, open, readFile, rename, stat, unlink } from 'node:fs/promises';
import { hostname } from 'node:os';
import { resolve } from 'node:path';
import { UeError } from './errors.ts';
import { processAlive } from '../lib/pid.ts';

/** A held lock. */
export interface IsimLock {
  /** The lock file. */
  readonly path: string;
  /** Removes the lock file if it is still ours; idempotent. */
  release(): Promise<void>;
}

/** Lock files this process holds, with their content (what the exit hook removes). */
const held = new Map<string, string>();
let exitHookInstalled = false;

/** A lock file still being written (created, content not yet there) is young; an empty old one is a crash's leftover. */
const HALF_WRITTEN_GRACE_MS = 10_000;

const errno = (e: unknown): string | undefined => (e as NodeJS.ErrnoException).code;

/** Creates the lock file with `content`; false when it exists already. */
async function create(path: string, content: string): Promise<boolean> {
  let fh;
  try {
    fh = await open(path, 'wx', 0o600);
  } catch (e) {
    if (errno(e) === 'EEXIST') return false;
    throw new UeError('UE_ISIM', `cannot create the ISIM lock ${path}: ${(e as Error).message}`, { cause: e });
  }
  try {
    await fh.writeFile(content, 'utf8');
    await fh.sync();
  } catch (e) {
    await unlink(path).catch(() => undefined);
    throw new UeError('UE_ISIM', `cannot write the ISIM lock ${path}: ${(e as Error).message}`, { cause: e });
  } finally {
    await fh.close();
  }
  return true;
}

interface Owner {
  pid?: unknown;
  host?: unknown;
}

function ownerOf(text: string): Owner | undefined {
  try {
    const o = JSON.parse(text) as unknown;
    return o !== null && typeof o === 'object' ? (o as Owner) : undefined;
  } catch {
    return undefined;
  }
}

/** Whether the lock with content `text` belongs to nobody any more. */
async function isStale(path: string, text: string): Promise<boolean> {
  const owner = ownerOf(text);
  if (owner === undefined || typeof owner.pid !== 'number') {
    // Unreadable: its creator died before writing it, or is writing it right now.
    const age = await stat(path).then((s) => Date.now() - s.mtimeMs, () => 0);
    return age > HALF_WRITTEN_GRACE_MS;
  }
  if (owner.host !== hostname()) return false;
  if (owner.pid === process.pid) return !held.has(path);
  return !processAlive(owner.pid);
}

/**
 * Moves the stale lock (content `text`) out of the way. Renaming is atomic, so only one contender gets the file; if
 * what it got is not the stale lock it judged (another contender's fresh lock), it puts that back.
 * @returns whether the stale lock is gone (the caller tries to create its own again either way).
 */
async function takeOver(path: string, text: string): Promise<boolean> {
  const aside = `${path}.${process.pid}.${randomBytes(4).toString('hex')}.stale`;
  try {
    await rename(path, aside);
  } catch (e) {
    if (errno(e) === 'ENOENT') return false;
    throw new UeError('UE_ISIM', `cannot take over the stale ISIM lock ${path}: ${(e as Error).message}`, { cause: e });
  }
  const got = await readFile(aside, 'utf8').catch(() => undefined);
  if (got !== text) await link(aside, path).catch(() => undefined);
  await unlink(aside).catch(() => undefined);
  return got === text;
}

function lockedError(file: string, path: string, text: string): UeError {
  const o = ownerOf(text);
  const who = o && typeof o.pid === 'number' ? `pid ${o.pid} on ${String(o.host)}` : 'a process that is still creating the lock';
  return new UeError('UE_ISIM_LOCKED', `ISIM state ${file} is in use by ${who} (lock ${path}): one process per ISIM at a time, ` +
    'since two would lose each other\'s SQN updates and could then accept a replayed challenge; wait for it to end, ' +
    'or remove the lock file if that process is not an mcx UE');
}

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  // A run that ends with process.exit() never gets to close its ISIM; signals that kill us leave a stale lock instead.
  process.on('exit', () => {
    for (const [path, content] of held) {
      try {
        if (readFileSync(path, 'utf8') === content) unlinkSync(path);
      } catch {
        // Gone already, or not ours to remove.
      }
    }
  });
}

/**
 * Takes the lock of the ISIM state `file`.
 * @throws UeError `UE_ISIM_LOCKED` naming the owner when another live process holds it; `UE_ISIM` when the lock file
 *   cannot be created (an unwritable directory).
 */
export async function lockIsimFile(file: string): Promise<IsimLock> {
  const path = `${resolve(file)}.lock`;
  const content = `${JSON.stringify({ pid: process.pid, host: hostname(), token: randomBytes(8).toString('hex') })}\n`;
  for (let attempt = 0; attempt < 4; attempt++) {
    if (await create(path, content)) {
      held.set(path, content);
      installExitHook();
      return {
        path,
        async release() {
          if (held.get(path) !== content) return;
          held.delete(path);
          const now = await readFile(path, 'utf8').catch(() => undefined);
          if (now === content) await unlink(path).catch(() => undefined);
        },
      };
    }
    const text = await readFile(path, 'utf8').catch((e: unknown) => {
      if (errno(e) === 'ENOENT') return undefined;
      throw new UeError('UE_ISIM', `cannot read the ISIM lock ${path}: ${(e as Error).message}`, { cause: e });
    });
    // Released between our create and our read: try again.
    if (text === undefined) continue;
    if (!(await isStale(path, text))) throw lockedError(file, path, text);
    await takeOver(path, text);
  }
  throw new UeError('UE_ISIM_LOCKED', `ISIM state ${file}: other processes keep competing for the lock ${path}; try again`);
}
