/**
 * The multi-host rehearsal's plan (README "Multi-host deployment"): which hosts, networks, addresses, DNS names,
 * ports and firewall openings the two MC systems and the UE have, and what each systemd unit's environment file
 * says. One place, read by the launcher (network.ts, provision.ts, launch.ts), by the README's tables and by the test.
 *
 *   <prefix>-ue  198.18.3.10 ─┐
 *   <prefix>-partner 198.18.2.0/24 ─┤ <prefix>-wan (router + firewall: only the openings of {@link firewallRules})
 *   <prefix>-primary 198.18.1.0/24 ─┘
 *
 * Addresses are of 198.18.0.0/15 (RFC 2544 benchmarking), inside the namespaces only. Each role has an address of
 * its own and the DNS name its certificate carries (`<role>.<realm>`, certs/issue.ts), so a role moves to a host of
 * its own by changing DNS alone. The env files name paths as a real host has them (/etc/mcx/…); launch.ts maps them.
 */
import type { Realms } from '../topology.ts';

/** The realms of the rehearsal (the testbed's defaults). */
export const NETNS_REALMS: Realms = { primary: 'primary.mcx.test', partner: 'partner.mcx.test' };

/** The hosts: one per MC system and the UE. */
export const HOSTS = ['primary', 'partner', 'ue'] as const;
export type Host = (typeof HOSTS)[number];

/** The first three octets of each host's /24; the router holds `.1` of each. */
export const SUBNETS: Readonly<Record<Host, string>> = { primary: '198.18.1', partner: '198.18.2', ue: '198.18.3' };

/** The UE's address: what the registrar must see as the source of its REGISTERs. */
export const UE_ADDRESS = `${SUBNETS.ue}.10`;

/** Every port a role listens on. Diameter over TLS is RFC 6733's 5658; admin APIs stay on loopback but the HSS's. */
export const PORTS = {
  sip: 5060, sipTls: 5061, diameterTls: 5658, idms: 8443, mmsApi: 9443, hssAdmin: 8868, mmsAdmin: 8869, registrarAdmin: 8870, redis: 6379,
} as const;

/** A role of one system: its systemd template, env file and address. */
export interface RolePlan {
  host: Exclude<Host, 'ue'>;
  /** The role's certificate role and state name (`hss`, `mms`, …). */
  role: 'hss' | 'relay' | 'mms' | 'idms' | 'registrar';
  /** deploy/systemd/<template>. */
  template: string;
  address: string;
  /** Its DNS name: the certificate's `<role>.<realm>`. */
  name: string;
}

const primary = (role: RolePlan['role'], template: string, last: number): RolePlan =>
  ({ host: 'primary', role, template, address: `${SUBNETS.primary}.${last}`, name: `${role}.${NETNS_REALMS.primary}` });
const partner = (role: RolePlan['role'], template: string, last: number): RolePlan =>
  ({ host: 'partner', role, template, address: `${SUBNETS.partner}.${last}`, name: `${role}.${NETNS_REALMS.partner}` });

/** The roles of the two systems, each on an address of its own. */
export const ROLES = {
  hss: primary('hss', 'mcx-hss@.service', 11),
  relay: primary('relay', 'mcx-relay@.service', 12),
  primaryIdms: primary('idms', 'mcx-idms-primary@.service', 14),
  partnerIdms: partner('idms', 'mcx-idms-partner@.service', 14),
  primaryMms: primary('mms', 'mcx-mms-primary@.service', 13),
  partnerMms: partner('mms', 'mcx-mms-partner@.service', 13),
  registrar: partner('registrar', 'mcx-registrar@.service', 12),
} as const satisfies Record<string, RolePlan>;
export type RoleKey = keyof typeof ROLES;

/** The systemd unit name of a role (`mcx-hss@primary.service`). */
export function unitName(r: RolePlan): string {
  return r.template.replace('@.', `@${r.host}.`);
}

/** `https://<name>:<port>` of an IdMS, its issuer. */
export function issuerOf(r: RolePlan): string {
  return `https://${r.name}:${PORTS.idms}`;
}

/** The namespaces of a run: one per host and the router between them. */
export type Namespaces = Readonly<Record<Host | 'wan', string>>;

/** Prefixes become namespace names and /etc/netns directories: short and plain. */
export const PREFIX = /^[a-z][a-z0-9]{0,15}$/;

/** The namespace names of `prefix` (`<prefix>-primary`, …). @throws RangeError for a prefix not matching {@link PREFIX}. */
export function namespacesOf(prefix: string): Namespaces {
  if (!PREFIX.test(prefix)) throw new RangeError(`--prefix: expected a lower-case letter and up to 15 letters or digits, got ${JSON.stringify(prefix)}`);
  return { primary: `${prefix}-primary`, partner: `${prefix}-partner`, ue: `${prefix}-ue`, wan: `${prefix}-wan` };
}

