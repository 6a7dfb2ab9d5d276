/**
 * The Redis store against a real redis-server: the shared contract (suite.ts) with separate connections as the
 * "other clients", then the durability refusals, REDIS_URL, script reloading, corrupt counters and a kill -9 of Redis.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createClient } from 'redis';
import { freePort } from '../helpers/ports.ts';
import { startEverysecRedisServer, startRedisServer, type RedisServer } from '../helpers/redis-server.ts';
import { openStore, type Store } from '../../lib/store/store.ts';
import { code, sqn, storeSuite } from './suite.ts';

let server: RedisServer;
before(async () => {
  server = await startRedisServer();
});
after(() => server.stop());

/** A plain client, for poking at the server behind the store's back. */
async function raw(url: string): Promise<ReturnType<typeof createClient>> {
  const c = createClient({ url });
  c.on('error', () => undefined);
  await c.connect();
  return c;
}

describe('redis store: shared contract', () => {
  let store: Store;
  before(async () => {
    store = await openStore(server.url);
  });
  after(() => store.close());
  storeSuite({
    store: () => store,
    peer: async () => {
      const s = await openStore(server.url);
      return { store: s, release: () => s.close() };
    },
  });
});

describe('redis store specifics', () => {
  const FIX = 'redis-server --appendonly yes --appendfsync always';

  test('refuses appendfsync everysec, explaining why and how to fix it', async () => {
    const weak = await startEverysecRedisServer();
    try {
      await assert.rejects(openStore(weak.url), (e: unknown) => {
        const m = (e as Error).message;
        return code('ERR_STORE_NOT_DURABLE')(e) && m.includes('everysec') && m.includes('security bug') && m.includes(FIX);
      });
    } finally {
      await weak.stop();
    }
  });

  test('refuses appendonly no and an allkeys eviction policy', async () => {
    const noAof = await startRedisServer({ appendonly: 'no' });
    const evicting = await startRedisServer({ maxmemoryPolicy: 'allkeys-lru' });
    try {
      await assert.rejects(openStore(noAof.url), (e: unknown) => code('ERR_STORE_NOT_DURABLE')(e) && (e as Error).message.includes(FIX));
      await assert.rejects(openStore(evicting.url), (e: unknown) => code('ERR_STORE_NOT_DURABLE')(e) && /allkeys-lru/.test((e as Error).message));
    } finally {
      await noAof.stop();
      await evicting.stop();
    }
  });

  test('with CONFIG disabled (managed Redis) it refuses unless assumeDurable', async () => {
    const managed = await startRedisServer({ disableConfig: true });
    try {
      await assert.rejects(openStore(managed.url), (e: unknown) => code('ERR_STORE_NOT_DURABLE')(e) && /assumeDurable/.test((e as Error).message));
      const s = await openStore(managed.url, { assumeDurable: true });
      assert.deepEqual(await s.allocateSqn('a', 1), [sqn(1n, 1)]);
      await s.close();
    } finally {
      await managed.stop();
    }
  });

  test('an unreachable server is ERR_STORE_CONNECT within connectTimeoutMs', async () => {
    const port = await freePort();
    const t0 = Date.now();
    await assert.rejects(openStore(`redis://127.0.0.1:${port}`, { connectTimeoutMs: 500 }), code('ERR_STORE_CONNECT'));
    assert.ok(Date.now() - t0 < 3000);
  });

  test('REDIS_URL is used without a spec and for the spec "redis"; unknown specs are refused', async () => {
    const saved = process.env.REDIS_URL;
    try {
      process.env.REDIS_URL = server.url;
      for (const spec of [undefined, '', 'redis']) {
        const s = await openStore(spec);
        assert.equal(s.kind, 'redis');
        await s.close();
      }
      delete process.env.REDIS_URL;
      await assert.rejects(openStore('redis'), code('ERR_STORE_INPUT'));
      await assert.rejects(openStore('postgres://x'), code('ERR_STORE_INPUT'));
    } finally {
      if (saved === undefined) delete process.env.REDIS_URL;
      else process.env.REDIS_URL = saved;
    }
  });

  test('keys live under the prefix; a flushed script cache falls back to EVAL; a corrupt counter is ERR_STORE_CORRUPT', async () => {
    const s = await openStore(server.url, { keyPrefix: 'test-prefix:' });
    const r = await raw(server.url);
    try {
      await s.set('rec', { a: 1 });
      await s.setSqn('sub', sqn(3n, 3));
      assert.equal(await r.get('test-prefix:r:rec'), '{"a":1}');
      assert.equal(await r.get('test-prefix:sqn:sub'), String(sqn(3n, 3)));
      await r.scriptFlush();
      assert.deepEqual(await s.allocateSqn('sub', 1), [sqn(4n, 4)]);
      assert.equal(await s.compareAndDelete('rec', { a: 1 }), true);
      await r.set('test-prefix:sqn:bad', '1e15');
      await assert.rejects(s.allocateSqn('bad', 1), code('ERR_STORE_CORRUPT'));
      await assert.rejects(s.resyncSqn('bad', 1n), code('ERR_STORE_CORRUPT'));
      await assert.rejects(s.getSqn('bad'), code('ERR_STORE_CORRUPT'));
      await r.set('test-prefix:r:notjson', '{');
      await assert.rejects(s.get('notjson'), code('ERR_STORE_CORRUPT'));
    } finally {
      await r.close();
      await s.close();
    }
    await assert.rejects(s.get('rec'), code('ERR_STORE_CLOSED'));
    await s.close();
  });

  test('kill -9 of redis-server: after a restart the counter is above every SQN handed out', async () => {
    const own = await startRedisServer();
    let s: Store | undefined;
    try {
      s = await openStore(own.url, { commandTimeoutMs: 10_000 });
      const issued: bigint[] = [];
      for (let i = 0; i < 300; i++) issued.push(...(await s.allocateSqn('sub', 1)));
      await own.restart('SIGKILL');
      // The store reconnects by itself; its next allocation lands on the reloaded AOF.
      const next = await s.allocateSqn('sub', 1);
      assert.ok((next[0] as bigint) > (issued.at(-1) as bigint));
      assert.deepEqual(next, [sqn(301n, 301 % 32)], 'appendfsync always: not one allocation was lost');
    } finally {
      await s?.close();
      await own.stop();
    }
  });
});
