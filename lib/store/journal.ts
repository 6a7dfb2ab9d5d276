/**
 * Durability of the memory store: an append-only JSON-lines journal with group commit (durable lines waited for,
 * relaxed ones written behind), a snapshot written at open (and, streamed beside the appends, when the journal grows
 * past a limit), and a lock file so two processes never share a state directory (two HSS processes on one journal
 * would hand out the same SQNs).
 *
 * Files in the state directory:
 * - `store.snapshot.jsonl`: a header line `{"o":"snapshot","v":1}`, then one entry per record and counter. Replaced
 *   atomically (temp file, fsync, rename, fsync of the directory), so it is never torn: any bad line is corruption.
 * - `store.journal.jsonl`: entries appended since the snapshot (or since the mark a running compaction set), each
 *   durable one fdatasync'ed before its caller's promise resolves, relaxed ones within milliseconds after. A crash
 *   mid-write can leave the last line torn; that line never resolved a durable promise, so it is dropped.
 * - `store.lock`: `{"pid","host"}` of the owner; a lock whose process is dead on this host is taken over.
 *
 * Entries: `{"o":"set","k":key,"v":value,"x":expiresAtEpochMs?}`, `{"o":"del","k":key}`, `{"o":"sqn","k":key,"v":"decimal"}`.
 * Replaying the journal over a snapshot that already contains its effects gives the same state (each key ends with
 * its last entry), which is why a crash between writing a snapshot and truncating the journal is harmless.
 */
import { open, readFile, rename, unlink, type FileHandle } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join } from 'node:path';
import type { Logger } from '../log.ts';
import { StoreError } from './errors.ts';
import { processAlive } from '../pid.ts';

/** Name of the snapshot in the state directory. */
export const SNAPSHOT_FILE = 'store.snapshot.jsonl';
/** Name of the journal in the state directory. */
export const JOURNAL_FILE = 'store.journal.jsonl';
/** Name of the lock file in the state directory. */
export const LOCK_FILE = 'store.lock';
/** First line of every snapshot; `v` changes when the entry format does. */
export const SNAPSHOT_HEADER = '{"o":"snapshot","v":1}';

/** One journal or snapshot entry, as parsed. */
export type LogEntry =
  | { o: 'set'; k: string; v: unknown; x?: number }
  | { o: 'del'; k: string }
  | { o: 'sqn'; k: string; v: string };

/** The journal line of a record write; `json` is the value's canonical JSON, spliced in as is. */
export function setLine(k: string, json: string, expiresAt: number | undefined): string {
  return `{"o":"set","k":${JSON.stringify(k)},"v":${json}${expiresAt === undefined ? '' : `,"x":${expiresAt}`}}`;
}

/** The journal line of a record deletion. */
export function delLine(k: string): string {
  return `{"o":"del","k":${JSON.stringify(k)}}`;
}

/** The journal line of a counter value (exact after setSqn/resync, a reservation mark after an allocation). */
export function sqnLine(k: string, v: bigint): string {
  return `{"o":"sqn","k":${JSON.stringify(k)},"v":"${v}"}`;
}

function asEntry(line: string): LogEntry | undefined {
  let e: unknown;
  try {
    e = JSON.parse(line);
  } catch {
    return undefined;
  }
  if (e === null || typeof e !== 'object') return undefined;
  const r = e as Record<string, unknown>;
  if (typeof r.k !== 'string' || r.k === '') return undefined;
  if (r.o === 'del') return r as LogEntry;
  if (r.o === 'sqn' && typeof r.v === 'string') return r as LogEntry;
  if (r.o === 'set' && 'v' in r && (r.x === undefined || Number.isSafeInteger(r.x))) return r as LogEntry;
  return undefined;
}

/**
 * Reads a snapshot or journal file and hands each entry to `apply`, in order. A missing file reads as empty.
 * @param tornTailOk true for the journal: an unreadable last line is dropped (logged) instead of failing.
 * @throws StoreError `ERR_STORE_CORRUPT` naming the file and line of the first bad entry, or a thrown `apply` error.
 */
