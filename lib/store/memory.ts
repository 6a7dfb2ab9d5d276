/**
 * The in-process store (the all-in-one default): a Map with TTLs, journaled to `stateDir` (journal.ts) so that every
 * durable mutation is on disk before its promise resolves; relaxed ones are written behind (group commit within
 * {@link RELAXED_FLUSH_MS}); volatile records are never journaled (a journaled value they replace gets a relaxed
 * deletion line, so it cannot come back either). Atomicity is free: each operation changes the Map synchronously
 * before its first await. Reads wait until the durable changes they may have seen are on disk, so nothing durable
 * that was observed can vanish in a crash; they do not wait for relaxed lines.
 *
 * Expiry is swept off the hot path: records sit in per-second buckets of their expiry, and the sweep visits only the
 * buckets that are due, a slice of keys per event-loop turn. Compaction streams its snapshot (journal.ts).
 *
 * SQN counters reserve ahead: the journal holds, per subscriber, a high-water mark `sqnReserve` SEQs (default 1024)
 * past the last issued SQN, and only an allocation that passes the mark writes (and fsyncs) a new one. After a
 * restart a counter continues from its mark, so SQNs issued before the crash are never reissued; the cost is a
 * gap of up to `sqnReserve` SEQs per restart, far inside Δ = 2^28, so the USIM accepts the next vector anyway.
 */
