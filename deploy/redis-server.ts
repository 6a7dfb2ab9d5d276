/**
 * A real `redis-server` per test file or benchmark run, on a free loopback port, with its data in a fresh temp directory.
 * By default it runs as production must (appendonly yes, appendfsync always); variants exist for the refusal tests.
 */
import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { connect as tlsConnect } from 'node:tls';
import { delimiter, join } from 'node:path';
import { freePort } from './ports.ts';
import { start, type Proc } from './process.ts';

/** A running server. */
export interface RedisServer {
  /** `redis://127.0.0.1:<port>` (`rediss://` with {@link RedisServerOptions.tls}; no password in it) */
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
  /** TLS only: the port is a TLS port (no plain one), with these certificate, key and CA files; clients show no certificate. */
  tls?: { cert: string; key: string; ca: string };
  /** `--requirepass`: every client must AUTH first. */
  password?: string;
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

/** Whether the server on `port` answers: PONG, or NOAUTH when it wants a password first (it is up either way). */
function ping(port: number, tls: RedisServerOptions['tls']): Promise<boolean> {
  return new Promise((resolve) => {
    let s: Socket;
    const hello = (): void => void s.write('PING\r\n');
    if (tls) s = tlsConnect({ host: '127.0.0.1', port, ca: [readFileSync(tls.ca)] }, hello);
    else s = connect(port, '127.0.0.1', hello);
    let got = '';
    s.setTimeout(500, () => s.destroy());
    s.on('data', (d: Buffer) => {
      got += d.toString('latin1');
      if (got.includes('\r\n')) {
        s.destroy();
        resolve(got.startsWith('+PONG') || got.startsWith('-NOAUTH'));
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
  if (opts.tls) {
    args.push('--port', '0', '--tls-port', String(port), '--tls-cert-file', opts.tls.cert, '--tls-key-file', opts.tls.key,
      '--tls-ca-cert-file', opts.tls.ca, '--tls-auth-clients', 'no');
  } else args.push('--port', String(port));
  if (opts.password !== undefined) args.push('--requirepass', opts.password);
  args.push('--bind', '127.0.0.1', '--dir', dir, '--daemonize', 'no', '--protected-mode', 'no');
  if (!opts.configFile?.sentinel) {
    args.push('--save', '', '--appendonly', opts.appendonly ?? 'yes', '--appendfsync', opts.appendfsync ?? 'always');
  }
  if (opts.disableConfig) args.push('--rename-command', 'CONFIG', '');
  if (opts.maxmemoryPolicy) args.push('--maxmemory-policy', opts.maxmemoryPolicy);
  args.push(...(opts.args ?? []));
  const proc = start(bin, args, { cwd: dir });
  const deadline = Date.now() + 10_000;
  while (Date.now() < deadline) {
    if (await ping(port, opts.tls)) return proc;
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
        url: `${opts.tls ? 'rediss' : 'redis'}://127.0.0.1:${port}`,
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
