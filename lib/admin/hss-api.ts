/**
 * The HSS admin API as its clients see it (DESIGN §2.3): the wire types it answers with and typed calls over
 * {@link adminRequest}. `mcx hss subscriber …` uses it, and so does the primary MMS, whose subscriber directory is
 * this API (`GET /admin/v1/subscribers?mcptt_id=`): here, so that no role imports the HSS's own code.
 */
import { adminRequest, type AdminTarget } from './client.ts';

/** A subscriber as the admin API shows it: no key material, only whether each credential is set. */
export interface SubscriberView {
  impi: string;
  impus: string[];
  amf: string;
  k_set: boolean;
  opc_set: boolean;
  ha1_set: boolean;
  ha1_realm?: string;
  /** Last issued SQN, 12 hex digits. */
  sqn?: string;
  mcptt_id?: string;
  /** `REALM`, `static:REALM` or `dynamic:REALM` (lib/allowed-partners.ts). */
  allowed_partners: string[];
  updated_at: string;
}

/** The counters of one HSS process, snake_case as `GET /admin/v1/stats` prints them. */
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

/** Typed calls of the HSS admin API; each throws what {@link adminRequest} throws. */
export const adminApi = {
  /** `GET /admin/v1/subscribers`, optionally only the one with this `mcptt_id`. */
  list: (t: AdminTarget, mcpttId?: string) =>
    adminRequest<{ subscribers: SubscriberView[] }>(t, 'GET', `admin/v1/subscribers${mcpttId === undefined ? '' : `?mcptt_id=${encodeURIComponent(mcpttId)}`}`),
  /** `GET /admin/v1/subscribers/:impi`. */
  get: (t: AdminTarget, impi: string) => adminRequest<{ subscriber: SubscriberView }>(t, 'GET', `admin/v1/subscribers/${encodeURIComponent(impi)}`),
  /** `POST /admin/v1/subscribers`. */
  add: (t: AdminTarget, input: unknown, replace = false) =>
    adminRequest<{ subscriber: SubscriberView }>(t, 'POST', `admin/v1/subscribers${replace ? '?replace=true' : ''}`, { json: input }),
  /** `DELETE /admin/v1/subscribers/:impi`. */
  remove: (t: AdminTarget, impi: string) => adminRequest<undefined>(t, 'DELETE', `admin/v1/subscribers/${encodeURIComponent(impi)}`),
  /** `POST /admin/v1/subscribers/import` (CSV). */
  importCsv: (t: AdminTarget, csv: string, replace = false) =>
    adminRequest<{ imported: number; impis: string[] }>(t, 'POST', `admin/v1/subscribers/import${replace ? '?replace=true' : ''}`, { csv }),
  /** `GET /admin/v1/stats`. */
  stats: (t: AdminTarget) => adminRequest<HssStatsSnapshot & Record<string, string | number>>(t, 'GET', 'admin/v1/stats'),
};