import { chmod, mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { silentLogger } from '../log.ts';
import {
  RELAXED_FLUSH_MS, assertKey, assertPrefix, decodeValue, durabilityOf, encodeValue, ttlOf, type SetOptions, type WriteOptions,
} from './codec.ts';
import { StoreError } from './errors.ts';
import {
  JOURNAL_FILE, Journal, PRIVATE_DIR, SNAPSHOT_FILE, acquireLock, delLine, readLog, setLine, sqnLine, writeSnapshot, type LogEntry,
} from './journal.ts';
import {
  DEFAULT_DELTA, SEQ_MAX, allocateAfter, assertBatch, assertDelta, assertSqn, indOf, makeSqn, parseSqn, resyncFrom,
  seqOf, type SqnResync,
} from './sqn.ts';
import type { OpenStoreOptions, Store } from './store.ts';

interface Rec {
  /** Canonical JSON of the value. */
  v: string;
  /** Expiry, epoch ms (wall clock, so it survives a restart). */
  x: number | undefined;
  /** A volatile record: never journaled, never in a snapshot. */
  vol?: true;
}

/** Keys the sweep drops per event-loop turn: a few hundred microseconds, whatever the store holds. */
const SWEEP_SLICE = 1000;
/** Width of an expiry bucket. */
const BUCKET_MS = 1000;
const bucketOf = (x: number): number => Math.ceil(x / BUCKET_MS);

interface Counter {
  /** Last SQN handed out. */
  last: bigint;
  /** The journaled mark: every SQN ever handed out has SEQ ≤ SEQ(hw). */
  hw: bigint;
  /** Resolves when `hw` is on disk. */
  synced: Promise<void>;
}

const done = Promise.resolve();

class MemoryStore implements Store {
  readonly kind = 'memory';
  readonly #records = new Map<string, Rec>();
  /** Keys with an expiry, by {@link bucketOf} their expiry. */
  readonly #buckets = new Map<number, Set<string>>();
  readonly #counters = new Map<string, Counter>();
  readonly #reserve: bigint;
  #journal: Journal | null = null;
  #release: (() => Promise<void>) | null = null;
  #sweeper: NodeJS.Timeout | null = null;
  #sweeping = false;
  #closed = false;
  readonly #now: () => number;

  constructor(reserve: number, now: () => number) {
    this.#reserve = BigInt(reserve);
    this.#now = now;
  }

  /** Loads and compacts `dir`, then opens its journal. */
  async attach(dir: string, opts: OpenStoreOptions): Promise<void> {
    const logger = opts.logger ?? silentLogger;
    // Owner only, also for a directory made before: what is journaled here is key material.
    await mkdir(dir, { recursive: true, mode: PRIVATE_DIR }).then(() => chmod(dir, PRIVATE_DIR)).catch((e: unknown) => {
      throw new StoreError('ERR_STORE_IO', `cannot create state directory ${dir}: ${(e as Error).message}`, { cause: e });
    });
    this.#release = await acquireLock(dir, logger);
    try {
      const apply = (e: LogEntry, where: string) => this.#apply(e, where);
      await readLog(join(dir, SNAPSHOT_FILE), 'snapshot', apply, logger);
      await readLog(join(dir, JOURNAL_FILE), 'journal', apply, logger);
      await writeSnapshot(dir, this.#snapshot());
      this.#journal = await Journal.open(dir, {
        compactBytes: opts.compactBytes ?? 64 * 1024 * 1024, snapshot: () => this.#snapshot(), relaxedFlushMs: opts.relaxedFlushMs ?? RELAXED_FLUSH_MS, logger,
      });
    } catch (e) {
      await this.#release();
      throw e instanceof StoreError ? e : new StoreError('ERR_STORE_IO', `cannot open state in ${dir}: ${(e as Error).message}`, { cause: e });
    }
  }

  /** Starts the sweep of expired records every `ms`; the timer never keeps the process alive. */
  startSweeper(ms: number): void {
    this.#sweeper = setInterval(() => {
      if (!this.#sweeping) void this.#sweep();
    }, ms);
    this.#sweeper.unref();
  }

  /**
   * Drops the expired records of every bucket that is due — the only keys it visits — yielding to the event loop
   * every {@link SWEEP_SLICE} keys.
   */
  async #sweep(): Promise<void> {
    this.#sweeping = true;
    try {
      let now = this.#now();
      const due = bucketOf(now);
      let n = 0;
      for (const b of [...this.#buckets.keys()]) {
        if (b > due) continue;
        // Deleting the key being visited is safe in a Set iteration; a key of this second still live stays for later.
        for (const k of this.#buckets.get(b) ?? []) {
          this.#live(k, now);
          if (++n < SWEEP_SLICE) continue;
          n = 0;
          await new Promise<void>((r) => setImmediate(r));
          if (this.#closed) return;
          now = this.#now();
        }
      }
    } finally {
      this.#sweeping = false;
    }
  }

  #apply(e: LogEntry, where: string): void {
    if (e.o === 'set') {
      let v: string;
      try {
        v = encodeValue(e.v);
      } catch (err) {
        throw new StoreError('ERR_STORE_CORRUPT', `${where}: value is not JSON`, { cause: err });
      }
      this.#put(e.k, { v, x: e.x });
    } else if (e.o === 'del') {
      this.#drop(e.k);
    } else {
      // Whatever was issued before a crash is ≤ the mark: continue from it.
      const mark = parseSqn(e.v, where);
      this.#counters.set(e.k, { last: mark, hw: mark, synced: done });
    }
  }

  /** The state as snapshot lines, drawn lazily (compaction writes them a chunk per event-loop turn). */
  *#snapshot(): Generator<string> {
    const now = this.#now();
    for (const [k, r] of this.#records) if (!r.vol && (r.x === undefined || r.x > now)) yield setLine(k, r.v, r.x);
    for (const [k, c] of this.#counters) yield sqnLine(k, c.hw);
  }

  #put(k: string, r: Rec): void {
    const old = this.#records.get(k);
    this.#records.set(k, r);
    const from = old?.x === undefined ? undefined : bucketOf(old.x);
    const to = r.x === undefined ? undefined : bucketOf(r.x);
    if (from === to) return;
    if (from !== undefined) this.#unbucket(k, from);
    if (to !== undefined) {
      let keys = this.#buckets.get(to);
      if (!keys) this.#buckets.set(to, (keys = new Set()));
      keys.add(k);
    }
  }

  #drop(k: string): void {
    const old = this.#records.get(k);
    if (old === undefined) return;
    this.#records.delete(k);
    if (old.x !== undefined) this.#unbucket(k, bucketOf(old.x));
  }

  #unbucket(k: string, b: number): void {
    const keys = this.#buckets.get(b);
    if (keys?.delete(k) && keys.size === 0) this.#buckets.delete(b);
  }

  /** The live record under `k`, dropping it if expired (expiry is not journaled: replay re-derives it). */
  #live(k: string, now = this.#now()): Rec | undefined {
    const r = this.#records.get(k);
    if (r?.x !== undefined && r.x <= now) {
      this.#drop(k);
      return undefined;
    }
    return r;
  }

  #check(): void {
    if (this.#closed) throw new StoreError('ERR_STORE_CLOSED', 'store is closed');
    const failed = this.#journal?.failed;
    if (failed) throw failed;
  }

  /** Journals `line`: waited for when durable, written behind when relaxed. */
  async #log(line: string, durable: boolean): Promise<void> {
    if (!this.#journal) return;
    if (durable) await this.#journal.append(line, true);
    else this.#journal.append(line, false);
  }

  /** Resolves when the durable changes made so far are on disk (what a read may have observed). */
  async #synced(): Promise<void> {
    const p = this.#journal?.durablePending();
    if (p) await p;
  }

  /** Stores `r` under `key`: journaled as `durability` says; a volatile one only erases a journaled predecessor. */
  async #store(key: string, r: Rec, durability: 'durable' | 'relaxed' | 'volatile'): Promise<void> {
    const before = this.#records.get(key);
    this.#put(key, r);
    if (durability !== 'volatile') await this.#log(setLine(key, r.v, r.x), durability === 'durable');
    else if (before !== undefined && !before.vol) await this.#log(delLine(key), false);
  }

  /** Removes the live record `r` of `key`: a journal line unless it was volatile (never on disk). */
  async #remove(key: string, r: Rec, opts: WriteOptions | undefined): Promise<void> {
    const durable = durabilityOf(opts, false) === 'durable';
    this.#drop(key);
    if (!r.vol) await this.#log(delLine(key), durable);
  }

  #rec(value: unknown, opts: SetOptions | undefined): Rec {
    const ttl = ttlOf(opts);
    const r: Rec = { v: encodeValue(value), x: ttl === undefined ? undefined : this.#now() + ttl };
    if (opts?.durability === 'volatile') r.vol = true;
    return r;
  }

  async get<T = unknown>(key: string): Promise<T | undefined> {
    this.#check();
    assertKey(key);
    const r = this.#live(key);
    await this.#synced();
    return r === undefined ? undefined : decodeValue<T>(r.v, key);
  }

  async set(key: string, value: unknown, opts?: SetOptions): Promise<void> {
    this.#check();
    assertKey(key);
    const durability = durabilityOf(opts, true);
    await this.#store(key, this.#rec(value, opts), durability);
  }

  async setIfAbsent(key: string, value: unknown, opts?: SetOptions): Promise<boolean> {
    this.#check();
    assertKey(key);
    const durability = durabilityOf(opts, true);
    const r = this.#rec(value, opts);
    if (this.#live(key) !== undefined) {
      await this.#synced();
      return false;
    }
    await this.#store(key, r, durability);
    return true;
  }

  async delete(key: string, opts?: WriteOptions): Promise<boolean> {
    this.#check();
    assertKey(key);
    durabilityOf(opts, false);
    const r = this.#live(key);
    if (r === undefined) {
      await this.#synced();
      return false;
    }
    await this.#remove(key, r, opts);
    return true;
  }

  async take<T = unknown>(key: string, opts?: WriteOptions): Promise<T | undefined> {
    this.#check();
    assertKey(key);
    durabilityOf(opts, false);
    const r = this.#live(key);
    if (r === undefined) {
      await this.#synced();
      return undefined;
    }
    // A nonce must not come back after a crash once someone has been given it: a volatile one never was on disk, a
    // journaled one is deleted there first (durably, unless the caller relaxed it).
    await this.#remove(key, r, opts);
    return decodeValue<T>(r.v, key);
  }

  async compareAndDelete(key: string, expected: unknown, opts?: WriteOptions): Promise<boolean> {
    this.#check();
    assertKey(key);
    durabilityOf(opts, false);
    const want = encodeValue(expected);
    const r = this.#live(key);
    if (r?.v !== want) {
      await this.#synced();
      return false;
    }
    await this.#remove(key, r, opts);
    return true;
  }

  async keys(prefix: string): Promise<string[]> {
    this.#check();
    assertPrefix(prefix);
    const now = this.#now();
    const out: string[] = [];
    for (const k of [...this.#records.keys()]) if (k.startsWith(prefix) && this.#live(k, now)) out.push(k);
    await this.#synced();
    return out.sort();
  }

  async setSqn(subscriberKey: string, lastIssued: bigint): Promise<void> {
    this.#check();
    assertKey(subscriberKey);
    assertSqn(lastIssued, 'lastIssued');
    const c: Counter = { last: lastIssued, hw: lastIssued, synced: this.#log(sqnLine(subscriberKey, lastIssued), true) };
    this.#counters.set(subscriberKey, c);
    await c.synced;
  }

  async getSqn(subscriberKey: string): Promise<bigint | undefined> {
    this.#check();
    assertKey(subscriberKey);
    const c = this.#counters.get(subscriberKey);
    if (c === undefined) return undefined;
    const last = c.last;
    await c.synced;
    return last;
  }

  async allocateSqn(subscriberKey: string, n: number): Promise<bigint[]> {
    this.#check();
    assertKey(subscriberKey);
    assertBatch(n);
    let c = this.#counters.get(subscriberKey);
    const out = allocateAfter(c?.last ?? 0n, n);
    const last = out[out.length - 1] as bigint;
    if (c === undefined) {
      c = { last, hw: 0n, synced: done };
      this.#counters.set(subscriberKey, c);
    }
    c.last = last;
    if (seqOf(last) > seqOf(c.hw)) {
      const seq = seqOf(last) + this.#reserve;
      c.hw = makeSqn(seq > SEQ_MAX ? SEQ_MAX : seq, indOf(last));
      c.synced = this.#log(sqnLine(subscriberKey, c.hw), true);
    }
    // Within the mark no new write is needed, but the mark itself may still be on its way to disk.
    await c.synced;
    return out;
  }

  async resyncSqn(subscriberKey: string, sqnMs: bigint, delta: bigint = DEFAULT_DELTA): Promise<SqnResync> {
    this.#check();
    assertKey(subscriberKey);
    assertSqn(sqnMs, 'sqnMs');
    assertDelta(delta);
    const c = this.#counters.get(subscriberKey);
    const r = resyncFrom(c?.last ?? 0n, sqnMs, delta);
    if (r.reset) {
      const next: Counter = { last: r.current, hw: r.current, synced: this.#log(sqnLine(subscriberKey, r.current), true) };
      this.#counters.set(subscriberKey, next);
      await next.synced;
    } else {
      await (c?.synced ?? done);
    }
    return r;
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#sweeper) clearInterval(this.#sweeper);
    await this.#journal?.close();
    await this.#release?.();
  }
}

/**
 * Opens a memory store.
 * @param opts `stateDir` (durable), or `ephemeral: true` (tests); `sqnReserve`, `sweepIntervalMs`, `compactBytes`.
 * @throws StoreError `ERR_STORE_NOT_DURABLE` without `stateDir` and without `ephemeral`; `ERR_STORE_LOCKED`,
 *   `ERR_STORE_CORRUPT` or `ERR_STORE_IO` when the state directory cannot be taken over.
 */
export async function openMemoryStore(opts: OpenStoreOptions = {}): Promise<Store> {
  const reserve = opts.sqnReserve ?? 1024;
  if (!Number.isSafeInteger(reserve) || reserve < 0) {
    throw new StoreError('ERR_STORE_INPUT', 'sqnReserve must be a non-negative integer');
  }
  const store = new MemoryStore(reserve, opts.now ?? Date.now);
  if (opts.stateDir !== undefined && opts.stateDir !== '') {
    await store.attach(opts.stateDir, opts);
  } else if (opts.ephemeral !== true) {
    throw new StoreError('ERR_STORE_NOT_DURABLE',
      'the memory store needs stateDir (--state-dir) to journal SQN counters and records; without it a restart ' +
      'would reissue SQNs, a security bug. Pass {ephemeral: true} only in tests.');
  }
  store.startSweeper(opts.sweepIntervalMs ?? 1000);
  return store;
}
