/**
 * How the testbed runs each role of both flows (TS 23.280 §10.6.2.2 and §10.6.2.3), from one description per role
 * (a partner role once per partner system: with N ≥ 2 partners `partner-a-idms`, `partner-a-mms`,
 * `partner-a-registrar`, …, see {@link partnerRoles}) and two ways to run it: in this process through the role's run module, or as an `mcx <role>` child process through
 * its CLI (the options a user would type; the ready line tells where it listens). Either way the role gets the
 * testbed's PKI, store and state directory, and its log lines reach the testbed's log collector, and its metrics are
 * labelled with the testbed's name of its system (`--metrics` on a loopback port for a process, whose ready line names
 * it; the registry itself in this process: metrics-endpoint.ts). A role's code is
 * loaded when it first runs in this process: a launcher whose roles are all processes (the tests) loads none of it.
 *
 *   UE ──SIP udp/tcp/tls──▶ registrar (partner SIP core) ──Cx──▶ partner MMS
 *      ──Cx, mutual TLS (partner ↔ primary CAs)──▶ relay (primary SIP core / IMS) ──Cx──▶ primary HSS
 *                                              └─▶ primary MMS (dynamic bindings) ──▶ relay
 *   UE ──HTTPS──▶ primary IdMS, partner IdMS, partner MMS migration API ──HTTPS, mutual TLS──▶ primary MMS binding API
 */
import { join } from 'node:path';
import { certPaths, peerCaPath, signingPaths, trustedSigningCertPath } from '../certs/layout.ts';
import { formatHostPort } from '../lib/config/address.ts';
import type { Closeable } from '../lib/lifecycle.ts';
import type { Logger } from '../lib/log.ts';
import type { MetricsTarget } from '../lib/metrics/endpoint.ts';
import type { RoleLabels } from '../lib/metrics/role-metrics.ts';
import type { MessageTrace } from '../lib/trace/types.ts';
import type { RandPolicy } from '../hss/vectors.ts';
import type { EndpointSpec } from '../mms/run.ts';
import type { DigestAlgorithm, SipListen } from '../registrar/config.ts';
import { DEFAULT_PARTNER, type PartnerSystem, type Realms, type StateRole, type TestbedLayout } from './topology.ts';

/** The roles of the primary system and of the one partner system of the default layout, in the order the testbed starts them. */
export const ROLE_NAMES = ['hss', 'primary-idms', 'partner-idms', 'relay', 'primary-mms', 'partner-mms', 'registrar'] as const;
/** One role of the testbed: of the primary system, or of a partner system (`partner-a-mms`, … with N ≥ 2 partners). */
export type RoleName = (typeof ROLE_NAMES)[number] | `${string}-${'idms' | 'mms' | 'registrar'}`;

/** The roles of one partner system, and their state directories. */
export interface PartnerRoles {
  idms: RoleName;
  mms: RoleName;
  registrar: RoleName;
  state: Readonly<Record<'idms' | 'mms' | 'registrar', StateRole>>;
}

/**
 * The role names of partner system `system`: those of the default layout for its one partner (`partner-idms`,
 * `partner-mms`, `registrar`; state in `partner-idms`, `mms`, `registrar`), `<system>-idms`, `<system>-mms`,
 * `<system>-registrar` (and state directories of the same names) for the partners of N ≥ 2.
 */
export function partnerRoles(system: string): PartnerRoles {
  if (system === DEFAULT_PARTNER) return { idms: 'partner-idms', mms: 'partner-mms', registrar: 'registrar', state: { idms: 'partner-idms', mms: 'mms', registrar: 'registrar' } };
  const names = { idms: `${system}-idms`, mms: `${system}-mms`, registrar: `${system}-registrar` } as const;
  return { ...names, state: names };
}

/** Every role of a testbed of these partner systems, in start order ({@link ROLE_NAMES} for the default layout). */
export function roleNamesOf(partners: readonly PartnerSystem[]): RoleName[] {
  const each = (k: 'idms' | 'mms' | 'registrar'): RoleName[] => partners.map((p) => partnerRoles(p.name)[k]);
  return ['hss', 'primary-idms', ...each('idms'), 'relay', 'primary-mms', ...each('mms'), ...each('registrar')];
}

