/**
 * The store on a Redis Cluster, through node-redis's cluster client (`createCluster`): it maps slots to masters and
 * keeps a connection per master. Every store operation touches one key, so it runs whole on the master of that key's
 * slot; this file routes it there itself (slot → master → that master's connection), so that a write and the WAIT
 * behind it (redis-replicas.ts) go on one connection, and follows `MOVED` (rediscover, retry: the command did not run)
 * and `ASK` (a slot being migrated: `ASKING` + the command on the target).
 *
 * Failover: node-redis learns a new topology only from a `MOVED`, which a dead master never sends; so when a master's
 * connection fails the store asks the cluster for its slots every 200 ms until every master it routes to is
 * connected again (a replica promoted after `cluster-node-timeout`). Meanwhile the operations on that master's slots
 * fail (`ERR_STORE_CONNECT`), the others go on.
 *
 * Durability: every node of the cluster (masters, and the replicas a failover may promote) is checked at open; a
 * master met later (a node added) before its first use.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import calculateSlot from 'cluster-key-slot';
import { createCluster, ErrorReply } from 'redis';
import { StoreError } from './errors.ts';
import {
  addressUrl, clientEpoch, connectOrDrop, destroyQuietly, masterState, reconnectUntil, scanNode, tlsOption, withNode, type Backend, type BackendOptions,
  type CheckedMaster, type NodeClient, type RunOptions,
} from './redis-backend.ts';
import { checkDurability, notFsyncedError } from './redis-durability.ts';
import { clusterReplicas, writeWithReplicas, type ReplicaNeed } from './redis-replicas.ts';
import type { RedisAddress, RedisTarget } from './redis-spec.ts';

/** How many MOVED/ASK redirections one operation follows. */
const MAX_REDIRECTS = 5;
/** Pause between topology reads while a master is unreachable. */
const WATCH_MS = 200;

/** One line of `CLUSTER NODES`, as far as the store needs it. */
interface NodeLine {
  id: string;
  address: RedisAddress;
  master: boolean;
  masterId?: string;
  failed: boolean;
}

function parseNodes(text: string): NodeLine[] {
  const out: NodeLine[] = [];
  for (const line of text.split('\n')) {
    const [id, addr, flags = '', master = '-'] = line.trim().split(' ');
    const m = /^(.*):(\d+)@/.exec(addr ?? '');
    if (!id || !m) continue;
    const f = flags.split(',');
    out.push({
      id, address: { host: (m[1] as string).replace(/^\[(.*)\]$/, '$1'), port: Number(m[2]) }, master: f.includes('master'),
      ...(master === '-' ? {} : { masterId: master }), failed: f.includes('fail') || f.includes('noaddr') || f.includes('handshake'),
    });
  }
  return out;
}

type Cluster = ReturnType<typeof createCluster>;
type Master = Cluster['masters'][number];

/** The cluster client's rediscovery (node-redis keeps it on `_slots`; it is what a MOVED triggers). */
function rediscover(cluster: Cluster, startWith: NodeClient): Promise<void> {
  return (cluster as unknown as { _slots: { rediscover(c: NodeClient): Promise<void> } })._slots.rediscover(startWith);
}

class ClusterBackend implements Backend {
  readonly mode = 'cluster' as const;
  readonly at: string;
  readonly #cluster: Cluster;
  readonly #target: RedisTarget;
  readonly #o: BackendOptions;
  /** Per master address (`host:port`). */
  readonly #masters = new Map<string, CheckedMaster>();
  readonly #checks = new Map<string, Promise<boolean>>();
  readonly #timer: NodeJS.Timeout;
  #watching = false;
  #closed = false;

