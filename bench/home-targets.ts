/**
 * The two targets without migration, side by side on one realm and one HSS setup (Cx over plain TCP on loopback, as
 * Kamailio's cdp speaks it), so they compare like for like:
 * - direct: `mcx registrar` with `mcx hss` as its Cx peer;
 * - kamailio: Kamailio 5.6 as an S-CSCF (ims_auth, ims_registrar_scscf; deploy/kamailio.ts with the deploy/peers
 *   templates), its cdp peer `mcx hss`. Kamailio keeps its state in memory whatever the bench's store; its forked
 *   workers are measured as one tree.
 * Each gets its own `mcx hss` (a fresh SQN state, and no CPU of the other target's HSS in the window).
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { startKamailio } from '../deploy/kamailio.ts';
import { freePorts } from '../deploy/ports.ts';
import {
  deploy, openBenchStore, readiness, startRole, subscribersCsv, type BenchContext, type BenchStore, type Deployment, type StartedRole, type Stopper,
} from './roles.ts';
import type { LoadUser } from './sipp-load.ts';

export const HOME_REALM = 'ims.mcx.test';

/** The users `u<i>@ims.mcx.test` of both targets. */
function homeUsers(n: number): LoadUser[] {
  return Array.from({ length: n }, (_, i) => ({ impi: `u${i}@${HOME_REALM}`, impu: `sip:u${i}@${HOME_REALM}` }));
}

/** Starts `mcx hss` for the home realm with `--rand-policy sipp361` (SIPp 3.6.1 hashes RES with strlen). */
async function startHomeHss(ctx: BenchContext, stopper: Stopper, store: BenchStore, name: string, port: number, admin: number): Promise<StartedRole> {
  const csv = join(ctx.dir, `${name}-subscribers.csv`);
  await writeFile(csv, subscribersCsv(ctx, homeUsers(ctx.users)));
  return startRole(ctx, stopper, name, 'hss', ['hss', '--listen', `127.0.0.1:${port}`, '--origin-host', `hss.${HOME_REALM}`, '--realm', HOME_REALM,
    '--subscribers', csv, ...store.args(join(ctx.dir, `${name}-${ctx.store}`, 'hss')), '--admin', `127.0.0.1:${admin}`, '--rand-policy', 'sipp361'], /hss: listening/);
}

/** Options of {@link startDirect}. */
export interface DirectOptions {
  /** The deployment's name (state folders, profile folders): `direct`, `scale-100k` … */
  name: string;
  /** Runs once the store is up and before the registrar starts, with its `--store` spec and `--state-dir`. */
  prepare?: (storeSpec: string, registrarStateDir: string) => Promise<void>;
  /** How long the registrar may take to load its state and say it listens (default 30 s). */
  readyMs?: number;
  /**
   * `mcx registrar --workers N` (Redis store only): N processes on the SIP port, measured as one tree; SIPp then sends
   * each call from its own UDP socket, so the kernel spreads the calls over the workers (bench/workers.ts).
   */
  registrarWorkers?: number;
}

/** Starts `mcx hss` and `mcx registrar` (UDP and TCP on one port) with the HSS as its Cx peer. */
export function startDirect(ctx: BenchContext, runStopper: Stopper, o: DirectOptions): Promise<Deployment> {
  return deploy(runStopper, async (stopper) => {
    const store = await openBenchStore(ctx, stopper);
    const [sip, diameter, admin] = await freePorts(3);
    const hss = await startHomeHss(ctx, stopper, store, o.name, diameter as number, admin as number);
    const stateDir = join(ctx.dir, `${o.name}-${ctx.store}`, 'registrar');
    await o.prepare?.(store.spec, stateDir);
    const at = `127.0.0.1:${sip}`;
    const reg = await startRole(ctx, stopper, o.name, 'registrar', ['registrar', '--sip', `udp:${at},tcp:${at}`, '--domain', HOME_REALM,
      '--hss', `127.0.0.1:${diameter}`, '--origin-host', `registrar.${HOME_REALM}`, '--realm', HOME_REALM, ...store.args(stateDir),
      ...(o.registrarWorkers === undefined ? [] : ['--workers', String(o.registrarWorkers)])], /registrar: listening/, o.readyMs);
    return [{
      name: 'direct', label: 'mcx registrar → mcx hss (Cx over TCP)', sip: at, domain: HOME_REALM, users: homeUsers(ctx.users),
      ...(o.registrarWorkers === undefined ? {} : { sipTransport: 'udp-per-call' as const }),
      chain: [reg.measured, hss.measured], aux: store.server ? [store.server] : [], readyS: readiness([hss, reg]),
    }];
  });
}

/** Starts `mcx hss` and Kamailio as an S-CSCF whose cdp peer it is; resolves once cdp reports the peer open. */
export function startKamailioTarget(ctx: BenchContext, runStopper: Stopper): Promise<Deployment> {
  return deploy(runStopper, async (stopper) => {
    const store = await openBenchStore(ctx, stopper);
    const [sip, diameter, admin, acceptor] = await freePorts(4);
    const hss = await startHomeHss(ctx, stopper, store, 'kamailio', diameter as number, admin as number);
    const starting = startKamailio({ realm: HOME_REALM, sipPort: sip as number, diameterPort: diameter as number, acceptorPort: acceptor as number });
    // Added before it is ready: a stop during the start waits for it (bounded by its own 20 s) and then stops it.
    stopper.add(async () => (await starting.catch(() => undefined))?.stop());
    const kam = await starting;
    return [{
      name: 'kamailio', label: 'Kamailio 5.6 S-CSCF → mcx hss (Cx over TCP)', sip: `127.0.0.1:${kam.sipPort}`, domain: HOME_REALM, users: homeUsers(ctx.users),
      chain: [{ name: 'kamailio', pid: kam.proc.child.pid ?? 0, tree: true, output: () => kam.proc.output() }, hss.measured], aux: store.server ? [store.server] : [],
      readyS: readiness([hss]),
    }];
  });
}