/** The registered native client of both IdMSs (what `mcx ue migrate` uses by default). */
export const UE_CLIENT = { clientId: 'mcx-ue', redirectUri: 'http://127.0.0.1/callback' } as const;

/** Where a started role can be reached (what its ready line says). */
export interface RoleAddresses {
  /** `tcp://host:port` or `tls://host:port` of its Diameter listener (all but the IdMS). */
  diameterUrl?: string;
  /** HSS, partner MMS and registrar with an admin API: its URL and token file. */
  adminUrl?: string;
  adminTokenPath?: string;
  /** The partner MMS's migration API or the primary MMS's binding API. */
  apiUrl?: string;
  /** The IdMS's issuer. */
  issuer?: string;
  /** The registrar's SIP listeners. */
  sip?: SipListen[];
}

/** One role, ready to run either way. */
export interface RoleRecipe {
  name: RoleName;
  /** `mcx` arguments. */
  argv: string[];
  /** The ready line of `mcx <role>`, and what it says. */
  ready: RegExp;
  fromReady(m: RegExpExecArray): RoleAddresses;
  /** The `system` and `role` labels of its metrics. */
  labels: RoleLabels;
  /** Starts the role in this process, logging through `logger`; `telemetry` is its metrics and readiness. */
  inline(logger: Logger): Promise<{ running: Closeable; addresses: RoleAddresses; telemetry: MetricsTarget }>;
}

/** What every role of one testbed shares. */
export interface RoleContext {
  layout: TestbedLayout;
  realms: Realms;
  /** The partner systems (the primary trusts each, and each the primary). */
  partners: readonly PartnerSystem[];
  /** `memory` or a redis:// URL, for every role. */
  store: string;
  /** The trace every role started in this process records into (`--trace`); roles run as processes get their own file. */
  trace?: MessageTrace;
}

/** The trace of the roles in this process, to spread into a role's configuration. */
function traced(c: RoleContext): { trace?: MessageTrace } {
  return c.trace ? { trace: c.trace } : {};
}

type System = 'primary' | 'partner' | (string & {});
type CertRole = 'hss' | 'relay' | 'mms' | 'registrar';

const LOOPBACK = '127.0.0.1';
/** Every role process serves its metrics on a loopback port of its own (the testbed's endpoint reads them). */
const METRICS_ARGS = ['--metrics', `${LOOPBACK}:0`];
/** Longest migration configuration and binding, seconds (the CLI default). */
const MIGRATION_TTL_S = 43_200;

/** The role's certificate and key, and the CAs it trusts: its own system's, then those of `trust`. */
function tlsFiles(c: RoleContext, system: System, role: CertRole, trust: readonly System[] = []): { cert: string; key: string; ca: string[] } {
  const p = certPaths(c.layout.pki, system, role);
  return { cert: p.cert, key: p.key, ca: [p.ca, ...trust.map((t) => peerCaPath(c.layout.pki, system, t))] };
}

/** The same as `--tls-*` options. */
function tlsArgs(files: { cert: string; key: string; ca: string[] }): string[] {
  return ['--tls-cert', files.cert, '--tls-key', files.key, '--tls-ca', files.ca.join(',')];
}

/** `[tcp://|tls://]host:port`, as `--listen` and `--route` take it. */
export function endpointText(e: EndpointSpec): string {
  return `${e.transport ? `${e.transport}://` : ''}${formatHostPort(e)}`;
}

/** Host and port of a `tls://host:port` URL. */
export function endpointOf(url: string): EndpointSpec {
  const m = /^(\w+):\/\/\[?([^\]]+?)\]?:(\d+)$/.exec(url);
  if (!m) throw new Error(`testbed: cannot read the address of ${url}`);
  const transport = m[1] === 'tcp' || m[1] === 'tls' ? m[1] : undefined;
  return { host: m[2] as string, port: Number(m[3]), ...(transport ? { transport } : {}) };
}

function stateDir(c: RoleContext, role: StateRole): string {
  return c.layout.stateDir(role);
}

/** The PKI names of the partner systems: whose CAs the primary's inter-system listeners trust. */
function partnerNames(c: RoleContext): string[] {
  return c.partners.map((p) => p.name);
}

