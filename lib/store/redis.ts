/**
 * The Redis store (node-redis v5): what lets several registrar / MMS / HSS processes share state (DESIGN §2.5).
 * Records are `<prefix>r:<key>` strings holding canonical JSON; counters are `<prefix>sqn:<key>` decimal strings.
 * Every operation is one command or one Lua script touching one key, so it is atomic and Cluster-safe; node-redis
 * pipelines the commands issued in one event-loop turn on its one connection, so concurrent requests share round trips.
 *
 * Durability is checked, not assumed: Redis acknowledges a write before it is on disk unless `appendonly yes` and
 * `appendfsync always`; with `everysec` a crash forgets up to a second of writes. For SQN allocations that UEs have
 * already seen that is a security bug (the next allocations reissue them), so a store opened with `keepsSqn` (the
 * HSS) refuses such a server at connect, and any store refuses SQN operations on it. Roles without SQNs accept
 * `everysec` (their records are bindings and migrations; a durable/relaxed choice per operation is the server's, not
 * the caller's, here) — except for what must never come back: a `volatile` record (a single-use challenge) is stored as
 * `~<run_id>~<json>`, stamped with the server's run id (INFO, new at every start), and a record whose stamp is not the
 * running server's (one a crash restored after its `take` was lost) reads as absent and is taken as nothing (take.lua).
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { ClientClosedError, ErrorReply, createClient } from 'redis';
import { silentLogger, type Logger } from '../log.ts';
import {
  DEFAULT_KEY_PREFIX, assertKey, assertPrefix, decodeValue, durabilityOf, encodeValue, ttlOf, type SetOptions, type WriteOptions,
} from './codec.ts';
import { StoreError } from './errors.ts';
import { DEFAULT_DELTA, assertBatch, assertDelta, assertSqn, parseSqn, type SqnResync } from './sqn.ts';
import type { OpenStoreOptions, Store } from './store.ts';

/** The part of the node-redis client this file uses; raw commands keep the types small and the wire explicit. */
interface Client {
  connect(): Promise<unknown>;
  sendCommand<T>(args: readonly string[]): Promise<T>;
  close(): Promise<void>;
  destroy(): void;
}

interface Script {
  name: string;
  source: string;
  sha: string;
}

function loadScript(name: string): Script {
  // Read once per process at import: the scripts are part of the code, not of the configuration.
  const source = readFileSync(new URL(`./lua/${name}.lua`, import.meta.url), 'utf8');
  return { name, source, sha: createHash('sha1').update(source).digest('hex') };
}

const SCRIPTS = {
  allocate: loadScript('sqn-allocate'),
  resync: loadScript('sqn-resync'),
  compareAndDelete: loadScript('compare-and-delete'),
  take: loadScript('take'),
};

const FIX = 'start it with `redis-server --appendonly yes --appendfsync always` (or CONFIG SET both and CONFIG REWRITE)';
/** What a store without SQNs accepts: an AOF fsync'ed at least every second. */
const FIX_NO_SQN = `${FIX}; a role that keeps no SQN counters (registrar, MMS, IdMS) may use --appendfsync everysec`;

/** Prefix of a volatile record's stored text: `~`, the server's 40-hex run id, `~` (JSON never starts with `~`). */
const VOLATILE = 126; // '~'
const RUN_ID_LENGTH = 40;

function where(url: string): string {
  try {
    const u = new URL(url);
    return `${u.protocol}//${u.host}`;
  } catch {
    return 'redis';
  }
}

function globEscape(s: string): string {
  return s.replace(/[*?[\]\\]/g, '\\$&');
}

async function configGet(client: Client, name: string): Promise<string | undefined> {
  try {
    const reply = await client.sendCommand<string[]>(['CONFIG', 'GET', name]);
    return reply[1];
  } catch (e) {
    if (e instanceof ErrorReply) return undefined;
    throw e;
  }
}

/**
 * Refuses a server that can lose acknowledged writes or evict counters: `appendonly yes` always; `appendfsync
 * always` when `keepsSqn`, else `always` or `everysec`.
 * @returns whether the server fsyncs every write (what SQN operations need).
 * @throws StoreError `ERR_STORE_NOT_DURABLE` explaining the setting and the fix.
 */
