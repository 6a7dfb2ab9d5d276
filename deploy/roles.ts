/**
 * Every role of both flows (TS 23.280 §10.6.2.2 and §10.6.2.3) in this process, on loopback, from the roles' own
 * run modules:
 *
 *   UE ──SIP udp/tcp/tls──▶ registrar (partner SIP core) ──Cx, mutual TLS──▶ partner MMS
 *      ──Cx, mutual TLS (partner ↔ primary CAs)──▶ relay (primary SIP core / IMS) ──Cx, mutual TLS──▶ primary HSS
 *                                              └─▶ primary MMS (dynamic bindings) ──▶ relay
 *   UE ──HTTPS──▶ primary IdMS, partner IdMS, partner MMS migration API ──HTTPS, mutual TLS──▶ primary MMS binding API
 *
 * Diameter listeners take ephemeral ports; so do the HTTPS services (the IdMS issuers name theirs, so they are picked
 * before the start). Each role logs through its own child of the testbed logger (`role` field), which is how the
 * ladder tells them apart.
 */
import { certPaths, peerCaPath, signingPaths, trustedSigningCertPath } from '../certs/layout.ts';
import { defaultResource } from '../idms/cli.ts';
import { DEFAULT_TTLS } from '../idms/constants.ts';
import { startIdms, type RunningIdms } from '../idms/server.ts';
import { formatHostPort, type HostPort } from '../lib/config/address.ts';
import type { Logger } from '../lib/log.ts';
import { Teardown } from '../lib/lifecycle.ts';
import { startHss, type RunningHss } from '../hss/run.ts';
import type { RandPolicy } from '../hss/vectors.ts';
import { startMms, startRelay, type RunningMms } from '../mms/run.ts';
import type { RunningRelay } from '../mms/relay.ts';
import { startRegistrar, type RunningRegistrar } from '../registrar/server.ts';
import type { SipListen } from '../registrar/config.ts';
import type { LogCollector } from './ladder.ts';
import { freeTcpPort } from './ports.ts';
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

/** The registered native client of both IdMSs (what `mcx ue migrate` uses by default). */
export const UE_CLIENT = { clientId: 'mcx-ue', redirectUri: 'http://127.0.0.1/callback' } as const;

/** The started roles. */
export interface RunningRoles {
  hss: RunningHss;
  relay: RunningRelay;
  primaryMms: RunningMms;
  primaryIdms: RunningIdms;
  partnerIdms: RunningIdms;
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

/** The two IdMSs (TS 33.180 §5.1.4.2): the primary issues security tokens to the partner, which trusts its key. */
async function startIdmsPair(plan: RolesPlan, teardown: Teardown): Promise<{ primary: RunningIdms; partner: RunningIdms }> {
  const { layout, logger } = plan;
  const host = '127.0.0.1';
  const [pp, qp] = [await freeTcpPort(host), await freeTcpPort(host)];
  const issuer = { primary: `https://${host}:${pp}`, partner: `https://${host}:${qp}` };
  const common = (system: 'primary' | 'partner') => ({
    issuer: issuer[system], listen: { host, port: system === 'primary' ? pp : qp },
    tls: { cert: certPaths(layout.pki, system, 'idms').cert, key: certPaths(layout.pki, system, 'idms').key }, signing: signingPaths(layout.pki, system),
    resource: defaultResource(system, issuer[system]), clients: [{ clientId: UE_CLIENT.clientId, redirectUris: [UE_CLIENT.redirectUri] }],
    store: plan.store, stateDir: layout.stateDir(`${system}-idms`), ttls: DEFAULT_TTLS, logger: logger.child({ role: `${system}-idms` }),
  });
  const primary = await startIdms({ ...common('primary'), role: 'primary', partners: new Map([['partner', issuer.partner]]), trusted: [], usersCsv: layout.usersCsv });
  teardown.add('peers', () => primary.close());
  const partner = await startIdms({
    ...common('partner'), role: 'partner', partners: new Map(),
    trusted: [{ issuer: issuer.primary, certFiles: [trustedSigningCertPath(layout.pki, 'partner')] }],
  });
  teardown.add('peers', () => partner.close());
  return { primary, partner };
}

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
    teardown.add('peers', () => hss.close());