export async function readLog(
  path: string, kind: 'snapshot' | 'journal', apply: (e: LogEntry, where: string) => void, logger: Logger,
): Promise<void> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw new StoreError('ERR_STORE_IO', `cannot read ${path}: ${(e as Error).message}`, { cause: e });
  }
  const lines = text.split('\n');
  if (lines.at(-1) === '') lines.pop();
  if (kind === 'snapshot' && lines[0] !== SNAPSHOT_HEADER) {
    throw new StoreError('ERR_STORE_CORRUPT', `${path}:1: not a store snapshot (expected ${SNAPSHOT_HEADER})`);
  }
  for (let i = kind === 'snapshot' ? 1 : 0; i < lines.length; i++) {
    const where = `${path}:${i + 1}`;
    const entry = asEntry(lines[i] as string);
    if (entry === undefined) {
      if (kind === 'journal' && i === lines.length - 1) {
        logger.warn({ file: path, line: i + 1 }, 'store: dropping a torn last journal line (crash during a write)');
        return;
      }
      throw new StoreError('ERR_STORE_CORRUPT', `${where}: unreadable ${kind} entry`);
    }
    apply(entry, where);
  }
}

/** Mode of every file in a state directory: they hold key material (K, OPc, HA1, XRES, IdMS cookie keys). */
export const PRIVATE_FILE = 0o600;
/** Mode of a state directory. */
export const PRIVATE_DIR = 0o700;

async function fsyncDir(dir: string): Promise<void> {
  const fh = await open(dir, 'r');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

async function writeAll(fh: FileHandle, buf: Buffer): Promise<void> {
  let off = 0;
  while (off < buf.length) off += (await fh.write(buf, off, buf.length - off)).bytesWritten;
}

/** Lines of a snapshot written per chunk: the event loop runs between chunks, so a large state stalls nothing. */
const SNAPSHOT_CHUNK_LINES = 2048;

/**
 * Atomically replaces the snapshot in `dir` with `lines` (the header is added here). The lines are drawn and written
 * a chunk at a time, yielding to the event loop between chunks, so `lines` may be a generator over live state (the
 * journal covers whatever changes meanwhile: see {@link Journal}).
 * @throws the file system error; the previous snapshot is then untouched.
 */
export async function writeSnapshot(dir: string, lines: Iterable<string>): Promise<void> {
  const final = join(dir, SNAPSHOT_FILE);
  const temp = `${final}.tmp`;
  const fh = await open(temp, 'w', PRIVATE_FILE);
  try {
    await fh.chmod(PRIVATE_FILE);
    let chunk: string[] = [SNAPSHOT_HEADER];
    for (const line of lines) {
      chunk.push(line);
      if (chunk.length >= SNAPSHOT_CHUNK_LINES) {
        await writeAll(fh, Buffer.from(`${chunk.join('\n')}\n`));
        chunk = [];
      }
    }
    if (chunk.length > 0) await writeAll(fh, Buffer.from(`${chunk.join('\n')}\n`));
    await fh.sync();
  } finally {
    await fh.close();
  }
  await rename(temp, final);
  await fsyncDir(dir);
}

/**
 * Takes the lock file of `dir`, taking over one left by a dead process on this host.
 * Two processes taking over the same stale lock at the same instant can race; starting two owners of one state
 * directory at once after a crash is an operator error this does not fully prevent.
 * @returns a function that releases the lock.
 * @throws StoreError `ERR_STORE_LOCKED` when a live process (or one on another host) holds it.
 */
export async function acquireLock(dir: string, logger: Logger): Promise<() => Promise<void>> {
  const path = join(dir, LOCK_FILE);
  const me = JSON.stringify({ pid: process.pid, host: hostname() });
  for (let attempt = 0; ; attempt++) {
    try {
      const fh = await open(path, 'wx', PRIVATE_FILE);
      try {
        await writeAll(fh, Buffer.from(me));
        await fh.sync();
      } finally {
        await fh.close();
      }
      return async () => {
        await unlink(path).catch(() => undefined);
      };
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') {
        throw new StoreError('ERR_STORE_IO', `cannot create ${path}: ${(e as Error).message}`, { cause: e });
      }
    }
    type Owner = { pid?: unknown; host?: unknown };
    const owner: Owner = await readFile(path, 'utf8').then((t) => JSON.parse(t) as Owner).catch(() => ({}));
    const pid = typeof owner.pid === 'number' ? owner.pid : undefined;
    // An unreadable lock is one whose owner died between creating and writing it.
    const stale = pid === undefined || (owner.host === hostname() && pid !== process.pid && !processAlive(pid));
    if (!stale || attempt > 0) {
      throw new StoreError('ERR_STORE_LOCKED',
        `state directory ${dir} is in use by pid ${String(owner.pid)} on ${String(owner.host)} (${path}); ` +
        'one process per state directory, since two would hand out the same SQNs');
    }
    logger.warn({ file: path, pid }, 'store: taking over the lock of a process that is gone');
    await unlink(path).catch(() => undefined);
  }
}

