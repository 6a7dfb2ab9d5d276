/**
 * DESIGN §2.3 admin API (fastify `inject`, no socket): bearer token required (none → 401, wrong → 401, compared in
 * constant time), errors as `{error, error_description}`, provisioning by JSON and CSV, and no K / OPc / HA1 /
 * password in any response. Also the token file: created 0600 in the state directory, reused on restart.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { openStore, type Store } from '../../lib/store/store.ts';
import { createAdminApi } from '../../hss/admin-api.ts';
import { ensureAdminToken, tokenMatches } from '../../lib/admin/token.ts';
import { HssStats } from '../../hss/stats.ts';
import { SubscriberRepo } from '../../hss/subscribers.ts';
import { ALICE, CAROL, K, OP, OPC, REALM, captureLogger } from './helpers.ts';

const TOKEN = 'test-token-0123456789abcdefghijkl';
const auth = { authorization: `Bearer ${TOKEN}` };

describe('design §2.3 admin API', () => {
  let store: Store;
  let app: FastifyInstance;
  const log = captureLogger();
  const stats = new HssStats();
  before(async () => {
    store = await openStore('memory', { ephemeral: true });
    const subscribers = new SubscriberRepo(store, { realm: REALM });
    await subscribers.put(ALICE);
    app = createAdminApi({ subscribers, stats, token: TOKEN, logger: log.logger, info: { rand_policy: 'uniform' } });
  });
  after(async () => {
    await app.close();
    await store.close();
  });

  test('no token → 401 with WWW-Authenticate: Bearer and {error, error_description}', async () => {
    const r = await app.inject({ method: 'GET', url: '/admin/v1/subscribers' });
    assert.equal(r.statusCode, 401);
    assert.match(String(r.headers['www-authenticate']), /^Bearer realm="mcx-hss"$/);
    const body = r.json<{ error: string; error_description: string }>();
    assert.equal(body.error, 'invalid_token');
    assert.equal(typeof body.error_description, 'string');
  });

  for (const [what, header] of [['wrong token', `Bearer ${TOKEN}x`], ['token prefix', `Bearer ${TOKEN.slice(0, 10)}`], ['Basic scheme', `Basic ${TOKEN}`]] as const) {
    test(`${what} → 401 (also on every route, stats included)`, async () => {
      for (const url of ['/admin/v1/subscribers', '/admin/v1/stats', `/admin/v1/subscribers/${ALICE.impi}`]) {
        const r = await app.inject({ method: 'GET', url, headers: { authorization: header } });
        assert.equal(r.statusCode, 401, url);
      }
      const del = await app.inject({ method: 'DELETE', url: `/admin/v1/subscribers/${ALICE.impi}`, headers: { authorization: header } });
      assert.equal(del.statusCode, 401);
    });
  }

  test('the token compare is by digest: equal strings match, anything else does not', () => {
    assert.ok(tokenMatches(TOKEN, TOKEN));
    assert.ok(!tokenMatches(`${TOKEN} `, TOKEN));
    assert.ok(!tokenMatches('', TOKEN));
  });

  test('POST a subscriber (OP given) → 201 with a view that has no secret, only *_set flags', async () => {
    const r = await app.inject({
      method: 'POST', url: '/admin/v1/subscribers', headers: auth,
      payload: { impi: 'dan@primary.example', impus: ['sip:dan@primary.example'], k: K, op: OP, password: 'dan-secret', mcptt_id: 'mc-dan' },
    });
    assert.equal(r.statusCode, 201, r.body);
    const v = r.json<{ subscriber: Record<string, unknown> }>().subscriber;
    assert.deepEqual([v.k_set, v.opc_set, v.ha1_set, v.mcptt_id, v.sqn], [true, true, true, 'mc-dan', '000000000000']);
    for (const f of ['k', 'op', 'opc', 'ha1', 'password']) assert.equal(v[f], undefined, f);
  });

  test('no response ever contains K, OP, OPc, an HA1 or a password', async () => {
    await app.inject({ method: 'POST', url: '/admin/v1/subscribers', headers: auth, payload: CAROL });
    const rec = await new SubscriberRepo(store, { realm: REALM }).get(CAROL.impi);
    const secrets = [K, OP, OPC, CAROL.password, 'dan-secret', rec?.ha1?.md5 as string, rec?.ha1?.sha256 as string];
    const bodies = await Promise.all([
      '/admin/v1/subscribers', `/admin/v1/subscribers/${ALICE.impi}`, `/admin/v1/subscribers/${CAROL.impi}`, '/admin/v1/stats',
    ].map((url) => app.inject({ method: 'GET', url, headers: auth }).then((r) => r.body.toLowerCase())));
    for (const body of bodies) for (const s of secrets) assert.ok(!body.includes(s.toLowerCase()), `secret in ${body.slice(0, 60)}`);
    assert.ok(!log.text().toLowerCase().includes(K), 'nor any log line');
  });

  test('bad input → 400 invalid_request with problems naming the field; existing IMPI → 409; unknown → 404', async () => {
    const bad = await app.inject({ method: 'POST', url: '/admin/v1/subscribers', headers: auth, payload: { impi: 'x@primary.example', impus: ['nope'], k: 'zz', opc: OPC } });
    assert.equal(bad.statusCode, 400);
    const body = bad.json<{ error: string; problems: { field: string }[] }>();
    assert.equal(body.error, 'invalid_request');
    assert.deepEqual(body.problems.map((p) => p.field).sort(), ['impus', 'k']);
    const dup = await app.inject({ method: 'POST', url: '/admin/v1/subscribers', headers: auth, payload: ALICE });
    assert.equal(dup.statusCode, 409);
    assert.equal(dup.json<{ error: string }>().error, 'conflict');
    assert.equal((await app.inject({ method: 'GET', url: '/admin/v1/subscribers/nobody@x.example', headers: auth })).statusCode, 404);
    assert.equal((await app.inject({ method: 'GET', url: '/admin/v1/nothing', headers: auth })).json<{ error: string }>().error, 'not_found');
    const notJson = await app.inject({ method: 'POST', url: '/admin/v1/subscribers', headers: { ...auth, 'content-type': 'application/json' }, payload: '{' });
    assert.equal(notJson.statusCode, 400);
    assert.equal(notJson.json<{ error: string }>().error, 'invalid_request');
  });

  test('CSV import: a bad row → 400 listing it by line, nothing imported; a good file → {imported}', async () => {
    const csv = `impi,impus,k,opc\nev@primary.example,sip:ev@primary.example,${K},${OPC}\nfay@primary.example,sip:fay@primary.example,${K},\n`;
    const bad = await app.inject({ method: 'POST', url: '/admin/v1/subscribers/import', headers: { ...auth, 'content-type': 'text/csv' }, payload: csv });
    assert.equal(bad.statusCode, 400);
    assert.deepEqual(bad.json<{ problems: { line: number }[] }>().problems.map((p) => p.line), [3]);
    assert.equal((await app.inject({ method: 'GET', url: '/admin/v1/subscribers/ev@primary.example', headers: auth })).statusCode, 404);
    const good = await app.inject({
      method: 'POST', url: '/admin/v1/subscribers/import', headers: { ...auth, 'content-type': 'text/csv' },
      payload: csv.replace(`${K},\n`, `${K},${OPC}\n`),
    });
    assert.equal(good.statusCode, 200, good.body);
    assert.deepEqual(good.json(), { imported: 2, impis: ['ev@primary.example', 'fay@primary.example'] });
  });

  test('GET ?mcptt_id= finds one subscriber; DELETE → 204 then 404; stats are counters', async () => {
    const one = await app.inject({ method: 'GET', url: '/admin/v1/subscribers?mcptt_id=mc-dan', headers: auth });
    assert.deepEqual(one.json<{ subscribers: { impi: string }[] }>().subscribers.map((s) => s.impi), ['dan@primary.example']);
    assert.equal((await app.inject({ method: 'DELETE', url: '/admin/v1/subscribers/dan@primary.example', headers: auth })).statusCode, 204);
    assert.equal((await app.inject({ method: 'DELETE', url: '/admin/v1/subscribers/dan@primary.example', headers: auth })).statusCode, 404);
    const s = (await app.inject({ method: 'GET', url: '/admin/v1/stats', headers: auth })).json<Record<string, unknown>>();
    assert.equal(s.vectors_issued, 0);
    assert.equal(s.sipp361_redraws, 0);
    assert.equal(s.resyncs, 0);
    assert.equal(s.rand_policy, 'uniform');
  });
});

test('admin token file: created 0600 in the state directory, reused on the next start', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'mcx-hss-token-'));
  try {
    const first = await ensureAdminToken({ stateDir: join(dir, 'state') });
    assert.equal(first.path, join(dir, 'state', 'admin-token'));
    assert.equal((await stat(first.path)).mode & 0o777, 0o600);
    assert.ok(first.token.length >= 43);
    assert.equal((await readFile(first.path, 'utf8')).trim(), first.token);
    const again = await ensureAdminToken({ stateDir: join(dir, 'state') });
    assert.equal(again.token, first.token);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