/** The primary HSS on `port` (0: any), plain TCP or mutual TLS inside the primary system. */
export function hssRecipe(c: RoleContext, o: { port: number; tls: boolean; randPolicy: RandPolicy }): RoleRecipe {
  const { primary } = c.realms;
  const dir = stateDir(c, 'hss');
  const tls = o.tls ? tlsFiles(c, 'primary', 'hss') : undefined;
  return {
    name: 'hss',
    labels: { system: 'primary', role: 'hss' },
    argv: ['hss', '--listen', `${LOOPBACK}:${o.port}`, '--origin-host', `hss.${primary}`, '--realm', primary, '--subscribers', c.layout.subscribersCsv,
      '--store', c.store, '--state-dir', dir, '--admin', `${LOOPBACK}:0`, '--rand-policy', o.randPolicy, ...(tls ? tlsArgs(tls) : []), ...METRICS_ARGS],
    ready: /hss: listening diameter=(\w+:\/\/\S+) admin=(\S+)/,
    fromReady: (m) => ({ diameterUrl: m[1] as string, adminUrl: m[2] as string, adminTokenPath: join(dir, 'admin-token') }),
    inline: async (logger) => {
      const { startHss } = await import('../hss/run.ts');
      const hss = await startHss({
        listen: { host: LOOPBACK, port: o.port }, originHost: `hss.${primary}`, realm: primary, subscribersCsv: c.layout.subscribersCsv,
        store: c.store, stateDir: dir, ...(tls ? { tls } : {}), randPolicy: o.randPolicy, admin: { host: LOOPBACK, port: 0 }, logger, ...traced(c),
        metrics: { system: 'primary' },
      });
      return { running: hss, addresses: { diameterUrl: hss.diameterUrl, adminUrl: hss.adminUrl, adminTokenPath: hss.adminTokenPath }, telemetry: hss.telemetry };
    },
  };
}

/**
 * The relay of `system` (the primary SIP core / IMS; `rogue` for a system nobody trusts), routing the primary realm
 * to `upstream`; mutual TLS toward the partner.
 */
export function relayRecipe(c: RoleContext, o: { system: System; realm: string; upstream: EndpointSpec }): RoleRecipe {
  const tls = tlsFiles(c, o.system, 'relay', o.system === 'primary' ? partnerNames(c) : []);
  const self = { originHost: `relay.${o.realm}`, realm: o.realm };
  return {
    name: 'relay',
    labels: { system: o.system, role: 'relay' },
    argv: ['relay', '--listen', `${LOOPBACK}:0`, '--origin-host', self.originHost, '--realm', self.realm, '--route', `${c.realms.primary}=${endpointText(o.upstream)}`, ...tlsArgs(tls),
      ...METRICS_ARGS],
    ready: /relay: listening diameter=(\w+:\/\/\S+)/,
    fromReady: (m) => ({ diameterUrl: m[1] as string }),
    inline: async (logger) => {
      const { startRelay } = await import('../mms/run.ts');
      const relay = await startRelay({
        listen: { host: LOOPBACK, port: 0 }, ...self, routes: [{ realm: c.realms.primary, peers: [o.upstream] }], tls, logger, metrics: { system: o.system }, ...traced(c),
      });
      return { running: relay, addresses: { diameterUrl: relay.diameterUrl }, telemetry: relay.telemetry };
    },
  };
}

