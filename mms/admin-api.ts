/**
 * The partner MMS admin API: the static mappings of TS 23.280 §10.6.2.2 ("statically configured with the mapping
 * between the SIP identities of the partner MC system and … of the primary MC system"), changed at run time. Built on
 * lib/admin/server.ts like the HSS's (bearer token, JSON errors, HTTPS with the role's certificate):
 *
 * | method | path | |
 * |---|---|---|
 * | GET | /admin/v1/mappings | every mapping |
 * | POST | /admin/v1/mappings | JSON: add or replace one → 201; text/csv: import a mapping file (`?replace=true`: the file becomes the whole configuration) → 200 |
 * | GET / DELETE | /admin/v1/mappings/:partner_impi | one → 200 / removed → 204 |
 * | GET | /admin/v1/stats | counters of the translation agent and the migration API |
 * | GET | /metrics | the role's Prometheus metrics, these counters among them (lib/metrics/role-metrics.ts) |
 *
 * A mapping is `{partner_impi, primary_impi, primary_realm, impus: [{partner, primary}]}`. Bad input → 400 and a
 * primary IMPI already mapped from another partner IMPI → 409, both with `problems` (field, CSV line). A removed
 * mapping's registrations are ended at the registrars (Registration-Termination-Request, rtr.ts) before the answer.
 */
import type { FastifyInstance } from 'fastify';
import { createAdminServer, queryFlag, sendAdminError } from '../lib/admin/server.ts';
import { groupStatsReader } from '../lib/workers/group-stats.ts';
import type { Logger } from '../lib/log.ts';
import { RoleMetrics } from '../lib/metrics/role-metrics.ts';
import type { Store } from '../lib/store/store.ts';
import { MmsError } from './errors.ts';
import type { MmsProblem } from './errors.ts';
import { importMappingsCsv } from './mappings-csv.ts';
import { addMapping, getMapping, listMappings, removeMapping } from './mappings.ts';
import type { IdentityMapping, ImpuPair } from './mappings.ts';

/** A mapping as the API shows and takes it. */
export interface MappingView {
  partner_impi: string;
  primary_impi: string;
  primary_realm: string;
  impus: ImpuPair[];
}

/** What the API serves. */
export interface MmsAdminApiOptions {
  store: Store;
  token: string;
  logger: Logger;
  /** PEM certificate and key: serve HTTPS. */
  tls?: { cert: string; key: string };
  /** Counters and facts of `GET /admin/v1/stats`. */
  stats?: () => Record<string, unknown>;
  /** The role's metrics for `GET /metrics` (default: the stats alone, unlabelled). */
  metrics?: RoleMetrics;
  /**
   * Mappings were removed (DELETE, or a file imported with `replace`): their registrations end at the registrars
   * (rtr.ts) before the request is answered.
   */
  onRemoved?(partnerImpis: readonly string[]): Promise<void>;
}

const FIELD_NAMES: Readonly<Record<string, string>> = { partnerImpi: 'partner_impi', primaryImpi: 'primary_impi', primaryRealm: 'primary_realm' };

/** The API's view of a mapping. */
export function mappingView(m: IdentityMapping): MappingView {
  return { partner_impi: m.partnerImpi, primary_impi: m.primaryImpi, primary_realm: m.primaryRealm, impus: m.impus.map((p) => ({ ...p })) };
}

/** A request body as a mapping to validate (mappingProblems names what is wrong with it). */
function fromBody(body: unknown): Omit<IdentityMapping, 'kind'> {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw new MmsError('ERR_MMS_INPUT', [{ message: 'expected a JSON object {partner_impi, primary_impi, primary_realm, impus}' }]);
  }
  const b = body as Partial<Record<keyof MappingView, unknown>>;
  return { partnerImpi: b.partner_impi as string, primaryImpi: b.primary_impi as string, primaryRealm: b.primary_realm as string, impus: b.impus as ImpuPair[] };
}

function apiProblems(problems: readonly MmsProblem[]): MmsProblem[] {
  return problems.map((p) => (p.field === undefined ? p : { ...p, field: FIELD_NAMES[p.field] ?? p.field }));
}

/** Builds the API (not listening yet: `listenAdmin`, or `inject` in tests). */
export function createMmsAdminApi(o: MmsAdminApiOptions): FastifyInstance {
  const stats = o.stats ?? ((): Record<string, unknown> => ({}));
  const app = createAdminServer({
    token: o.token, logger: o.logger, realm: 'mcx-mms', metrics: o.metrics ?? new RoleMetrics('mms', stats), ...(o.tls ? { tls: o.tls } : {}),
    mapError: (err) => {
      if (!(err instanceof MmsError)) return undefined;
      if (err.code !== 'ERR_MMS_INPUT' && err.code !== 'ERR_MMS_CONFLICT') return undefined;
      return { status: err.code === 'ERR_MMS_INPUT' ? 400 : 409, extra: { problems: apiProblems(err.problems) } };
    },
  });
  const log = o.logger.child({ component: 'admin-api' });

  // In a worker group, the group's counters whichever worker answers (lib/workers/group-stats.ts).
  const groupStats = groupStatsReader(stats);
  app.addHook('onClose', async () => groupStats.stop());
  app.get('/admin/v1/stats', groupStats.read);

  app.get('/admin/v1/mappings', async () => ({ mappings: (await listMappings(o.store)).map(mappingView) }));

  app.post<{ Querystring: { replace?: string } }>('/admin/v1/mappings', async (req, reply) => {
    if (typeof req.body === 'string') {
      const { removedImpis, ...r } = await importMappingsCsv(o.store, req.body, queryFlag(req.query.replace));
      log.info(r, 'admin API: mapping file imported');
      if (removedImpis.length) await o.onRemoved?.(removedImpis);
      return { imported: r.mappings, impus: r.impus, removed: r.removed };
    }
    const mapping = fromBody(req.body);
    await addMapping(o.store, mapping);
    log.info({ partnerImpi: mapping.partnerImpi, primaryImpi: mapping.primaryImpi }, 'admin API: mapping set');
    return reply.code(201).send({ mapping: mappingView({ kind: 'static', ...mapping }) });
  });

  app.get<{ Params: { impi: string } }>('/admin/v1/mappings/:impi', async (req, reply) => {
    const m = await getMapping(o.store, req.params.impi);
    if (!m) return sendAdminError(reply, 404, `no mapping for ${req.params.impi}`);
    return { mapping: mappingView(m) };
  });

  app.delete<{ Params: { impi: string } }>('/admin/v1/mappings/:impi', async (req, reply) => {
    if (!(await removeMapping(o.store, req.params.impi))) return sendAdminError(reply, 404, `no mapping for ${req.params.impi}`);
    log.info({ partnerImpi: req.params.impi }, 'admin API: mapping removed');
    await o.onRemoved?.([req.params.impi]);
    return reply.code(204).send();
  });

  return app;
}