interface Batch {
  lines: string[];
  /** It holds a durable line: someone waits for it. */
  durable: boolean;
  promise: Promise<void>;
  resolve: () => void;
  reject: (e: unknown) => void;
}

function newBatch(): Batch {
  let resolve!: () => void;
  let reject!: (e: unknown) => void;
  const promise = new Promise<void>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  // Durable callers await it; this only keeps a failure nobody waits for (relaxed lines) from being unhandled.
  promise.catch(() => undefined);
  return { lines: [], durable: false, promise, resolve, reject };
}

/** Relaxed lines that start a write at once instead of waiting for {@link JournalOptions.relaxedFlushMs}. */
const RELAXED_MAX_LINES = 512;

/** Options of {@link Journal.open}. */
export interface JournalOptions {
  /** Journal size past which the state is snapshotted and the journal cut down to what came after. */
  compactBytes: number;
  /**
   * The current state as snapshot lines (without the header), drawn lazily while the snapshot is written: a
   * generator over the live state is fine, since every change made meanwhile is also in the journal after the mark.
   */
  snapshot: () => Iterable<string>;
  /** The longest a relaxed line waits before its write starts. */
  relaxedFlushMs: number;
  logger: Logger;
}

/**
 * The append side of the journal, with group commit: lines appended while a write+fdatasync is under way go out
 * together in the next one, so concurrent callers share fsyncs. A durable line's promise resolves once it is on disk;
 * a relaxed line is written behind: its write starts at most `relaxedFlushMs` after it was queued (or after the write
 * under way then), at once with {@link RELAXED_MAX_LINES} of them, or with the next durable line, which it precedes in
 * the file as it did in memory. So a steady stream of relaxed lines costs one write+fdatasync per period.
 *
 * Compaction runs beside the appends, not in their way: it marks the journal's length, streams a snapshot of the
 * live state (a chunk per event-loop turn), and then — holding the file for the moment — copies the part of the
 * journal written after the mark into a new journal that replaces the old one. Every change after the mark is in that
 * tail, so snapshot + tail is the state whatever the snapshot caught mid-change; a crash before the swap leaves the
 * new snapshot and the whole old journal, which replays to the same state (each key ends with its last entry).
 */
export class Journal {
  #fh: FileHandle;
  #dir: string;
  #opts: JournalOptions;
  #bytes: number;
  #pending: Batch | null = null;
  #inflight: Batch | null = null;
  /** The batch holding the newest durable line until it is on disk: what reads wait for. */
  #durable: Batch | null = null;
  #runner: Promise<void> | null = null;
  #timer: NodeJS.Timeout | null = null;
  #compaction: Promise<void> | null = null;
  /** The file's writers in turn: batches and the compaction's swap. */
  #io: Promise<unknown> = Promise.resolve();
  #failed: StoreError | null = null;
  /** The runner has written a batch in this run: relaxed lines that came meanwhile wait for the timer. */
  #inflightDone = false;
  #closing = false;