/** The primary MMS: binding API (mutual TLS, every partner's CA), binding-gated Cx path to `upstream` (the relay). */
export function primaryMmsRecipe(c: RoleContext, o: { upstream: EndpointSpec; hssAdminUrl: string; hssAdminTokenFile: string }): RoleRecipe {
  const { primary } = c.realms;
  const dir = stateDir(c, 'primary-mms');
  const tls = tlsFiles(c, 'primary', 'mms', partnerNames(c));
  return {
    name: 'primary-mms',
    labels: { system: 'primary', role: 'mms' },
    argv: ['mms', '--role', 'primary', '--listen', `${LOOPBACK}:0`, '--origin-host', `mms.${primary}`, '--realm', primary, '--route', `${primary}=${endpointText(o.upstream)}`,
      '--binding-api', `${LOOPBACK}:0`, '--hss-admin', o.hssAdminUrl, '--hss-admin-token-file', o.hssAdminTokenFile, '--store', c.store, '--state-dir', dir, ...tlsArgs(tls),
      ...METRICS_ARGS],
    ready: /mms: listening diameter=(\w+:\/\/\S+) bindings=(\S+) role=primary/,
    fromReady: (m) => ({ diameterUrl: m[1] as string, apiUrl: m[2] as string }),
    inline: async (logger) => {
      const { startMms } = await import('../mms/run.ts');
      const mms = await startMms({
        role: 'primary', listen: { host: LOOPBACK, port: 0 }, originHost: `mms.${primary}`, realm: primary, routes: [{ realm: primary, peers: [o.upstream] }],
        tls, store: c.store, stateDir: dir, bindingApi: { host: LOOPBACK, port: 0 }, hssAdminUrl: o.hssAdminUrl, hssAdminTokenFile: o.hssAdminTokenFile,
        maxBindingTtlS: MIGRATION_TTL_S, logger, metrics: { system: 'primary' }, ...traced(c),
      });
      return { running: mms, addresses: { diameterUrl: mms.diameterUrl, ...(mms.migrationUrl ? { apiUrl: mms.migrationUrl } : {}) }, telemetry: mms.telemetry };
    },
  };
}

/** The issuer URL of the primary IdMS and of each partner system's (by PKI name). */
export interface IdmsIssuers {
  primary: string;
  partners: Readonly<Record<string, string>>;
}

/**
 * An IdMS (TS 33.180 §5.1.4.2) on a port picked beforehand (its issuer URL names it): the primary's (no `partner`)
 * issues security tokens to every partner IdMS, each partner's trusts the primary's signing key (the copy in its own
 * `trust/`).
 */
export function idmsRecipe(c: RoleContext, o: { partner?: PartnerSystem; port: number; issuers: IdmsIssuers }): RoleRecipe {
  const p = o.partner;
  const side = p ? 'partner' : 'primary';
  const system = p?.name ?? 'primary';
  const name: RoleName = p ? partnerRoles(p.name).idms : 'primary-idms';
  const issuer = p ? o.issuers.partners[p.name] as string : o.issuers.primary;
  const dir = stateDir(c, p ? partnerRoles(p.name).state.idms : 'primary-idms');
  const files = { tls: certPaths(c.layout.pki, system, 'idms'), signing: signingPaths(c.layout.pki, system) };
  const trustCert = trustedSigningCertPath(c.layout.pki, system);
  const partnerIssuers = c.partners.map((x) => [x.name, o.issuers.partners[x.name] as string] as const);
  const own = p
    ? ['--trusted-issuer', o.issuers.primary, '--trust-cert', trustCert]
    : [...partnerIssuers.flatMap(([n, url]) => ['--partner', `${n}=${url}`]), '--users', c.layout.usersCsv];
  return {
    name,
    labels: { system, role: 'idms' },
    argv: ['idms', '--role', side, '--listen', `${LOOPBACK}:${o.port}`, '--issuer', issuer, '--tls-cert', files.tls.cert, '--tls-key', files.tls.key,
      '--signing-key', files.signing.key, '--signing-cert', files.signing.cert, '--client', `${UE_CLIENT.clientId}=${UE_CLIENT.redirectUri}`,
      '--store', c.store, '--state-dir', dir, ...own, ...METRICS_ARGS],
    ready: /idms: listening (\S+) role=\w+ issuer=(\S+)/,
    fromReady: (m) => ({ issuer: m[2] as string }),
    inline: async (logger) => {
      const [{ startIdms }, { defaultResource }, { DEFAULT_TTLS }] = await Promise.all([import('../idms/server.ts'), import('../idms/cli.ts'), import('../idms/constants.ts')]);
      const idms = await startIdms({
        role: side, issuer, listen: { host: LOOPBACK, port: o.port }, tls: { cert: files.tls.cert, key: files.tls.key }, signing: files.signing,
        resource: defaultResource(side, issuer), clients: [{ clientId: UE_CLIENT.clientId, redirectUris: [UE_CLIENT.redirectUri] }],
        store: c.store, stateDir: dir, ttls: DEFAULT_TTLS, logger, metrics: { system },
        ...(p
          ? { partners: new Map(), trusted: [{ issuer: o.issuers.primary, certFiles: [trustCert] }] }
          : { partners: new Map(partnerIssuers), trusted: [], usersCsv: c.layout.usersCsv }),
      });
      return { running: idms, addresses: { issuer: idms.issuer }, telemetry: idms.telemetry };
    },
  };
}

