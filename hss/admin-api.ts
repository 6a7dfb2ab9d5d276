/**
 * The HSS admin API (DESIGN §2.3), fastify, HTTPS when TLS files are configured, loopback by default:
 *
 * | method | path | |
 * |---|---|---|
 * | GET | /admin/v1/subscribers[?mcptt_id=] | list (views without secrets) |
 * | POST | /admin/v1/subscribers[?replace=true] | provision one (JSON) → 201 |
 * | GET / DELETE | /admin/v1/subscribers/:impi | one → 200 / removed → 204 |
 * | POST | /admin/v1/subscribers/import[?replace=true] | CSV body (text/csv) → 200 `{imported}` |
 * | GET | /admin/v1/stats | counters |
 * | GET | /metrics | the role's Prometheus metrics, these counters among them (lib/metrics/role-metrics.ts) |
 *
 * Every request needs `Authorization: Bearer <token>` (constant-time compare). Errors are JSON
 * `{error, error_description}` (+ `problems` for provisioning input). Responses never carry K, OPc or HA1.
 */
import type { FastifyInstance } from 'fastify';
import { createAdminServer, queryFlag as yes, sendAdminError as fail } from '../lib/admin/server.ts';
import { groupStatsReader } from '../lib/workers/group-stats.ts';
import type { Logger } from '../lib/log.ts';
import { RoleMetrics } from '../lib/metrics/role-metrics.ts';
import { importSubscriberCsv } from './csv.ts';
import type { HssStats } from './stats.ts';
import { SubscriberError, type SubscriberRepo } from './subscribers.ts';

/** What the admin API serves. */
export interface AdminApiOptions {
  subscribers: SubscriberRepo;
  stats: HssStats;
  token: string;
  logger: Logger;
  /** PEM certificate and key: serve HTTPS. */
  tls?: { cert: string; key: string };
  /** Extra fields of `GET /admin/v1/stats` (RAND policy, store kind). */
  info?: Record<string, string>;
  /** Largest request body (default 16 MiB: a large CSV import). */
  bodyLimit?: number;
  /** The role's metrics for `GET /metrics` (default: the stats alone, unlabelled). */
  metrics?: RoleMetrics;
}

const STATUS_BY_CODE = { ERR_HSS_INPUT: 400, ERR_HSS_EXISTS: 409, ERR_HSS_CONFLICT: 409, ERR_HSS_NOT_FOUND: 404 } as const;

/**
 * Builds the admin API (not listening yet: call `listen`, or `inject` in tests).
 */
export function createAdminApi(o: AdminApiOptions): FastifyInstance {
  const stats = (): Record<string, unknown> => ({ ...o.info, ...o.stats.snapshot() });
  const app = createAdminServer({
    token: o.token, logger: o.logger, realm: 'mcx-hss', metrics: o.metrics ?? new RoleMetrics('hss', stats),
    ...(o.tls ? { tls: o.tls } : {}), ...(o.bodyLimit === undefined ? {} : { bodyLimit: o.bodyLimit }),
    mapError: (err) => (err instanceof SubscriberError ? { status: STATUS_BY_CODE[err.code], extra: { problems: err.problems } } : undefined),
  });
  const repo = o.subscribers;
  const log = o.logger.child({ component: 'admin-api' });

  app.get<{ Querystring: { mcptt_id?: string } }>('/admin/v1/subscribers', async (req) => {
    let records;
    if (req.query.mcptt_id === undefined) records = await repo.list();
    else {
      // One lookup through the mcptt_id index: the primary MMS asks this for every migration request.
      const impi = await repo.impiOfMcpttId(req.query.mcptt_id);
      const record = impi === undefined ? undefined : await repo.get(impi);
      records = record ? [record] : [];
    }
    return { subscribers: await Promise.all(records.map((r) => repo.view(r))) };
  });

  app.post<{ Querystring: { replace?: string } }>('/admin/v1/subscribers', async (req, reply) => {
    const record = await repo.put(req.body, { replace: yes(req.query.replace) });
    log.info({ impi: record.impi }, 'admin API: subscriber provisioned');
    return reply.code(201).send({ subscriber: await repo.view(record) });
  });

  app.post<{ Querystring: { replace?: string } }>('/admin/v1/subscribers/import', async (req, reply) => {
    if (typeof req.body !== 'string') return fail(reply, 415, 'send the CSV as text/csv');
    const records = await importSubscriberCsv(repo, req.body, { replace: yes(req.query.replace) });
    log.info({ imported: records.length }, 'admin API: CSV imported');
    return { imported: records.length, impis: records.map((r) => r.impi) };
  });

  app.get<{ Params: { impi: string } }>('/admin/v1/subscribers/:impi', async (req, reply) => {
    const record = await repo.get(req.params.impi);
    if (!record) return fail(reply, 404, `no subscriber ${req.params.impi}`);
    return { subscriber: await repo.view(record) };
  });

  app.delete<{ Params: { impi: string } }>('/admin/v1/subscribers/:impi', async (req, reply) => {
    if (!(await repo.remove(req.params.impi))) return fail(reply, 404, `no subscriber ${req.params.impi}`);
    return reply.code(204).send();
  });

  // In a worker group, the group's counters whichever worker answers (lib/workers/group-stats.ts).
  const groupStats = groupStatsReader(stats);
  app.addHook('onClose', async () => groupStats.stop());
  app.get('/admin/v1/stats', groupStats.read);

  return app;
}
