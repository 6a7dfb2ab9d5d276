/**
 * The Redis store (node-redis v5): what lets several registrar / MMS / HSS processes share state (DESIGN §2.5).
 * Records are `<prefix>r:<key>` strings holding canonical JSON; counters are `<prefix>sqn:<key>` decimal strings.
 * Every operation is one command or one Lua script touching one key, so it is atomic and Cluster-safe.
 *
 * Durability is checked, not assumed: Redis acknowledges a write before it is on disk unless `appendonly yes` and
 * `appendfsync always`; with `everysec` a crash forgets up to a second of SQN allocations that UEs have already seen,
 * and the next allocations reissue them. So the store refuses such a server at connect.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { ClientClosedError, ErrorReply, createClient } from 'redis';
import { silentLogger, type Logger } from '../log.ts';
import { DEFAULT_KEY_PREFIX, assertKey, assertPrefix, decodeValue, encodeValue, ttlOf, type SetOptions } from './codec.ts';
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
};

const FIX = 'start it with `redis-server --appendonly yes --appendfsync always` (or CONFIG SET both and CONFIG REWRITE)';

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
 * Refuses a server that can lose acknowledged writes or evict counters.
 * @throws StoreError `ERR_STORE_NOT_DURABLE` explaining the setting and the fix.
 */
async function checkDurability(client: Client, at: string, assumeDurable: boolean): Promise<void> {
  const appendonly = await configGet(client, 'appendonly');
  const appendfsync = await configGet(client, 'appendfsync');
  const policy = await configGet(client, 'maxmemory-policy');
  if (appendonly === undefined || appendfsync === undefined) {
    if (assumeDurable) return;
    throw new StoreError('ERR_STORE_NOT_DURABLE',
      `cannot read the durability settings of ${at} (CONFIG GET is refused, as on many managed Redis services). ` +
      'SQN allocation needs appendonly yes + appendfsync always, since a reused SQN is a security bug; ' +
      `${FIX}, or, if you know the server is configured so, pass assumeDurable (--redis-assume-durable)`);
  }
  if (appendonly !== 'yes') {
    throw new StoreError('ERR_STORE_NOT_DURABLE',
      `${at} runs with appendonly ${appendonly}: a crash loses acknowledged writes, so SQNs already sent to UEs ` +
      `would be issued again, and a reused SQN is a security bug; ${FIX}`);
  }
  if (appendfsync !== 'always') {
    throw new StoreError('ERR_STORE_NOT_DURABLE',
      `${at} runs with appendfsync ${appendfsync}: ${appendfsync === 'everysec' ? 'everysec can lose up to a second' : 'it can lose seconds'} ` +
      `of acknowledged writes on a crash, i.e. SQN allocations that UEs have already seen, which the HSS would ` +
      `then reissue; a reused SQN is a security bug; ${FIX}`);
  }
  if (policy?.startsWith('allkeys-')) {
    throw new StoreError('ERR_STORE_NOT_DURABLE',
      `${at} runs with maxmemory-policy ${policy}, which may evict SQN counters (a counter that vanishes restarts ` +
      'at 0); use noeviction or a volatile-* policy');
  }
}

/** Drops the connection; a client that never connected (or already closed) throws, which is of no interest here. */
function destroyQuietly(client: Client): void {
  try {
    client.destroy();
  } catch {
    // already closed
  }
}

class RedisStore implements Store {
  readonly kind = 'redis';
  readonly #client: Client;
  readonly #prefix: string;
  #closed = false;

  constructor(client: Client, prefix: string) {
    this.#client = client;
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
    const text = await this.#do<string | null>(['GET', this.#r(key)]);
    return text === null ? undefined : decodeValue<T>(text, key);
  }

  async set(key: string, value: unknown, opts?: SetOptions): Promise<void> {
    const k = this.#r(key);
    const ttl = ttlOf(opts);
    await this.#do(['SET', k, encodeValue(value), ...(ttl === undefined ? [] : ['PX', String(ttl)])]);
  }

  async setIfAbsent(key: string, value: unknown, opts?: SetOptions): Promise<boolean> {
    const k = this.#r(key);
    const ttl = ttlOf(opts);
    const reply = await this.#do<string | null>(['SET', k, encodeValue(value), 'NX', ...(ttl === undefined ? [] : ['PX', String(ttl)])]);
    return reply === 'OK';
  }

  async delete(key: string): Promise<boolean> {
    return (await this.#do<number>(['DEL', this.#r(key)])) === 1;
  }

  async take<T = unknown>(key: string): Promise<T | undefined> {
    const text = await this.#do<string | null>(['GETDEL', this.#r(key)]);
    return text === null ? undefined : decodeValue<T>(text, key);
  }

  async compareAndDelete(key: string, expected: unknown): Promise<boolean> {
    const k = this.#r(key);
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
    await this.#do(['SET', k, lastIssued.toString()]);
  }

  async getSqn(subscriberKey: string): Promise<bigint | undefined> {
    const text = await this.#do<string | null>(['GET', this.#q(subscriberKey)]);
    return text === null ? undefined : parseSqn(text, subscriberKey);
  }

  async allocateSqn(subscriberKey: string, n: number): Promise<bigint[]> {
    const k = this.#q(subscriberKey);
    assertBatch(n);
    const reply = await this.#eval<string[]>(SCRIPTS.allocate, k, [String(n)]);
    return reply.map((s) => parseSqn(s, subscriberKey));
  }

  async resyncSqn(subscriberKey: string, sqnMs: bigint, delta: bigint = DEFAULT_DELTA): Promise<SqnResync> {
    const k = this.#q(subscriberKey);
    assertSqn(sqnMs, 'sqnMs');
    assertDelta(delta);
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
 * @param opts `keyPrefix` (default `mcx:`), `assumeDurable`, `connectTimeoutMs`, `commandTimeoutMs`, `logger`.
 * @throws StoreError `ERR_STORE_CONNECT` when the server cannot be reached within `connectTimeoutMs`;
 *   `ERR_STORE_NOT_DURABLE` when it runs without `appendonly yes` + `appendfsync always` (or with an `allkeys-*`
 *   eviction policy), or its CONFIG is unreadable and `assumeDurable` is not set.
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
  const client: Client = raw;
  try {
    await client.connect();
  } catch (e) {
    destroyQuietly(client);
    throw new StoreError('ERR_STORE_CONNECT', `cannot connect to ${at}: ${(e as Error).message}`, { cause: e });
  }
  ready = true;
  try {
    await checkDurability(client, at, opts.assumeDurable === true);
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
  return new RedisStore(client, opts.keyPrefix ?? DEFAULT_KEY_PREFIX);
}
