/**
 * The HSS's own metrics beside the Diameter ones (lib/metrics/diameter.ts: MAR/SAR/UAR/LIR by result code): its
 * `/admin/v1/stats` counters (vectors issued, resyncs …) mirrored as `mcx_hss_<name>_total`, the time each MAR's
 * vectors took (`mcx_hss_vector_generation_seconds`: SQN allocation, durable, then Milenage per vector) and the
 * subscribers provisioned.
 */
import type { RoleMetrics } from '../lib/metrics/role-metrics.ts';
import type { HssStatsSnapshot } from './stats.ts';
import type { SubscriberRepo } from './subscribers.ts';

/** Upper bounds (s) of one vector generation: microseconds of Milenage, up to a store's fsync or a Redis round trip. */
export const VECTOR_GENERATION_BUCKETS = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1] as const;

/** HELP texts of the mirrored stats (lib/admin/hss-api.ts `HssStatsSnapshot`). */
const HELP: Readonly<Record<keyof HssStatsSnapshot, string>> = {
  mar: 'Multimedia-Auth-Requests handled',
  sar: 'Server-Assignment-Requests handled',
  uar: 'User-Authorization-Requests handled',
  lir: 'Location-Info-Requests handled',
  vectors_issued: 'authentication vectors put into MAAs (one SQN each)',
  digest_answers: 'SIP Digest MAAs (one HA1 each)',
  sipp361_redraws: 'RANDs drawn again under the sipp361 policy (RES held a 0x00 octet)',
  resyncs: 'MARs carrying RAND and AUTS (TS 33.102 §6.3.5 resynchronisation)',
  resync_resets: 'resynchronisations that moved SEQ_HE',
  resync_seq_went_down: 'resynchronisations that moved SEQ_HE down (the HE was more than delta ahead)',
  resync_mac_failures: 'resynchronisations whose MAC-S did not verify (nothing changed)',
  errors: 'answers with an Experimental-Result or a Result-Code other than 2001',
};

/**
 * Adds the HSS's metrics to `metrics`.
 * @param stats the `/admin/v1/stats` record (counters and facts).
 * @returns the histogram the vector issuer times itself into.
 */
export function hssMetrics(metrics: RoleMetrics, o: { stats: () => Record<string, unknown>; subscribers: SubscriberRepo }): { observe(seconds: number): void } {
  metrics.mirror(o.stats, { help: HELP });
  metrics.gauge('subscribers', 'subscribers provisioned (in the store, shared by every HSS process on it)', [], async (g) => g.set(await o.subscribers.count()));
  return metrics.histogram('vector_generation_seconds', 'time to issue the vectors of one MAR: SQN allocation (durable) and Milenage per vector', [], VECTOR_GENERATION_BUCKETS);
}
