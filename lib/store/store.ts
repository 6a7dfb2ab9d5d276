/**
 * The one state interface of every role (DESIGN §2.5): records with TTLs (challenges, bindings, used `jti`,
 * subscribers) and per-subscriber SQN counters (DESIGN §2.3). Two implementations, chosen by {@link openStore}:
 * an in-process map journaled to `stateDir` (memory.ts) and Redis (redis.ts), which several processes may share.
 *
 * Both promise the same thing: every operation is atomic with respect to every other client of the same store, and
 * when a mutation's promise resolves, the change survives a crash as its {@link Durability} says — by default
 * (`durable`) a crash of the process (and, for Redis, of the server); `relaxed` changes may lose their last few
 * milliseconds; `volatile` records (single-use challenges) are forgotten, never brought back. SQN counters are always
 * durable: no SQN is ever handed out twice.
 */
import type { Logger } from '../log.ts';
import type { SetOptions, WriteOptions } from './codec.ts';
import { StoreError } from './errors.ts';
import { isRedisSpec, redactSpec } from './redis-spec.ts';
import type { SqnResync } from './sqn.ts';

export type { Durability, SetOptions, WriteOptions } from './codec.ts';
export { RELAXED_FLUSH_MS } from './codec.ts';
export type { SqnResync } from './sqn.ts';
export { StoreError, isStoreError, type StoreErrorCode } from './errors.ts';
export { DEFAULT_DELTA, MAX_SQN_BATCH, SEQ_MAX, SQN_MAX } from './sqn.ts';

export { DEFAULT_KEY_PREFIX } from './codec.ts';

/**
 * Shared state. Values are JSON-serialisable (callers encode Buffers as hex) and come back as fresh copies. Record keys
 * and SQN counters live in separate namespaces: `delete` and `keys` never touch a counter.
 */
export interface Store {
  /** `memory` or `redis`, for log lines and health output. */
  readonly kind: 'memory' | 'redis';
  /** The value under `key`, or undefined when absent or expired. */
  get<T = unknown>(key: string): Promise<T | undefined>;
  /** Stores `value` under `key`, replacing any value and TTL. */
  set(key: string, value: unknown, opts?: SetOptions): Promise<void>;
  /** Stores `value` only if `key` is absent (replay caches: `jti`). @returns true when it was stored. */
  setIfAbsent(key: string, value: unknown, opts?: SetOptions): Promise<boolean>;
  /** Removes `key`. @returns true when a live value was removed. */
  delete(key: string, opts?: WriteOptions): Promise<boolean>;
  /**
   * Atomic get-and-delete (single-use nonces): of concurrent takes of one key, exactly one gets the value, and a taken
   * value never comes back — not after a crash either (a `volatile` record is never on disk; on Redis its run-id
   * stamp refuses one a server crash restored).
   */
  take<T = unknown>(key: string, opts?: WriteOptions): Promise<T | undefined>;
  /** Deletes `key` only if its value equals `expected` (compared as canonical JSON). @returns true when deleted. */
  compareAndDelete(key: string, expected: unknown, opts?: WriteOptions): Promise<boolean>;
  /** Live keys starting with `prefix`, sorted. On Redis this SCANs, so it is for listings, not hot paths. */
  keys(prefix: string): Promise<string[]>;
  /** Provisions a subscriber's counter: `lastIssued` is the last SQN the HE issued (0 for a new USIM). */
  setSqn(subscriberKey: string, lastIssued: bigint): Promise<void>;
  /** The last SQN issued for a subscriber, or undefined when none was provisioned or issued. */
  getSqn(subscriberKey: string): Promise<bigint | undefined>;
  /**
   * Atomically issues `n` (1..1024) SQNs after the last issued one, per 33.102 Annex C profile 2: each has
   * SEQ + 1 and IND + 1 mod 32 over its predecessor. A missing counter counts as 0. No SQN is ever returned twice,
   * across processes sharing the store and across crashes.
   * @throws StoreError `ERR_STORE_SQN_EXHAUSTED` when SEQ would pass 2^43-1.
   */
  allocateSqn(subscriberKey: string, n: number): Promise<bigint[]>;
  /**
   * Atomically applies 33.102 §6.3.5 for SQN_MS recovered from a verified AUTS: keeps the counter when its next SQN
   * would be acceptable to the USIM (SEQ above SEQ(SQN_MS) by at most `delta`, default 2^28), otherwise sets it so
   * the next SEQ is SEQ(SQN_MS)+1, keeping the HE's IND rotation. The caller must have verified MAC-S first: an
   * unverified AUTS would let anyone move the counter.
   */
  resyncSqn(subscriberKey: string, sqnMs: bigint, delta?: bigint): Promise<SqnResync>;
  /** Flushes and releases everything; later calls fail with `ERR_STORE_CLOSED`. Idempotent. */
  close(): Promise<void>;
}