  private constructor(fh: FileHandle, dir: string, bytes: number, opts: JournalOptions) {
    this.#fh = fh;
    this.#dir = dir;
    this.#bytes = bytes;
    this.#opts = opts;
  }

  /** Opens (creating if needed) the journal of `dir` for appending and empties it (the caller just snapshotted). */
  static async open(dir: string, opts: JournalOptions): Promise<Journal> {
    const fh = await open(join(dir, JOURNAL_FILE), 'a+', PRIVATE_FILE);
    // A journal left by an earlier version may be readable by others; it holds K, OPc, HA1 and pending XRES.
    await fh.chmod(PRIVATE_FILE);
    await fh.truncate(0);
    await fh.datasync();
    return new Journal(fh, dir, 0, opts);
  }

  /** The write failure that stopped the journal, if any. */
  get failed(): StoreError | null {
    return this.#failed;
  }

  /**
   * Queues one entry line.
   * @param durable wait for the disk (true), or write it behind (false).
   * @returns for a durable line, a promise that resolves once it is on disk (fdatasync) or rejects with
   *   `ERR_STORE_IO`; nothing for a relaxed one (a failure stops the journal: {@link failed}).
   */
  append(line: string, durable: true): Promise<void>;
  append(line: string, durable: false): void;
  append(line: string, durable: boolean): Promise<void> | void {
    if (this.#failed) {
      if (durable) return Promise.reject(this.#failed);
      return;
    }
    this.#pending ??= newBatch();
    this.#pending.lines.push(line);
    if (durable) {
      this.#pending.durable = true;
      this.#durable = this.#pending;
      // Starting on a microtask lets a synchronous burst of appends share the first write too.
      this.#start();
      return this.#pending.promise;
    }
    if (this.#runner) return;
    if (this.#pending.lines.length >= RELAXED_MAX_LINES) this.#start();
    else this.#arm();
  }

  /** Starts the write of the relaxed lines pending once {@link JournalOptions.relaxedFlushMs} has passed. */
  #arm(): void {
    this.#timer ??= setTimeout(() => {
      this.#timer = null;
      this.#start();
    }, this.#opts.relaxedFlushMs);
  }

  /** Resolves when every line appended so far is on disk. */
  whenSynced(): Promise<void> {
    return (this.#pending ?? this.#inflight)?.promise ?? Promise.resolve();
  }

  /** The promise of the newest durable line not yet on disk, if any (relaxed lines are not waited for). */
  durablePending(): Promise<void> | undefined {
    return this.#durable?.promise;
  }

  #start(): void {
    if (this.#timer) {
      clearTimeout(this.#timer);
      this.#timer = null;
    }
    this.#runner ??= Promise.resolve().then(() => this.#run());
  }

  /** Runs `fn` once no other writer of the file is busy. */
  #exclusive<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.#io.then(fn);
    this.#io = run.catch(() => undefined);
    return run;
  }

  async #run(): Promise<void> {
    while (this.#pending) {
      // Only relaxed lines, and not many: they wait for the timer, so a stream of them costs one write per period
      // instead of one per write's duration.
      if (!this.#pending.durable && this.#pending.lines.length < RELAXED_MAX_LINES && this.#inflightDone && !this.#closing) {
        this.#arm();
        break;
      }
      this.#inflightDone = true;
      const batch = this.#pending;
      this.#pending = null;
      this.#inflight = batch;
      try {
        await this.#exclusive(async () => {
          const buf = Buffer.from(`${batch.lines.join('\n')}\n`);
          await writeAll(this.#fh, buf);
          await this.#fh.datasync();
          this.#bytes += buf.length;
        });
      } catch (e) {
        this.#fail(new StoreError('ERR_STORE_IO', `journal write in ${this.#dir} failed: ${(e as Error).message}`, { cause: e }), batch);
        break;
      } finally {
        this.#inflight = null;
      }
      if (this.#durable === batch) this.#durable = null;
      batch.resolve();
      this.#maybeCompact();
    }
    this.#inflightDone = false;
    this.#runner = null;
  }

