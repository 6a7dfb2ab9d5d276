/**
 * What a running registrar is configured with ({@link startRegistrar} takes it; `mcx registrar` builds it from the
 * command line in cli.ts) and the defaults of every knob, in one place so the CLI help and the code agree.
 */
import type { HostPort } from '../lib/config/address.ts';
import type { ReconnectOptions } from '../lib/diameter/node.ts';
import type { Logger } from '../lib/log.ts';
import type { MetricsConfig } from '../lib/metrics/telemetry.ts';
import type { TimerValues } from '../lib/sip/transaction/timers.ts';
import type { MessageTrace } from '../lib/trace/types.ts';

/** AKA Digest algorithms the registrar challenges with (RFC 3310, RFC 4169). */
export const AKA_ALGORITHMS = ['AKAv1-MD5', 'AKAv2-MD5'] as const;
/** An AKA Digest algorithm. */
export type AkaAlgorithm = (typeof AKA_ALGORITHMS)[number];

/** Digest algorithms offered to SIP Digest (password) users, most preferred first (RFC 8760 §2.4). */
export const DIGEST_ALGORITHMS = ['SHA-256', 'MD5'] as const;
/** A SIP Digest algorithm. */
export type DigestAlgorithm = (typeof DIGEST_ALGORITHMS)[number];

/** What a banned source's REGISTERs get: `403` (answered, no MAR) or `drop` (no answer at all). */
export const BAN_ACTIONS = ['403', 'drop'] as const;
/** A ban action. */
export type BanAction = (typeof BAN_ACTIONS)[number];

/** SIP transports the registrar listens on. */
export type SipTransportName = 'udp' | 'tcp' | 'tls';

/** One SIP listener. */
export interface SipListen extends HostPort {
  transport: SipTransportName;
}

/** Upper bound of `cxBatchMs`, so a slip of the finger cannot hold every Cx round for a large share of its 1.5 s timeout. */
export const MAX_CX_BATCH_MS = 100;

/** Defaults of the optional settings. */
export const REGISTRAR_DEFAULTS = {
  store: 'memory',
  stateDir: '.state/registrar',
  algorithm: 'AKAv1-MD5' as AkaAlgorithm,
  /**
   * MD5 only, as Kamailio's `auth` (no `algorithm` parameter: MD5) and Asterisk's res_pjsip (`MD5` when
   * `supported_algorithms_uas` is not set) challenge by default: baresip 1.0 fails on a 401 that also offers SHA-256,
   * sipsak on a SHA-256 first one. `--digest-algorithms SHA-256,MD5` offers both (RFC 8760 §2.4).
   */
  digestAlgorithms: ['MD5'] as DigestAlgorithm[],
  /** RFC 3261 §10.2.1.1 suggests 3600 s when the UA proposes nothing. */
  defaultExpires: 3600,
  minExpires: 60,
  /** 24.229 UEs propose 600 000 s; the registrar shortens (§5.4.1.2.2). */
  maxExpires: 7200,
  /** 24.229 reg-await-auth; the digest notes 4 min as the common value [M]. */
  regAwaitAuthMs: 240_000,
  /** DESIGN §2.1: 1.5 s at the registrar, so a 504 leaves within 2 s. */
  diameterTimeoutMs: 1500,
  /**
   * Longest a MAR or SAR waits for others to leave with (up to 8 in all) while they come faster than two per this
   * long (lib/cork.ts); 0 sends each turn's at its end. Every hop up to the HSS then reads and answers several per
   * wake-up: 4 ms cut the static chain's CPU per registration by a fifth to a quarter at 1,000/s, for ≤ 4 ms more
   * latency per Cx round under load (bench/README "fifth round"). A lone registration is not held.
   */
  cxBatchMs: 4,
  /** Failed authentications one source address may have within `banWindowMs`; one more bans it (Kamailio pike/htable style). */
  banAfter: 10,
  banWindowMs: 60_000,
  banMs: 300_000,
  banAction: '403' as BanAction,
  /** Requests per second per source address (token bucket); high, so a load generator on one address keeps working. */
  rateLimit: 10_000,
  /** Bucket size: requests a source may send at once above the rate. */
  rateBurst: 10_000,
  /** Unanswered, unexpired challenges per IMPI; further REGISTERs reuse the newest instead of spending a vector. */
  maxPendingChallenges: 3,
  /**
   * Vectors one MAR asks for (SIP-Number-Auth-Items); those not used at once are kept for the next challenges of the
   * identity (Kamailio's `av_request_at_once`, which defaults to 1). 4: a UE that registers again within the
   * lifetime (a re-challenge, a stale nonce, a second device) costs no MAR, and each MAR costs the HSS 4 SQNs.
   */
  authVectors: 4,
  /** How long an unused vector is kept (Kamailio's `auth_vector_timeout` is 60 s for a sent one). */
  authVectorLifetimeMs: 30_000,
  /** Source addresses (and IMPIs) the ban, rate and challenge tables remember; the least recently seen go first. */
  maxTrackedSources: 100_000,
  /** TCP/TLS connections per listener. */
  maxConnections: 10_000,
  /** TCP/TLS connections per listener from one IP address. */
  maxConnectionsPerSource: 64,
  /** An accepted TCP/TLS connection must deliver a complete SIP message this soon. */
  firstMessageTimeoutMs: 10_000,
} as const;

