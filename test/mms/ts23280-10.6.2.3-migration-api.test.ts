/**
 * The partner MMS's migration configuration API (DESIGN §2.4 [design]) on real HTTPS, in front of a real primary
 * binding API (mutual TLS): partner access tokens are checked for signature, issuer, audience, expiry and the
 * migration scope (RFC 6750 errors with `WWW-Authenticate`), the user's primary system must be one this partner
 * works with, the primary's refusal or absence allocates nothing, and a configuration is visible to its owner only.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import { SignJWT } from 'jose';
import { loadTlsMaterial, signingPaths } from '../../certs/layout.ts';
import { issuePartnerAccessToken } from '../../idms/grants/jwt-bearer.ts';
import { loadSigningMaterial, type SigningMaterial } from '../../idms/keys.ts';
import { silentLogger } from '../../lib/log.ts';
import { openStore, type Store } from '../../lib/store/store.ts';
import { createBindingApi } from '../../mms/binding-api.ts';
import { listConfigurations } from '../../mms/bindings.ts';
import { createMigrationApi, tokenKeyOf } from '../../mms/migration-api.ts';
import { listenMigration } from '../../mms/migration-http.ts';
import { MmsStats } from '../../mms/stats.ts';
import { httpsRequest } from '../../ue-client/idm/http.ts';
import type { TwoSystemTestbed } from '../../deploy/testbed-builder.ts';
import { PARTNER_REALM, PRIMARY_REALM, staticTestbed } from './testbed.ts';

const PRIMARY_ISS = 'https://idms.primary.example';
const PARTNER_ISS = 'https://idms.partner.example';
const AUD = `${PARTNER_ISS}/migration`;
const ALICE = { mcpttId: 'sip:alice@mcptt.primary.example', impi: `alice@${PRIMARY_REALM}`, impus: [`sip:alice@${PRIMARY_REALM}`] };
const BOB = { mcpttId: 'sip:bob@mcptt.primary.example', impi: `bob@${PRIMARY_REALM}`, impus: [`sip:bob@${PRIMARY_REALM}`] };

interface Answer {
  status: number;
  json: Record<string, unknown>;
  wwwAuthenticate: string | undefined;
}

describe('partner MMS migration API: partner access tokens, the primary\'s confirmation, ownership', () => {
  let tb: TwoSystemTestbed;
  let stores: Store[];
  let apis: FastifyInstance[];
  let url: string;
  let ca: string[];
  let signing: SigningMaterial;
  let primarySigning: SigningMaterial;
  let partnerStore: Store;
  const stats = new MmsStats();
  let aliceAllowed = [PARTNER_REALM];

  const token = async (who: { mcpttId: string }, o: { scope?: string; aud?: string; iss?: string; primaryIss?: string; key?: SigningMaterial; ttlS?: number } = {}): Promise<string> => {
    const st = { iss: o.primaryIss ?? PRIMARY_ISS, sub: who.mcpttId, mcptt_id: who.mcpttId } as Parameters<typeof issuePartnerAccessToken>[1];
    const t = await issuePartnerAccessToken({ issuer: o.iss ?? PARTNER_ISS, signing: o.key ?? signing, resource: o.aud ?? AUD, ttlS: o.ttlS ?? 300 }, st, 'mcx-ue', o.scope ?? '3gpp:mc:migration');
    return t.token;
  };
  const call = async (method: 'POST' | 'GET' | 'DELETE', path: string, bearer: string | undefined, json: unknown = method === 'POST' ? {} : undefined): Promise<Answer> => {
    const res = await httpsRequest(new URL(path, url), { method, ...(bearer === undefined ? {} : { bearer }), ...(json === undefined ? {} : { json }) }, { ca });
    const www = res.headers['www-authenticate'];
    return { status: res.status, json: res.body ? JSON.parse(res.body) as Record<string, unknown> : {}, wwwAuthenticate: Array.isArray(www) ? www[0] : www };
  };

  const ended: Array<[string, string]> = [];

  before(async () => {
    tb = await staticTestbed('migration-api');
    const [primaryStore, store] = [await openStore('memory', { ephemeral: true }), await openStore('memory', { ephemeral: true })];
    partnerStore = store;
    stores = [primaryStore, store];
    signing = await loadSigningMaterial(signingPaths(tb.pki, 'partner').key, signingPaths(tb.pki, 'partner').cert);
    primarySigning = await loadSigningMaterial(signingPaths(tb.pki, 'primary').key, signingPaths(tb.pki, 'primary').cert);
    const own = await loadTlsMaterial(tb.pki, 'primary', 'mms', ['partner']);
    const binding = createBindingApi({
      store: primaryStore, realm: PRIMARY_REALM, maxTtlS: 3600, logger: silentLogger, tls: { cert: own.cert, key: own.key, clientCa: own.ca },
      // Alice may migrate to the partner; bob's subscription lists no partner.
      subscribers: { byMcpttId: async (id) => (id === ALICE.mcpttId ? { ...ALICE, allowedPartners: aliceAllowed } : id === BOB.mcpttId ? { ...BOB, allowedPartners: [] } : undefined) },
    });
    const bindingUrl = await listenMigration(binding, { host: '127.0.0.1', port: 0 });
    const p = await loadTlsMaterial(tb.pki, 'partner', 'mms', ['primary']);
    ca = p.ca;
    const system = (realm: string, iss: string, api: string) => ({ realm, idmsIssuer: iss, bindingApi: api, cx: [{ host: '127.0.0.1', port: 1 }] });
    const migration = createMigrationApi({
      store, domain: PARTNER_REALM, registrar: 'sip:127.0.0.1:5060;transport=udp', ttlS: 600, logger: silentLogger,
      token: { issuer: PARTNER_ISS, key: tokenKeyOf(signing.certPem, 'partner idms-signing.pem'), audience: AUD },
      // A second primary system whose MMS does not listen: its users get primary_unavailable.
      primarySystems: [system(PRIMARY_REALM, PRIMARY_ISS, bindingUrl), system('down.example', 'https://idms.down.example', 'https://127.0.0.1:1')],
      tls: { cert: p.cert, key: p.key }, clientTls: { cert: p.cert, key: p.key, ca: p.ca }, stats,
      onEnded: async (impi, reason) => void ended.push([impi, reason]),
    });
    url = await listenMigration(migration, { host: '127.0.0.1', port: 0 });
    apis = [binding, migration];
  });
  after(async () => {
    for (const a of apis ?? []) await a.close();
    for (const s of stores ?? []) await s.close();
    await tb?.close();
  });

  test('no token, a forged one, another audience, another issuer, an expired one → 401 invalid_token with WWW-Authenticate', async () => {
    const bad = [
      undefined, await token(ALICE, { key: primarySigning }), await token(ALICE, { aud: 'https://elsewhere.example/migration' }),
      await token(ALICE, { iss: 'https://idms.rogue.example' }), await token(ALICE, { ttlS: -120 }),
      // A security token of the primary (typ JWT, not at+jwt) presented as an access token.
      await new SignJWT({ mcptt_id: ALICE.mcpttId, client_id: 'mcx-ue', scope: '3gpp:mc:migration', jti: randomUUID() })
        .setProtectedHeader({ alg: 'RS256', typ: 'JWT' }).setIssuer(PARTNER_ISS).setSubject('x').setAudience(AUD).setExpirationTime('5m').sign(signing.privateKey),
    ];
    for (const t of bad) {
      const r = await call('POST', '/migration/v1/configurations', t);
      assert.equal(r.status, 401, JSON.stringify(r.json));
      assert.equal(r.json.error, 'invalid_token');
      // RFC 6750 §3.1: no error code in the challenge of a request that carried no token.
      if (t === undefined) assert.equal(r.wwwAuthenticate, 'Bearer realm="mcx-mms-migration"');
      else assert.match(r.wwwAuthenticate ?? '', /^Bearer realm="mcx-mms-migration", error="invalid_token", error_description=".+"$/);
    }
    assert.deepEqual(await listConfigurations(partnerStore), []);
  });

  test('a token without the migration scope → 403 insufficient_scope', async () => {
    const r = await call('POST', '/migration/v1/configurations', await token(ALICE, { scope: '3gpp:mc:ptt_service' }));
    assert.equal(r.status, 403);
    assert.equal(r.json.error, 'insufficient_scope');
    assert.match(r.wwwAuthenticate ?? '', /error="insufficient_scope"/);
  });

  test('a body other than {} → 400 invalid_request naming the field', async () => {
    const r = await call('POST', '/migration/v1/configurations', await token(ALICE), { partner_impi: 'chosen@partner.example' });
    assert.equal(r.status, 400);
    assert.equal(r.json.error, 'invalid_request');
    assert.match(String(r.json.error_description), /partner_impi/);
  });

  test('a primary system this partner does not know → 403; one whose MMS is down → 502 primary_unavailable; nothing stored', async () => {
    const unknown = await call('POST', '/migration/v1/configurations', await token(ALICE, { primaryIss: 'https://idms.unknown.example' }));
    assert.equal(unknown.status, 403);
    assert.equal(unknown.json.error, 'migration_not_allowed');
    const down = await call('POST', '/migration/v1/configurations', await token(ALICE, { primaryIss: 'https://idms.down.example' }));
    assert.equal(down.status, 502);
    assert.equal(down.json.error, 'primary_unavailable');
    assert.deepEqual(await listConfigurations(partnerStore), []);
  });

  test('the primary refuses (bob may not migrate) → 403 migration_not_allowed, nothing stored', async () => {
    const r = await call('POST', '/migration/v1/configurations', await token(BOB));
    assert.equal(r.status, 403);
    assert.equal(r.json.error, 'migration_not_allowed');
    assert.deepEqual(await listConfigurations(partnerStore), []);
  });

  test('201 for alice; GET by her → 200, by another user → 404; DELETE by another user → 404, by her → 204', async () => {
    const t = await token(ALICE);
    const created = await call('POST', '/migration/v1/configurations', t);
    assert.equal(created.status, 201, JSON.stringify(created.json));
    assert.deepEqual(Object.keys(created.json).sort(), ['domain', 'expires_at', 'id', 'partner_impi', 'partner_impus', 'registrar']);
    const path = `/migration/v1/configurations/${String(created.json.id)}`;
    assert.deepEqual((await call('GET', path, t)).json, created.json);
    const other = await token(BOB);
    assert.equal((await call('GET', path, other)).status, 404);
    assert.equal((await call('DELETE', path, other)).status, 404);
    assert.equal((await listConfigurations(partnerStore)).length, 1);
    assert.deepEqual(ended, []);
    assert.equal((await call('DELETE', path, t)).status, 204);
    assert.deepEqual(ended.splice(0), [[created.json.partner_impi, 'migration ended']], 'its registration ends at the registrar (RTR) before the 204');
    assert.deepEqual(await listConfigurations(partnerStore), []);
    assert.equal((await call('GET', path, t)).status, 404);
  });

  test('counted: every refused POST above, one configuration created and ended', () => {
    const c = stats.snapshot();
    assert.deepEqual([c.configurations_refused, c.configurations_created, c.configurations_ended], [11, 1, 1]);
  });

  test('concurrent POSTs of one user create one configuration: one 201, the others the same one (200) or 409 conflict', async () => {
    const t = await token(ALICE);
    const answers = await Promise.all([1, 2, 3].map(() => call('POST', '/migration/v1/configurations', t)));
    assert.deepEqual(answers.filter((a) => a.status === 201).length, 1, JSON.stringify(answers.map((a) => a.status)));
    for (const a of answers) assert.ok(a.status === 201 || (a.status === 200 && a.json.id === answers.find((x) => x.status === 201)?.json.id) || (a.status === 409 && a.json.error === 'conflict'), JSON.stringify(a.json));
    assert.equal((await listConfigurations(partnerStore)).length, 1);
  });

  test('a live configuration is confirmed again at the primary: once the subscription no longer allows the partner, POST → 403 and it is removed', async () => {
    const t = await token(ALICE);
    const live = await call('POST', '/migration/v1/configurations', t);
    assert.equal(live.status, 200);
    aliceAllowed = [];
    try {
      const r = await call('POST', '/migration/v1/configurations', t);
      assert.equal(r.status, 403);
      assert.equal(r.json.error, 'migration_not_allowed');
      assert.deepEqual(await listConfigurations(partnerStore), []);
      assert.deepEqual(ended.splice(0), [[live.json.partner_impi, 'migration no longer confirmed by the primary MC system']]);
    } finally {
      aliceAllowed = [PARTNER_REALM];
    }
  });

  test('--token-cert is checked at start: not a certificate, or outside its validity period → a configuration error naming it', () => {
    assert.throws(() => tokenKeyOf('garbage', 'x.pem'), /--token-cert x\.pem: not a PEM certificate/);
    assert.throws(() => tokenKeyOf(signing.certPem, 's.pem', Date.now() + 100 * 365 * 86_400_000), /--token-cert s\.pem: not valid now/);
  });
});