/** Options of {@link openStore}; each implementation reads the ones that concern it. */
export interface OpenStoreOptions {
  /** Memory store: directory of the journal, snapshot and lock file (the roles' `--state-dir`). */
  stateDir?: string;
  /** Memory store: allow running without `stateDir`, losing everything on exit. Tests only. */
  ephemeral?: boolean;
  /**
   * Memory store: how many SEQs past the last issued one a counter's journal entry reserves (default 1024), so most
   * allocations need no fsync. A restart continues above the reservation. 0 journals every allocation.
   */
  sqnReserve?: number;
  /** Memory store: interval of the expired-record sweep (default 1000 ms; it visits only the records due). */
  sweepIntervalMs?: number;
  /** Memory store: the epoch-ms clock of record expiry (default `Date.now`; tests step a manual one). Redis keeps its own. */
  now?: () => number;
  /** Memory store: the longest a relaxed change waits before its journal write starts (default {@link RELAXED_FLUSH_MS}). */
  relaxedFlushMs?: number;
  /** Memory store: journal size that triggers a compaction while running (default 64 MiB). */
  compactBytes?: number;
  /** Redis: prefix of every key (default `mcx:`), so several deployments can share one server. */
  keyPrefix?: string;
  /** Redis: accept a server whose durability settings cannot be read (CONFIG disabled on managed Redis). */
  assumeDurable?: boolean;
  /**
   * Redis: this process keeps SQN counters (the HSS and its provisioning CLI): the server must fsync every write
   * (`appendfsync always`), checked at connect. Without it `everysec` is accepted, and SQN operations are refused on
   * a server that does not fsync every write.
   */
  keepsSqn?: boolean;
  /** Redis: how long the first connection may take (default 5000 ms). */
  connectTimeoutMs?: number;
  /** Redis: per-command timeout (default 5000 ms). */
  commandTimeoutMs?: number;
  /**
   * Redis: how long a write on a master with replicas waits for one of them to acknowledge it (`WAIT 1 <ms>`, default
   * 500 ms) — a durable write or SQN operation that no replica acknowledged fails, since a failover would lose it.
   */
  replicaAckTimeoutMs?: number;
  /** Where the store reports recoveries and reconnections (default: silent). */
  logger?: Logger;
}

/**
 * Opens the store named by `spec`: `memory`, or a Redis URL — `redis://` / `rediss://` (one server; a Redis Cluster
 * node is detected), `redis+cluster://h:p,h:p` or `redis+sentinel://h:p,h:p/<master-name>` (lib/store/redis-spec.ts).
 * Without a spec, `REDIS_URL` is used when set, else `memory`; the spec `redis` means "the URL in `REDIS_URL`".
 * @throws StoreError `ERR_STORE_INPUT` for an unknown or malformed spec; `ERR_STORE_NOT_DURABLE` for a memory store without
 *   `stateDir` (and without `ephemeral`) or a Redis server without `appendonly yes`, or without `appendfsync always`
 *   when `keepsSqn` (`everysec` at least otherwise);
 *   `ERR_STORE_CONNECT` when Redis cannot be reached; `ERR_STORE_LOCKED` / `ERR_STORE_CORRUPT` for a state
 *   directory in use or unreadable.
 */
export async function openStore(spec: string | undefined, opts: OpenStoreOptions = {}): Promise<Store> {
  const env = process.env.REDIS_URL;
  let target = spec === undefined || spec === '' ? (env !== undefined && env !== '' ? env : 'memory') : spec;
  if (target === 'redis') {
    if (env === undefined || env === '') throw new StoreError('ERR_STORE_INPUT', 'store "redis" needs REDIS_URL');
    target = env;
  }
  // Loaded on demand: the Redis client costs ~100 ms of startup that an all-in-one run on the memory store never needs.
  if (target === 'memory') return (await import('./memory.ts')).openMemoryStore(opts);
  if (isRedisSpec(target)) return (await import('./redis-open.ts')).openRedisStore(target, opts);
  throw new StoreError('ERR_STORE_INPUT',
    `unknown store "${redactSpec(target)}": expected memory, redis://…, rediss://…, redis+cluster://… or redis+sentinel://…`);
}
