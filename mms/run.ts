/**
 * The agent roles as running things, for `mcx mms` / `mcx relay` and for launchers that start them in-process:
 *
 * - {@link startMms} `role: 'partner'` (partner.ts): the translation agent of TS 23.280 §10.6.2.2 between the partner
 *   SIP core and the primary system, with its static mappings and admin API;
 * - {@link startMms} `role: 'primary'` (primary.ts): the primary MMS, for now a pass-through from the partner MMS to
 *   the primary relay (§10.6.2.3 path; the binding API comes with the dynamic flow);
 * - {@link startRelay} (relay.ts): the primary "SIP core / IMS", an RFC 6733 relay to the HSS.
 *
 * Each `close()` stops as every role does (lib/lifecycle.ts): listeners and APIs, DPR to every Diameter peer (RFC 6733
 * §5.4), store.
 */
import type { HostPort } from '../lib/config/address.ts';
import type { DiameterNode } from '../lib/diameter/node.ts';
import type { RoleTelemetry } from '../lib/metrics/telemetry.ts';
import type { Store } from '../lib/store/store.ts';
import type { AgentNodeConfig } from './cx-node.ts';
import type { PrimarySystem } from './options.ts';
import { startPartnerMms } from './partner.ts';
import { startPrimaryMms } from './primary.ts';

export { startRelay } from './relay.ts';
export type { AgentNodeConfig } from './cx-node.ts';
export type { EndpointSpec, PrimarySystem, RouteSpec } from './options.ts';

/** The partner MMS's migration configuration API (dynamic flow, DESIGN §2.4). */
export interface MigrationApiConfig {
  /** HTTPS listen address (the MMS's certificate). */
  listen: HostPort;
  /** The partner IdMS whose access tokens the API takes: issuer, signing certificate file, `aud` of its tokens. */
  tokenIssuer: string;
  tokenCertFile: string;
  tokenAudience: string;
  /** What the UE is told to register with, e.g. `sip:127.0.0.1:5060;transport=udp`. */
  registrar: string;
  /** Lifetime of a configuration, seconds. */
  ttlS: number;
}

/** The partner MMS's settings beyond the node's. */
export interface PartnerMmsConfig extends AgentNodeConfig {
  /** Static mappings loaded at start (the file's partner IMPIs replace stored ones; others stay). */
  mappingsCsv?: string;
  /** `memory`, `redis`, or a redis:// / rediss:// URL. */
  store: string;
  /** Memory store journal and admin token. */
  stateDir: string;
  /** Admin API listen address; none without it. */
  admin?: HostPort;
  adminTokenFile?: string;
  /** Server-Name toward the primary is the MMS's own SIP URI; primary error hosts are not passed to the partner. */
  topologyHiding: boolean;
  /** The MMS's SIP URI (default `sip:<origin-host>`). */
  sipUri?: string;
  /** Primary systems of dynamic migrations: their primary MMS (Cx path and binding API) and IdMS issuer. */
  primarySystems?: PrimarySystem[];
  /** The migration configuration API; none without it (static mappings only). */
  migration?: MigrationApiConfig;
}

/** The primary MMS's settings beyond the node's. */
export interface PrimaryMmsConfig extends AgentNodeConfig {
  /** `memory`, `redis`, or a redis:// / rediss:// URL: the bindings it confirmed. */
  store: string;
  stateDir: string;
  /** The binding API (HTTPS, mutual TLS with the partner CAs of `tls.ca`). */
  bindingApi: HostPort;
  /** The HSS admin API (`https://…`) and its bearer token file: the subscriber directory. */
  hssAdminUrl: string;
  hssAdminTokenFile: string;
  /** Longest binding confirmed, seconds. */
  maxBindingTtlS: number;
  /** PEM files of the partner CAs whose clients the binding API takes (default: every `--tls-ca` but the first). */
  bindingCaFiles?: string[];
}

/** What `mcx mms` starts. */
export type MmsConfig = ({ role: 'partner' } & PartnerMmsConfig) | ({ role: 'primary' } & PrimaryMmsConfig);

/** A started agent role. */
export interface RunningAgent {
  /** `tcp://host:port` or `tls://host:port`. */
  diameterUrl: string;
  node: DiameterNode;
  /** Metrics and readiness. */
  telemetry: RoleTelemetry;
  /** `http://host:port` of the metrics listener (`--metrics`). */
  metricsUrl?: string;
  /** Graceful stop (idempotent). */
  close(): Promise<void>;
}

/** A started MMS. */
export interface RunningMms extends RunningAgent {
  role: 'partner' | 'primary';
  /** `http(s)://host:port` of the admin API (partner with `admin`). */
  adminUrl?: string;
  adminTokenPath?: string;
  /** `https://host:port` of the migration API (partner) or the binding API (primary). */
  migrationUrl?: string;
  /** The MMS's store (partner: mappings and bindings; primary: bindings). */
  store?: Store;
}

/**
 * Starts an MMS of either role.
 * @throws ConfigFileError for unreadable TLS files or a bad mapping file (every problem by line); StoreError when
 *   the store cannot be opened; listen errors (EADDRINUSE) as they come.
 */
export function startMms(config: MmsConfig): Promise<RunningMms> {
  return config.role === 'partner' ? startPartnerMms(config) : startPrimaryMms(config);
}
