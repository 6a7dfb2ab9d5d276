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
 *
 * Every request needs `Authorization: Bearer <token>` (constant-time compare). Errors are JSON
 * `{error, error_description}` (+ `problems` for provisioning input). Responses never carry K, OPc or HA1.
 */
import Fastify, { type FastifyError, type FastifyInstance, type FastifyReply } from 'fastify';
import type { Logger } from '../lib/log.ts';
import { tokenMatches } from './admin-token.ts';
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
}

const STATUS_BY_CODE = { ERR_HSS_INPUT: 400, ERR_HSS_EXISTS: 409, ERR_HSS_CONFLICT: 409, ERR_HSS_NOT_FOUND: 404 } as const;
const ERROR_BY_STATUS: Record<number, string> = { 400: 'invalid_request', 401: 'invalid_token', 404: 'not_found', 409: 'conflict', 413: 'request_too_large', 415: 'unsupported_media_type' };

function fail(reply: FastifyReply, status: number, description: string, extra: Record<string, unknown> = {}): FastifyReply {
  return reply.code(status).send({ error: ERROR_BY_STATUS[status] ?? 'server_error', error_description: description, ...extra });
}

const yes = (v: unknown): boolean => v === 'true' || v === '1';

/**
 * Builds the admin API (not listening yet: call `listen`, or `inject` in tests).
 */
export function createAdminApi(o: AdminApiOptions): FastifyInstance {
  const app = Fastify({
    logger: false,
    bodyLimit: o.bodyLimit ?? 16 * 1024 * 1024,
    ...(o.tls ? { https: { cert: o.tls.cert, key: o.tls.key } } : {}),
  }) as unknown as FastifyInstance;
  const repo = o.subscribers;
  const log = o.logger.child({ component: 'admin-api' });

  app.addContentTypeParser(['text/csv', 'text/plain'], { parseAs: 'string' }, (_req, body, done) => done(null, body));

  app.addHook('onRequest', async (req, reply) => {
    const header = req.headers.authorization;
    const m = typeof header === 'string' ? /^Bearer\s+(\S+)\s*$/i.exec(header) : null;
    if (!m || !tokenMatches(m[1] as string, o.token)) {
      log.warn({ method: req.method, url: req.url, ip: req.ip, presented: m !== null }, 'admin API: request without a valid bearer token → 401');
      reply.header('www-authenticate', m ? 'Bearer realm="mcx-hss", error="invalid_token"' : 'Bearer realm="mcx-hss"');
      return fail(reply, 401, m ? 'the bearer token is not valid' : 'a bearer token is required');
    }
  });

  app.setErrorHandler((err: FastifyError | SubscriberError | Error, _req, reply) => {
    if (err instanceof SubscriberError) return fail(reply, STATUS_BY_CODE[err.code], err.message, { problems: err.problems });
    const status = (err as FastifyError).statusCode;
    if (status !== undefined && status >= 400 && status < 500) return fail(reply, status, err.message);
    log.error({ err: err.message }, 'admin API: request failed');
    return fail(reply, 500, 'internal error');
  });
  app.setNotFoundHandler((req, reply) => fail(reply, 404, `no route ${req.method} ${req.url.split('?')[0]}`));

  app.get<{ Querystring: { mcptt_id?: string } }>('/admin/v1/subscribers', async (req) => {
    let records = await repo.list();
    if (req.query.mcptt_id !== undefined) {
      const impi = await repo.impiOfMcpttId(req.query.mcptt_id);
      records = records.filter((r) => r.impi === impi);
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

  app.get('/admin/v1/stats', async () => ({ ...o.info, ...o.stats.snapshot() }));

  return app;
}
