/**
 * Whether a process of this host is running, for the lock files that keep a state directory or an ISIM file to one
 * process (lib/store/journal.ts, ue-client/isim-lock.ts): a lock whose owner is gone may be taken over.
 * @param pid the owner recorded in the lock.
 * @returns true also when the process exists but belongs to another user (EPERM).
 */
export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}
