/**
 * The Redis store (node-redis v5): what lets several registrar / MMS / HSS processes share state (DESIGN §2.5), on
 * one server, a Redis Cluster or the master of a Sentinel group (redis-backend.ts and the files it names).
 * Records are `<prefix>r:<key>` strings holding canonical JSON; counters are `<prefix>sqn:<key>` decimal strings.
 * Every operation is one command or one Lua script on one key (`numkeys` 1, the scripts touch `KEYS[1]` alone), so it
 * is atomic and, on a cluster, runs whole on the master of that key's slot: no operation spans keys, so no key needs a
 * hash tag, and the key names are the same in every mode (a single server's data moves to a cluster as it is).
 * node-redis pipelines the commands issued in one event-loop turn on a connection, so concurrent requests share round
 * trips.
 *
 * Durability is checked, not assumed: Redis acknowledges a write before it is on disk unless `appendonly yes` and
 * `appendfsync always`; with `everysec` a crash forgets up to a second of writes. For SQN allocations that UEs have
 * already seen that is a security bug (the next allocations reissue them), so a store opened with `keepsSqn` (the
 * HSS) refuses such a server at connect — every master and replica of it — and any store refuses SQN operations on
 * it. And replication is asynchronous: a durable write (and every SQN operation) on a master with replicas waits for
 * one replica (`WAIT`, redis-replicas.ts) and fails when none acknowledges; a relaxed one waits too but is not failed.
 *
 * A `volatile` record (a single-use challenge) is stored as `~<run_id>~<json>`, stamped by the master that holds it
 * with its run id (INFO, new at every start; a promoted replica has its own), and a record whose stamp is not the
 * running server's (one a crash or a failover restored after its `take` was lost) reads as absent and is taken as
 * nothing (get.lua, take.lua).
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { ErrorReply } from 'redis';
import {
  assertKey, assertPrefix, decodeValue, durabilityOf, encodeValue, ttlOf, type Durability, type SetOptions,
  type WriteOptions,
} from './codec.ts';
import { StoreError } from './errors.ts';
import type { Backend } from './redis-backend.ts';
import type { ReplicaNeed } from './redis-replicas.ts';
import { DEFAULT_DELTA, assertBatch, assertDelta, assertSqn, parseSqn, type SqnResync } from './sqn.ts';
import type { Store } from './store.ts';

/** A Lua script of lua/, with the SHA1 that EVALSHA names it by. */
export interface Script {
  name: string;
  source: string;
  sha: string;
}

function loadScript(name: string): Script {
  // Read once per process at import: the scripts are part of the code, not of the configuration.
  const source = readFileSync(new URL(`./lua/${name}.lua`, import.meta.url), 'utf8');
  return { name, source, sha: createHash('sha1').update(source).digest('hex') };
}

/** Every script; each takes exactly one key. */
export const SCRIPTS = {
  allocate: loadScript('sqn-allocate'),
  resync: loadScript('sqn-resync'),
  compareAndDelete: loadScript('compare-and-delete'),
  take: loadScript('take'),
  get: loadScript('get'),
  setVolatile: loadScript('set-volatile'),
};

function globEscape(s: string): string {
  return s.replace(/[*?[\]\\]/g, '\\$&');
}

/** What a write of `durability` asks of the replicas. */
function needOf(d: Durability): ReplicaNeed {
  return d === 'durable' ? 'must' : d === 'relaxed' ? 'wait' : 'none';
}

/** Errors that say "not now, here" (a failover under way, a slot moving, a server loading): a connection matter. */
const UNAVAILABLE = /^(CLUSTERDOWN|TRYAGAIN|MOVED|ASK|LOADING|MASTERDOWN|READONLY|NOREPLICAS)\b/;

/** The store over a {@link Backend}. */
export class RedisStore implements Store {
  readonly kind = 'redis';
  readonly #backend: Backend;
  readonly #prefix: string;
  #closed = false;

  constructor(backend: Backend, prefix: string) {
    this.#backend = backend;
    this.#prefix = prefix;
  }

