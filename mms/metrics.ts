/**
 * The MMS's own metrics beside the Diameter ones (lib/metrics/diameter.ts: MAR/SAR by result code, round trips to
 * the relay and the primary MMS, peers up):
 *
 * - partner: its `/admin/v1/stats` counters mirrored (`mcx_mms_<name>_total`: requests by flow and outcome, migration
 *   configurations created / ended / refused, Registration-Termination-Requests), and the static mappings and live
 *   dynamic migrations in its store (`mcx_mms_static_mappings`, `mcx_mms_migrations`);
 * - primary: the migration bindings it confirmed that are live (`mcx_mms_bindings`).
 *
 * The gauges list store keys at each scrape: what a Prometheus interval can afford, never work per request.
 */
import type { RoleMetrics } from '../lib/metrics/role-metrics.ts';
import type { Store } from '../lib/store/store.ts';
import { countConfigurations } from './bindings.ts';
import { MAP_PREFIX } from './mappings.ts';
import { countBindings } from './primary-bindings.ts';
import type { MmsStatsSnapshot } from './stats.ts';

/** HELP texts of the mirrored stats (mms/stats.ts). */
const HELP: Readonly<Record<keyof MmsStatsSnapshot, string>> = {
  mar: 'Multimedia-Auth-Requests from the partner SIP core',
  sar: 'Server-Assignment-Requests from the partner SIP core',
  static_flow: 'Cx requests served by a static mapping (TS 23.280 §10.6.2.2)',
  dynamic_flow: 'Cx requests served by a dynamic migration binding (§10.6.2.3)',
  success: 'Cx answers with Result-Code 2001 from the primary system',
  user_unknown: 'Cx requests answered 5001 here (no mapping, or none for this identity)',
  identities_dont_match: 'Cx requests answered 5002 here (the IMPU is not mapped)',
  primary_unreachable: 'Cx requests answered 3002 here (the primary system did not answer)',
  other_failures: 'refusals of the primary system passed through, and 5012s',
  configurations_created: 'migration configurations created (migration API)',
  configurations_ended: 'migration configurations ended (DELETE or expiry)',
  configurations_refused: 'migration configuration requests refused (any 4xx/5xx of a POST)',
  registration_terminations: 'Registration-Termination-Requests sent to registrars',
  registration_terminations_failed: 'Registration-Termination-Requests not delivered (no answer, no peer)',
};

/** Adds the partner MMS's metrics to `metrics`. */
export function partnerMmsMetrics(metrics: RoleMetrics, o: { stats: () => Record<string, unknown>; store: Store }): void {
  metrics.mirror(o.stats, { help: HELP });
  metrics.gauge('static_mappings', 'static identity mappings configured (in the store)', [], async (g) => g.set((await o.store.keys(MAP_PREFIX)).length));
  metrics.gauge('migrations', 'live dynamic migration configurations (in the store)', [], async (g) => g.set(await countConfigurations(o.store)));
}

/** Adds the primary MMS's metrics to `metrics`. */
export function primaryMmsMetrics(metrics: RoleMetrics, o: { store: Store }): void {
  metrics.gauge('bindings', 'live migration bindings this primary MMS confirmed (in the store)', [], async (g) => g.set(await countBindings(o.store)));
}
