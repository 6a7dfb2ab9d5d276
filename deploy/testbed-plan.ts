/**
 * What a testbed of the primary system and its partner systems (testbed-builder.ts) is made of, as its callers
 * choose it: `mcx testbed` (every role in this process, mutual TLS everywhere; `--partners N`), the end-to-end and MMS
 * tests (every role an `mcx` process, plain TCP on the legs tshark reads).
 */
import type { RandPolicy } from '../hss/vectors.ts';
import type { Logger } from '../lib/log.ts';
import type { TraceWriter } from '../lib/trace/writer.ts';
import type { DigestAlgorithm, SipListen } from '../registrar/config.ts';
import type { LogCollector } from './ladder.ts';
import { freeSipPort } from './ports.ts';
import type { Provisioning } from './provisioning.ts';
import type { Launcher } from './role-handle.ts';
import type { RoleName } from './roles.ts';
import type { PartnerSystem, Realms, TestbedLayout } from './topology.ts';

/** What a testbed is made of. */
export interface TestbedPlan {
  /** The testbed directory (PKI, provisioning files, state), reused when present; `{ temp }`: a fresh one, removed by `close()`. */
  dir: string | { temp: string };
  realms: Realms;
  /**
   * The partner systems (default: `partner` in `realms.partner`). Each gets its own PKI system, IdMS, MMS and
   * registrar; mutual TLS only between the primary and each of them (topology.ts `partnerSystems` names N of them).
   */
  partners?: readonly PartnerSystem[];
  /** Systems of the PKI besides `primary` and the partners (e.g. `rogue`: a CA no system trusts). */
  otherSystems?: ReadonlyArray<{ name: string; realm: string }>;
  /** `memory` (journals under `<dir>/state`) or a redis:// URL, for every role (default memory). */
  store?: string;
  /**
   * The registrar's SIP listeners: address, ports (0 or absent: free ones, UDP and TCP sharing one), `tls: false` for
   * none. The ports are the first partner's; every other partner's registrar listens on free ones of the same address.
   */
  sip?: { host?: string; udp?: number; tcp?: number; tls?: number | false };
  /** Links inside a system that are mutual TLS too (default both): relay → HSS, registrar → partner MMS (every partner's). */
  tls?: { hss?: boolean; registrar?: boolean };
  /** The HSS's RAND policy (default uniform; `sipp361` for SIPp). */
  randPolicy?: RandPolicy;
  /** Admin APIs of the partner MMS and the registrar (the HSS always has one). */
  admin?: boolean;
  /** SIP Digest algorithms the registrar offers password users (default the registrar's). */
  digestAlgorithms?: DigestAlgorithm[];
  /** The registrar's Min-Expires and longest binding, seconds (default the registrar's; tests shorten them). */
  expires?: { min: number; max: number };
  /** Host of each IdMS's issuer URL (default 127.0.0.1; `localhost` puts the UE's TLS name check in play); `partner`: every partner's. */
  issuerHosts?: Partial<Record<'primary' | 'partner', string>>;
  /**
   * The users, written to the provisioning files (a function: made once the PKI is there, e.g. users saved under
   * the directory); absent: the files are already there.
   */
  provisioning?: Provisioning | ((layout: TestbedLayout) => Promise<Provisioning>);
  /** Roles run as `mcx` child processes through `launch` (default none: every role in this process). */
  processes?: 'all' | readonly RoleName[];
  launch?: Launcher;
  /** Where every role's log lines go (ladder, waits); default a collector that keeps each role's lines and echoes none. */
  logs?: LogCollector;
  /** The logger of the roles in this process (each logs through its child `{ role }`); default into `logs`. */
  logger?: Logger;
  /**
   * The trace file (`mcx testbed --trace`): every role in this process records into it; a role run as a process gets
   * `--trace` of its own, `<file without .pcapng>.<role>.pcapng` beside it. The caller opens and closes it.
   */
  trace?: TraceWriter;
}

/** Where the roles of one partner system listen (0 and '' for a role not started). */
export interface PartnerAddresses {
  partnerMms: number;
  sipUdp: number;
  sipTcp: number;
  sipTls: number;
  migrationApi: string;
  partnerIssuer: string;
}

/** Where the started roles listen, the partner's those of the first partner (0 and '' for a role not started). */
export interface TestbedAddresses {
  hssDiameter: number;
  relay: number;
  primaryMms: number;
  partnerMms: number;
  sipUdp: number;
  sipTcp: number;
  sipTls: number;
  bindingApi: string;
  migrationApi: string;
  primaryIssuer: string;
  partnerIssuer: string;
}

/**
 * The registrar's listeners of `sip`: a port 0 or absent is a free one, picked now (the partner MMS tells UEs the
 * registrar's address before the registrar is up); UDP and TCP share one (RFC 3263: what a UE told
 * `sip:host:port;transport=udp` can derive the TCP listener from), TLS another.
 */
export async function resolveSipListeners(sip: TestbedPlan['sip'] = {}, avoid: readonly number[] = []): Promise<SipListen[]> {
  const host = sip.host ?? '127.0.0.1';
  const udp = sip.udp || await freeSipPort(host, avoid);
  const tcp = sip.tcp || udp;
  const out: SipListen[] = [{ transport: 'udp', host, port: udp }, { transport: 'tcp', host, port: tcp }];
  if (sip.tls !== false) out.push({ transport: 'tls', host, port: sip.tls || await freeSipPort(host, [...avoid, tcp]) });
  return out;
}
