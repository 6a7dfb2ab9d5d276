/**
 * Whether a process of this host is running, for the lock files that keep a state directory or an ISIM file to one
 * process (lib/store/journal.ts, ue-client/isim-lock.ts): a lock whose owner is gone may be taken over.
 */
import { readFileSync } from 'node:fs';

/**
 * The state letter of `/proc/<pid>/stat` (R, S, D, Z, X, …), or undefined where there is no procfs.
 * The command name (field 2) is in parentheses and may itself hold spaces and ')', so the state is read after the
 * last ')'.
 */
function procState(pid: number): string | undefined {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/stat`, 'latin1');
  } catch {
    return undefined;
  }
  return text.slice(text.lastIndexOf(')') + 2, text.lastIndexOf(')') + 3) || undefined;
}

/**
 * @param pid the owner recorded in the lock.
 * @returns false for a process that has exited but is not reaped yet (a zombie: state Z or X) — `kill(pid, 0)`
 *   still succeeds for it, so a supervisor restarting a role right after kill -9, before it reaps the old one, would
 *   otherwise find the lock held by a dead process; true also when the process exists but belongs to another user
 *   (EPERM).
 */
export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
  const state = procState(pid);
  return state !== 'Z' && state !== 'X';
}
