/**
 * Counters of one HSS process, read by `GET /admin/v1/stats`, the tests and the log lines. Per process on purpose:
 * several HSS processes sharing one Redis each count what they did themselves.
 */
import type { HssStatsSnapshot } from '../lib/admin/hss-api.ts';
import { Counters } from '../lib/counters.ts';

/** The counters, snake_case as the admin API prints them (its wire type, lib/admin/hss-api.ts). */
export type { HssStatsSnapshot } from '../lib/admin/hss-api.ts';

/** The HSS's counters. */
export class HssStats extends Counters<HssStatsSnapshot> {
  constructor() {
    super({
      mar: 0, sar: 0, uar: 0, lir: 0, vectors_issued: 0, digest_answers: 0, sipp361_redraws: 0, resyncs: 0,
      resync_resets: 0, resync_seq_went_down: 0, resync_mac_failures: 0, errors: 0,
    });
  }
}
