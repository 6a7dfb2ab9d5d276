/**
 * A real Redis Sentinel group on loopback for the tests: one master, R replicas (`--replicaof`) and S Sentinels
 * (`redis-server <file> --sentinel`) monitoring it under one name, every data node a `redis-server` of
 * deploy/redis-server.ts (appendonly yes, appendfsync always). The master can be killed (`kill -9`);
 * {@link RedisSentinelGroup.waitFailover} waits until the Sentinels name another, online master.
 */
import { startRedisServer, type RedisServer, type RedisServerOptions } from './redis-server.ts';
import { redisCommand, type RedisNodeAccess } from './redis-cluster.ts';

/** How to build the group. */
export interface RedisSentinelOptions {
  /** Replicas of the master (default 1). */
  replicas?: number;
  /** Sentinels (default 1; the quorum is a majority of them). */
  sentinels?: number;
  /** `down-after-milliseconds` (default 1000 ms). */
  downAfterMs?: number;
  /** The monitored master's name (default `mcx`). */
  masterName?: string;
  /**
   * TLS on the data nodes (client ports and replication); the Sentinels keep a plain port, as the store reaches them
   * (lib/store/redis-spec.ts), and speak TLS to the data nodes.
   */
  tls?: RedisServerOptions['tls'];
  /** `requirepass` and `masterauth` of the data nodes (`sentinel auth-pass` for the Sentinels). */
  password?: string;
}

/** A running group. */
export interface RedisSentinelGroup {
  /** `redis+sentinel://127.0.0.1:s1,…/<name>` (`rediss+sentinel://` with TLS; never a password) */
  url: string;
  masterName: string;
  /** The data nodes, the first started as the master. */
  nodes: RedisServer[];
  sentinels: RedisServer[];
  /** Sends one command to the data node on `port` (a fresh connection; TLS and AUTH as the group has them). */
  command<T = unknown>(port: number, args: string[]): Promise<T>;
  /** The port of the master the first live Sentinel names now. */
  masterPort(): Promise<number>;
  /** `kill -9` of the data node on `port`. */
  kill(port: number): Promise<void>;
  /** Starts a killed data node again on its port and directory (the Sentinels make it a replica of the master). */
  restart(port: number): Promise<void>;
  /** Waits until the master the Sentinels name has every live data node as an online replica. */
  waitSynced(timeoutMs?: number): Promise<void>;
  /** Waits until the Sentinels name a master other than `oldPort` that reports role:master. */
  waitFailover(oldPort: number, timeoutMs?: number): Promise<number>;
  /** Stops everything and removes the directories. */
  stop(): Promise<void>;
}

/**
 * Starts the master, its replicas (waiting for their sync) and the Sentinels (waiting until each knows every replica).
 * @throws Error when redis-server is missing or the group does not form within 30 s.
 */
