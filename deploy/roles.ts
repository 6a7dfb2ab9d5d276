/**
 * Every role of the static flow (TS 23.280 §10.6.2.2) in this process, on loopback, from the roles' own run modules:
 *
 *   UE ──SIP udp/tcp/tls──▶ registrar (partner SIP core) ──Cx, mutual TLS──▶ partner MMS
 *      ──Cx, mutual TLS (partner ↔ primary CAs)──▶ relay (primary SIP core / IMS) ──Cx, mutual TLS──▶ primary HSS
 *
 * Diameter listeners take ephemeral ports (only the registrar faces users). Each role logs through its own child of
 * the testbed logger (`role` field), which is how the ladder tells them apart.
 */
import { certPaths, peerCaPath } from '../certs/layout.ts';
import type { HostPort } from '../lib/config/address.ts';
import type { Logger } from '../lib/log.ts';
import { Teardown } from '../lib/serve.ts';
import { startHss, type RunningHss } from '../hss/run.ts';
import type { RandPolicy } from '../hss/vectors.ts';
import { startMms, startRelay, type RunningMms } from '../mms/run.ts';
import type { RunningRelay } from '../mms/relay.ts';
import { startRegistrar, type RunningRegistrar } from '../registrar/server.ts';
import type { SipListen } from '../registrar/config.ts';
import type { LogCollector } from './ladder.ts';
import type { Realms, TestbedLayout } from './topology.ts';

/** What the roles are started with. */
export interface RolesPlan {
  layout: TestbedLayout;
  realms: Realms;
  /** The registrar's listeners (port 0: any free one). */
  sip: SipListen[];
  /** `memory` or a redis:// URL, for every role. */
  store: string;
  randPolicy: RandPolicy;
  logger: Logger;
  logs: LogCollector;
}

/** The started roles. */
export interface RunningRoles {
  hss: RunningHss;
  relay: RunningRelay;
  mms: RunningMms;
  registrar: RunningRegistrar;
  /** Stops them, the registrar first and the HSS last, each with DPR to its peers. */
  close(): Promise<void>;
}

/** Host and port of a `tls://host:port` URL. */
function endpointOf(url: string): HostPort {
  const m = /^\w+:\/\/\[?([^\]]+?)\]?:(\d+)$/.exec(url);
  if (!m) throw new Error(`testbed: cannot read the address of ${url}`);
  return { host: m[1] as string, port: Number(m[2]) };
}

/** The role's certificate and key, and the CAs it trusts: its own system's, then those of `trust`. */
function tlsFiles(l: TestbedLayout, system: 'primary' | 'partner', role: 'hss' | 'relay' | 'mms' | 'registrar', trust: Array<'primary' | 'partner'> = []) {
  const p = certPaths(l.pki, system, role);
  return { cert: p.cert, key: p.key, ca: [p.ca, ...trust.map((t) => peerCaPath(l.pki, system, t))] };
}

const ROUTE_WAIT_MS = 10_000;

/**
 * Starts HSS, relay, partner MMS and registrar, and waits until the Cx path is routed end to end (so the first
 * REGISTER does not meet 3002 → 504).
 * @throws the first role's start error (ConfigFileError, StoreError, EADDRINUSE …); what started is stopped again.
 */
export async function startRoles(plan: RolesPlan): Promise<RunningRoles> {
  const { layout, realms, logger } = plan;
  const loopback = '127.0.0.1';
  const teardown = new Teardown();
  const routed = (role: string, realm: string, host: string): Promise<unknown> => {
    const p = plan.logs.waitFor(`the ${role}'s route to ${host}`, (l) => l.role === role && l.msg === `route to ${realm}: ${host}`, ROUTE_WAIT_MS);
    // Awaited only once the role has started; a start that fails first must not leave it an unhandled rejection.
    p.catch(() => undefined);
    return p;
  };
  try {
    const hss = await startHss({
      listen: { host: loopback, port: 0 }, originHost: `hss.${realms.primary}`, realm: realms.primary,
      subscribersCsv: layout.subscribersCsv, store: plan.store, stateDir: layout.stateDir('hss'),
      tls: tlsFiles(layout, 'primary', 'hss'), randPolicy: plan.randPolicy, admin: { host: loopback, port: 0 },
      logger: logger.child({ role: 'hss' }),
    });
    teardown.push(() => hss.close());

    const relayRouted = routed('relay', realms.primary, `hss.${realms.primary}`);
    const relay = await startRelay({
      listen: { host: loopback, port: 0 }, originHost: `relay.${realms.primary}`, realm: realms.primary,
      routes: [{ realm: realms.primary, peers: [endpointOf(hss.diameterUrl)] }],
      tls: tlsFiles(layout, 'primary', 'relay', ['partner']), logger: logger.child({ role: 'relay' }),
    });
    teardown.push(() => relay.close());

    const mmsRouted = routed('partner-mms', realms.primary, `relay.${realms.primary}`);
    const mms = await startMms({
      role: 'partner', listen: { host: loopback, port: 0 }, originHost: `mms.${realms.partner}`, realm: realms.partner,
      routes: [{ realm: realms.primary, peers: [endpointOf(relay.diameterUrl)] }],
      tls: tlsFiles(layout, 'partner', 'mms', ['primary']), mappingsCsv: layout.mappingsCsv, store: plan.store,
      stateDir: layout.stateDir('mms'), topologyHiding: false, logger: logger.child({ role: 'partner-mms' }),
    });
    teardown.push(() => mms.close());
    await Promise.all([relayRouted, mmsRouted]);

    const registrar = await startRegistrar({
      sip: plan.sip, domain: realms.partner, hss: [endpointOf(mms.diameterUrl)], originHost: `registrar.${realms.partner}`,
      realm: realms.partner, diameterTls: true, tls: tlsFiles(layout, 'partner', 'registrar'), store: plan.store,
      stateDir: layout.stateDir('registrar'), seedFlow: 'static',
      // The first challenge is the one simple softphones read (sipsak gives up on a SHA-256 one).
      digestAlgorithms: ['MD5', 'SHA-256'], logger: logger.child({ role: 'registrar' }),
    });
    teardown.push(() => registrar.close());
    return { hss, relay, mms, registrar, close: () => teardown.run() };
  } catch (e) {
    await teardown.run();
    throw e;
  }
}