/** Everything a registrar is made of. */
export interface RegistrarConfig {
  /** At least one listener. */
  sip: SipListen[];
  /** The partner home domain: realm of AKA challenges. */
  domain: string;
  /** HSS peers (the partner MMS, or an HSS), primary first. */
  hss: HostPort[];
  /** Diameter identity of the registrar. */
  originHost: string;
  /** Diameter realm of the registrar. */
  realm: string;
  /** Destination-Realm of MAR/SAR (default: `realm`); peers of this realm receive them. */
  hssRealm?: string;
  /** Mutual TLS to the HSS peers with the `tls` files. */
  diameterTls?: boolean;
  /** PEM paths: SIP TLS listener certificate, Diameter mutual TLS, admin HTTPS. */
  tls?: { cert: string; key: string; ca: string[] };
  /** `memory`, `redis`, or a redis:// / rediss:// URL. */
  store?: string;
  stateDir?: string;
  /** The memory store without a journal (tests). */
  ephemeralStore?: boolean;
  algorithm?: AkaAlgorithm;
  digestAlgorithms?: DigestAlgorithm[];
  defaultExpires?: number;
  minExpires?: number;
  maxExpires?: number;
  regAwaitAuthMs?: number;
  diameterTimeoutMs?: number;
  /** 0…100 ms. */
  cxBatchMs?: number;
  banAfter?: number;
  banWindowMs?: number;
  banMs?: number;
  banAction?: BanAction;
  rateLimit?: number;
  rateBurst?: number;
  maxPendingChallenges?: number;
  /** 1…16; 1 keeps nothing (see vector-cache.ts). */
  authVectors?: number;
  authVectorLifetimeMs?: number;
  maxTrackedSources?: number;
  maxConnections?: number;
  maxConnectionsPerSource?: number;
  firstMessageTimeoutMs?: number;
  /** The registrar's SIP URI (Server-Name, Service-Route host); default `sip:<origin-host>:<first SIP port>`. */
  serverName?: string;
  /** Admin API address (listing bindings); absent: no admin API. */
  admin?: HostPort;
  adminTokenFile?: string;
  /** Epoch milliseconds: binding expiry, the ban and rate tables, pending challenges, the memory store's TTLs (tests step it). */
  now?: () => number;
  /** SIP T1/T2/T4 (tests shorten them). */
  sipTimers?: Partial<TimerValues>;
  /** Diameter reconnection back-off (tests shorten it). */
  reconnect?: ReconnectOptions;
  /** `--metrics` (system label default `partner`). */
  metrics?: MetricsConfig;
  /** Records every SIP and Diameter message (`--trace`, lib/trace); shared with other roles of the process, not closed here. */
  trace?: MessageTrace;
  logger: Logger;
}

/** The configuration with every default applied. */
export type ResolvedRegistrarConfig = Required<Omit<RegistrarConfig, 'tls' | 'admin' | 'adminTokenFile' | 'serverName' | 'sipTimers' | 'reconnect' | 'metrics' | 'trace'>>
  & Pick<RegistrarConfig, 'tls' | 'admin' | 'adminTokenFile' | 'serverName' | 'sipTimers' | 'reconnect' | 'metrics' | 'trace'>;

/**
 * Applies the defaults.
 * @param c the configuration as given.
 */
export function resolveConfig(c: RegistrarConfig): ResolvedRegistrarConfig {
  const d = REGISTRAR_DEFAULTS;
  return {
    ...c,
    hssRealm: c.hssRealm ?? c.realm,
    diameterTls: c.diameterTls ?? false,
    store: c.store ?? d.store,
    stateDir: c.stateDir ?? d.stateDir,
    ephemeralStore: c.ephemeralStore ?? false,
    algorithm: c.algorithm ?? d.algorithm,
    digestAlgorithms: c.digestAlgorithms ?? [...d.digestAlgorithms],
    defaultExpires: c.defaultExpires ?? d.defaultExpires,
    minExpires: c.minExpires ?? d.minExpires,
    maxExpires: c.maxExpires ?? d.maxExpires,
    regAwaitAuthMs: c.regAwaitAuthMs ?? d.regAwaitAuthMs,
    diameterTimeoutMs: c.diameterTimeoutMs ?? d.diameterTimeoutMs,
    cxBatchMs: c.cxBatchMs ?? d.cxBatchMs,
    now: c.now ?? Date.now,
    banAfter: c.banAfter ?? d.banAfter,
    banWindowMs: c.banWindowMs ?? d.banWindowMs,
    banMs: c.banMs ?? d.banMs,
    banAction: c.banAction ?? d.banAction,
    rateLimit: c.rateLimit ?? d.rateLimit,
    rateBurst: c.rateBurst ?? d.rateBurst,
    maxPendingChallenges: c.maxPendingChallenges ?? d.maxPendingChallenges,
    authVectors: c.authVectors ?? d.authVectors,
    authVectorLifetimeMs: c.authVectorLifetimeMs ?? d.authVectorLifetimeMs,
    maxTrackedSources: c.maxTrackedSources ?? d.maxTrackedSources,
    maxConnections: c.maxConnections ?? d.maxConnections,
    maxConnectionsPerSource: c.maxConnectionsPerSource ?? d.maxConnectionsPerSource,
    firstMessageTimeoutMs: c.firstMessageTimeoutMs ?? d.firstMessageTimeoutMs,
  };
}