export async function startRedisSentinel(o: RedisSentinelOptions = {}): Promise<RedisSentinelGroup> {
  const name = o.masterName ?? 'mcx';
  const secured: RedisServerOptions = {
    ...(o.tls ? { tls: o.tls } : {}), ...(o.password === undefined ? {} : { password: o.password }),
    args: [...(o.tls ? ['--tls-replication', 'yes'] : []), ...(o.password === undefined ? [] : ['--masterauth', o.password])],
  };
  const access: RedisNodeAccess = { ...(o.tls ? { tls: { ca: o.tls.ca } } : {}), ...(o.password === undefined ? {} : { password: o.password }) };
  /** One command to a data node (TLS and AUTH as the group has them); the Sentinels take plain `redisCommand`. */
  const data = <T>(port: number, args: string[]): Promise<T> => redisCommand<T>(port, args, access);
  const nodes: RedisServer[] = [];
  const sentinels: RedisServer[] = [];
  const down = new Set<number>();
  const stop = async () => {
    for (const s of [...sentinels, ...nodes]) await s.stop().catch(() => undefined);
  };
  const until = async <T>(what: string, check: () => Promise<T | undefined>, timeoutMs = 30_000): Promise<T> => {
    const deadline = Date.now() + timeoutMs;
    let last: unknown;
    while (Date.now() < deadline) {
      try {
        const v = await check();
        if (v !== undefined) return v;
      } catch (e) {
        last = e;
      }
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error(`${what} within ${timeoutMs} ms${last ? `: ${String(last)}` : ''}`);
  };
  try {
    const master = await startRedisServer(secured);
    nodes.push(master);
    for (let i = 0; i < (o.replicas ?? 1); i++) {
      nodes.push(await startRedisServer({ ...secured, args: [...(secured.args ?? []), '--replicaof', '127.0.0.1', String(master.port)] }));
    }
    await until('the replicas did not sync', async () => {
      const info = await data<string>(master.port, ['INFO', 'replication']);
      return (info.match(/state=online/g) ?? []).length === nodes.length - 1 ? true : undefined;
    });
    const count = o.sentinels ?? 1;
    const quorum = Math.floor(count / 2) + 1;
    for (let i = 0; i < count; i++) {
      sentinels.push(await startRedisServer({
        configFile: {
          name: 'sentinel.conf', sentinel: true,
          text: [`sentinel monitor ${name} 127.0.0.1 ${master.port} ${quorum}`, `sentinel down-after-milliseconds ${name} ${o.downAfterMs ?? 1000}`,
            `sentinel failover-timeout ${name} 5000`, `sentinel parallel-syncs ${name} 1`,
            ...(o.password === undefined ? [] : [`sentinel auth-pass ${name} ${o.password}`]),
            // Its own port stays plain; tls-replication makes it speak TLS to the master and replicas it monitors.
            ...(o.tls ? [`tls-cert-file ${o.tls.cert}`, `tls-key-file ${o.tls.key}`, `tls-ca-cert-file ${o.tls.ca}`, 'tls-replication yes'] : []), ''].join('\n'),
        },
      }));
    }
    await until('the Sentinels did not learn the replicas and each other', async () => {
      for (const s of sentinels) {
        const m = await redisCommand<string[]>(s.port, ['SENTINEL', 'MASTER', name]);
        const field = (k: string) => Number(m[m.indexOf(k) + 1]);
        if (field('num-slaves') !== nodes.length - 1 || field('num-other-sentinels') !== count - 1) return undefined;
      }
      return true;
    });
  } catch (e) {
    await stop();
    throw e;
  }
  const masterPort = async () => {
    for (const s of sentinels) {
      try {
        const [, port] = await redisCommand<[string, string]>(s.port, ['SENTINEL', 'GET-MASTER-ADDR-BY-NAME', name]);
        return Number(port);
      } catch {
        // the next Sentinel
      }
    }
    throw new Error('no Sentinel answered');
  };
  return {
    url: `${o.tls ? 'rediss' : 'redis'}+sentinel://${sentinels.map((s) => `127.0.0.1:${s.port}`).join(',')}/${name}`,
    masterName: name,
    nodes,
    sentinels,
    command: (port, args) => data(port, args),
    masterPort,
    async kill(port) {
      const n = nodes.find((x) => x.port === port);
      if (!n) throw new Error(`no data node on port ${port}`);
      down.add(port);
      process.kill(n.pid, 'SIGKILL');
    },
    async restart(port) {
      const n = nodes.find((x) => x.port === port);
      if (!n) throw new Error(`no data node on port ${port}`);
      await n.restart('SIGKILL');
      down.delete(port);
    },
    waitSynced: (timeoutMs = 30_000) => until('the replicas did not sync with the master', async () => {
      const info = await data<string>(await masterPort(), ['INFO', 'replication']);
      return (info.match(/state=online/g) ?? []).length === nodes.length - down.size - 1 ? true : undefined;
    }, timeoutMs).then(() => undefined),
    waitFailover: (oldPort, timeoutMs = 30_000) => until('the Sentinels did not fail the master over', async () => {
      const port = await masterPort();
      if (port === oldPort || down.has(port)) return undefined;
      const info = await data<string>(port, ['INFO', 'replication']);
      return /role:master/.test(info) ? port : undefined;
    }, timeoutMs),
    stop,
  };
}
