/**
 * DESIGN §2.4 IdMS users: scrypt hashes checked in constant time, a `sub` that survives a password change, the
 * `mcptt_id` link to the HSS subscriber, CSV provisioning with per-line problems, and the admin API (bearer token,
 * JSON errors, no hashes in answers).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { openStore, type Store } from '../../lib/store/store.ts';
import { silentLogger } from '../../lib/log.ts';
import { createIdmsAdminApi } from '../../idms/admin-api.ts';
import { isIdmsError } from '../../idms/errors.ts';
import { UserRepo, hashPassword, parseUsersCsv, verifyPasswordHash } from '../../idms/users.ts';
import { ALICE } from './helpers.ts';

let store: Store;
before(async () => {
  store = await openStore('memory', { ephemeral: true });
});
after(async () => store?.close());

describe('passwords', () => {
  test('scrypt hash format with parameters and salt; verification accepts only the password', async () => {
    const h = await hashPassword('correct horse');
    assert.match(h, /^scrypt\$15\$8\$1\$[\w-]{22}\$[\w-]{43}$/);
    assert.notEqual(await hashPassword('correct horse'), h, 'salted');
    assert.equal(await verifyPasswordHash('correct horse', h), true);
    assert.equal(await verifyPasswordHash('correct horsE', h), false);
    assert.equal(await verifyPasswordHash('correct horse', 'md5$deadbeef'), false);
  });
});

describe('UserRepo', () => {
  test('add, verify, replace keeps sub, bySub, list without hashes, remove', async () => {
    const repo = new UserRepo(store, 'idms:t1:');
    const a = await repo.add(ALICE);
    assert.equal(a.mcpttId, ALICE.mcpttId);
    assert.equal('passwordHash' in a, false);
    assert.equal((await repo.verify(ALICE.username, ALICE.password))?.sub, a.sub);
    assert.equal(await repo.verify(ALICE.username, 'not-the-password'), undefined);
    assert.equal(await repo.verify('nobody', ALICE.password), undefined);
    await assert.rejects(repo.add(ALICE), (e: unknown) => isIdmsError(e, 'ERR_IDMS_USER_EXISTS'));
    const b = await repo.add({ ...ALICE, password: 'new-password-2', mcpttId: 'sip:alice2@primary.example' }, { replace: true });
    assert.equal(b.sub, a.sub, 'sub is never reassigned');
    assert.equal((await repo.bySub(a.sub))?.mcpttId, 'sip:alice2@primary.example');
    assert.equal(await repo.verify(ALICE.username, ALICE.password), undefined);
    assert.deepEqual((await repo.list()).map((u) => u.username), [ALICE.username]);
    assert.equal(await repo.remove(ALICE.username), true);
    assert.equal(await repo.bySub(a.sub), undefined);
    assert.equal(await repo.remove(ALICE.username), false);
  });

  test('bad input names every field', async () => {
    const repo = new UserRepo(store, 'idms:t2:');
    await assert.rejects(repo.add({ username: 'a b', password: 'short', mcpttId: '' }), (e: unknown) =>
      isIdmsError(e, 'ERR_IDMS_USER_INPUT') && /username/.test(e.message) && /password/.test(e.message) && /mcptt_id/.test(e.message));
  });

  test('CSV: header in any order, comments, problems by line', () => {
    const users = parseUsersCsv('# users\nmcptt_id,username,password\nsip:a@p.example,alice,alice-pass-1\n\nsip:b@p.example,bob,bob-pass-12\n');
    assert.deepEqual(users.map((u) => [u.username, u.mcpttId]), [['alice', 'sip:a@p.example'], ['bob', 'sip:b@p.example']]);
    assert.throws(() => parseUsersCsv('username,password\nalice,x'), /line 1: missing column mcptt_id/);
    assert.throws(() => parseUsersCsv('username,password,mcptt_id\nalice,short,sip:a@p.example\nbob,bob-pass-12,\n'), /line 2: password[\s\S]*line 3: mcptt_id/);
  });
});

describe('admin API', () => {
  const TOKEN = 'admin-token-for-the-tests-0123456789';
  test('bearer token required; provision, conflict, bad input, read, delete', async () => {
    const repo = new UserRepo(store, 'idms:t3:');
    const app = createIdmsAdminApi({ users: repo, token: TOKEN, logger: silentLogger });
    const auth = { authorization: `Bearer ${TOKEN}` };
    try {
      assert.equal((await app.inject({ method: 'GET', url: '/admin/v1/users' })).statusCode, 401);
      assert.equal((await app.inject({ method: 'GET', url: '/admin/v1/users', headers: { authorization: 'Bearer wrong-token-xxxxxxxxxxxxxx' } })).statusCode, 401);
      const body = { username: ALICE.username, password: ALICE.password, mcptt_id: ALICE.mcpttId };
      const created = await app.inject({ method: 'POST', url: '/admin/v1/users', headers: auth, payload: body });
      assert.equal(created.statusCode, 201);
      const u = (created.json() as { user: Record<string, string> }).user;
      assert.deepEqual(Object.keys(u).sort(), ['created_at', 'mcptt_id', 'sub', 'username']);
      assert.equal((await app.inject({ method: 'POST', url: '/admin/v1/users', headers: auth, payload: body })).statusCode, 409);
      assert.equal((await app.inject({ method: 'POST', url: '/admin/v1/users?replace=true', headers: auth, payload: body })).statusCode, 201);
      const bad = await app.inject({ method: 'POST', url: '/admin/v1/users', headers: auth, payload: { ...body, username: 'x y' } });
      assert.equal(bad.statusCode, 400);
      assert.equal((bad.json() as { error: string }).error, 'invalid_request');
      assert.equal((await app.inject({ method: 'GET', url: `/admin/v1/users/${ALICE.username}`, headers: auth })).statusCode, 200);
      assert.equal((await app.inject({ method: 'DELETE', url: `/admin/v1/users/${ALICE.username}`, headers: auth })).statusCode, 204);
      assert.equal((await app.inject({ method: 'GET', url: `/admin/v1/users/${ALICE.username}`, headers: auth })).statusCode, 404);
    } finally {
      await app.close();
    }
  });
});
