/**
 * The Redis store against a real redis-server: the shared contract (suite.ts) with separate connections as the
 * "other clients", then the durability refusals, REDIS_URL, script reloading, corrupt counters and a kill -9 of Redis.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { cp, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
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

  test('appendfsync everysec: refused for a store that keeps SQNs (the HSS), explaining why and how to fix it; accepted for the others, whose SQN operations are refused', async () => {
    const weak = await startEverysecRedisServer();
    try {
      await assert.rejects(openStore(weak.url, { keepsSqn: true }), (e: unknown) => {
        const m = (e as Error).message;
        return code('ERR_STORE_NOT_DURABLE')(e) && m.includes('everysec') && m.includes('security bug') && m.includes(FIX);
      });
      const s = await openStore(weak.url);
      try {
        await s.set('binding', { a: 1 }, { durability: 'relaxed' });
        assert.deepEqual(await s.get('binding'), { a: 1 });
        await assert.rejects(s.allocateSqn('sub', 1), (e: unknown) => code('ERR_STORE_NOT_DURABLE')(e) && /keepsSqn/.test((e as Error).message));
        await assert.rejects(s.setSqn('sub', 1n), code('ERR_STORE_NOT_DURABLE'));
        await assert.rejects(s.resyncSqn('sub', 1n), code('ERR_STORE_NOT_DURABLE'));
      } finally {
        await s.close();
      }
    } finally {
      await weak.stop();
    }
  });

  test('a crash that loses a take (AOF restored from before it): the challenge is back in Redis, but take and get refuse it — a used nonce never works again', async () => {
    const own = await startEverysecRedisServer();
    let s: Store | undefined;
    const r = await raw(own.url);
    try {
      s = await openStore(own.url, { commandTimeoutMs: 10_000 });
      await s.set('challenge:n1', { xres: 'a1a1a1a1' }, { ttlMs: 60_000, durability: 'volatile' });
      await s.set('binding:x', { contact: 'sip:x@192.0.2.1' }, { ttlMs: 60_000 });
      // What a crash with everysec can leave on disk: the AOF of a moment before the take.
      await sleep(1200); // everysec: the writes above are on disk by now
      const aof = join(own.dir, 'appendonlydir');
      const before = `${own.dir}-before`;
      await cp(aof, before, { recursive: true });
      assert.deepEqual(await s.take('challenge:n1'), { xres: 'a1a1a1a1' }, 'the UE answered: the nonce is used');
      await own.restart('SIGKILL', async () => {
        await rm(aof, { recursive: true, force: true });
        await cp(before, aof, { recursive: true });
        await rm(before, { recursive: true, force: true });
      });
      const back = await r.get('mcx:r:challenge:n1');
      assert.match(String(back), /^~[0-9a-f]{40}~\{"xres":"a1a1a1a1"\}$/, 'the crash brought the used challenge back');
      assert.deepEqual(await s.get('binding:x'), { contact: 'sip:x@192.0.2.1' }, 'an ordinary record came back with it');
      assert.equal(await s.get('challenge:n1'), undefined, 'its run-id stamp is not the running server\'s: absent');
      assert.equal(await s.take('challenge:n1'), undefined, 'and it cannot be taken (used) again');
      assert.equal(await r.exists('mcx:r:challenge:n1'), 0, 'the stale record was deleted');
      await s.set('challenge:n2', { xres: 'b2b2b2b2' }, { durability: 'volatile' });
      assert.deepEqual(await s.take('challenge:n2'), { xres: 'b2b2b2b2' }, 'new challenges work in the new run');
    } finally {
      await r.close().catch(() => undefined);
      await s?.close();
      await own.stop();
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
