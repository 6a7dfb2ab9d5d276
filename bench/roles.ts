/**
 * How the bench starts what it measures: every role a separate `mcx` process as a user runs it (README: Commands),
 * at log level `warn` (so the figure is not one of pino writing a line per request), each with its state in the
 * run's temp folder or in a private `redis-server` (appendonly yes, appendfsync always, as the store insists).
 * With `--profile DIR` every role runs under `node --cpu-prof --cpu-prof-dir DIR/<deployment>-<role>[-redis]` and is
 * stopped with SIGTERM, which the roles answer by closing and exiting normally: Node writes the profile on that exit.
 */
import { join } from 'node:path';
import { startMcx, type Proc } from '../deploy/process.ts';
import { startRedisServer } from '../deploy/redis-server.ts';
import { Teardown, type StopStage } from '../lib/lifecycle.ts';
import type { Measured } from './proc-stat.ts';
import type { LoadUser } from './sipp-load.ts';

/** The systems under test, as `--targets` names them. */
export const TARGET_NAMES = ['static', 'dynamic', 'direct', 'kamailio'] as const;
export type TargetName = (typeof TARGET_NAMES)[number];

/** Where the roles keep their state. */
export type StoreKind = 'memory' | 'redis';

/**
 * What the bench started (processes, redis-server, temp folders), stopped last started first, once, through the
 * roles' own stop mechanism (lib/lifecycle.ts): something added after the stop began is stopped at once, so a SIGINT
 * during a start leaves nothing behind. The bench's processes have no stages of their own, so all are one stage.
 */
export class Stopper extends Teardown {
  /** Registers `stop` (or runs it, if this stopper is already stopping). */
  override add(stop: (() => Promise<unknown>) | StopStage, close?: () => Promise<unknown>): void {
    if (typeof stop === 'function') super.add('listeners', stop);
    else if (close) super.add(stop, close);
  }

  /** Runs every registered stop, last added first; a failure does not keep the rest from stopping. */
  stop(): Promise<void> {
    return this.run();
  }
}

/** What every start needs to know about the run. */
export interface BenchContext {
  /** The run's temp folder (state directories, PKI, SIPp files). */
  dir: string;
  store: StoreKind;
  /** Hex K, OP (not OPc) and AMF of every subscriber: SIPp takes one set of keys per scenario. */
  keys: { k: string; op: string; amf: string };
  /** Subscribers per target (each SIPp process registers its share in turn). */
  users: number;
  /** `--profile DIR`, or undefined. */
  profileDir: string | undefined;
  /** `--trace DIR`, or undefined. */
  traceDir?: string | undefined;
  /** Progress lines (stderr). */
  say(line: string): void;
}

/** A system under test, started: where SIPp sends, as whom, and which processes carry the registration. */
export interface Target {
  name: TargetName;
  /** e.g. `registrar → partner MMS → relay → HSS (mutual TLS)`. */
  label: string;
  /** HOST:PORT of the SIP listener (UDP). */
  sip: string;
  /** How SIPp sends to it (default `udp`: one socket per SIPp process; see sipp-load.ts). */
  sipTransport?: 'udp' | 'udp-per-call';
  /** The SIP domain of the users. */
  domain: string;
  users: LoadUser[];
  /** The processes a registration crosses, in path order: their CPU sums to the chain figure. */
  chain: Measured[];
  /** Other processes the target started (idle roles, redis-server): reported, not summed. */
  aux: Measured[];
  /** Seconds from spawn to ready line, per role. */
  readyS: Record<string, number>;
}

/** A started group of processes serving one or more targets. */
export interface Deployment {
  targets: Target[];
  /** Stops every process of the deployment (idempotent). */
  stop(): Promise<void>;
}

/** A role process and the groups of its ready line. */
export interface StartedRole {
  proc: Proc;
  match: RegExpExecArray;
  measured: Measured;
  /** Seconds from spawn to the ready line. */
  readyS: number;
}

/**
 * Starts `mcx <args>` as role `name` of `deployment`, registers its stop with `stopper` and waits for its ready line.
 * @throws when it exits or stays silent for `readyMs` (the error holds the end of its output).
 */
