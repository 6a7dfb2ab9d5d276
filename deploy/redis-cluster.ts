/**
 * A real Redis Cluster on loopback for the tests and the benchmarks: N masters (and R replicas each), every node a
 * `redis-server` of deploy/redis-server.ts (appendonly yes, appendfsync always unless asked otherwise) with
 * `cluster-enabled yes` on two free ports (client and bus), joined by `redis-cli --cluster create`. A node can be
 * killed (`kill -9`) and started again; {@link RedisCluster.waitHealthy} waits until every slot is served by a live
 * master (a replica promoted after `cluster-node-timeout`).
 */
import { execFile } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import { promisify } from 'node:util';
import { createClient } from 'redis';
import { freePort } from './ports.ts';
import { startRedisServer, type RedisServer, type RedisServerOptions } from './redis-server.ts';

const run = promisify(execFile);

/** How to build the cluster. */
export interface RedisClusterOptions {
  /** Masters (default 3: the smallest cluster `redis-cli --cluster create` accepts). */
  masters?: number;
  /** Replicas of each master (default 0). */
  replicasPerMaster?: number;
  /** `cluster-node-timeout`: how long a silent master takes to be failed over (default 1000 ms; Redis's is 15 s). */
  nodeTimeoutMs?: number;
  /** appendfsync of every node (default always). */
  appendfsync?: RedisServerOptions['appendfsync'];
  /** TLS everywhere: each node's client port, its cluster bus and replication (the files of every node). */
  tls?: RedisServerOptions['tls'];
  /** `requirepass` and `masterauth` of every node. */
  password?: string;
}

/** How a helper reaches a node: TLS (with the CA file) and a password, when the cluster has them. */
export interface RedisNodeAccess {
  tls?: { ca: string };
  password?: string;
}

/** One line of `CLUSTER NODES`. */
export interface ClusterNodeView {
  id: string;
  port: number;
  role: 'master' | 'replica';
  /** For a replica, its master's id. */
  masterId?: string;
  /** `fail` or `fail?` among its flags. */
  failing: boolean;
  /** Slot ranges served (masters). */
  slots: number;
}

/** A running cluster. */
export interface RedisCluster {
  /** `redis+cluster://127.0.0.1:p1,127.0.0.1:p2,…` (every node; `rediss+cluster://` with TLS; never a password). */
  url: string;
  /** Every node, in creation order: the first `masters` were created as masters. */
  nodes: RedisServer[];
  /** The node on `port`. */
  node(port: number): RedisServer;
  /** `CLUSTER NODES` as a live node sees it. */
  view(): Promise<ClusterNodeView[]>;
  /** Ports of the masters that serve slots now, as a live node sees it. */
  masterPorts(): Promise<number[]>;
  /** Sends one command to the node on `port` (a fresh connection). */
  command<T = unknown>(port: number, args: string[]): Promise<T>;
  /** `kill -9` of the node on `port`; it stays down until {@link RedisCluster.restart}. */
  kill(port: number): Promise<void>;
  /** Starts a killed node again on its port and directory (its nodes.conf makes it rejoin). */
  restart(port: number): Promise<void>;
  /**
   * Waits until every live node reports cluster_state:ok, every slot is served by a master that is not failing, and
   * every live replica's link to its master is up.
   */
  waitHealthy(timeoutMs?: number): Promise<void>;
  /** Stops every node and removes their directories. */
  stop(): Promise<void>;
}

/**
 * Path of `redis-cli`.
 * @throws Error naming the Debian package when it is not installed.
 */
export function redisCliPath(): string {
  for (const d of [...(process.env.PATH ?? '').split(delimiter), '/usr/bin', '/usr/local/bin']) {
    const p = join(d, 'redis-cli');
    if (d && existsSync(p)) return p;
  }
  throw new Error('redis-cli not found: install the Debian package redis-tools (redis-server depends on it)');
}

/** Sends one command to 127.0.0.1:`port` on a fresh connection (over TLS and with a password as `access` says). */
export async function redisCommand<T = unknown>(port: number, args: string[], access: RedisNodeAccess = {}): Promise<T> {
  const socket = { host: '127.0.0.1', port, connectTimeout: 2000, reconnectStrategy: false as const };
  const c = createClient({
    socket: access.tls ? { ...socket, tls: true as const, ca: [readFileSync(access.tls.ca)] } : socket,
    ...(access.password === undefined ? {} : { password: access.password }),
  });
  c.on('error', () => undefined);
  await c.connect();
  try {
    return await c.sendCommand<T>(args);
  } finally {
    c.destroy();
  }
}

/** Parses `CLUSTER NODES`. */
export function parseClusterNodes(text: string): ClusterNodeView[] {
  return text.trim().split('\n').filter(Boolean).map((line) => {
    const [id = '', addr = '', flags = '', master = '-', , , , , ...slots] = line.split(' ');
    const f = flags.split(',');
    return {
      id, port: Number(/:(\d+)@/.exec(addr)?.[1] ?? 0), role: f.includes('master') ? 'master' : 'replica',
      ...(master === '-' ? {} : { masterId: master }), failing: f.includes('fail') || f.includes('fail?'),
      slots: slots.length,
    } satisfies ClusterNodeView;
  });
}

