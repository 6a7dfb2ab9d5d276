/**
 * Counters of one HSS process, read by `GET /admin/v1/stats`, the tests and the log lines. Per process on purpose:
 * several HSS processes sharing one Redis each count what they did themselves.
 */
import { Counters } from '../lib/counters.ts';

/** The counters, snake_case as the admin API prints them. */
export interface HssStatsSnapshot extends Record<string, number> {
  mar: number;
  sar: number;
  uar: number;
  lir: number;
  /** Vectors put into MAAs (one per SQN allocated). */
  vectors_issued: number;
  /** SIP Digest MAAs (one HA1 each). */
  digest_answers: number;
  /** RANDs drawn again under the `sipp361` policy because RES held a 0x00 octet. */
  sipp361_redraws: number;
  /** MARs carrying RAND‖AUTS (33.102 §6.3.5). */
  resyncs: number;
  /** Resyncs that moved SEQ_HE (the HE's next SQN was not acceptable to the USIM). */
  resync_resets: number;
  /** Resyncs that moved SEQ_HE down (the HE was more than Δ ahead of the USIM). */
  resync_seq_went_down: number;
  /** Resyncs whose MAC-S did not verify (no reset). */
  resync_mac_failures: number;
  /** Answers with an Experimental-Result or a non-2001 Result-Code. */
  errors: number;
}

/** The HSS's counters. */
export class HssStats extends Counters<HssStatsSnapshot> {
  constructor() {
    super({
      mar: 0, sar: 0, uar: 0, lir: 0, vectors_issued: 0, digest_answers: 0, sipp361_redraws: 0, resyncs: 0,
      resync_resets: 0, resync_seq_went_down: 0, resync_mac_failures: 0, errors: 0,
    });
  }
}
