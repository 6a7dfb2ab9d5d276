/**
 * The two targets of bench/register-load.ts, each on loopback with its own `mcx hss` (a fresh SQN state, and no
 * CPU spent on the other target's HSS while this one is measured):
 * - `mcx registrar` as its own process, its Cx peer the HSS;
 * - Kamailio 5.6 as an S-CSCF (test/helpers/kamailio.ts, the ../shared/peers templates), its cdp peer the HSS.
 * Our processes run at log level `warn`, so the measurement is not one of pino writing a line per request.
 */
import { execFile } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { startKamailio } from '../test/helpers/kamailio.ts';
import { startMcx } from '../test/helpers/process.ts';

const run = promisify(execFile);

/** A subscriber of the bench HSS: every one has the same K/OP (SIPp cannot take per-call keys). */
export interface BenchSubscriber {
  impi: string;
  impu: string;
}

/**
 * Stops what was added to it, last added first, once; something added after `stop()` began is stopped at once, so
 * a SIGINT during a start leaves nothing behind.
 */
export class Stopper {
  private readonly stops: Array<() => Promise<unknown>> = [];
  private stopping: Promise<void> | undefined;

  /** Registers `stop` (or runs it, if this stopper is already stopping). */
  add(stop: () => Promise<unknown>): void {
    if (this.stopping) void stop().catch(() => undefined);
    else this.stops.push(stop);
  }

  /** Runs every registered stop in reverse order; errors are ignored (the rest must still be stopped). */
  stop(): Promise<void> {
    return (this.stopping ??= (async () => {
      for (const s of this.stops.reverse()) await s().catch(() => undefined);
    })());
  }
}

/** What both targets share. */
export interface TargetOptions {
  /** The SIP domain, the HSS realm and (for Kamailio) the S-CSCF realm. */
  realm: string;
  subscribers: readonly BenchSubscriber[];
  /** Hex K, OP (not OPc) and AMF of every subscriber. */
  keys: { k: string; op: string; amf: string };
  /** A temp folder of this run. */
  dir: string;
  /** Free loopback ports: [SIP, HSS Diameter, HSS admin, Kamailio cdp acceptor]. */
  ports: [number, number, number, number];
  /** The run's stopper: the target's own stop is added to it before anything starts. */
  stopper: Stopper;
}

/** A started target. */
export interface Target {
  /** HOST:PORT of its SIP listener (UDP and TCP). */
  sip: string;
  /** Stops everything this target started (idempotent). */
  stop(): Promise<void>;
}

const QUIET = { env: { ...process.env, MCX_LOG_LEVEL: 'warn' } };

/** Starts `mcx hss` with the subscribers and `--rand-policy sipp361` (SIPp 3.6.1 hashes RES with strlen). */
async function startBenchHss(o: TargetOptions, name: string, stopper: Stopper): Promise<void> {
  const csv = join(o.dir, `${name}-subscribers.csv`);
  await writeFile(csv, ['impi,impus,k,op,amf', ...o.subscribers.map((s) => `${s.impi},${s.impu},${o.keys.k},${o.keys.op},${o.keys.amf}`)].join('\n') + '\n');
  const hss = startMcx(['hss', '--listen', `127.0.0.1:${o.ports[1]}`, '--origin-host', `hss.${o.realm}`, '--realm', o.realm,
    '--subscribers', csv, '--state-dir', join(o.dir, `${name}-hss`), '--admin', `127.0.0.1:${o.ports[2]}`, '--rand-policy', 'sipp361'], QUIET);
  stopper.add(() => hss.stop());
  await hss.waitFor(/hss: listening/, 30000);
}

/** Runs `body` with a stopper of its own (added to the run's); on failure stops what it started and rethrows. */
async function withStopper(o: TargetOptions, body: (s: Stopper) => Promise<string>): Promise<Target> {
  const own = new Stopper();
  o.stopper.add(() => own.stop());
  try {
    return { sip: await body(own), stop: () => own.stop() };
  } catch (e) {
    await own.stop();
    throw e;
  }
}

/** Starts `mcx hss` and `mcx registrar` (UDP and TCP on one port) with the HSS as its Cx peer. */
export function startMcxTarget(o: TargetOptions): Promise<Target> {
  return withStopper(o, async (stopper) => {
    await startBenchHss(o, 'mcx', stopper);
    const sip = `127.0.0.1:${o.ports[0]}`;
    const reg = startMcx(['registrar', '--sip', `udp:${sip},tcp:${sip}`, '--domain', o.realm, '--hss', `127.0.0.1:${o.ports[1]}`,
      '--origin-host', `registrar.${o.realm}`, '--realm', o.realm, '--state-dir', join(o.dir, 'mcx-registrar')], QUIET);
    stopper.add(() => reg.stop());
    await reg.waitFor(/registrar: listening/, 30000);
    return sip;
  });
}

/** Starts `mcx hss` and Kamailio as an S-CSCF whose cdp peer it is; resolves once cdp reports the peer open. */
export function startKamailioTarget(o: TargetOptions): Promise<Target> {
  return withStopper(o, async (stopper) => {
    await startBenchHss(o, 'kamailio', stopper);
    const starting = startKamailio({ realm: o.realm, sipPort: o.ports[0], diameterPort: o.ports[1], acceptorPort: o.ports[3] });
    // Added before it is ready: a stop during the start waits for it (bounded by its own 20 s) and then stops it.
    stopper.add(async () => (await starting.catch(() => undefined))?.stop());
    return `127.0.0.1:${(await starting).sipPort}`;
  });
}

/** The first line of `cmd args` matching `pattern` (group 1), or `unknown` (SIPp's `-v` exits 99). */
export async function versionOf(cmd: string, args: string[], pattern: RegExp): Promise<string> {
  const out = await run(cmd, args).then((r) => r.stdout + r.stderr, (e: { stdout?: string; stderr?: string }) => `${e.stdout ?? ''}${e.stderr ?? ''}`);
  return pattern.exec(out)?.[1] ?? 'unknown';
}