  #r(key: string): string {
    assertKey(key);
    return `${this.#prefix}r:${key}`;
  }

  #q(key: string): string {
    assertKey(key);
    return `${this.#prefix}sqn:${key}`;
  }

  async #run<T>(key: string, args: readonly string[], need: ReplicaNeed, o: { sqn?: boolean; settle?: (r: T) => ReplicaNeed } = {}): Promise<T> {
    if (this.#closed) throw new StoreError('ERR_STORE_CLOSED', 'store is closed');
    try {
      return await this.#backend.run<T>(key, args, need, o);
    } catch (e) {
      throw this.#mapError(e, args[0] ?? '');
    }
  }

  async #eval<T>(script: Script, key: string, args: readonly string[], need: ReplicaNeed, o: { sqn?: boolean; settle?: (r: T) => ReplicaNeed } = {}): Promise<T> {
    try {
      return await this.#run<T>(key, ['EVALSHA', script.sha, '1', key, ...args], need, o);
    } catch (e) {
      // NOSCRIPT after SCRIPT FLUSH, a restart or a failover (a promoted replica never loaded it): EVAL runs it and
      // caches it again. The EVALSHA did not run, so nothing is done twice.
      if (!(e instanceof StoreError && /NOSCRIPT/.test(e.message))) throw e;
      return this.#run<T>(key, ['EVAL', script.source, '1', key, ...args], need, o);
    }
  }

  #mapError(e: unknown, command: string): StoreError {
    if (e instanceof StoreError) return e;
    // node-redis's TimeoutError has no message.
    const msg = (e as Error).message || (e as Error).name || String(e);
    if (this.#closed) return new StoreError('ERR_STORE_CLOSED', 'store is closed', { cause: e });
    if (e instanceof ErrorReply) {
      if (msg.startsWith('MCX_CORRUPT')) return new StoreError('ERR_STORE_CORRUPT', msg.slice(12), { cause: e });
      if (msg.startsWith('MCX_SQN_EXHAUSTED')) return new StoreError('ERR_STORE_SQN_EXHAUSTED', msg.slice(18), { cause: e });
      if (UNAVAILABLE.test(msg)) return new StoreError('ERR_STORE_CONNECT', `Redis ${command} failed: ${msg}`, { cause: e });
      return new StoreError('ERR_STORE_IO', `Redis refused ${command}: ${msg}`, { cause: e });
    }
    return new StoreError('ERR_STORE_CONNECT', `Redis ${command} failed: ${msg}`, { cause: e });
  }

  #decode<T>(text: string | null, key: string): T | undefined {
    return text === null ? undefined : decodeValue<T>(text, key);
  }

  async get<T = unknown>(key: string): Promise<T | undefined> {
    const k = this.#r(key);
    return this.#decode<T>(await this.#eval<string | null>(SCRIPTS.get, k, [], 'none'), key);
  }

  async #set(key: string, value: unknown, opts: SetOptions | undefined, nx: boolean): Promise<boolean> {
    const k = this.#r(key);
    const ttl = ttlOf(opts);
    const durability = durabilityOf(opts, true);
    const json = encodeValue(value);
    const options = [...(ttl === undefined ? [] : ['PX', String(ttl)]), ...(nx ? ['NX'] : [])];
    const reply = durability === 'volatile'
      ? await this.#eval<string | null>(SCRIPTS.setVolatile, k, [json, ...options], 'none')
      : await this.#run<string | null>(k, ['SET', k, json, ...options], needOf(durability));
    return reply === 'OK';
  }

  async set(key: string, value: unknown, opts?: SetOptions): Promise<void> {
    await this.#set(key, value, opts, false);
  }

  async setIfAbsent(key: string, value: unknown, opts?: SetOptions): Promise<boolean> {
    return this.#set(key, value, opts, true);
  }

  async delete(key: string, opts?: WriteOptions): Promise<boolean> {
    const k = this.#r(key);
    return (await this.#run<number>(k, ['DEL', k], needOf(durabilityOf(opts, false)))) === 1;
  }

  async take<T = unknown>(key: string, opts?: WriteOptions): Promise<T | undefined> {
    const k = this.#r(key);
    const need = needOf(durabilityOf(opts, false));
    // A taken volatile record needs no replica: a failover that lost the deletion brings it back under the old
    // master's run id, which the promoted replica refuses.
    const reply = await this.#eval<[string, number] | null>(SCRIPTS.take, k, [], need, { settle: (r) => (r !== null && r[1] === 1 ? 'none' : need) });
    return reply === null ? undefined : decodeValue<T>(reply[0], key);
  }

  async compareAndDelete(key: string, expected: unknown, opts?: WriteOptions): Promise<boolean> {
    const k = this.#r(key);
    const need = needOf(durabilityOf(opts, false));
    return (await this.#eval<number>(SCRIPTS.compareAndDelete, k, [encodeValue(expected)], need)) === 1;
  }

  async keys(prefix: string): Promise<string[]> {
    assertPrefix(prefix);
    if (this.#closed) throw new StoreError('ERR_STORE_CLOSED', 'store is closed');
    const base = `${this.#prefix}r:`;
    let found: string[];
    try {
      found = await this.#backend.scan(`${globEscape(base + prefix)}*`);
    } catch (e) {
      throw this.#mapError(e, 'SCAN');
    }
    // SCAN may return a key twice; the Set folds duplicates.
    return [...new Set(found.map((k) => k.slice(base.length)))].sort();
  }

  async setSqn(subscriberKey: string, lastIssued: bigint): Promise<void> {
    const k = this.#q(subscriberKey);
    assertSqn(lastIssued, 'lastIssued');
    await this.#run(k, ['SET', k, lastIssued.toString()], 'must', { sqn: true });
  }

  async getSqn(subscriberKey: string): Promise<bigint | undefined> {
    const k = this.#q(subscriberKey);
    const text = await this.#run<string | null>(k, ['GET', k], 'none');
    return text === null ? undefined : parseSqn(text, subscriberKey);
  }

  async allocateSqn(subscriberKey: string, n: number): Promise<bigint[]> {
    const k = this.#q(subscriberKey);
    assertBatch(n);
    const reply = await this.#eval<string[]>(SCRIPTS.allocate, k, [String(n)], 'must', { sqn: true });
    return reply.map((s) => parseSqn(s, subscriberKey));
  }

  async resyncSqn(subscriberKey: string, sqnMs: bigint, delta: bigint = DEFAULT_DELTA): Promise<SqnResync> {
    const k = this.#q(subscriberKey);
    assertSqn(sqnMs, 'sqnMs');
    assertDelta(delta);
    const [prev, cur, reset, down] = await this.#eval<[string, string, number, number]>(
      SCRIPTS.resync, k, [sqnMs.toString(), delta.toString()], 'must', { sqn: true });
    return { previous: parseSqn(prev, subscriberKey), current: parseSqn(cur, subscriberKey), reset: reset === 1, wentDown: down === 1 };
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#backend.close();
  }
}