/** The addresses of `host` on its link to the router: each of its roles', or the UE's. */
export function addressesOf(host: Host): string[] {
  if (host === 'ue') return [UE_ADDRESS];
  return Object.values(ROLES).filter((r) => r.host === host).map((r) => r.address);
}

/**
 * The source address of what a host sends to the other hosts (its default route's `src`), when it has several: the
 * partner system reaches the primary system only through its MMS, so its traffic leaves from the MMS's address, as it
 * would from an MMS host of its own (the firewall opens the primary system to that address alone).
 */
export function outboundSourceOf(host: Host): string | undefined {
  return host === 'partner' ? ROLES.partnerMms.address : undefined;
}

/** /etc/netns/<ns>/hosts: the same names everywhere, as DNS would give them. */
export function hostsFile(): string {
  const lines = ['127.0.0.1 localhost', '::1 localhost ip6-localhost ip6-loopback', ...Object.values(ROLES).map((r) => `${r.address} ${r.name}`)];
  return `# mcx deploy netns: the DNS of the rehearsal\n${[...new Set(lines)].join('\n')}\n`;
}

/** The store of every role: each system's own (memory journals, or a redis-server on the system's loopback). */
export type StoreKind = 'memory' | 'redis';

const pki = (system: string, file: string): string => `/etc/mcx/pki/${system}/${file}`;

/**
 * The env file of each role (/etc/mcx/<system>/<role>.env), as a real host would have it: values for the
 * variables its template's ExecStart= names.
 */
export function envOf(key: RoleKey, store: StoreKind): Record<string, string> {
  const r = ROLES[key];
  const realm = NETNS_REALMS[r.host];
  const storeSpec = store === 'memory' ? 'memory' : `redis://127.0.0.1:${PORTS.redis}`;
  const diameter = (x: RolePlan): string => `${x.name}:${PORTS.diameterTls}`;
  const node = { MCX_LISTEN: `${r.address}:${PORTS.diameterTls}`, MCX_ORIGIN_HOST: r.name, MCX_REALM: realm };
  const primaryCas = `${pki('primary', 'ca.pem')},${pki('primary', 'trust/partner-ca.pem')}`;
  switch (key) {
    case 'hss':
      return { ...node, MCX_STORE: storeSpec, MCX_ADMIN: `${r.address}:${PORTS.hssAdmin}`, MCX_OPTIONS: '--subscribers /etc/mcx/primary/subscribers.csv' };
    case 'relay':
      return { ...node, MCX_ROUTE: `${realm}=${diameter(ROLES.hss)}`, MCX_TLS_CA: primaryCas };
    case 'primaryMms':
      return {
        ...node, MCX_STORE: storeSpec, MCX_ROUTE: `${realm}=${diameter(ROLES.relay)}`, MCX_BINDING_API: `${r.address}:${PORTS.mmsApi}`,
        MCX_HSS_ADMIN: `https://${ROLES.hss.name}:${PORTS.hssAdmin}`, MCX_TLS_CA: primaryCas,
      };
    case 'partnerMms':
      return {
        ...node, MCX_STORE: storeSpec, MCX_ROUTE: `${NETNS_REALMS.primary}=${diameter(ROLES.relay)}`,
        MCX_PRIMARY_SYSTEM: `realm=${NETNS_REALMS.primary},idms=${issuerOf(ROLES.primaryIdms)},api=https://${ROLES.primaryMms.name}:${PORTS.mmsApi},cx=${diameter(ROLES.primaryMms)}`,
        MCX_MIGRATION_API: `${r.address}:${PORTS.mmsApi}`, MCX_TOKEN_ISSUER: issuerOf(ROLES.partnerIdms),
        MCX_REGISTRAR_URI: `sip:${ROLES.registrar.name}:${PORTS.sip};transport=udp`, MCX_ADMIN: `127.0.0.1:${PORTS.mmsAdmin}`,
        MCX_TLS_CA: `${pki('partner', 'ca.pem')},${pki('partner', 'trust/primary-ca.pem')}`,
      };
    case 'registrar':
      return {
        MCX_SIP: `udp:${r.address}:${PORTS.sip},tcp:${r.address}:${PORTS.sip},tls:${r.address}:${PORTS.sipTls}`, MCX_HSS: diameter(ROLES.partnerMms),
        MCX_ORIGIN_HOST: r.name, MCX_REALM: realm, MCX_STORE: storeSpec, MCX_ADMIN: `127.0.0.1:${PORTS.registrarAdmin}`,
      };
    case 'primaryIdms':
      return {
        MCX_LISTEN: `${r.address}:${PORTS.idms}`, MCX_ISSUER: issuerOf(r), MCX_PARTNER: `partner=${issuerOf(ROLES.partnerIdms)}`, MCX_STORE: storeSpec,
        MCX_OPTIONS: '--users /etc/mcx/primary/idms-users.csv',
      };
    case 'partnerIdms':
      return { MCX_LISTEN: `${r.address}:${PORTS.idms}`, MCX_ISSUER: issuerOf(r), MCX_TRUSTED_ISSUER: issuerOf(ROLES.primaryIdms), MCX_STORE: storeSpec };
  }
}

