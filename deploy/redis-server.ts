/**
 * A real `redis-server` per test file or benchmark run, on a free loopback port, with its data in a fresh temp directory.
 * By default it runs as production must (appendonly yes, appendfsync always); variants exist for the refusal tests.
 */
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { freePort } from './ports.ts';
import { start, type Proc } from './process.ts';

/** A running server. */
export interface RedisServer {
  /** `redis://127.0.0.1:<port>` */
  url: string;
  port: number;
  /** Its `--dir` (removed by `stop()`). */
  dir: string;
  /** The server's process id now (a restart changes it). */
  readonly pid: number;
  /**
   * Kills the server with `signal` and starts it again on the same port and directory (data reloaded from the AOF),
   * running `beforeStart` in between (a test that puts back older files: a crash that lost the last writes).
   */
  restart(signal?: NodeJS.Signals, beforeStart?: () => Promise<void>): Promise<void>;
  /** Stops the server and removes its directory. */
  stop(): Promise<void>;
}

/** How to start the server; the defaults are the production settings the store insists on. */
export interface RedisServerOptions {
  appendonly?: 'yes' | 'no';
  appendfsync?: 'always' | 'everysec' | 'no';
  /** true: `rename-command CONFIG ""`, as managed Redis services do. */
  disableConfig?: boolean;
  maxmemoryPolicy?: string;
  /** More `redis-server` arguments (`--cluster-enabled yes`, `--replicaof h p`, …), after the ones above. */
  args?: readonly string[];
  /** The port; default a free one (a cluster node needs a second one, for its bus, chosen with it). */
  port?: number;
  /** Where the server runs: a file that `--sentinel` mode reads, written into the fresh directory before it starts. */
  configFile?: { name: string; text: string; sentinel?: boolean };
}

/**
 * Path of `redis-server`.
 * @throws Error naming the Debian package when it is not installed.
 */
export function redisServerPath(): string {
  const dirs = [...(process.env.PATH ?? '').split(delimiter), '/usr/bin', '/usr/sbin', '/usr/local/bin'];
  for (const d of dirs) {
    const p = join(d, 'redis-server');
    if (d && existsSync(p)) return p;
  }
  throw new Error('redis-server not found: install the Debian package redis-server (scripts/debian-peers.sh does, as root)');
}

function ping(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect(port, '127.0.0.1');
    let got = '';
    s.setTimeout(500, () => s.destroy());
    s.on('connect', () => s.write('PING\r\n'));
    s.on('data', (d) => {
      got += d.toString('latin1');
      if (got.includes('\r\n')) {
        s.destroy();
        resolve(got.startsWith('+PONG'));
      }
    });
    s.on('error', () => resolve(false));
    s.on('close', () => resolve(false));
  });
}

async function launch(opts: RedisServerOptions, port: number, dir: string): Promise<Proc> {
  const bin = redisServerPath();
  const args: string[] = [];
  if (opts.configFile) {
    const file = join(dir, opts.configFile.name);
    // Sentinel rewrites its file (the monitored master, the known replicas): only written at the first start.
    if (!existsSync(file)) await writeFile(file, opts.configFile.text);
    args.push(file, ...(opts.configFile.sentinel ? ['--sentinel'] : []));
  }
  args.push('--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--daemonize', 'no', '--protected-mode', 'no');
  if (!opts.configFile?.sentinel) {
    args.push('--save', '', '--appendonly', opts.appendonly ?? 'yes', '--appendfsync', opts.appendfsync ?? 'always');
  }
  if (opts.disableConfig) args.push('--rename-command', 'CONFIG', '');
  if (opts.maxmemoryPolicy) args.push('--maxmemory-policy', opts.maxmemoryPolicy);
  args.push(...(opts.args ?? []));
  const proc = start(bin, args, { cwd: dir });
  const deadline = Date.now() + 10_000;
  while (Date.now() < deadline) {
    if (await ping(port)) return proc;
    if (proc.child.exitCode !== null) break;
    await new Promise((r) => setTimeout(r, 20));
  }
  await proc.stop('SIGKILL');
  throw new Error(`redis-server on port ${port} did not answer PING; output:\n${proc.output().slice(-2000)}`);
}

/**
 * Starts `redis-server` and waits until it answers PING. A port lost to a race with another process is retried.
 * @throws Error when redis-server is missing or does not come up.
 */
export async function startRedisServer(opts: RedisServerOptions = {}): Promise<RedisServer> {
  let last: unknown;
  for (let attempt = 0; attempt < 3; attempt++) {
    const dir = await mkdtemp(join(tmpdir(), 'mcx-redis-'));
    const port = opts.port ?? await freePort();
    try {
      let proc = await launch(opts, port, dir);
      return {
        url: `redis://127.0.0.1:${port}`,
        port,
        dir,
        get pid() {
          return proc.child.pid ?? 0;
        },
        async restart(signal = 'SIGKILL', beforeStart) {
          await proc.stop(signal);
          await beforeStart?.();
          proc = await launch(opts, port, dir);
        },
        async stop() {
          await proc.stop('SIGTERM');
          await rm(dir, { recursive: true, force: true });
        },
      };
    } catch (e) {
      await rm(dir, { recursive: true, force: true });
      last = e;
      if (!/Address already in use/i.test(String(e)) || opts.port !== undefined) throw e;
    }
  }
  throw last;
}

/** A server with `appendfsync everysec` (Redis's default), which the store must refuse. */
export function startEverysecRedisServer(): Promise<RedisServer> {
  return startRedisServer({ appendfsync: 'everysec' });
}
