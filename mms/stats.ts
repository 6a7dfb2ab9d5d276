/**
 * Counters of one partner MMS process, read by `GET /admin/v1/stats` and `GET /metrics`: what the translation agent
 * answered (by flow and outcome) and what the migration API did. Per process, like the HSS's.
 */
import { Counters } from '../lib/counters.ts';

/** The counters, snake_case as the admin API prints them. */
export interface MmsStatsSnapshot extends Record<string, number> {
  /** Cx requests from the partner SIP core. */
  mar: number;
  sar: number;
  /** Of those, by the mapping that served them. */
  static_flow: number;
  dynamic_flow: number;
  /** Answers with Result-Code 2001 from the primary. */
  success: number;
  /** Answered here: no mapping / IMPU not mapped / primary unreachable (3002) / anything else. */
  user_unknown: number;
  identities_dont_match: number;
  primary_unreachable: number;
  /** The primary's own refusals passed through, and 5012s. */
  other_failures: number;
  /** Migration API: configurations created, ended, refused (any 4xx/5xx of a POST). */
  configurations_created: number;
  configurations_ended: number;
  configurations_refused: number;
  /** Registration-Termination-Requests sent to registrars (rtr.ts), and those not delivered (no answer, no peer). */
  registration_terminations: number;
  registration_terminations_failed: number;
}

/** The partner MMS's counters. */
export class MmsStats extends Counters<MmsStatsSnapshot> {
  constructor() {
    super({
      mar: 0, sar: 0, static_flow: 0, dynamic_flow: 0, success: 0, user_unknown: 0, identities_dont_match: 0, primary_unreachable: 0,
      other_failures: 0, configurations_created: 0, configurations_ended: 0, configurations_refused: 0, registration_terminations: 0,
      registration_terminations_failed: 0,
    });
  }
}