  #fail(error: StoreError, batch?: Batch): void {
    this.#failed ??= error;
    batch?.reject(this.#failed);
    // Lines queued meanwhile can never be written now.
    this.#pending?.reject(this.#failed);
    this.#pending = null;
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = null;
  }

  /**
   * Starts a compaction once the journal passes `compactBytes`. Also checked when one ends: lines written while it ran
   * stay in the journal, and a burst then silence would otherwise leave it above the limit until the next write.
   */
  #maybeCompact(): void {
    if (this.#failed || this.#compaction || this.#bytes <= this.#opts.compactBytes) return;
    this.#compaction = this.#compact().finally(() => {
      this.#compaction = null;
      this.#maybeCompact();
    });
  }

  async #compact(): Promise<void> {
    const mark = this.#bytes;
    try {
      await writeSnapshot(this.#dir, this.#opts.snapshot());
    } catch (e) {
      // The journal is still complete, so this is only a missed optimisation; retry after it doubles.
      this.#opts.compactBytes = this.#bytes * 2;
      this.#opts.logger.warn({ err: e, dir: this.#dir }, 'store: journal compaction failed');
      return;
    }
    await this.#exclusive(() => this.#swapTail(mark)).catch((e: unknown) => {
      if (this.#failed) return;
      this.#opts.compactBytes = this.#bytes * 2;
      this.#opts.logger.warn({ err: e, dir: this.#dir }, 'store: journal compaction failed');
    });
  }

  /** Replaces the journal with what was written after `mark` (the snapshot covers the rest). Holds the file. */
  async #swapTail(mark: number): Promise<void> {
    const path = join(this.#dir, JOURNAL_FILE);
    const temp = `${path}.tmp`;
    const tail = Buffer.alloc(this.#bytes - mark);
    let off = 0;
    while (off < tail.length) {
      const { bytesRead } = await this.#fh.read(tail, off, tail.length - off, mark + off);
      if (bytesRead === 0) throw new Error(`journal shorter than ${this.#bytes} bytes`);
      off += bytesRead;
    }
    const fresh = await open(temp, 'w', PRIVATE_FILE);
    try {
      await writeAll(fresh, tail);
      await fresh.datasync();
    } catch (e) {
      await fresh.close();
      await unlink(temp).catch(() => undefined);
      throw e;
    }
    await fresh.close();
    await rename(temp, path);
    // From here the journal's name holds the tail: appending to the old file would be appending to nothing.
    try {
      await fsyncDir(this.#dir);
      const next = await open(path, 'a+', PRIVATE_FILE);
      await this.#fh.close().catch(() => undefined);
      this.#fh = next;
      this.#bytes = tail.length;
    } catch (e) {
      this.#fail(new StoreError('ERR_STORE_IO', `journal swap in ${this.#dir} failed: ${(e as Error).message}`, { cause: e }));
      throw e;
    }
  }

  /** Waits for queued lines (relaxed ones too) and a running compaction, then closes the file. */
  async close(): Promise<void> {
    this.#closing = true;
    while (!this.#failed && (this.#pending || this.#runner)) {
      if (!this.#runner) this.#start();
      await this.#runner;
    }
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = null;
    // A compaction that ends may start the next one (see #maybeCompact); no lines come any more, so this ends.
    while (this.#compaction) await this.#compaction;
    await this.#io;
    await this.#fh.close();
  }
}
