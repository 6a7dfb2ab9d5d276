/**
 * Counters of one registrar process (its hardening against enumeration, brute force and floods), merged into
 * `GET /admin/v1/stats` and `/metrics` next to the SIP stack's counters. Kept per process, like the ban and rate tables;
 * a worker group's `/admin/v1/stats` adds up its workers' (lib/workers/group-stats.ts).
 */
import { Counters } from '../lib/counters.ts';

/** The counters, snake_case as the admin API prints them. */
export interface RegistrarStatsSnapshot extends Record<string, number> {
  /** Challenges issued with a vector (from a MAR, or kept from an earlier one: vector-cache.ts) or HA1s from the HSS. */
  challenges_issued: number;
  /** Decoy challenges for identities the HSS refused (5001/5002…): a 401 like any other, never verifiable. */
  decoy_challenges: number;
  /** 401s that repeated the newest pending challenge of an IMPI already at `maxPendingChallenges` (no MAR). */
  challenges_reused: number;
  /** Failed authentications (403 for a response that does not verify, decoys included): what bans count. */
  auth_failures: number;
  /** Of those, Digest `uri` that did not name the Request-URI. */
  digest_uri_mismatches: number;
  /** Sources banned. */
  bans: number;
  /** REGISTERs of banned sources (answered 403, or dropped), no MAR sent. */
  banned_requests: number;
  /** Requests over a source's rate, answered 503 with Retry-After. */
  rate_limited: number;
  /** Vectors of MAAs kept for later challenges (vector-cache.ts). */
  vectors_kept_total: number;
  /** Of `challenges_issued`, those with a kept vector (no MAR). */
  challenges_from_kept_vectors: number;
  /** Kept vectors that reached their lifetime unused. */
  vectors_expired: number;
  /** Kept vectors dropped by a resynchronisation, a Registration-Termination-Request or the IMPI bound. */
  vectors_dropped: number;
  /** Registration-Termination-Requests answered (rtr.ts). */
  registration_terminations: number;
  /** SUBSCRIBEs to the reg event package accepted as new subscriptions (reg-event.ts). */
  reg_subscriptions: number;
  /** NOTIFYs of the reg event package sent. */
  reg_notifies: number;
  /** Of those, the ones answered with an error or not at all (their subscription ended). */
  reg_notify_failures: number;
}

/** The registrar's counters. */
export class RegistrarStats extends Counters<RegistrarStatsSnapshot> {
  constructor() {
    super({
      challenges_issued: 0, decoy_challenges: 0, challenges_reused: 0, auth_failures: 0, digest_uri_mismatches: 0,
      bans: 0, banned_requests: 0, rate_limited: 0, vectors_kept_total: 0, challenges_from_kept_vectors: 0, vectors_expired: 0,
      vectors_dropped: 0, registration_terminations: 0, reg_subscriptions: 0, reg_notifies: 0, reg_notify_failures: 0,
    });
  }
}