/** The dynamic flow's side of the partner MMS: the primary system's MMS and IdMS, and its own migration API. */
export interface PartnerMmsDynamic {
  primaryIdmsIssuer: string;
  bindingApi: string;
  primaryMmsCx: EndpointSpec;
  partnerIdmsIssuer: string;
  /** What UEs are told to register with, e.g. `sip:127.0.0.1:5060;transport=udp`. */
  registrarUri: string;
}

/**
 * The MMS of `partner` with its static mappings, listening for its SIP core on `listen` (mutual TLS unless
 * `tcp://`), routing the primary realm to `upstream` (the relay) over mutual TLS; it trusts its own CA and the
 * primary's, no other partner's.
 */
export function partnerMmsRecipe(c: RoleContext, o: {
  partner: PartnerSystem; listen: EndpointSpec; upstream: EndpointSpec; admin: boolean; dynamic?: PartnerMmsDynamic;
}): RoleRecipe {
  const { primary } = c.realms;
  const { name: system, realm: partner } = o.partner;
  const roles = partnerRoles(system);
  const dir = stateDir(c, roles.state.mms);
  const tls = tlsFiles(c, system, 'mms', ['primary']);
  const mappings = c.layout.mappingsCsvOf(system);
  const d = o.dynamic;
  const tokenCert = signingPaths(c.layout.pki, system).cert;
  const dynamicArgs = d ? ['--primary-system', `realm=${primary},idms=${d.primaryIdmsIssuer},api=${d.bindingApi},cx=${formatHostPort(d.primaryMmsCx)}`,
    '--migration-api', `${LOOPBACK}:0`, '--token-issuer', d.partnerIdmsIssuer, '--token-cert', tokenCert, '--registrar-uri', d.registrarUri] : [];
  return {
    name: roles.mms,
    labels: { system, role: 'mms' },
    argv: ['mms', '--role', 'partner', '--listen', endpointText(o.listen), '--origin-host', `mms.${partner}`, '--realm', partner,
      '--route', `${primary}=${endpointText(o.upstream)}`, '--mappings', mappings, '--store', c.store, '--state-dir', dir,
      ...(o.admin ? ['--admin', `${LOOPBACK}:0`] : []), ...dynamicArgs, ...tlsArgs(tls), ...METRICS_ARGS],
    ready: /mms: listening diameter=(\w+:\/\/\S+)(?: admin=(\S+))?(?: migration=(\S+))? role=partner/,
    fromReady: (m) => ({
      diameterUrl: m[1] as string, ...(m[2] ? { adminUrl: m[2], adminTokenPath: join(dir, 'admin-token') } : {}), ...(m[3] ? { apiUrl: m[3] } : {}),
    }),
    inline: async (logger) => {
      const [{ startMms }, { defaultResource }] = await Promise.all([import('../mms/run.ts'), import('../idms/cli.ts')]);
      const mms = await startMms({
        role: 'partner', listen: o.listen, originHost: `mms.${partner}`, realm: partner, routes: [{ realm: primary, peers: [o.upstream] }],
        tls, mappingsCsv: mappings, store: c.store, stateDir: dir, topologyHiding: false, logger, metrics: { system }, ...traced(c),
        ...(o.admin ? { admin: { host: LOOPBACK, port: 0 } } : {}),
        ...(d ? {
          primarySystems: [{ realm: primary, idmsIssuer: d.primaryIdmsIssuer, bindingApi: d.bindingApi, cx: [d.primaryMmsCx] }],
          migration: {
            listen: { host: LOOPBACK, port: 0 }, tokenIssuer: d.partnerIdmsIssuer, tokenCertFile: tokenCert,
            tokenAudience: defaultResource('partner', d.partnerIdmsIssuer), ttlS: MIGRATION_TTL_S, registrar: d.registrarUri,
          },
        } : {}),
      });
      const admin = mms.adminUrl ? { adminUrl: mms.adminUrl, ...(mms.adminTokenPath ? { adminTokenPath: mms.adminTokenPath } : {}) } : {};
      return { running: mms, addresses: { diameterUrl: mms.diameterUrl, ...admin, ...(mms.migrationUrl ? { apiUrl: mms.migrationUrl } : {}) }, telemetry: mms.telemetry };
    },
  };
}

