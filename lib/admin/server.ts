/**
 * What every admin API of the project shares (HSS subscribers, MMS mappings): fastify, HTTPS when the role has TLS
 * files, `Authorization: Bearer <token>` on every request (compared in constant time, token.ts), Prometheus metrics
 * at `GET /metrics` when the role gives its metrics (lib/metrics/role-metrics.ts), errors as JSON
 * `{error, error_description}` (+ the role's extra fields such as `problems`), CSV bodies as text, and loopback by
 * default with a warning when the token would travel in clear.
 */
import Fastify, { type FastifyError, type FastifyInstance, type FastifyReply } from 'fastify';
import type { HostPort } from '../config/address.ts';
import { formatHostPort, isLoopback } from '../config/address.ts';
import type { Logger } from '../log.ts';
import type { RoleMetrics } from '../metrics/role-metrics.ts';
import { askSupervisor } from '../workers/ask-supervisor.ts';
import { sharedBindOptions } from '../workers/group.ts';
import { tokenMatches } from './token.ts';

/** What a role's admin API is built on. */
export interface AdminServerOptions {
  token: string;
  logger: Logger;
  /** The `realm` of `WWW-Authenticate: Bearer` (`mcx-hss`, `mcx-mms`). */
  realm: string;
  /** PEM certificate and key: serve HTTPS. */
  tls?: { cert: string; key: string };
  /** Largest request body (default 16 MiB: a large CSV import). */
  bodyLimit?: number;
  /** The role's metrics (with its `/admin/v1/stats` counters): served as Prometheus text at `GET /metrics`. */
  metrics?: RoleMetrics;
  /**
   * The HTTP status (and extra JSON fields) of a role's own error type; undefined lets the generic handling decide
   * (fastify 4xx kept, anything else 500 and logged).
   */
  mapError?(err: Error): { status: number; extra?: Record<string, unknown> } | undefined;
}

const ERROR_BY_STATUS: Readonly<Record<number, string>> = {
  400: 'invalid_request', 401: 'invalid_token', 404: 'not_found', 409: 'conflict', 413: 'request_too_large', 415: 'unsupported_media_type',
};

/**
 * Sends the JSON error shape of every admin API.
 * @param extra fields next to `error` and `error_description` (e.g. `problems`).
 */
export function sendAdminError(reply: FastifyReply, status: number, description: string, extra: Record<string, unknown> = {}): FastifyReply {
  return reply.code(status).send({ error: ERROR_BY_STATUS[status] ?? 'server_error', error_description: description, ...extra });
}

/** Whether a query flag is set (`?replace=true` or `?replace=1`). */
export function queryFlag(v: unknown): boolean {
  return v === 'true' || v === '1';
}

/**
 * A fastify instance with the bearer check, the error shape and a text/csv parser; the role adds its routes, then
 * `listen`s ({@link listenAdmin}) or `inject`s in tests.
 */
export function createAdminServer(o: AdminServerOptions): FastifyInstance {
  const app = Fastify({
    logger: false,
    bodyLimit: o.bodyLimit ?? 16 * 1024 * 1024,
    ...(o.tls ? { https: { cert: o.tls.cert, key: o.tls.key } } : {}),
  }) as unknown as FastifyInstance;
  const log = o.logger.child({ component: 'admin-api' });

  app.addContentTypeParser(['text/csv', 'text/plain'], { parseAs: 'string' }, (_req, body, done) => done(null, body));

  app.addHook('onRequest', async (req, reply) => {
    const header = req.headers.authorization;
    const m = typeof header === 'string' ? /^Bearer\s+(\S+)\s*$/i.exec(header) : null;
    if (!m || !tokenMatches(m[1] as string, o.token)) {
      log.warn({ method: req.method, url: req.url, ip: req.ip, presented: m !== null }, 'admin API: request without a valid bearer token → 401');
      reply.header('www-authenticate', m ? `Bearer realm="${o.realm}", error="invalid_token"` : `Bearer realm="${o.realm}"`);
      return sendAdminError(reply, 401, m ? 'the bearer token is not valid' : 'a bearer token is required');
    }
  });

  app.setErrorHandler((err: FastifyError | Error, _req, reply) => {
    const mapped = o.mapError?.(err);
    if (mapped) return sendAdminError(reply, mapped.status, err.message, mapped.extra);
    const status = (err as FastifyError).statusCode;
    if (status !== undefined && status >= 400 && status < 500) return sendAdminError(reply, status, err.message);
    log.error({ err: err.message }, 'admin API: request failed');
    return sendAdminError(reply, 500, 'internal error');
  });
  app.setNotFoundHandler((req, reply) => sendAdminError(reply, 404, `no route ${req.method} ${req.url.split('?')[0]}`));
  const metrics = o.metrics;
  if (metrics) {
    app.get('/metrics', async (_req, reply) => {
      // In a worker group, the group's metrics whichever worker answers (the supervisor reads every worker's).
      const m = (await askSupervisor('group-metrics')) ?? await metrics.scrape();
      return reply.header('content-type', m.contentType).send(m.body);
    });
  }
  return app;
}

/**
 * Listens (port 0 asks for an ephemeral one; in a worker group the supervisor fixed it first), warning when a plain-HTTP API is reachable beyond loopback.
 * @param https whether the instance was built with TLS.
 * @returns `http(s)://host:port` as bound.
 */
export async function listenAdmin(app: FastifyInstance, address: HostPort, https: boolean, logger: Logger): Promise<string> {
  if (!https && !isLoopback(address.host)) {
    logger.warn({ admin: address.host }, 'admin API on a non-loopback address without TLS: the bearer token travels in clear');
  }
  // In a worker group (lib/workers) every worker serves the API on the shared port; Fastify hands the options to
  // net's listen, which knows reusePort.
  const shared: object = sharedBindOptions() ?? {};
  await app.listen({ host: address.host, port: address.port, ...shared });
  const addr = app.server.address();
  const port = typeof addr === 'object' && addr ? addr.port : address.port;
  return `${https ? 'https' : 'http'}://${formatHostPort({ host: address.host, port })}`;
}
