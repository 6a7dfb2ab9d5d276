/**
 * The store on the master that Redis Sentinels monitor under a name, through node-redis's Sentinel client
 * (`createSentinel`): it asks the Sentinels for the master, follows `+switch-master`, and reconnects to the promoted
 * replica after a failover. The store keeps one reserved connection to the master (so a write and the WAIT behind it
 * share it, redis-replicas.ts) and lets node-redis retry nothing itself: a command that fails with the connection is
 * reported, never sent again on another one (a WAIT re-sent on a fresh connection would acknowledge nothing).
 *
 * Durability: the master and the replicas the Sentinels know are checked at open; a master met after a failover is
 * checked before its first use. The replicas to wait for are those the Sentinels list and do not deem down (read
 * every second), so a replica cut off from the master still makes its writes wait — and fail — until the Sentinels
 * give it up.
 */
import { createSentinel } from 'redis';
import { StoreError } from './errors.ts';
import {
  addressUrl, connectOrDrop, destroyQuietly, masterState, reconnectUntil, scanNode, tlsOption, withNode, type Backend, type BackendOptions,
  type CheckedMaster, type NodeClient, type RunOptions,
} from './redis-backend.ts';
import { checkDurability, notFsyncedError } from './redis-durability.ts';
import { onlineReplicas, writeWithReplicas, type ReplicaNeed } from './redis-replicas.ts';
import type { RedisAddress, RedisTarget } from './redis-spec.ts';

type Sentinel = ReturnType<typeof createSentinel>;
type SentinelTarget = Extract<RedisTarget, { mode: 'sentinel' }>;

class SentinelBackend implements Backend {
  readonly mode = 'sentinel' as const;
  readonly at: string;
  readonly #sentinel: Sentinel;
  readonly #o: BackendOptions;
  readonly #target: SentinelTarget;
  #master: CheckedMaster;
  #check: Promise<boolean> | undefined;
  /** Errors of the master connection and topology changes: a WAIT after one may be on another connection. */
  #epoch = 0;
  readonly #timer: NodeJS.Timeout;