/** `udp://127.0.0.1:5060,tcp://…` of the registrar's ready line. */
function sipOf(urls: string): SipListen[] {
  return urls.split(',').map((u) => {
    const m = /^(udp|tcp|tls):\/\/\[?([^\]]+?)\]?:(\d+)$/.exec(u);
    if (!m) throw new Error(`testbed: cannot read the SIP listener ${u}`);
    return { transport: m[1] as SipListen['transport'], host: m[2] as string, port: Number(m[3]) };
  });
}

/**
 * The SIP core of `partner` on `sip` with its MMS at `mms` as its Cx peer (mutual TLS with the registrar certificate
 * of that system when `cxTls`, else plain TCP inside the partner system).
 */
export function registrarRecipe(c: RoleContext, o: {
  partner: PartnerSystem; sip: SipListen[]; mms: EndpointSpec; cxTls: boolean; admin: boolean; digestAlgorithms?: DigestAlgorithm[];
  expires?: { min: number; max: number };
  /** A further instance of the partner's registrar: its state directory is `<instance>-<system>-registrar` (one process per directory). */
  instance?: string;
}): RoleRecipe {
  const { name: system, realm: partner } = o.partner;
  const roles = partnerRoles(system);
  const dir = stateDir(c, o.instance === undefined ? roles.state.registrar : `${o.instance}-${system}-registrar`);
  const tls = o.cxTls || o.sip.some((s) => s.transport === 'tls') ? tlsFiles(c, system, 'registrar') : undefined;
  const self = { domain: partner, originHost: `registrar.${partner}`, realm: partner };
  return {
    name: roles.registrar,
    labels: { system, role: 'registrar' },
    argv: ['registrar', '--sip', o.sip.map((s) => `${s.transport}:${formatHostPort(s)}`).join(','), '--domain', partner, '--hss', formatHostPort(o.mms),
      '--origin-host', self.originHost, '--realm', partner, '--store', c.store, '--state-dir', dir, ...(o.admin ? ['--admin', `${LOOPBACK}:0`] : []),
      ...(o.cxTls ? ['--diameter-tls'] : []), ...(tls ? tlsArgs(tls) : []), ...(o.digestAlgorithms ? ['--digest-algorithms', o.digestAlgorithms.join(',')] : []),
      ...(o.expires ? ['--min-expires', String(o.expires.min), '--max-expires', String(o.expires.max)] : []), ...METRICS_ARGS],
    ready: /registrar: listening sip=(\S+) diameter-peers=\S+(?: admin=(\S+))?/,
    fromReady: (m) => ({ sip: sipOf(m[1] as string), ...(m[2] ? { adminUrl: m[2], adminTokenPath: join(dir, 'admin-token') } : {}) }),
    inline: async (logger) => {
      const { startRegistrar } = await import('../registrar/server.ts');
      const r = await startRegistrar({
        sip: o.sip, ...self, hss: [{ host: o.mms.host, port: o.mms.port }], diameterTls: o.cxTls, ...(tls ? { tls } : {}), store: c.store, stateDir: dir,
        ...(o.admin ? { admin: { host: LOOPBACK, port: 0 } } : {}), ...(o.digestAlgorithms ? { digestAlgorithms: o.digestAlgorithms } : {}),
        ...(o.expires ? { minExpires: o.expires.min, maxExpires: o.expires.max } : {}), logger, metrics: { system }, ...traced(c),
      });
      const sip = r.addresses.sip.map((b) => ({ transport: b.transport.toLowerCase() as SipListen['transport'], host: b.address, port: b.port }));
      const admin = r.addresses.admin ? { adminUrl: r.addresses.admin, ...(r.adminTokenPath ? { adminTokenPath: r.adminTokenPath } : {}) } : {};
      return { running: r, addresses: { sip, ...admin }, telemetry: r.telemetry };
    },
  };
}
