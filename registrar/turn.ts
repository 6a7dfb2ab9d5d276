/**
 * What the REGISTER state machine (register.ts) works with: the context of a registrar process and the turn of one
 * REGISTER, which the stages fill in as they learn about it.
 */
import type { Log, Logger } from '../lib/log.ts';
import type { SeedFlow } from '../lib/seed-steps.ts';
import type { SipRequest } from '../lib/sip/message.ts';
import type { ServerTransaction } from '../lib/sip/transaction/server.ts';
import type { BindingStore, ExpiryLimits } from './bindings.ts';
import type { ChallengeStore } from './challenges.ts';
import type { AkaAlgorithm, DigestAlgorithm } from './config.ts';
import type { CxClient } from './cx.ts';
import type { DigestShape } from './decoy.ts';
import type { IssuedNonces } from './issued-nonces.ts';
import type { RegistrarMetrics } from './metrics.ts';
import type { PendingChallenges } from './pending-challenges.ts';
import type { RegEvent } from './reg-event.ts';
import type { FirstRegister } from './register-log.ts';
import type { SourceGuard } from './source-guard.ts';
import type { VectorCache } from './vector-cache.ts';
import type { RegistrarStats } from './stats.ts';

/** What the state machine works with: one per registrar process. */
export interface RegisterContext {
  cx: CxClient;
  challenges: ChallengeStore;
  /** Realm of AKA challenges: the partner home domain. */
  domain: string;
  algorithm: AkaAlgorithm;
  /** SIP Digest algorithms to offer, most preferred first. */
  digestAlgorithms: readonly DigestAlgorithm[];
  log: Logger;
  /** The outstanding-challenge cap per IMPI. */
  pending: PendingChallenges;
  /** The nonces this process issued (whether a nonce no longer pending is stale or unknown). */
  issued: IssuedNonces;
  /**
   * Other registrar processes may share the store (Redis): a used nonce this process does not know may be another's,
   * which the binding it made tells (bindings.ts `nonce`).
   */
  sharedStore: boolean;
  /** Vectors kept unused from earlier MAAs. */
  vectors: VectorCache;
  /** SIP-Number-Auth-Items of a MAR. */
  authVectors: number;
  /** What decoys for password users look like (updated from the real SIP Digest challenges). */
  digestShape: DigestShape;
  stats: RegistrarStats;
  bindings: BindingStore;
  limits: ExpiryLimits;
  /** `<sip:orig@host:port;lr>` (24.229 §5.4.1.2.2: the UE's pre-loaded Route for originating requests). */
  serviceRoute: string;
  /** Where failed authentications are counted per source address. */
  guard: SourceGuard;
  /** Epoch milliseconds of binding expiry (the registrar's `now`; tests step it). */
  now: () => number;
  /** The reg event notifier, told of each registration change (absent: nobody is notified). */
  regEvent?: RegEvent;
  /** Registrations, their latency and resyncs for Prometheus (absent: not counted). */
  metrics?: RegistrarMetrics;
}

/** One REGISTER and what the stages have learnt about it. */
export interface Turn {
  ctx: RegisterContext;
  req: SipRequest;
  tx: ServerTransaction;
  /** The context's logger with the request's IMPU, Call-ID and transport on each line (no child logger: issue #12). */
  log: Log;
  /** The To URI's address-of-record. */
  impu: string;
  /** The REGISTER is part of an RFC 3329 exchange: a 401 carries Security-Server. */
  secAgree: boolean;
  /** The REGISTER's Authorization asked for AKA (the shape of a decoy). */
  akaAsked: boolean;
  /** The seed flow its identity belongs to. */
  flow: SeedFlow;
  /** `performance.now()` at receipt, and the time spent waiting for Cx answers since: for the registration's log line. */
  started: number;
  cxMs: number;
  /** The REGISTER that got the 401 this one answers, when this process sent it (register-log.ts). */
  first?: FirstRegister;
}
