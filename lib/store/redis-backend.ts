/**
 * How the Redis store reaches its data: one server, a Redis Cluster (redis-cluster.ts) or the master a Sentinel names
 * (redis-sentinel.ts). The store above speaks in keyed commands; a backend runs each on the master that holds the
 * key, with the replica acknowledgement it asks for (redis-replicas.ts), and checks the durability of every master it
 * meets (redis-durability.ts).
 */
import { createClient } from 'redis';
import type { Logger } from '../log.ts';
import { StoreError } from './errors.ts';
import { checkDurability, notFsyncedError } from './redis-durability.ts';
import { onlineReplicas, writeWithReplicas, type MasterState, type ReplicaNeed, type ReplicaPolicy } from './redis-replicas.ts';
import type { RedisAddress, RedisTarget } from './redis-spec.ts';

/** Options of one keyed command. */
export interface RunOptions<T> {
  /** An SQN counter operation: refused on a master that does not fsync every write. */
  sqn?: boolean;
  /** Decides the replica need from the reply (see {@link writeWithReplicas}). */
  settle?: (reply: T) => ReplicaNeed;
}

/** One way of reaching the data. */
export interface Backend {
  /** `single`, `cluster` or `sentinel`, for log lines. */
  readonly mode: RedisTarget['mode'];
  /** Names the deployment in messages. */
  readonly at: string;
  /** Runs `args` on the master of `key`, with the replica acknowledgement `need` asks for. */
  run<T>(key: string, args: readonly string[], need: ReplicaNeed, o?: RunOptions<T>): Promise<T>;
  /** Every key matching the glob `match`, on every master (SCAN; duplicates possible). */
  scan(match: string): Promise<string[]>;
  /** Releases every connection and timer. */
  close(): Promise<void>;
}

/** What every backend is opened with. */
export interface BackendOptions {
  assumeDurable: boolean;
  keepsSqn: boolean;
  connectTimeoutMs: number;
  commandTimeoutMs: number;
  replicas: ReplicaPolicy;
  logger: Logger;
}

/** A master's state plus whether it fsyncs every write (`undefined`: not checked yet). */
export interface CheckedMaster extends MasterState {
  fsyncAlways?: boolean;
}

/** A fresh state for the master at `at`. */
export function masterState(at: string, fsyncAlways?: boolean): CheckedMaster {
  return { at, replicas: 0, warnedAt: 0, ...(fsyncAlways === undefined ? {} : { fsyncAlways }) };
}

/** `redis://host:port` (brackets for IPv6). */
export function addressUrl(a: RedisAddress, tls = false): string {
  return `${tls ? 'rediss' : 'redis'}://${a.host.includes(':') ? `[${a.host}]` : a.host}:${a.port}`;
}

/** The `tls` socket option of node-redis, which takes `true` or nothing. */
export function tlsOption(tls: boolean): { tls?: true } {
  return tls ? { tls: true } : {};
}

/**
 * A reconnect strategy for node-redis: before the first connection, give up at `deadline`; afterwards keep retrying
 * with a capped backoff (commands time out meanwhile).
 */
export function reconnectUntil(deadline: number, connected: () => boolean): (retries: number, cause: Error) => number | Error {
  return (retries, cause) => {
    const delay = Math.min(50 * 2 ** retries, 2000);
    if (!connected() && Date.now() + delay > deadline) return cause;
    return delay;
  };
}

/** The minimum of node-redis's client this file and the others use. */
export interface NodeClient {
  sendCommand<T>(args: readonly string[], options?: { timeout?: number }): Promise<T>;
  connect(): Promise<unknown>;
  close(): Promise<void>;
  destroy(): void;
  on(event: string, listener: (...args: never[]) => void): unknown;
}

const epochs = new WeakMap<object, { n: number }>();

/**
 * The epoch of a node-redis client (see redis-replicas.ts `Connection.epoch`): counted from its `error` and `ready`
 * events, listened to from the first call on.
 */
export function clientEpoch(client: NodeClient): number {
  let e = epochs.get(client);
  if (!e) {
    const counter = { n: 0 };
    e = counter;
    epochs.set(client, counter);
    client.on('error', () => counter.n++);
    client.on('ready', () => counter.n++);
  }
  return e.n;
}

