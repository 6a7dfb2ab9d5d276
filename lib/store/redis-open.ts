/**
 * Opening the Redis store: the spec is parsed (redis-spec.ts), a plain `redis://` server is asked what it is (`INFO`:
 * a Cluster node switches to the cluster client with it as the seed; a Sentinel or a replica is refused with the form
 * to use instead), every server that may hold the data is checked for durability, and the scripts' SHA1s are checked
 * against the server's.
 */
import { createClient } from 'redis';
import { silentLogger } from '../log.ts';
import { DEFAULT_KEY_PREFIX } from './codec.ts';
import { StoreError } from './errors.ts';
import {
  SingleBackend, connectOrDrop, destroyQuietly, prepareSingle, reconnectUntil, type Backend, type BackendOptions, type NodeClient,
} from './redis-backend.ts';
import { openClusterBackend } from './redis-cluster.ts';
import { DEFAULT_REPLICA_ACK_TIMEOUT_MS } from './redis-replicas.ts';
import { openSentinelBackend } from './redis-sentinel.ts';
import { parseRedisSpec, type RedisTarget } from './redis-spec.ts';
import { RedisStore, SCRIPTS } from './redis.ts';
import type { OpenStoreOptions, Store } from './store.ts';

type SingleTarget = Extract<RedisTarget, { mode: 'single' }>;

/** A field of `INFO`. */
function infoField(info: string, name: string): string | undefined {
  return new RegExp(`^${name}:(.*?)\\r?$`, 'm').exec(info)?.[1];
}

/**
 * Connects to the one server of a `redis://` spec and opens the backend it calls for.
 * @throws StoreError `ERR_STORE_INPUT` for a Sentinel or a replica (naming the spec to use instead), or a cluster
 *   node addressed with a database number.
 */
async function openSingle(target: SingleTarget, o: BackendOptions): Promise<Backend> {
  const deadline = Date.now() + o.connectTimeoutMs;
  let connected = false;
  const raw = createClient({
    url: target.url,
    socket: { connectTimeout: o.connectTimeoutMs, reconnectStrategy: reconnectUntil(deadline, () => connected) },
    commandOptions: { timeout: o.commandTimeoutMs },
  });
  raw.on('error', (e: Error) => {
    if (connected) o.logger.warn({ err: e, redis: target.display }, 'store: Redis connection error');
  });
  const client = raw as unknown as NodeClient;
  await connectOrDrop(client, client.connect(), target);
  connected = true;
  try {
    const info = await client.sendCommand<string>(['INFO']);
    if (infoField(info, 'redis_mode') === 'sentinel') {
      throw new StoreError('ERR_STORE_INPUT', `store ${target.display} is a Redis Sentinel: name the master it monitors, ` +
        `redis+sentinel://${target.node.host}:${target.node.port}/<master-name>`);
    }
    if (infoField(info, 'cluster_enabled') === '1') {
      if (target.database !== 0) throw new StoreError('ERR_STORE_INPUT', `store ${target.display} is a Redis Cluster node: a cluster has database 0 only`);
      destroyQuietly(client);
      o.logger.info({ redis: target.display }, 'store: a Redis Cluster node; using the cluster client');
      return await openClusterBackend(target, [target.node], o);
    }
    if (infoField(info, 'role') === 'slave') {
      throw new StoreError('ERR_STORE_INPUT', `store ${target.display} is a replica (of ${infoField(info, 'master_host')}:` +
        `${infoField(info, 'master_port')}), which refuses writes: point the store at the master, or use redis+sentinel://… ` +
        'to follow the master through failovers');
    }
    const { fsyncAlways, replicas } = await prepareSingle(client, target.display, o);
    return new SingleBackend(client, target.display, fsyncAlways, replicas, o);
  } catch (e) {
    destroyQuietly(client);
    if (e instanceof StoreError) throw e;
    throw new StoreError('ERR_STORE_CONNECT', `cannot prepare ${target.display}: ${(e as Error).message}`, { cause: e });
  }
}

/**
 * Opens the Redis store named by `spec` (see redis-spec.ts for the forms), checks the durability of every server that
 * may hold its data and loads the Lua scripts.
 * @param opts `keyPrefix` (default `mcx:`), `assumeDurable`, `keepsSqn`, `connectTimeoutMs`, `commandTimeoutMs`,
 *   `replicaAckTimeoutMs`, `logger`.
 * @throws StoreError `ERR_STORE_INPUT` for a malformed spec (naming what is wrong); `ERR_STORE_CONNECT` when the
 *   servers cannot be reached within `connectTimeoutMs`; `ERR_STORE_NOT_DURABLE` when one runs without `appendonly
 *   yes`, without `appendfsync always` for a store that `keepsSqn` (or with less than `everysec` for any), with an
 *   `allkeys-*` eviction policy, or its CONFIG is unreadable and `assumeDurable` is not set.
 */
export async function openRedisStore(spec: string, opts: OpenStoreOptions = {}): Promise<Store> {
  const target = parseRedisSpec(spec);
  const logger = opts.logger ?? silentLogger;
  const o: BackendOptions = {
    assumeDurable: opts.assumeDurable === true, keepsSqn: opts.keepsSqn === true,
    connectTimeoutMs: opts.connectTimeoutMs ?? 5000, commandTimeoutMs: opts.commandTimeoutMs ?? 5000,
    replicas: { timeoutMs: opts.replicaAckTimeoutMs ?? DEFAULT_REPLICA_ACK_TIMEOUT_MS, logger }, logger,
  };
  const backend = target.mode === 'cluster' ? await openClusterBackend(target, target.nodes, o)
    : target.mode === 'sentinel' ? await openSentinelBackend(target, o)
      : await openSingle(target, o);
  try {
    for (const s of Object.values(SCRIPTS)) {
      // One master loads it (the others on first use, NOSCRIPT → EVAL); the SHA1 the server computes must be ours.
      const sha = await backend.run<string>(s.name, ['SCRIPT', 'LOAD', s.source], 'none');
      if (sha !== s.sha) throw new StoreError('ERR_STORE_IO', `${backend.at} loaded ${s.name}.lua as ${sha}, expected ${s.sha}`);
    }
  } catch (e) {
    await backend.close();
    if (e instanceof StoreError) throw e;
    throw new StoreError('ERR_STORE_CONNECT', `cannot prepare ${target.display}: ${(e as Error).message}`, { cause: e });
  }
  logger.info({ redis: target.display, mode: backend.mode }, 'store: connected to Redis');
  return new RedisStore(backend, opts.keyPrefix ?? DEFAULT_KEY_PREFIX);
}