async function checkDurability(client: Client, at: string, assumeDurable: boolean, keepsSqn: boolean): Promise<boolean> {
  const appendonly = await configGet(client, 'appendonly');
  const appendfsync = await configGet(client, 'appendfsync');
  const policy = await configGet(client, 'maxmemory-policy');
  if (appendonly === undefined || appendfsync === undefined) {
    if (assumeDurable) return true;
    throw new StoreError('ERR_STORE_NOT_DURABLE',
      `cannot read the durability settings of ${at} (CONFIG GET is refused, as on many managed Redis services). ` +
      'SQN allocation needs appendonly yes + appendfsync always, since a reused SQN is a security bug; ' +
      `${FIX}, or, if you know the server is configured so, pass assumeDurable (--redis-assume-durable)`);
  }
  if (appendonly !== 'yes') {
    throw new StoreError('ERR_STORE_NOT_DURABLE',
      `${at} runs with appendonly ${appendonly}: a crash loses acknowledged writes, so SQNs already sent to UEs ` +
      `would be issued again, and a reused SQN is a security bug; ${keepsSqn ? FIX : FIX_NO_SQN}`);
  }
  if (appendfsync !== 'always' && (keepsSqn || appendfsync !== 'everysec')) {
    throw new StoreError('ERR_STORE_NOT_DURABLE',
      `${at} runs with appendfsync ${appendfsync}: ${appendfsync === 'everysec' ? 'everysec can lose up to a second' : 'it can lose seconds'} ` +
      `of acknowledged writes on a crash, i.e. SQN allocations that UEs have already seen, which the HSS would ` +
      `then reissue; a reused SQN is a security bug; ${keepsSqn ? FIX : FIX_NO_SQN}`);
  }
  if (policy?.startsWith('allkeys-')) {
    throw new StoreError('ERR_STORE_NOT_DURABLE',
      `${at} runs with maxmemory-policy ${policy}, which may evict SQN counters (a counter that vanishes restarts ` +
      'at 0); use noeviction or a volatile-* policy');
  }
  return appendfsync === 'always';
}

/** The server's run id (`INFO server`): new at every start, so it dates a volatile record to a server run. */
async function runIdOf(client: Client): Promise<string> {
  const info = await client.sendCommand<string>(['INFO', 'server']);
  const m = /^run_id:([0-9a-f]{40})\r?$/m.exec(String(info));
  if (!m) throw new StoreError('ERR_STORE_IO', 'INFO server has no run_id');
  return m[1] as string;
}

/** Drops the connection; a client that never connected (or already closed) throws, which is of no interest here. */
function destroyQuietly(client: Client): void {
  try {
    client.destroy();
  } catch {
    // already closed
  }
}

/** What the store knows of the server it talks to. */
interface ServerRun {
  /** The run id of the server last connected to (re-read at every reconnection). */
  runId: string;
  /** It fsyncs every write (`appendfsync always`, or assumed so). */
  fsyncAlways: boolean;
}

class RedisStore implements Store {
  readonly kind = 'redis';
  readonly #client: Client;
  readonly #prefix: string;
  readonly #server: ServerRun;
  #closed = false;

  constructor(client: Client, prefix: string, server: ServerRun) {
    this.#client = client;
    this.#prefix = prefix;
    this.#server = server;
  }