export async function startRole(ctx: BenchContext, stopper: Stopper, deployment: string, name: string, args: string[], ready: RegExp, readyMs = 30_000): Promise<StartedRole> {
  const profile = ctx.profileDir ? join(ctx.profileDir, `${deployment}-${name}${ctx.store === 'redis' ? '-redis' : ''}`) : undefined;
  const traced = ctx.traceDir !== undefined && ['hss', 'relay', 'mms', 'registrar'].includes(args[0] as string)
    ? ['--trace', join(ctx.traceDir, `${deployment}-${name}${ctx.store === 'redis' ? '-redis' : ''}.pcapng`)] : [];
  // MCX_BENCH_NODE_ARGS: further Node/V8 flags for every role (e.g. `--perf-basic-prof` for `perf record`, `--trace-deopt`).
  const extra = (process.env.MCX_BENCH_NODE_ARGS ?? '').split(/\s+/).filter(Boolean);
  const nodeArgs = [...extra, ...(profile ? ['--cpu-prof', '--cpu-prof-dir', profile] : [])];
  const proc = startMcx([...args, ...traced], {
    env: { ...process.env, MCX_LOG_LEVEL: 'warn' },
    ...(nodeArgs.length > 0 ? { nodeArgs } : {}),
  });
  // A profile of a busy run takes a while to write: give the role time to exit on its own before SIGKILL.
  stopper.add(() => proc.stop('SIGTERM', profile ? 60_000 : 5_000));
  const t0 = performance.now();
  const match = await proc.waitFor(ready, readyMs);
  const readyS = (performance.now() - t0) / 1000;
  ctx.say(`${ctx.store}: ${deployment}: ${name} ready in ${readyS.toFixed(1)} s`);
  // `--workers N`: the supervisor and its workers are measured as one tree.
  const tree = args.includes('--workers');
  return { proc, match, measured: { name, pid: proc.child.pid ?? 0, tree, output: () => proc.output() }, readyS };
}

/** The store of one deployment: its `--store` spec, and the redis-server process when there is one. */
export interface BenchStore {
  spec: string;
  server: Measured | undefined;
  /** `--store … --state-dir DIR` of a role whose state (and admin token) goes to `stateDir`. */
  args(stateDir: string): string[];
}

/** A fresh store for one deployment: nothing, or a private redis-server stopped with it. */
export async function openBenchStore(ctx: BenchContext, stopper: Stopper): Promise<BenchStore> {
  let spec = 'memory';
  let server: Measured | undefined;
  if (ctx.store === 'redis') {
    const redis = await startRedisServer();
    stopper.add(() => redis.stop());
    spec = redis.url;
    server = { name: 'redis-server', pid: redis.pid, tree: false };
  }
  return { spec, server, args: (stateDir) => ['--store', spec, '--state-dir', stateDir] };
}

/** Runs `body` with a stopper of its own (added to the run's); on failure stops what it started and rethrows. */
export async function deploy(runStopper: Stopper, body: (own: Stopper) => Promise<Target[]>): Promise<Deployment> {
  const own = new Stopper();
  runStopper.add(() => own.stop());
  try {
    return { targets: await body(own), stop: () => own.stop() };
  } catch (e) {
    await own.stop();
    throw e;
  }
}

/** Seconds to ready of each started role, by name. */
export function readiness(roles: ReadonlyArray<StartedRole | undefined>): Record<string, number> {
  return Object.fromEntries(roles.filter((r): r is StartedRole => r !== undefined).map((r) => [r.measured.name, r.readyS]));
}

/** A subscribers CSV of the HSS (`impi,impus,k,op,amf,mcptt_id,allowed_partners`) with the run's keys. */
export function subscribersCsv(ctx: BenchContext, rows: ReadonlyArray<{ impi: string; impu: string; mcpttId?: string; allowedPartners?: string }>): string {
  const { k, op, amf } = ctx.keys;
  return ['impi,impus,k,op,amf,mcptt_id,allowed_partners', ...rows.map((r) => `${r.impi},${r.impu},${k},${op},${amf},${r.mcpttId ?? ''},${r.allowedPartners ?? ''}`)].join('\n') + '\n';
}
