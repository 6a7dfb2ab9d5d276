/**
 * TS 23.280 §10.6.2.2 precondition "the migration management server in the partner MC system has been statically
 * configured with the mapping…", changed at run time through the partner MMS admin API (fastify `inject`, no
 * socket): bearer token, add / list / get / delete, a CSV file imported whole or not at all, errors naming the
 * field (400) or the conflicting identity (409), and the partner identities reserved for dynamic bindings
 * (`mig-<12 hex>@…`, §10.6.2.3) refused in a static mapping by either way in. Every removed mapping is handed to the
 * Registration-Termination-Request sender (mms/rtr.ts) before the request is answered.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { FastifyInstance } from 'fastify';
import { openStore, type Store } from '../../lib/store/store.ts';
import { createMmsAdminApi } from '../../mms/admin-api.ts';
import { captureLogger } from './fixtures.ts';

const TOKEN = 'mms-test-token-0123456789abcdefgh';
const auth = { authorization: `Bearer ${TOKEN}` };
const BOB = {
  partner_impi: 'bob.mig@partner.example', primary_impi: 'bob@primary.example', primary_realm: 'primary.example',
  impus: [{ partner: 'sip:bob.mig@partner.example', primary: 'sip:bob@primary.example' }],
};

describe('partner MMS admin API for the static mappings', () => {
  let store: Store;
  let app: FastifyInstance;
  const removed: string[][] = [];
  before(async () => {
    store = await openStore('memory', { ephemeral: true });
    app = createMmsAdminApi({ store, token: TOKEN, logger: captureLogger().logger, onRemoved: async (impis) => void removed.push([...impis]) });
  });
  after(async () => {
    await app.close();
    await store.close();
  });

  test('no or a wrong bearer token → 401 with WWW-Authenticate realm mcx-mms, on every route', async () => {
    for (const [method, url] of [['GET', '/admin/v1/mappings'], ['POST', '/admin/v1/mappings'], ['DELETE', '/admin/v1/mappings/x@y.example']] as const) {
      const none = await app.inject({ method, url });
      assert.equal(none.statusCode, 401, `${method} ${url}`);
      assert.equal(none.headers['www-authenticate'], 'Bearer realm="mcx-mms"');
      const wrong = await app.inject({ method, url, headers: { authorization: `Bearer ${TOKEN}x` } });
      assert.equal(wrong.statusCode, 401);
    }
  });

  test('POST a mapping → 201; GET lists it and returns it by partner IMPI; DELETE → 204, then 404', async () => {
    const created = await app.inject({ method: 'POST', url: '/admin/v1/mappings', headers: auth, payload: BOB });
    assert.equal(created.statusCode, 201);
    assert.deepEqual(created.json(), { mapping: BOB });
    assert.deepEqual((await app.inject({ method: 'GET', url: '/admin/v1/mappings', headers: auth })).json(), { mappings: [BOB] });
    const one = await app.inject({ method: 'GET', url: `/admin/v1/mappings/${encodeURIComponent(BOB.partner_impi)}`, headers: auth });
    assert.deepEqual(one.json(), { mapping: BOB });
    assert.equal((await app.inject({ method: 'DELETE', url: `/admin/v1/mappings/${BOB.partner_impi}`, headers: auth })).statusCode, 204);
    assert.deepEqual(removed.splice(0), [[BOB.partner_impi]], 'its registrations end (RTR)');
    assert.equal((await app.inject({ method: 'DELETE', url: `/admin/v1/mappings/${BOB.partner_impi}`, headers: auth })).statusCode, 404);
    assert.deepEqual(removed, []);
    assert.equal((await app.inject({ method: 'GET', url: `/admin/v1/mappings/${BOB.partner_impi}`, headers: auth })).statusCode, 404);
  });

  test('a bad mapping → 400 with every problem named by its API field; an ambiguous primary IMPI → 409', async () => {
    const bad = await app.inject({ method: 'POST', url: '/admin/v1/mappings', headers: auth, payload: { ...BOB, primary_realm: 'not a realm', impus: [{ partner: 'mailto:x' }] } });
    assert.equal(bad.statusCode, 400);
    const body = bad.json<{ error: string; problems: Array<{ field: string }> }>();
    assert.equal(body.error, 'invalid_request');
    assert.deepEqual(body.problems.map((p) => p.field).sort(), ['impus[0].partner', 'impus[0].primary', 'primary_realm']);
    const notObject = await app.inject({ method: 'POST', url: '/admin/v1/mappings', headers: { ...auth, 'content-type': 'application/json' }, payload: '[]' });
    assert.equal(notObject.statusCode, 400);
    assert.equal((await app.inject({ method: 'POST', url: '/admin/v1/mappings', headers: auth, payload: BOB })).statusCode, 201);
    const clash = await app.inject({ method: 'POST', url: '/admin/v1/mappings', headers: auth, payload: { ...BOB, partner_impi: 'other@partner.example' } });
    assert.equal(clash.statusCode, 409);
    assert.match(JSON.stringify(clash.json()), /bob@primary\.example is already mapped from bob\.mig@partner\.example/);
  });

  test('POST text/csv imports a mapping file; ?replace=true makes it the whole configuration; a bad file changes nothing', async () => {
    const csv = 'partner_impi,partner_impu,primary_impi,primary_impu,primary_realm\n' +
      'carol.mig@partner.example,sip:carol.mig@partner.example,carol@primary.example,sip:carol@primary.example,primary.example\n';
    const headers = { ...auth, 'content-type': 'text/csv' };
    const bad = await app.inject({ method: 'POST', url: '/admin/v1/mappings?replace=true', headers, payload: `${csv}x@partner.example,sip:x@partner.example,y@primary.example,nope,primary.example\n` });
    assert.equal(bad.statusCode, 400);
    assert.deepEqual(bad.json<{ problems: unknown[] }>().problems, [{ line: 3, field: 'primary_impu', message: 'must be a sip:, sips: or tel: URI' }]);
    const list = async (): Promise<string[]> => (await app.inject({ method: 'GET', url: '/admin/v1/mappings', headers: auth })).json<{ mappings: Array<{ partner_impi: string }> }>().mappings.map((m) => m.partner_impi);
    assert.deepEqual(await list(), [BOB.partner_impi]);
    const ok = await app.inject({ method: 'POST', url: '/admin/v1/mappings?replace=true', headers, payload: csv });
    assert.deepEqual(ok.json(), { imported: 1, impus: 1, removed: 1 });
    assert.deepEqual(await list(), ['carol.mig@partner.example']);
    assert.deepEqual(removed.splice(0), [[BOB.partner_impi]], 'the mapping the file no longer has ends its registrations (RTR)');
  });

  test('a partner IMPI or IMPU in the namespace of dynamic bindings (mig-<12 hex>@…) → 400 naming it, JSON or CSV; nothing stored', async () => {
    const before = (await app.inject({ method: 'GET', url: '/admin/v1/mappings', headers: auth })).json();
    const reservedImpi = await app.inject({ method: 'POST', url: '/admin/v1/mappings', headers: auth, payload: {
      ...BOB, partner_impi: 'mig-0123456789ab@partner.example', impus: [{ partner: 'sip:MIG-A0B1C2D3E4F5@partner.example', primary: 'sip:bob@primary.example' }],
    } });
    assert.equal(reservedImpi.statusCode, 400);
    const problems = reservedImpi.json<{ problems: Array<{ field: string; message: string }> }>().problems;
    assert.deepEqual(problems.map((p) => p.field), ['partner_impi', 'impus[0].partner']);
    assert.match(problems[0]?.message ?? '', /^mig-0123456789ab@partner\.example is in mig-<12 hex digits>@<realm>, reserved for dynamic migration bindings \(TS 23\.280 §10\.6\.2\.3\)/);
    const csv = 'partner_impi,partner_impu,primary_impi,primary_impu,primary_realm\n' +
      'dave.mig@partner.example,sip:dave.mig@partner.example,dave@primary.example,sip:dave@primary.example,primary.example\n' +
      'erin.mig@partner.example,sip:mig-00000000abcd@partner.example,erin@primary.example,sip:erin@primary.example,primary.example\n';
    const file = await app.inject({ method: 'POST', url: '/admin/v1/mappings', headers: { ...auth, 'content-type': 'text/csv' }, payload: csv });
    assert.equal(file.statusCode, 400);
    assert.deepEqual(file.json<{ problems: Array<{ line: number; field: string }> }>().problems.map((p) => [p.line, p.field]), [[3, 'impus[0].partner']]);
    assert.deepEqual((await app.inject({ method: 'GET', url: '/admin/v1/mappings', headers: auth })).json(), before, 'nothing written');
    const lookAlike = await app.inject({ method: 'POST', url: '/admin/v1/mappings', headers: auth, payload: {
      ...BOB, partner_impi: 'mig-0123456789@partner.example', primary_impi: 'frank@primary.example',
    } });
    assert.equal(lookAlike.statusCode, 201, 'ten hex digits are outside the namespace');
  });
});
