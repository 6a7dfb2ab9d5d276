/**
 * The in-process store (the all-in-one default): a Map with TTLs, journaled to `stateDir` (journal.ts) so that every
 * mutation is on disk before its promise resolves. Atomicity is free: each operation changes the Map synchronously
 * before its first await. Reads wait until what they saw is on disk, so nothing observed can vanish in a crash.
 *
 * SQN counters reserve ahead: the journal holds, per subscriber, a high-water mark `sqnReserve` SEQs (default 1024)
 * past the last issued SQN, and only an allocation that passes the mark writes (and fsyncs) a new one. After a
 * restart a counter continues from its mark, so SQNs issued before the crash are never reissued; the cost is a
 * gap of up to `sqnReserve` SEQs per restart, far inside Δ = 2^28, so the USIM accepts the next vector anyway.
 */
import { chmod, mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { silentLogger } from '../log.ts';
import { assertKey, assertPrefix, decodeValue, encodeValue, ttlOf, type SetOptions } from './codec.ts';
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
}

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
  readonly #expiring = new Set<string>();
  readonly #counters = new Map<string, Counter>();
  readonly #reserve: bigint;
  #journal: Journal | null = null;
  #release: (() => Promise<void>) | null = null;
  #sweeper: NodeJS.Timeout | null = null;
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
        compactBytes: opts.compactBytes ?? 64 * 1024 * 1024, snapshot: () => this.#snapshot(), logger,
      });
    } catch (e) {
      await this.#release();
      throw e instanceof StoreError ? e : new StoreError('ERR_STORE_IO', `cannot open state in ${dir}: ${(e as Error).message}`, { cause: e });
    }
  }

  /** Starts the sweep of expired records; the timer never keeps the process alive. */
  startSweeper(ms: number): void {
    this.#sweeper = setInterval(() => {
      const now = this.#now();
      for (const k of this.#expiring) this.#live(k, now);
    }, ms);
    this.#sweeper.unref();
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

  #snapshot(): string[] {
    const now = this.#now();
    const lines: string[] = [];
    for (const [k, r] of this.#records) if (r.x === undefined || r.x > now) lines.push(setLine(k, r.v, r.x));
    for (const [k, c] of this.#counters) lines.push(sqnLine(k, c.hw));
    return lines;
  }

  #put(k: string, r: Rec): void {
    this.#records.set(k, r);
    if (r.x === undefined) this.#expiring.delete(k);
    else this.#expiring.add(k);
  }

  #drop(k: string): void {
    this.#records.delete(k);
    this.#expiring.delete(k);
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

  #log(line: string): Promise<void> {
    return this.#journal ? this.#journal.append(line) : done;
  }

  #synced(): Promise<void> {
    return this.#journal ? this.#journal.whenSynced() : done;
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
    const ttl = ttlOf(opts);
    const r: Rec = { v: encodeValue(value), x: ttl === undefined ? undefined : this.#now() + ttl };
    this.#put(key, r);
    await this.#log(setLine(key, r.v, r.x));
  }

  async setIfAbsent(key: string, value: unknown, opts?: SetOptions): Promise<boolean> {
    this.#check();
    assertKey(key);
    const ttl = ttlOf(opts);
    const r: Rec = { v: encodeValue(value), x: ttl === undefined ? undefined : this.#now() + ttl };
    if (this.#live(key) !== undefined) {
      await this.#synced();
      return false;
    }
    this.#put(key, r);
    await this.#log(setLine(key, r.v, r.x));
    return true;
  }

  async delete(key: string): Promise<boolean> {
    this.#check();
    assertKey(key);
    if (this.#live(key) === undefined) {
      await this.#synced();
      return false;
    }
    this.#drop(key);
    await this.#log(delLine(key));
    return true;
  }

  async take<T = unknown>(key: string): Promise<T | undefined> {
    this.#check();
    assertKey(key);
    const r = this.#live(key);
    if (r === undefined) {
      await this.#synced();
      return undefined;
    }
    this.#drop(key);
    // A nonce must not come back after a crash once someone has been given it.
    await this.#log(delLine(key));
    return decodeValue<T>(r.v, key);
  }

  async compareAndDelete(key: string, expected: unknown): Promise<boolean> {
    this.#check();
    assertKey(key);
    const want = encodeValue(expected);
    if (this.#live(key)?.v !== want) {
      await this.#synced();
      return false;
    }
    this.#drop(key);
    await this.#log(delLine(key));
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
    const c: Counter = { last: lastIssued, hw: lastIssued, synced: this.#log(sqnLine(subscriberKey, lastIssued)) };
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
      c.synced = this.#log(sqnLine(subscriberKey, c.hw));
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
      const next: Counter = { last: r.current, hw: r.current, synced: this.#log(sqnLine(subscriberKey, r.current)) };
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
  store.startSweeper(opts.sweepIntervalMs ?? 5000);
  return store;
}