  constructor(cluster: Cluster, target: RedisTarget, checked: Map<string, boolean>, o: BackendOptions) {
    this.#cluster = cluster;
    this.#target = target;
    this.#o = o;
    this.at = target.display;
    for (const [address, fsync] of checked) this.#checks.set(address, Promise.resolve(fsync));
    cluster.on('node-error', () => void this.#watch());
    this.#timer = setInterval(() => void this.refreshReplicas().catch(() => undefined), 1000);
    this.#timer.unref();
  }

  #state(m: Master): CheckedMaster {
    let s = this.#masters.get(m.address);
    if (!s) {
      s = masterState(addressUrl(m, this.#target.tls));
      this.#masters.set(m.address, s);
    }
    return s;
  }

  /** Whether the master at `address` fsyncs every write; checked once (refused: every later use is refused too). */
  #fsync(m: Master, client: NodeClient): Promise<boolean> {
    let p = this.#checks.get(m.address);
    if (!p) {
      p = checkDurability(client, `${addressUrl(m, this.#target.tls)} (cluster master)`, this.#o.assumeDurable, this.#o.keepsSqn);
      // A check that could not run (connection) is tried again; a refusal stays.
      p.catch((e: unknown) => {
        if (!(e instanceof StoreError)) this.#checks.delete(m.address);
      });
      this.#checks.set(m.address, p);
    }
    return p;
  }

  /** Per master: the replicas the cluster lists and has not failed (`CLUSTER NODES` of any master). */
  async refreshReplicas(): Promise<void> {
    if (this.#closed) return;
    const text = await this.#cluster.sendCommand<string>(undefined, true, ['CLUSTER', 'NODES']);
    const counts = clusterReplicas(text);
    for (const m of this.#cluster.masters) this.#state(m).replicas = counts.get(m.id) ?? 0;
  }

  /** While some master is unreachable, reads the topology again (a promoted replica takes over its slots). */
  async #watch(): Promise<void> {
    if (this.#watching || this.#closed) return;
    this.#watching = true;
    try {
      while (!this.#closed) {
        await new Promise((r) => setTimeout(r, WATCH_MS).unref());
        const masters = this.#cluster.masters;
        if (masters.length > 0 && masters.every((m) => m.client?.isReady)) break;
        const start = (masters.find((m) => m.client?.isReady) ?? masters.find((m) => m.client))?.client;
        if (!start || this.#closed) continue;
        await rediscover(this.#cluster, start as unknown as NodeClient).catch(() => undefined);
        await this.refreshReplicas().catch(() => undefined);
      }
    } finally {
      this.#watching = false;
    }
  }

  /** The master's connection, once connected (a new one while it connects: its commands would be refused meanwhile). */
  async #client(m: Master): Promise<NodeClient> {
    return await this.#cluster.nodeClient(m) as unknown as NodeClient;
  }

  /** The master serving `slot` as last discovered. */
  #slotMaster(slot: number): Master {
    const master = this.#cluster.slots[slot]?.master;
    if (!master) throw new StoreError('ERR_STORE_CONNECT', `${this.at}: slot ${slot} is served by no known master`);
    return master;
  }

  async run<T>(key: string, args: readonly string[], need: ReplicaNeed, o: RunOptions<T> = {}): Promise<T> {
    const slot = calculateSlot(key);
    let master = this.#slotMaster(slot);
    let asking = false;
    for (let redirects = 0; ; redirects++) {
      const client = await this.#client(master);
      const fsync = await this.#fsync(master, client);
      if (o.sqn && !fsync) throw notFsyncedError(addressUrl(master, this.#target.tls));
      const timeout = Math.max(this.#o.commandTimeoutMs, this.#o.replicas.timeoutMs + 1000);
      const conn = {
        key: client,
        send: <R>(a: readonly string[]) => client.sendCommand<R>(a, { timeout }),
        epoch: () => clientEpoch(client),
      };
      try {
        // ASKING and the command must be adjacent on the connection: both are enqueued in this synchronous stretch.
        if (asking) void client.sendCommand(['ASKING'], { timeout }).catch(() => undefined);
        return await writeWithReplicas<T>(conn, this.#state(master), args, need, this.#o.replicas, o.settle);
      } catch (e) {
        if (!(e instanceof ErrorReply) || redirects >= MAX_REDIRECTS) throw e;
        const ask = /^ASK \d+ (\S+)$/.exec(e.message);
        if (ask) {
          const to = this.#cluster.nodeByAddress.get(ask[1] as string);
          if (!to) throw e;
          master = to as Master;
          asking = true;
          continue;
        }
        if (!e.message.startsWith('MOVED ')) throw e;
        await rediscover(this.#cluster, client);
        master = this.#slotMaster(slot);
        asking = false;
      }
    }
  }

  async scan(match: string): Promise<string[]> {
    const out: string[] = [];
    for (const m of this.#cluster.masters) {
      const client = await this.#client(m);
      out.push(...await scanNode((a) => client.sendCommand(a), match));
    }
    return out;
  }

  async close(): Promise<void> {
    this.#closed = true;
    clearInterval(this.#timer);
    // A graceful close waits for the replies of every master, and a dead one never sends them.
    const closed = await Promise.race([this.#cluster.close().then(() => true, () => false), sleep(2000, false, { ref: false })]);
    if (!closed) destroyQuietly(this.#cluster);
  }
}

/**
 * Opens the cluster seeded by `seeds`: reads `CLUSTER NODES` from the first that answers, checks the durability of
 * every node it lists (replicas too: a failover may promote them), and connects the cluster client with every node
 * as a seed (so a later rediscovery finds the cluster while the original seed is down).
 * @throws StoreError `ERR_STORE_CONNECT` when no seed answers within the connect timeout, `ERR_STORE_NOT_DURABLE`
 *   for a node that can lose acknowledged writes (naming it).
 */
export async function openClusterBackend(target: RedisTarget, seeds: RedisAddress[], o: BackendOptions): Promise<Backend> {
  let lines: NodeLine[] | undefined;
  let last: unknown;
  for (const seed of seeds) {
    try {
      lines = parseNodes(await withNode(seed, target, o.connectTimeoutMs, (c) => c.sendCommand<string>(['CLUSTER', 'NODES'])));
      break;
    } catch (e) {
      last = e;
    }
  }
  if (!lines) throw new StoreError('ERR_STORE_CONNECT', `cannot reach any node of ${target.display}: ${(last as Error)?.message}`, { cause: last });
  const checked = new Map<string, boolean>();
  const byId = new Map(lines.map((l) => [l.id, l]));
  for (const l of lines.filter((x) => !x.failed)) {
    const of = l.masterId === undefined ? undefined : byId.get(l.masterId);
    const at = `${addressUrl(l.address, target.tls)} (${l.master ? 'cluster master' : `replica of ${of ? addressUrl(of.address) : l.masterId}`})`;
    try {
      const fsync = await withNode(l.address, target, o.connectTimeoutMs, (c) => checkDurability(c, at, o.assumeDurable, o.keepsSqn));
      checked.set(`${l.address.host}:${l.address.port}`, fsync);
    } catch (e) {
      if (e instanceof StoreError) throw e;
      // Unreachable now: checked when it first serves as a master.
      o.logger.warn({ redis: at, err: e }, 'store: cannot check a cluster node now');
    }
  }
  const roots = [...seeds, ...lines.filter((l) => !l.failed).map((l) => l.address)];
  const deadline = Date.now() + o.connectTimeoutMs;
  let connected = false;
  const cluster = createCluster({
    rootNodes: roots.map((a) => ({ socket: { host: a.host, port: a.port, ...tlsOption(target.tls) } })),
    defaults: {
      // A master that is down fails its operations at once, not after the command timeout: the failover (or the
      // caller's retry) is what brings them back, and a SIP transaction should not wait for it.
      disableOfflineQueue: true,
      ...(target.username === undefined ? {} : { username: target.username }), ...(target.password === undefined ? {} : { password: target.password }),
      socket: { ...tlsOption(target.tls), connectTimeout: o.connectTimeoutMs, reconnectStrategy: reconnectUntil(deadline, () => connected) },
    },
    commandOptions: { timeout: o.commandTimeoutMs },
  });
  cluster.on('error', (e: Error) => {
    if (connected) o.logger.warn({ err: e, redis: target.display }, 'store: Redis Cluster error');
  });
  await connectOrDrop(cluster, cluster.connect(), target);
  connected = true;
  const backend = new ClusterBackend(cluster, target, checked, o);
  try {
    // Before the first write: which masters have replicas to wait for.
    await backend.refreshReplicas();
  } catch (e) {
    await backend.close();
    throw new StoreError('ERR_STORE_CONNECT', `cannot read the topology of ${target.display}: ${(e as Error).message}`, { cause: e });
  }
  return backend;
}
