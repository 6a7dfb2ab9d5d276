/**
 * The registrar's admin API (lib/admin/server.ts: bearer token, JSON errors, HTTPS with the TLS files):
 *
 * | method | path | |
 * |---|---|---|
 * | GET | /admin/v1/bindings | every AOR with live bindings: `{bindings: BindingView[]}` |
 * | GET | /admin/v1/stats | SIP counters and the store kind |
 * | GET | /metrics | the role's Prometheus metrics, these counters among them (lib/metrics/role-metrics.ts) |
 *
 * Views carry identities, contact URIs and remaining seconds; challenges (vectors) are never listed.
 */
import type { FastifyInstance } from 'fastify';
import { createAdminServer } from '../lib/admin/server.ts';
import { groupStatsReader } from '../lib/workers/group-stats.ts';
import type { Logger } from '../lib/log.ts';
import { RoleMetrics } from '../lib/metrics/role-metrics.ts';
import type { AorRecord, BindingStore } from './bindings.ts';

/** One AOR as the admin API and `mcx registrar bindings` show it. */
export interface BindingView {
  aor: string;
  impi: string;
  contacts: Array<{ uri: string; params: string; expires: number; source: string; path: string[] }>;
}

/**
 * The view of an AOR record.
 * @param now epoch ms, for the remaining seconds.
 */
export function bindingView(rec: AorRecord, now = Date.now()): BindingView {
  return {
    aor: rec.aor,
    impi: rec.impi,
    contacts: rec.bindings.map((b) => ({
      uri: b.uri, params: b.params, expires: Math.max(0, Math.ceil((b.expiresAt - now) / 1000)), source: b.source, path: b.path,
    })),
  };
}

/** What the admin API serves. */
export interface RegistrarAdminOptions {
  bindings: BindingStore;
  token: string;
  logger: Logger;
  tls?: { cert: string; key: string };
  /** Counters and facts of `GET /admin/v1/stats`. */
  stats(): Record<string, unknown>;
  /** The role's metrics for `GET /metrics` (default: the stats alone, unlabelled). */
  metrics?: RoleMetrics;
}

/** Builds the admin API (not listening yet). */
export function createRegistrarAdminApi(o: RegistrarAdminOptions): FastifyInstance {
  const app = createAdminServer({
    token: o.token, logger: o.logger, realm: 'mcx-registrar', metrics: o.metrics ?? new RoleMetrics('registrar', o.stats), ...(o.tls ? { tls: o.tls } : {}),
  });
  app.get('/admin/v1/bindings', async () => {
    const now = Date.now();
    return { bindings: (await o.bindings.list(now)).map((r) => bindingView(r, now)) };
  });
  // In a worker group, the group's counters whichever worker answers (lib/workers/group-stats.ts).
  const groupStats = groupStatsReader(() => o.stats());
  app.addHook('onClose', async () => groupStats.stop());
  app.get('/admin/v1/stats', groupStats.read);
  return app;
}