  /** The stored text of `value`: its JSON, stamped with the server's run id when volatile. */
  #encode(value: unknown, opts: SetOptions | undefined): string {
    const json = encodeValue(value);
    return durabilityOf(opts, true) === 'volatile' ? `~${this.#server.runId}~${json}` : json;
  }

  /**
   * The value of a stored text; a volatile one only in the server run that stored it, which is asked of the server
   * itself (one INFO: the client's copy of the run id may be from before a restart that brought the record back).
   */
  async #decode<T>(text: string | null, key: string): Promise<T | undefined> {
    if (text === null) return undefined;
    if (text.charCodeAt(0) !== VOLATILE) return decodeValue<T>(text, key);
    if (this.#closed) throw new StoreError('ERR_STORE_CLOSED', 'store is closed');
    const runId = await runIdOf(this.#client).catch((e: unknown) => {
      throw this.#mapError(e, 'INFO');
    });
    this.#server.runId = runId;
    if (text.slice(1, 1 + RUN_ID_LENGTH) !== runId || text.charCodeAt(1 + RUN_ID_LENGTH) !== VOLATILE) return undefined;
    return decodeValue<T>(text.slice(2 + RUN_ID_LENGTH), key);
  }

  #sqnDurable(): void {
    if (!this.#server.fsyncAlways) {
      throw new StoreError('ERR_STORE_NOT_DURABLE',
        'SQN counters need a Redis server that fsyncs every write (appendfsync always): with everysec a crash ' +
        `reissues SQNs UEs have seen, a security bug; open the store with keepsSqn, and ${FIX}`);
    }
  }

  #r(key: string): string {
    assertKey(key);
    return `${this.#prefix}r:${key}`;
  }

  #q(key: string): string {
    assertKey(key);
    return `${this.#prefix}sqn:${key}`;
  }

  async #do<T>(args: readonly string[]): Promise<T> {
    if (this.#closed) throw new StoreError('ERR_STORE_CLOSED', 'store is closed');
    try {
      return await this.#client.sendCommand<T>(args);
    } catch (e) {
      throw this.#mapError(e, args[0] ?? '');
    }
  }

  async #eval<T>(script: Script, key: string, args: readonly string[]): Promise<T> {
    try {
      return await this.#do<T>(['EVALSHA', script.sha, '1', key, ...args]);
    } catch (e) {
      // NOSCRIPT after SCRIPT FLUSH, a restart or a failover: EVAL runs it and caches it again.
      if (!(e instanceof StoreError && /NOSCRIPT/.test(e.message))) throw e;
      return this.#do<T>(['EVAL', script.source, '1', key, ...args]);
    }
  }

  #mapError(e: unknown, command: string): StoreError {
    if (e instanceof StoreError) return e;
    const msg = (e as Error).message ?? String(e);
    if (this.#closed || e instanceof ClientClosedError) return new StoreError('ERR_STORE_CLOSED', 'store is closed', { cause: e });
    if (e instanceof ErrorReply) {
      if (msg.startsWith('MCX_CORRUPT')) return new StoreError('ERR_STORE_CORRUPT', msg.slice(12), { cause: e });
      if (msg.startsWith('MCX_SQN_EXHAUSTED')) return new StoreError('ERR_STORE_SQN_EXHAUSTED', msg.slice(18), { cause: e });
      return new StoreError('ERR_STORE_IO', `Redis refused ${command}: ${msg}`, { cause: e });
    }
    return new StoreError('ERR_STORE_CONNECT', `Redis ${command} failed: ${msg}`, { cause: e });
  }

  async get<T = unknown>(key: string): Promise<T | undefined> {
    return this.#decode<T>(await this.#do<string | null>(['GET', this.#r(key)]), key);
  }

  // The durability of a write is the server's here (appendfsync): `durable` and `relaxed` are the same command.
  async set(key: string, value: unknown, opts?: SetOptions): Promise<void> {
    const k = this.#r(key);
    const ttl = ttlOf(opts);
    await this.#do(['SET', k, this.#encode(value, opts), ...(ttl === undefined ? [] : ['PX', String(ttl)])]);
  }

  async setIfAbsent(key: string, value: unknown, opts?: SetOptions): Promise<boolean> {
    const k = this.#r(key);
    const ttl = ttlOf(opts);
    const reply = await this.#do<string | null>(['SET', k, this.#encode(value, opts), 'NX', ...(ttl === undefined ? [] : ['PX', String(ttl)])]);
    return reply === 'OK';
  }

  async delete(key: string, opts?: WriteOptions): Promise<boolean> {
    durabilityOf(opts, false);
    return (await this.#do<number>(['DEL', this.#r(key)])) === 1;
  }

  async take<T = unknown>(key: string, opts?: WriteOptions): Promise<T | undefined> {
    const k = this.#r(key);
    durabilityOf(opts, false);
    const text = await this.#eval<string | null>(SCRIPTS.take, k, []);
    return text === null ? undefined : decodeValue<T>(text, key);
  }

  async compareAndDelete(key: string, expected: unknown, opts?: WriteOptions): Promise<boolean> {
    const k = this.#r(key);
    durabilityOf(opts, false);
    return (await this.#eval<number>(SCRIPTS.compareAndDelete, k, [encodeValue(expected)])) === 1;
  }

  async keys(prefix: string): Promise<string[]> {
    assertPrefix(prefix);
    const base = `${this.#prefix}r:`;
    const match = `${globEscape(base + prefix)}*`;
    const found = new Set<string>();
    let cursor = '0';
    do {
      const [next, batch] = await this.#do<[string, string[]]>(['SCAN', cursor, 'MATCH', match, 'COUNT', '1000']);
      // SCAN may return a key twice; the Set folds duplicates.
      for (const k of batch) found.add(k.slice(base.length));
      cursor = next;
    } while (cursor !== '0');
    return [...found].sort();
  }

  async setSqn(subscriberKey: string, lastIssued: bigint): Promise<void> {
    const k = this.#q(subscriberKey);
    assertSqn(lastIssued, 'lastIssued');
    this.#sqnDurable();
    await this.#do(['SET', k, lastIssued.toString()]);
  }

  async getSqn(subscriberKey: string): Promise<bigint | undefined> {
    const text = await this.#do<string | null>(['GET', this.#q(subscriberKey)]);
    return text === null ? undefined : parseSqn(text, subscriberKey);
  }

  async allocateSqn(subscriberKey: string, n: number): Promise<bigint[]> {
    const k = this.#q(subscriberKey);
    assertBatch(n);
    this.#sqnDurable();
    const reply = await this.#eval<string[]>(SCRIPTS.allocate, k, [String(n)]);
    return reply.map((s) => parseSqn(s, subscriberKey));
  }

  async resyncSqn(subscriberKey: string, sqnMs: bigint, delta: bigint = DEFAULT_DELTA): Promise<SqnResync> {
    const k = this.#q(subscriberKey);
    assertSqn(sqnMs, 'sqnMs');
    assertDelta(delta);
    this.#sqnDurable();
    const [prev, cur, reset, down] = await this.#eval<[string, string, number, number]>(
      SCRIPTS.resync, k, [sqnMs.toString(), delta.toString()]);
    return { previous: parseSqn(prev, subscriberKey), current: parseSqn(cur, subscriberKey), reset: reset === 1, wentDown: down === 1 };
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#client.close().catch(() => destroyQuietly(this.#client));
  }
}