/**
 * The log lines a role is ready after (in order): its ready line, then the Diameter routes it must have before a
 * REGISTER can pass (as the testbed waits for them, testbed-builder.ts).
 */
export function readinessOf(key: RoleKey): RegExp[] {
  const primaryRealm = NETNS_REALMS.primary.replaceAll('.', '\\.');
  const route = (peer: string, path = 'route'): RegExp => new RegExp(`"msg":"${path} to ${primaryRealm}: ${peer}\\.${primaryRealm}"`);
  switch (key) {
    case 'hss': return [/^hss: listening /m];
    case 'relay': return [/^relay: listening /m, route('hss')];
    case 'primaryMms': return [/^mms: listening .*role=primary/m, route('relay')];
    case 'partnerMms': return [/^mms: listening .*role=partner/m, route('relay'), route('mms', 'primary-mms path')];
    case 'registrar': return [/^registrar: listening /m, /"msg":"Diameter peer open"/];
    case 'primaryIdms':
    case 'partnerIdms': return [/^idms: listening /m];
  }
}

/** One opening of the firewall between the hosts: who may open a connection (or send UDP) to whom. */
export interface FirewallRule {
  /** The rule's comment: also the name its counter is reported under. */
  name: string;
  from: string;
  to: string;
  proto: 'udp' | 'tcp';
  ports: number[];
  /** Whether the rehearsal crosses it (its Diameter links at start-up, its flows); SIP over TCP/TLS is open but unused. */
  exercised: boolean;
}

/** What crosses between the hosts, and nothing else (README "Firewall"): the rehearsal's router enforces it. */
export function firewallRules(): FirewallRule[] {
  const ue = `${SUBNETS.ue}.0/24`;
  const pMms = ROLES.partnerMms.address;
  return [
    { name: 'ue to registrar SIP udp', from: ue, to: ROLES.registrar.address, proto: 'udp', ports: [PORTS.sip], exercised: true },
    { name: 'ue to registrar SIP tcp tls', from: ue, to: ROLES.registrar.address, proto: 'tcp', ports: [PORTS.sip, PORTS.sipTls], exercised: false },
    { name: 'ue to primary IdMS https', from: ue, to: ROLES.primaryIdms.address, proto: 'tcp', ports: [PORTS.idms], exercised: true },
    { name: 'ue to partner IdMS https', from: ue, to: ROLES.partnerIdms.address, proto: 'tcp', ports: [PORTS.idms], exercised: true },
    { name: 'ue to partner MMS migration API', from: ue, to: pMms, proto: 'tcp', ports: [PORTS.mmsApi], exercised: true },
    { name: 'partner MMS to relay Diameter TLS', from: pMms, to: ROLES.relay.address, proto: 'tcp', ports: [PORTS.diameterTls], exercised: true },
    { name: 'partner MMS to primary MMS Diameter TLS', from: pMms, to: ROLES.primaryMms.address, proto: 'tcp', ports: [PORTS.diameterTls], exercised: true },
    { name: 'partner MMS to primary MMS binding API', from: pMms, to: ROLES.primaryMms.address, proto: 'tcp', ports: [PORTS.mmsApi], exercised: true },
  ];
}

/** The counter of everything else the router refused. */
export const DROPPED = 'dropped';

/** The router's nftables ruleset: replies of allowed flows, the openings, a counted drop of the rest. */
export function nftRuleset(): string {
  const rules = firewallRules().map((r) => {
    const ports = r.ports.length === 1 ? String(r.ports[0]) : `{ ${r.ports.join(', ')} }`;
    return `    ip saddr ${r.from} ip daddr ${r.to} ${r.proto} dport ${ports} counter accept comment "${r.name}"`;
  });
  return ['table inet mcx {', '  chain forward {', '    type filter hook forward priority 0; policy drop;', '    ct state established,related accept',
    ...rules, `    counter drop comment "${DROPPED}"`, '  }', '}', ''].join('\n');
}