/**
 * Waits for a client's first connection; when it fails, drops the client and throws.
 * @param client the client (single node, Cluster or Sentinel).
 * @param connecting its `connect()`, or that raced with a timeout.
 * @param target named in the error.
 * @throws StoreError ERR_STORE_CONNECT with the cause's message.
 */
export async function connectOrDrop(client: { destroy(): unknown }, connecting: Promise<unknown>, target: { display: string }): Promise<void> {
  try {
    await connecting;
  } catch (e) {
    destroyQuietly(client);
    throw new StoreError('ERR_STORE_CONNECT', `cannot connect to ${target.display}: ${(e as Error).message}`, { cause: e });
  }
}

/** Drops a connection; one that never connected (or already closed) throws, which is of no interest here. */
export function destroyQuietly(client: { destroy(): unknown }): void {
  try {
    void Promise.resolve(client.destroy()).catch(() => undefined);
  } catch {
    // already closed
  }
}

/** A short-lived connection to one node (topology reads, durability checks of replicas), closed by `use`'s end. */
export async function withNode<T>(a: RedisAddress, t: RedisTarget, timeoutMs: number, use: (c: NodeClient) => Promise<T>): Promise<T> {
  const c = createClient({
    socket: { host: a.host, port: a.port, ...tlsOption(t.tls), connectTimeout: timeoutMs, reconnectStrategy: false },
    ...(t.username === undefined ? {} : { username: t.username }), ...(t.password === undefined ? {} : { password: t.password }),
    commandOptions: { timeout: timeoutMs },
  }) as unknown as NodeClient;
  c.on('error', () => undefined);
  await c.connect();
  try {
    return await use(c);
  } finally {
    destroyQuietly(c);
  }
}

/** Every key matching `match` on one connection (SCAN to the end). */
export async function scanNode(send: (args: readonly string[]) => Promise<[string, string[]]>, match: string): Promise<string[]> {
  const out: string[] = [];
  let cursor = '0';
  do {
    const [next, batch] = await send(['SCAN', cursor, 'MATCH', match, 'COUNT', '1000']);
    out.push(...batch);
    cursor = next;
  } while (cursor !== '0');
  return out;
}

/** One server (or a plain master with replicas that nothing fails over automatically). */
export class SingleBackend implements Backend {
  readonly mode = 'single' as const;
  readonly at: string;
  readonly #client: NodeClient;
  readonly #master: CheckedMaster;
  readonly #o: BackendOptions;
  readonly #timer: NodeJS.Timeout;

  /** @param client connected, its durability checked (`fsyncAlways`). */
  constructor(client: NodeClient, at: string, fsyncAlways: boolean, replicas: number, o: BackendOptions) {
    this.#client = client;
    this.at = at;
    this.#o = o;
    this.#master = masterState(at, fsyncAlways);
    this.#master.replicas = replicas;
    // A replica attached later must get the writes that follow; one detached stops being waited for.
    this.#timer = setInterval(() => {
      this.#client.sendCommand<string>(['INFO', 'replication']).then((info) => {
        this.#master.replicas = onlineReplicas(info);
      }, () => undefined);
    }, 1000);
    this.#timer.unref();
    clientEpoch(client);
  }

  run<T>(_key: string, args: readonly string[], need: ReplicaNeed, o: RunOptions<T> = {}): Promise<T> {
    if (o.sqn && !this.#master.fsyncAlways) return Promise.reject(notFsyncedError(this.at));
    const client = this.#client;
    const conn = { key: client, send: <R>(a: readonly string[]) => client.sendCommand<R>(a), epoch: () => clientEpoch(client) };
    return writeWithReplicas<T>(conn, this.#master, args, need, this.#o.replicas, o.settle);
  }

  scan(match: string): Promise<string[]> {
    return scanNode((a) => this.#client.sendCommand(a), match);
  }

  async close(): Promise<void> {
    clearInterval(this.#timer);
    await this.#client.close().catch(() => destroyQuietly(this.#client));
  }
}

/**
 * Checks the durability of the server behind `client` (see redis-durability.ts) and reads its role.
 * @returns whether it fsyncs every write, and its online replicas.
 */
export async function prepareSingle(client: NodeClient, at: string, o: BackendOptions): Promise<{ fsyncAlways: boolean; replicas: number }> {
  const fsyncAlways = await checkDurability(client, at, o.assumeDurable, o.keepsSqn);
  const info = await client.sendCommand<string>(['INFO', 'replication']);
  return { fsyncAlways, replicas: onlineReplicas(info) };
}