/**
 * Connects to Redis at `url`, checks its durability settings and loads the Lua scripts.
 * @param opts `keyPrefix` (default `mcx:`), `assumeDurable`, `keepsSqn`, `connectTimeoutMs`, `commandTimeoutMs`, `logger`.
 * @throws StoreError `ERR_STORE_CONNECT` when the server cannot be reached within `connectTimeoutMs`;
 *   `ERR_STORE_NOT_DURABLE` when it runs without `appendonly yes`, without `appendfsync always` for a store that
 *   `keepsSqn` (or with less than `everysec` for any), with an `allkeys-*` eviction policy, or its CONFIG is unreadable
 *   and `assumeDurable` is not set.
 */
export async function openRedisStore(url: string, opts: OpenStoreOptions = {}): Promise<Store> {
  const logger: Logger = opts.logger ?? silentLogger;
  const at = where(url);
  const connectTimeout = opts.connectTimeoutMs ?? 5000;
  const deadline = Date.now() + connectTimeout;
  let ready = false;
  const raw = createClient({
    url,
    socket: {
      connectTimeout,
      // Before the first connection, give up at the deadline; afterwards keep retrying (commands time out meanwhile).
      reconnectStrategy: (retries: number, cause: Error) => {
        const delay = Math.min(50 * 2 ** retries, 2000);
        if (!ready && Date.now() + delay > deadline) return cause;
        return delay;
      },
    },
    commandOptions: { timeout: opts.commandTimeoutMs ?? 5000 },
  });
  raw.on('error', (e: Error) => {
    if (ready) logger.warn({ err: e, redis: at }, 'store: Redis connection error');
  });
  const server: ServerRun = { runId: '', fsyncAlways: false };
  // A reconnection may be to a restarted server: its run id dates the volatile records written from now on.
  raw.on('ready', () => {
    if (!ready) return;
    runIdOf(client).then((id) => {
      server.runId = id;
    }, (e: unknown) => logger.warn({ err: e, redis: at }, 'store: cannot read the Redis run id'));
  });
  const client: Client = raw;
  try {
    await client.connect();
  } catch (e) {
    destroyQuietly(client);
    throw new StoreError('ERR_STORE_CONNECT', `cannot connect to ${at}: ${(e as Error).message}`, { cause: e });
  }
  ready = true;
  try {
    server.fsyncAlways = await checkDurability(client, at, opts.assumeDurable === true, opts.keepsSqn === true);
    server.runId = await runIdOf(client);
    for (const s of Object.values(SCRIPTS)) {
      const sha = await client.sendCommand<string>(['SCRIPT', 'LOAD', s.source]);
      if (sha !== s.sha) throw new StoreError('ERR_STORE_IO', `${at} loaded ${s.name}.lua as ${sha}, expected ${s.sha}`);
    }
  } catch (e) {
    destroyQuietly(client);
    if (e instanceof StoreError) throw e;
    throw new StoreError('ERR_STORE_CONNECT', `cannot prepare ${at}: ${(e as Error).message}`, { cause: e });
  }
  logger.info({ redis: at }, 'store: connected to Redis');
  return new RedisStore(client, opts.keyPrefix ?? DEFAULT_KEY_PREFIX, server);
}