  constructor(sentinel: Sentinel, target: SentinelTarget, o: BackendOptions) {
    this.#sentinel = sentinel;
    this.#target = target;
    this.#o = o;
    this.at = target.display;
    this.#master = this.#fresh();
    sentinel.on('error', () => this.#epoch++);
    sentinel.on('topology-change', (event: { type?: string }) => {
      this.#epoch++;
      // A new master: its durability and replicas are read again before the next write.
      if (event.type === 'MASTER_CHANGE') {
        this.#master = this.#fresh();
        this.#check = undefined;
        o.logger.warn({ redis: this.#master.at }, 'store: Sentinel switched the master');
      }
    });
    this.#timer = setInterval(() => void this.refreshReplicas().catch(() => undefined), 1000);
    this.#timer.unref();
  }

  #fresh(): CheckedMaster {
    const m = this.#sentinel.getMasterNode();
    return masterState(m ? `${addressUrl(m, this.#target.tls)} (master ${this.#target.masterName})` : this.#target.display);
  }

  #send<T>(args: readonly string[]): Promise<T> {
    const timeout = Math.max(this.#o.commandTimeoutMs, this.#o.replicas.timeoutMs + 1000);
    return this.#sentinel.sendCommand<T>(false, args as string[], { timeout });
  }

  /**
   * The replicas a failover may promote: those the Sentinels list and do not deem down — one that merely lost its
   * link to the master still counts (the Sentinels may promote it without what the master wrote since) — or, when no
   * Sentinel answers, the master's online ones.
   */
  async refreshReplicas(): Promise<void> {
    const master = this.#master;
    const online = onlineReplicas(await this.#send<string>(['INFO', 'replication']));
    const listed = await sentinelReplicas(this.#target, this.#o.connectTimeoutMs).then((rs) => rs.filter((r) => !r.down).length, () => 0);
    master.replicas = Math.max(online, listed);
  }

  #fsync(): Promise<boolean> {
    if (!this.#check) {
      const p = checkDurability({ sendCommand: (a) => this.#send(a) }, this.#master.at, this.#o.assumeDurable, this.#o.keepsSqn);
      p.catch((e: unknown) => {
        if (!(e instanceof StoreError) && this.#check === p) this.#check = undefined;
      });
      this.#check = p;
    }
    return this.#check;
  }

  async run<T>(_key: string, args: readonly string[], need: ReplicaNeed, o: RunOptions<T> = {}): Promise<T> {
    const master = this.#master;
    const fsync = await this.#fsync();
    if (o.sqn && !fsync) throw notFsyncedError(master.at);
    const conn = { key: this.#sentinel, send: <R>(a: readonly string[]) => this.#send<R>(a), epoch: () => this.#epoch };
    return writeWithReplicas<T>(conn, master, args, need, this.#o.replicas, o.settle);
  }

  scan(match: string): Promise<string[]> {
    return scanNode((a) => this.#send(a), match);
  }

  async close(): Promise<void> {
    clearInterval(this.#timer);
    await this.#sentinel.close().catch(() => destroyQuietly(this.#sentinel));
  }
}

/** A replica as a Sentinel lists it (`SENTINEL REPLICAS`). */
interface SentinelReplica extends RedisAddress {
  /** Subjectively or objectively down: the Sentinels would not promote it. */
  down: boolean;
  /** The Sentinel's link to it is down (it may still be promoted once back). */
  unlinked: boolean;
}

/**
 * The replicas the first Sentinel that answers lists for the master.
 * @throws Error when no Sentinel answers.
 */
async function sentinelReplicas(target: SentinelTarget, timeoutMs: number): Promise<SentinelReplica[]> {
  let last: unknown;
  for (const s of target.sentinels) {
    try {
      const rows = await withNode(s, { ...target, tls: false, username: undefined, password: undefined } as RedisTarget, timeoutMs,
        (c) => c.sendCommand<string[][]>(['SENTINEL', 'REPLICAS', target.masterName]));
      return rows.map((row) => {
        const field = (k: string) => row[row.indexOf(k) + 1] ?? '';
        const flags = field('flags');
        return { host: field('ip'), port: Number(field('port')), down: /s_down|o_down/.test(flags), unlinked: /disconnected/.test(flags) };
      }).filter((r) => r.port > 0);
    } catch (e) {
      last = e;
    }
  }
  throw new Error(`no Sentinel answered SENTINEL REPLICAS: ${(last as Error)?.message}`);
}

/**
 * Opens the master the Sentinels of `target` name, checks it and the replicas they know.
 * @throws StoreError `ERR_STORE_CONNECT` when neither the Sentinels nor the master answer within the connect timeout,
 *   `ERR_STORE_NOT_DURABLE` for a master or replica that can lose acknowledged writes (naming it).
 */
export async function openSentinelBackend(target: SentinelTarget, o: BackendOptions): Promise<Backend> {
  const deadline = Date.now() + o.connectTimeoutMs;
  let connected = false;
  const auth = { ...(target.username === undefined ? {} : { username: target.username }), ...(target.password === undefined ? {} : { password: target.password }) };
  const sentinel = createSentinel({
    name: target.masterName,
    sentinelRootNodes: target.sentinels,
    nodeClientOptions: {
      ...auth, ...(target.database === 0 ? {} : { database: target.database }),
      socket: { ...tlsOption(target.tls), connectTimeout: o.connectTimeoutMs, reconnectStrategy: reconnectUntil(deadline, () => connected) },
    },
    sentinelClientOptions: { socket: { connectTimeout: o.connectTimeoutMs, reconnectStrategy: reconnectUntil(deadline, () => connected) } },
    reserveClient: true,
    // The master connection's errors reach the 'error' listeners: they mark a new epoch (see run()).
    passthroughClientErrorEvents: true,
    maxCommandRediscovers: 0,
    commandOptions: { timeout: o.commandTimeoutMs },
  });
  sentinel.on('error', (e: unknown) => {
    if (connected) o.logger.warn({ err: e, redis: target.display }, 'store: Redis Sentinel error');
  });
  const timeout = new Promise<never>((_, reject) => {
    setTimeout(() => reject(new Error(`no answer within ${o.connectTimeoutMs} ms`)), o.connectTimeoutMs).unref();
  });
  await connectOrDrop(sentinel, Promise.race([sentinel.connect(), timeout]), target);
  connected = true;
  const backend = new SentinelBackend(sentinel, target, o);
  try {
    await backend.run('', ['PING'], 'none');
    const replicas = await sentinelReplicas(target, o.connectTimeoutMs).catch(() => []);
    for (const replica of replicas.filter((r) => !r.down && !r.unlinked)) {
      const at = `${addressUrl(replica, target.tls)} (replica of ${target.masterName})`;
      await withNode(replica, target, o.connectTimeoutMs, (c: NodeClient) => checkDurability(c, at, o.assumeDurable, o.keepsSqn)).catch((e: unknown) => {
        if (e instanceof StoreError) throw e;
        o.logger.warn({ redis: at, err: e }, 'store: cannot check a replica now');
      });
    }
    await backend.refreshReplicas();
  } catch (e) {
    await backend.close();
    if (e instanceof StoreError) throw e;
    throw new StoreError('ERR_STORE_CONNECT', `cannot prepare ${target.display}: ${(e as Error).message}`, { cause: e });
  }
  return backend;
}
