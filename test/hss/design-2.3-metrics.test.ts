/**
 * DESIGN §3 (`prom-client`: metrics of the registrar, MMS and HSS): `GET /metrics` on the admin API serves the same
 * counters as `/admin/v1/stats` in the Prometheus text format, behind the same bearer token, read fresh per scrape.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import type { FastifyInstance } from 'fastify';
import { createAdminApi } from '../../hss/admin-api.ts';
import { HssStats } from '../../hss/stats.ts';
import { SubscriberRepo } from '../../hss/subscribers.ts';
import { silentLogger } from '../../lib/log.ts';
import { RoleMetrics } from '../../lib/metrics/role-metrics.ts';
import { openStore, type Store } from '../../lib/store/store.ts';
import { REALM } from './helpers.ts';

const TOKEN = 'metrics-token-0123456789abcdefghij';
let store: Store;
let app: FastifyInstance;
const stats = new HssStats();

before(async () => {
  store = await openStore('memory', { ephemeral: true });
  app = createAdminApi({ subscribers: new SubscriberRepo(store, { realm: REALM }), stats, token: TOKEN, logger: silentLogger, info: { rand_policy: 'sipp361', store: 'memory' } });
});
after(async () => {
  await app.close();
  await store.close();
});

test('GET /metrics: the /admin/v1/stats counters as Prometheus counters, facts as info labels, read at each scrape', async () => {
  const scrape = async (): Promise<string> => {
    const r = await app.inject({ method: 'GET', url: '/metrics', headers: { authorization: `Bearer ${TOKEN}` } });
    assert.equal(r.statusCode, 200);
    assert.match(String(r.headers['content-type']), /^text\/plain; version=0\.0\.4/);
    return r.body;
  };
  const first = await scrape();
  assert.match(first, /^# TYPE mcx_hss_mar_total counter$/m);
  assert.match(first, /^mcx_hss_mar_total 0$/m);
  assert.match(first, /^mcx_hss_info\{rand_policy="sipp361",store="memory"\} 1$/m);
  assert.match(first, /^mcx_process_cpu_user_seconds_total /m, 'process metrics come along');
  stats.inc('mar', 3);
  stats.inc('vectors_issued', 5);
  const second = await scrape();
  assert.match(second, /^mcx_hss_mar_total 3$/m);
  assert.match(second, /^mcx_hss_vectors_issued_total 5$/m);
});

test('GET /metrics without the bearer token → 401 like every admin route', async () => {
  const r = await app.inject({ method: 'GET', url: '/metrics' });
  assert.equal(r.statusCode, 401);
});

test('maps of numbers become one labelled counter; camelCase names are snake_cased', async () => {
  const m = new RoleMetrics('registrar', () => ({ requestsReceived: 7, parseErrorsByCode: { ERR_SIP_SYNTAX: 2, ERR_SIP_TOO_LARGE: 1 }, store: 'redis' }));
  const { body } = await m.scrape();
  assert.match(body, /^mcx_registrar_requests_received_total 7$/m);
  assert.match(body, /^mcx_registrar_parse_errors_by_code_total\{key="ERR_SIP_SYNTAX"\} 2$/m);
  assert.match(body, /^mcx_registrar_parse_errors_by_code_total\{key="ERR_SIP_TOO_LARGE"\} 1$/m);
  assert.match(body, /^mcx_registrar_info\{store="redis"\} 1$/m);
});
