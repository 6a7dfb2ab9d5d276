/**
 * DESIGN §2.4/§2.5: oidc-provider's persistence on our Store. The adapter contract (find, consume keeping the TTL,
 * secondary indexes, grant revocation, expiry) on the memory store and on a real redis-server; then whole flows on
 * each: a login on a Redis-backed primary whose refresh token still works after the IdMS restarts (sessions, grants
 * and refresh tokens live in Redis), and the same across a restart on the journaled memory store.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { openStore, type Store } from '../../lib/store/store.ts';
import { StoreAdapter } from '../../idms/adapter.ts';
import { startIdms } from '../../idms/server.ts';
import { login, refresh } from '../../ue-client/idm-client.ts';
import { startRedisServer, type RedisServer } from '../helpers/redis-server.ts';
import { freePort } from '../helpers/ports.ts';
import { ALICE, CLIENT_ID, REDIRECT_URI, SCOPE, makePki, primaryConfig, type TestPki } from './helpers.ts';

function adapterSuite(store: () => Store): void {
  const ns = () => `t${Math.random().toString(36).slice(2, 8)}:`;

  test('upsert/find/destroy round-trip; findByUid through the Session index', async () => {
    const n = ns();
    const sessions = new StoreAdapter(store(), n, 'Session');
    await sessions.upsert('s1', { uid: 'u1', accountId: 'a' }, 60);
    assert.deepEqual(await sessions.find('s1'), { uid: 'u1', accountId: 'a' });
    assert.deepEqual(await sessions.findByUid('u1'), { uid: 'u1', accountId: 'a' });
    await sessions.destroy('s1');
    assert.equal(await sessions.find('s1'), undefined);
    assert.equal(await sessions.findByUid('u1'), undefined);
  });

  test('revokeByGrantId removes every token of the grant and nothing else', async () => {
    const n = ns();
    const at = new StoreAdapter(store(), n, 'AccessToken');
    const rt = new StoreAdapter(store(), n, 'RefreshToken');
    await at.upsert('a1', { grantId: 'g1' }, 60);
    await rt.upsert('r1', { grantId: 'g1' }, 60);
    await rt.upsert('r2', { grantId: 'g2' }, 60);
    await at.revokeByGrantId('g1');
    assert.equal(await at.find('a1'), undefined);
    assert.equal(await rt.find('r1'), undefined);
    assert.deepEqual(await rt.find('r2'), { grantId: 'g2' });
  });

  test('consume marks a record and keeps its expiry; records without expiresIn stay, others expire', async () => {
    const n = ns();
    const codes = new StoreAdapter(store(), n, 'AuthorizationCode');
    const interactions = new StoreAdapter(store(), n, 'Interaction');
    await codes.upsert('c1', { grantId: 'g1', accountId: 'a' }, 1);
    await codes.consume('c1');
    assert.equal(typeof (await codes.find('c1'))?.consumed, 'number');
    await interactions.upsert('forever', { x: 1 });
    await interactions.upsert('brief', { x: 2 }, 1);
    await sleep(1200);
    assert.equal(await codes.find('c1'), undefined, 'consume did not extend the lifetime');
    assert.deepEqual(await interactions.find('forever'), { x: 1 });
    assert.equal(await interactions.find('brief'), undefined);
  });
}

describe('adapter on the memory store', () => {
  let store: Store;
  before(async () => {
    store = await openStore('memory', { ephemeral: true });
  });
  after(async () => store?.close());
  adapterSuite(() => store);
});

describe('adapter and whole flows on Redis', () => {
  let redis: RedisServer;
  let store: Store;
  let pki: TestPki;
  before(async () => {
    redis = await startRedisServer();
    store = await openStore(redis.url);
    pki = await makePki();
  });
  after(async () => {
    await store?.close();
    await redis?.stop();
    await pki?.remove();
  });
  adapterSuite(() => store);

  test('a Redis-backed primary keeps sessions, grants and refresh tokens across a restart', async () => {
    const port = await freePort();
    const config = { ...primaryConfig(pki, port, 'https://localhost:1', { store: redis.url }), ephemeral: false };
    let idms = await startIdms(config);
    try {
      await idms.users.add(ALICE, { replace: true });
      const r = await login({ issuer: idms.issuer, clientId: CLIENT_ID, redirectUri: REDIRECT_URI, scope: SCOPE, ca: pki.ca.primary, username: ALICE.username, password: ALICE.password });
      assert.ok((await store.keys('idms:primary:oidc:RefreshToken:')).length >= 1, 'the refresh token lives in Redis');
      assert.ok((await store.keys('idms:primary:oidc:Session:')).length >= 1, 'so does the session');
      await idms.close();
      idms = await startIdms(config);
      const t = await refresh({ issuer: idms.issuer, clientId: CLIENT_ID, refreshToken: r.refreshToken as string, ca: pki.ca.primary });
      assert.ok(t.accessToken && t.refreshToken);
    } finally {
      await idms.close();
    }
  });
});

describe('whole flow on the journaled memory store', () => {
  test('users, cookie keys and refresh tokens survive a restart with the same --state-dir', async () => {
    const pki = await makePki();
    const stateDir = await mkdtemp(join(tmpdir(), 'mcx-idms-state-'));
    const port = await freePort();
    const config = primaryConfig(pki, port, 'https://localhost:1', { stateDir });
    let idms = await startIdms(config);
    try {
      await idms.users.add(ALICE);
      const r = await login({ issuer: idms.issuer, clientId: CLIENT_ID, redirectUri: REDIRECT_URI, scope: SCOPE, ca: pki.ca.primary, username: ALICE.username, password: ALICE.password });
      await idms.close();
      idms = await startIdms(config);
      assert.ok(await idms.users.get(ALICE.username));
      const t = await refresh({ issuer: idms.issuer, clientId: CLIENT_ID, refreshToken: r.refreshToken as string, ca: pki.ca.primary });
      assert.ok(t.accessToken);
    } finally {
      await idms.close();
      await rm(stateDir, { recursive: true, force: true });
      await pki.remove();
    }
  });
});
