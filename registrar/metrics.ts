/**
 * The registrar's own metrics beside the Diameter ones (lib/metrics/diameter.ts: MAR/SAR sent by result code, Cx
 * round trips, the HSS peer):
 *
 * - `mcx_registrar_registrations_total{result,code}`: final answers of REGISTERs (what register-log.ts logs one info
 *   line for): `result` is `registered` (200 with bindings), `deregistered` (200 without), `refused` (4xx) or
 *   `error` (5xx); `code` the SIP status. A 401 is no final answer: challenges have their own counters;
 * - `mcx_registrar_registration_duration_seconds{result}`: from the first REGISTER of the attempt (the one that got
 *   the 401, when this process sent it) to that final answer;
 * - `mcx_registrar_resyncs_total`: resynchronisation MARs (a REGISTER with `auts`, RFC 3310 §3.4);
 * - `mcx_registrar_registered_aors`: addresses of record with live bindings, in the store;
 * - the `/admin/v1/stats` counters mirrored (challenges issued, bans, SIP stack counters …).
 *
 * No label names an identity: results, codes and peers are bounded sets.
 */
import type { Counter, Histogram } from 'prom-client';
import type { RoleMetrics } from '../lib/metrics/role-metrics.ts';
import type { Store } from '../lib/store/store.ts';
import { AOR_PREFIX } from './bindings.ts';
import type { RegistrarStatsSnapshot } from './stats.ts';

/** Upper bounds (s) of a registration: a UE on loopback answers in milliseconds, a softphone in seconds. */
export const REGISTRATION_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10] as const;

/** HELP texts of the mirrored stats (registrar/stats.ts). */
const HELP: Readonly<Record<keyof RegistrarStatsSnapshot | 'vectors_kept', string>> = {
  challenges_issued: '401 challenges issued with a vector (from a MAR or kept from an earlier one) or HA1s from the HSS',
  decoy_challenges: 'decoy challenges for identities the HSS refused (never verifiable)',
  challenges_reused: '401s repeating the newest pending challenge of an IMPI at its cap (no MAR)',
  auth_failures: 'failed authentications (403 for a response that does not verify, decoys included)',
  digest_uri_mismatches: 'failed authentications whose Digest uri did not name the Request-URI',
  bans: 'source addresses banned after too many failed authentications',
  banned_requests: 'REGISTERs of banned sources (403 or dropped, no MAR)',
  rate_limited: 'requests over a source rate, answered 503 with Retry-After',
  vectors_kept_total: 'vectors of MAAs kept for later challenges',
  challenges_from_kept_vectors: 'challenges issued with a kept vector (no MAR)',
  vectors_expired: 'kept vectors that reached their lifetime unused',
  vectors_dropped: 'kept vectors dropped by a resynchronisation, a Registration-Termination-Request or the IMPI bound',
  registration_terminations: 'Registration-Termination-Requests answered',
  reg_subscriptions: 'SUBSCRIBEs to the reg event package accepted as new subscriptions',
  reg_notifies: 'NOTIFYs of the reg event package sent',
  reg_notify_failures: 'reg event NOTIFYs answered with an error or not at all (subscription ended)',
  vectors_kept: 'vectors kept unused right now',
};

type Result = 'registered' | 'deregistered' | 'refused' | 'error';

/** What the REGISTER state machine reports. */
export class RegistrarMetrics {
  private readonly registrations: Counter<'result' | 'code'>;
  private readonly duration: Histogram<'result'>;
  private readonly resyncs: Counter;
  /** Children by result and status: a registration costs two map look-ups, no label objects. */
  private readonly counted = new Map<Result, Map<number, { inc(): void }>>();
  private readonly timed = new Map<Result, { observe(v: number): void }>();

  /**
   * @param stats the `/admin/v1/stats` record (mirrored).
   * @param store where the bindings are (the AOR gauge lists its keys at each scrape).
   */
  constructor(metrics: RoleMetrics, o: { stats: () => Record<string, unknown>; store: Store }) {
    metrics.mirror(o.stats, { help: HELP, gauges: ['vectors_kept'] });
    this.registrations = metrics.counter('registrations_total',
      'final answers to REGISTERs: result registered (200 with bindings), deregistered (200 without), refused (4xx), error (5xx); code the SIP status',
      ['result', 'code']);
    this.duration = metrics.histogram('registration_duration_seconds',
      'first REGISTER of a registration attempt (the one challenged, when this process sent the 401) to its final answer, by result', ['result'], REGISTRATION_BUCKETS);
    this.resyncs = metrics.counter('resyncs_total', 'resynchronisation MARs (REGISTER with auts, RFC 3310 §3.4)');
    metrics.gauge('registered_aors', 'addresses of record with live bindings (in the store, shared by every registrar process on it)', [],
      async (g) => g.set((await o.store.keys(AOR_PREFIX)).length));
  }

  /**
   * A REGISTER got its final answer.
   * @param bindings the bindings left after a 200.
   * @param seconds since the first REGISTER of the attempt.
   */
  outcome(status: number, bindings: number | undefined, seconds: number): void {
    const result: Result = status >= 500 ? 'error' : status >= 300 ? 'refused' : bindings === 0 ? 'deregistered' : 'registered';
    let byStatus = this.counted.get(result);
    if (!byStatus) {
      byStatus = new Map();
      this.counted.set(result, byStatus);
    }
    let counter = byStatus.get(status);
    if (!counter) {
      counter = this.registrations.labels(result, String(status));
      byStatus.set(status, counter);
    }
    counter.inc();
    let hist = this.timed.get(result);
    if (!hist) {
      hist = this.duration.labels(result);
      this.timed.set(result, hist);
    }
    hist.observe(seconds);
  }

  /** A resynchronisation MAR is about to be sent. */
  resync(): void {
    this.resyncs.inc();
  }
}