/** `redis-cli` options for `access`. */
function cliAccess(access: RedisNodeAccess): string[] {
  return [...(access.tls ? ['--tls', '--cacert', access.tls.ca] : []), ...(access.password === undefined ? [] : ['--no-auth-warning', '-a', access.password])];
}

async function until(what: string, timeoutMs: number, check: () => Promise<string | undefined>): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last: string | undefined = 'not checked';
  while (Date.now() < deadline) {
    last = await check().catch((e: unknown) => String(e));
    if (last === undefined) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${what} within ${timeoutMs} ms: ${last}`);
}

/**
 * Starts `masters × (1 + replicasPerMaster)` cluster nodes and joins them; resolves once the cluster is healthy.
 * @throws Error when redis-server or redis-cli is missing or the cluster does not form.
 */
export async function startRedisCluster(o: RedisClusterOptions = {}): Promise<RedisCluster> {
  const masters = o.masters ?? 3;
  const replicas = o.replicasPerMaster ?? 0;
  const access: RedisNodeAccess = { ...(o.tls ? { tls: { ca: o.tls.ca } } : {}), ...(o.password === undefined ? {} : { password: o.password }) };
  const command = <T>(port: number, args: string[]): Promise<T> => redisCommand<T>(port, args, access);
  const nodes: RedisServer[] = [];
  const down = new Set<number>();
  const stopAll = async () => {
    for (const n of nodes) await n.stop().catch(() => undefined);
  };
  try {
    for (let i = 0; i < masters * (1 + replicas); i++) {
      const bus = await freePort();
      let port = await freePort();
      while (port === bus) port = await freePort();
      nodes.push(await startRedisServer({
        port, appendfsync: o.appendfsync ?? 'always',
        ...(o.tls ? { tls: o.tls } : {}), ...(o.password === undefined ? {} : { password: o.password }),
        args: ['--cluster-enabled', 'yes', '--cluster-port', String(bus), '--cluster-config-file', 'nodes.conf',
          '--cluster-node-timeout', String(o.nodeTimeoutMs ?? 1000), '--appendfilename', 'appendonly.aof',
          ...(o.tls ? ['--tls-cluster', 'yes', '--tls-replication', 'yes'] : []),
          ...(o.password === undefined ? [] : ['--masterauth', o.password])],
      }));
    }
    await run(redisCliPath(), [...cliAccess(access), '--cluster', 'create', ...nodes.map((n) => `127.0.0.1:${n.port}`),
      '--cluster-replicas', String(replicas), '--cluster-yes'], { timeout: 60_000 });
  } catch (e) {
    await stopAll();
    throw e;
  }
  const live = () => nodes.filter((n) => !down.has(n.port));
  const cluster: RedisCluster = {
    url: `${o.tls ? 'rediss' : 'redis'}+cluster://${nodes.map((n) => `127.0.0.1:${n.port}`).join(',')}`,
    nodes,
    node(port) {
      const n = nodes.find((x) => x.port === port);
      if (!n) throw new Error(`no cluster node on port ${port}`);
      return n;
    },
    async view() {
      let last: unknown;
      for (const n of live()) {
        try {
          return parseClusterNodes(await command<string>(n.port, ['CLUSTER', 'NODES']));
        } catch (e) {
          last = e;
        }
      }
      throw new Error(`no live cluster node answered CLUSTER NODES: ${String(last)}`);
    },
    async masterPorts() {
      return (await cluster.view()).filter((n) => n.role === 'master' && n.slots > 0 && !n.failing).map((n) => n.port).sort((a, b) => a - b);
    },
    command: (port, args) => command(port, args),
    async kill(port) {
      const n = cluster.node(port);
      down.add(port);
      process.kill(n.pid, 'SIGKILL');
      await until(`node ${port} did not die`, 5000, async () => {
        try {
          process.kill(n.pid, 0);
          return 'still running';
        } catch {
          return undefined;
        }
      });
    },
    async restart(port) {
      // restart() kills what is left (nothing) and launches again on the same port and directory.
      await cluster.node(port).restart('SIGKILL');
      down.delete(port);
    },
    async waitHealthy(timeoutMs = 30_000) {
      await until('the cluster did not become healthy', timeoutMs, async () => {
        for (const n of live()) {
          const info = await command<string>(n.port, ['CLUSTER', 'INFO']);
          if (!/cluster_state:ok/.test(info)) return `${n.port}: ${/cluster_state:\w+/.exec(info)?.[0]}`;
          if (!/cluster_slots_ok:16384/.test(info)) return `${n.port}: ${/cluster_slots_ok:\d+/.exec(info)?.[0]}`;
        }
        const view = await cluster.view();
        const serving = view.filter((v) => v.role === 'master' && v.slots > 0);
        const bad = serving.find((v) => v.failing || down.has(v.port));
        if (bad) return `master ${bad.port} serves slots but is down`;
        for (const v of view.filter((x) => x.role === 'replica' && !down.has(x.port))) {
          const repl = await command<string>(v.port, ['INFO', 'replication']);
          if (!/master_link_status:up/.test(repl)) return `replica ${v.port} is not in sync`;
        }
        return undefined;
      });
    },
    stop: stopAll,
  };
  try {
    await cluster.waitHealthy();
  } catch (e) {
    await stopAll();
    throw e;
  }
  return cluster;
}
