/**
 * The IdMS admin API (lib/admin/server.ts: bearer token, JSON errors, HTTPS with the IdMS certificate):
 *
 * | method | path | |
 * |---|---|---|
 * | GET | /admin/v1/users | list (no hashes) |
 * | POST | /admin/v1/users[?replace=true] | `{username, password, mcptt_id}` → 201 |
 * | GET / DELETE | /admin/v1/users/:username | one → 200 / removed → 204 |
 */
import type { FastifyInstance } from 'fastify';
import { createAdminServer, queryFlag, sendAdminError } from '../lib/admin/server.ts';
import type { Logger } from '../lib/log.ts';
import { IdmsError } from './errors.ts';
import { view, type UserRepo, type UserView } from './users.ts';

/** What the admin API serves. */
export interface IdmsAdminOptions {
  users: UserRepo;
  token: string;
  logger: Logger;
  tls?: { cert: string; key: string };
}

const STATUS = { ERR_IDMS_USER_INPUT: 400, ERR_IDMS_USER_EXISTS: 409, ERR_IDMS_USER_NOT_FOUND: 404 } as const;

/** A user as the API shows it (snake_case like the rest of the wire formats). */
export function userJson(u: UserView): { username: string; sub: string; mcptt_id: string; created_at: string } {
  return { username: u.username, sub: u.sub, mcptt_id: u.mcpttId, created_at: u.createdAt };
}

/** Builds the admin API (not listening yet). */
export function createIdmsAdminApi(o: IdmsAdminOptions): FastifyInstance {
  const app = createAdminServer({
    token: o.token, logger: o.logger, realm: 'mcx-idms', ...(o.tls ? { tls: o.tls } : {}), bodyLimit: 64 * 1024,
    mapError: (err) => (err instanceof IdmsError ? { status: STATUS[err.code] } : undefined),
  });
  const log = o.logger.child({ component: 'admin-api' });

  app.get('/admin/v1/users', async () => ({ users: (await o.users.list()).map(userJson) }));

  app.post<{ Querystring: { replace?: string }; Body: Record<string, unknown> | undefined }>('/admin/v1/users', async (req, reply) => {
    const b = req.body ?? {};
    const input = { username: b.username, password: b.password, mcpttId: b.mcptt_id };
    if (typeof input.username !== 'string' || typeof input.password !== 'string' || typeof input.mcpttId !== 'string') {
      return sendAdminError(reply, 400, 'send JSON {username, password, mcptt_id}, all strings');
    }
    const user = await o.users.add({ username: input.username, password: input.password, mcpttId: input.mcpttId }, { replace: queryFlag(req.query.replace) });
    log.info({ username: user.username, sub: user.sub, mcptt_id: user.mcpttId }, 'admin API: user provisioned');
    return reply.code(201).send({ user: userJson(user) });
  });

  app.get<{ Params: { username: string } }>('/admin/v1/users/:username', async (req, reply) => {
    const u = await o.users.get(req.params.username);
    return u ? { user: userJson(view(u)) } : sendAdminError(reply, 404, `no user ${req.params.username}`);
  });

  app.delete<{ Params: { username: string } }>('/admin/v1/users/:username', async (req, reply) => {
    if (!(await o.users.remove(req.params.username))) return sendAdminError(reply, 404, `no user ${req.params.username}`);
    log.info({ username: req.params.username }, 'admin API: user removed');
    return reply.code(204).send();
  });
  return app;
}
