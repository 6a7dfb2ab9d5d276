/**
 * What both migration APIs share (the partner MMS's configurations, the primary MMS's bindings): fastify over HTTPS
 * only (the role's certificate; with `clientCa`, mutual TLS that refuses a client without a certificate of those
 * CAs in the handshake), JSON bodies, and every error as `{error, error_description}` — a {@link MigrationError}
 * with its own status, a body fastify cannot parse as 400 `invalid_request`, anything else 500 and logged.
 */
import type { z } from 'zod';
import Fastify, { type FastifyError, type FastifyInstance, type FastifyReply } from 'fastify';
import type { HostPort } from '../lib/config/address.ts';
import { formatHostPort } from '../lib/config/address.ts';
import type { Logger } from '../lib/log.ts';
import { MigrationError } from './migration-errors.ts';

/** The server's TLS material. */
export interface MigrationServerTls {
  cert: string;
  key: string;
  /** CAs a client certificate must chain to: mutual TLS. Absent: no client certificate asked for. */
  clientCa?: string[];
}

/** Sends a migration error (RFC 6750 `WWW-Authenticate` for token errors, `realm` naming the API). */
export function sendMigrationError(reply: FastifyReply, err: MigrationError, realm: string): FastifyReply {
  if (err.code === 'ERR_MIGRATION_TOKEN') {
    const desc = err.message.replace(/["\\]/g, "'");
    reply.header('www-authenticate', err.tokenAbsent ? `Bearer realm="${realm}"` : `Bearer realm="${realm}", error="${err.error}", error_description="${desc}"`);
  }
  return reply.code(err.status).send({ error: err.error, error_description: err.message });
}

/**
 * A fastify instance with the error shape; the role adds its routes, then {@link listenMigration}.
 * @param realm the `realm` of `WWW-Authenticate: Bearer`.
 */
export function createMigrationServer(tls: MigrationServerTls, logger: Logger, realm: string): FastifyInstance {
  const app = Fastify({
    logger: false,
    bodyLimit: 64 * 1024,
    https: {
      cert: tls.cert, key: tls.key, minVersion: 'TLSv1.2',
      ...(tls.clientCa ? { ca: tls.clientCa, requestCert: true, rejectUnauthorized: true } : {}),
    },
  }) as unknown as FastifyInstance;
  const log = logger.child({ component: 'migration-api' });
  app.setErrorHandler((err: FastifyError | Error, req, reply) => {
    if (err instanceof MigrationError) {
      log.warn({ method: req.method, url: req.url.split('?')[0], error: err.error }, `migration API: ${err.status} ${err.error}: ${err.message}`);
      return sendMigrationError(reply, err, realm);
    }
    const status = (err as FastifyError).statusCode;
    if (status !== undefined && status >= 400 && status < 500) {
      return reply.code(status).send({ error: status === 415 ? 'unsupported_media_type' : 'invalid_request', error_description: err.message });
    }
    log.error({ err: err.message }, 'migration API: request failed');
    return reply.code(500).send({ error: 'server_error', error_description: 'internal error' });
  });
  app.setNotFoundHandler((req, reply) => reply.code(404).send({ error: 'not_found', error_description: `no route ${req.method} ${req.url.split('?')[0]}` }));
  return app;
}

/**
 * Listens (port 0 asks for an ephemeral one).
 * @returns `https://host:port` as bound.
 */
export async function listenMigration(app: FastifyInstance, address: HostPort): Promise<string> {
  await app.listen({ host: address.host, port: address.port });
  const addr = app.server.address();
  const port = typeof addr === 'object' && addr ? addr.port : address.port;
  return `https://${formatHostPort({ host: address.host, port })}`;
}

/**
 * A request body validated by `schema`.
 * @throws MigrationError ERR_MIGRATION_INPUT naming every bad field.
 */
export function parseBody<T>(schema: z.ZodType<T>, body: unknown): T {
  const r = schema.safeParse(body ?? {});
  if (r.success) return r.data;
  const problems = r.error.issues.map((i) => (i.code === 'unrecognized_keys'
    ? `${i.keys.join(', ')}: not a field of this request`
    : `${i.path.join('.') || 'body'}: ${i.message}`));
  throw new MigrationError('ERR_MIGRATION_INPUT', problems.join('; '));
}