    const relayRouted = routed('relay', realms.primary, `hss.${realms.primary}`);
    const relay = await startRelay({
      listen: { host: loopback, port: 0 }, originHost: `relay.${realms.primary}`, realm: realms.primary,
      routes: [{ realm: realms.primary, peers: [endpointOf(hss.diameterUrl)] }],
      tls: tlsFiles(layout, 'primary', 'relay', ['partner']), logger: logger.child({ role: 'relay' }),
    });
    teardown.add('peers', () => relay.close());

    const primaryRouted = routed('primary-mms', realms.primary, `relay.${realms.primary}`);
    const primaryMms = await startMms({
      role: 'primary', listen: { host: loopback, port: 0 }, originHost: `mms.${realms.primary}`, realm: realms.primary,
      routes: [{ realm: realms.primary, peers: [endpointOf(relay.diameterUrl)] }], tls: tlsFiles(layout, 'primary', 'mms', ['partner']),
      store: plan.store, stateDir: layout.stateDir('primary-mms'), bindingApi: { host: loopback, port: 0 },
      hssAdminUrl: hss.adminUrl, hssAdminTokenFile: hss.adminTokenPath, maxBindingTtlS: 43_200, logger: logger.child({ role: 'primary-mms' }),
    });
    teardown.add('peers', () => primaryMms.close());
    const idms = await startIdmsPair(plan, teardown);

    const mmsRouted = routed('partner-mms', realms.primary, `relay.${realms.primary}`);
    const dynamicRouted = plan.logs.waitFor('the partner MMS\'s path to the primary MMS', (l) => l.role === 'partner-mms' && l.msg === `primary-mms path to ${realms.primary}: mms.${realms.primary}`, ROUTE_WAIT_MS);
    dynamicRouted.catch(() => undefined);
    const udp = plan.sip.find((x) => x.transport === 'udp');
    const mms = await startMms({
      role: 'partner', listen: { host: loopback, port: 0 }, originHost: `mms.${realms.partner}`, realm: realms.partner,
      routes: [{ realm: realms.primary, peers: [endpointOf(relay.diameterUrl)] }],
      tls: tlsFiles(layout, 'partner', 'mms', ['primary']), mappingsCsv: layout.mappingsCsv, store: plan.store,
      stateDir: layout.stateDir('mms'), topologyHiding: false, logger: logger.child({ role: 'partner-mms' }),
      primarySystems: [{ realm: realms.primary, idmsIssuer: idms.primary.issuer, bindingApi: primaryMms.migrationUrl as string, cx: [endpointOf(primaryMms.diameterUrl)] }],
      migration: {
        listen: { host: loopback, port: 0 }, tokenIssuer: idms.partner.issuer, tokenCertFile: signingPaths(layout.pki, 'partner').cert,
        tokenAudience: defaultResource('partner', idms.partner.issuer), ttlS: 43_200,
        // The testbed resolves `--ports auto` before the start, so the UDP listener's port is known here.
        registrar: `sip:${formatHostPort({ host: udp?.host ?? loopback, port: udp?.port ?? 5060 })};transport=udp`,
      },
    });
    teardown.add('peers', () => mms.close());
    await Promise.all([relayRouted, primaryRouted, mmsRouted, dynamicRouted]);

    const registrar = await startRegistrar({
      sip: plan.sip, domain: realms.partner, hss: [endpointOf(mms.diameterUrl)], originHost: `registrar.${realms.partner}`,
      realm: realms.partner, diameterTls: true, tls: tlsFiles(layout, 'partner', 'registrar'), store: plan.store,
      stateDir: layout.stateDir('registrar'), seedFlow: 'static',
      // The first challenge is the one simple softphones read (sipsak gives up on a SHA-256 one).
      digestAlgorithms: ['MD5', 'SHA-256'], logger: logger.child({ role: 'registrar' }),
    });
    teardown.add('peers', () => registrar.close());
    return { hss, relay, primaryMms, primaryIdms: idms.primary, partnerIdms: idms.partner, mms, registrar, close: () => teardown.run() };
  } catch (e) {
    await teardown.run();
    throw e;
  }
}
