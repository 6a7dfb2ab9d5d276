/**
 * The Redis store on a master that real Redis Sentinels monitor (DESIGN §2.5 "Sentinel through the same client";
 * issue #15 item 1): one master, one replica, three Sentinels on loopback, reached as `redis+sentinel://…/mcx`. The
 * shared contract holds; a Sentinel or a replica given as `redis://` is refused with the form to use; appendfsync is
 * checked on the replica too; and a kill -9 of the master under a bounded load — the Sentinels promote the replica —
 * reissues no SQN and loses no acknowledged write.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { redisCommand, startRedisSentinel, type RedisSentinelGroup } from '../helpers/redis-server.ts';
import { openStore, type Store } from '../../lib/store/store.ts';
import { loadAcrossFailover } from './failover-load.ts';
import { code, storeSuite } from './suite.ts';

/** openStore that must fail: a store it opens anyway is closed (it would retry its Sentinels after the test). */
async function refused(spec: string, opts: Parameters<typeof openStore>[1], check: (e: unknown) => boolean): Promise<void> {
  const got = await openStore(spec, opts).catch((e: unknown) => e);
  if (got instanceof Error) {
    assert.ok(check(got), got.message);
    return;
  }
  await (got as Store).close();
  assert.fail(`${spec} was accepted`);
}

let group: RedisSentinelGroup;
let store: Store;
before(async () => {
  group = await startRedisSentinel({ replicas: 1, sentinels: 3, downAfterMs: 1000 });
  store = await openStore(group.url, { keepsSqn: true });
});
after(async () => {
  await store?.close();
  await group?.stop();
});

describe('redis store on a Sentinel-monitored master: shared contract', () => {
  storeSuite({
    store: () => store,
    peer: async () => {
      const s = await openStore(group.url);
      return { store: s, release: () => s.close() };
    },
  });
});

describe('redis store on a Sentinel-monitored master', () => {
  test('redis://<a Sentinel> and redis://<the replica> are refused (ERR_STORE_INPUT), each naming the form to use', async () => {
    await assert.rejects(openStore(`redis://127.0.0.1:${group.sentinels[0]?.port}`), (e: unknown) =>
      code('ERR_STORE_INPUT')(e) && /is a Redis Sentinel: .*redis\+sentinel:\/\/127\.0\.0\.1:\d+\/<master-name>/.test((e as Error).message));
    await assert.rejects(openStore(`redis://127.0.0.1:${group.nodes[1]?.port}`), (e: unknown) =>
      code('ERR_STORE_INPUT')(e) && /is a replica \(of 127\.0\.0\.1:\d+\).*redis\+sentinel:\/\//.test((e as Error).message));
  });

  test('appendfsync everysec on the replica (a failover would promote it) is refused for the HSS, naming it', async () => {
    const replica = group.nodes[1]?.port as number;
    await redisCommand(replica, ['CONFIG', 'SET', 'appendfsync', 'everysec']);
    try {
      await refused(group.url, { keepsSqn: true }, (e: unknown) =>
        code('ERR_STORE_NOT_DURABLE')(e) && (e as Error).message.includes(`127.0.0.1:${replica} (replica of mcx) runs with appendfsync everysec`));
    } finally {
      await redisCommand(replica, ['CONFIG', 'SET', 'appendfsync', 'always']);
    }
  });

  test('no replica acknowledges (it is stopped, its link cut): SQN reservations and durable writes are refused, relaxed ones ' +
    'accepted; kill -9 of the master then loses the refused reservation, and the next SQN is above every acknowledged one', async () => {
    const strict = await openStore(group.url, { keepsSqn: true, replicaAckTimeoutMs: 300 });
    const master = await group.masterPort();
    const replica = group.nodes.find((n) => n.port !== master)?.port as number;
    const acked: bigint[] = [];
    try {
      for (let i = 0; i < 5; i++) acked.push(...await strict.allocateSqn('lagging', 1));
      process.kill(group.nodes.find((n) => n.port === replica)?.pid as number, 'SIGSTOP');
      try {
        assert.equal(await redisCommand(master, ['CLIENT', 'KILL', 'TYPE', 'replica']), 1);
        await assert.rejects(strict.allocateSqn('lagging', 1), (e: unknown) => code('ERR_STORE_NOT_DURABLE')(e) && /no replica of .* acknowledged it within 300 ms/.test((e as Error).message));
        await assert.rejects(strict.set('lagging-rec', { v: 'durable' }), code('ERR_STORE_NOT_DURABLE'));
        await strict.set('lagging-rec', { v: 'relaxed' }, { durability: 'relaxed' });
        assert.ok(BigInt(await redisCommand<string>(master, ['GET', 'mcx:sqn:lagging'])) > (acked.at(-1) as bigint), 'the refused reservation is on the master');
        await group.kill(master);
      } finally {
        process.kill(group.nodes.find((n) => n.port === replica)?.pid as number, 'SIGCONT');
      }
      assert.equal(await group.waitFailover(master, 30_000), replica);
      assert.equal(await strict.getSqn('lagging'), acked.at(-1), 'the promoted replica lacks the refused reservation');
      const [next] = await strict.allocateSqn('lagging', 1);
      assert.ok((next as bigint) > (acked.at(-1) as bigint));
    } finally {
      await strict.close();
      await group.restart(master);
      await group.waitSynced();
    }
  });

  test('kill -9 of the master during a bounded load: the Sentinels promote the replica; every acknowledged SQN is unique and ' +
    'increasing, the counter stays above them, every acknowledged durable and relaxed write survives', async (t) => {
    let promoted = 0;
    const r = await loadAcrossFailover({
      store, prefix: 'sentinel-load', before: 300, after: 400, maxOps: 5000, timeoutMs: 40_000,
      failover: async () => {
        const old = await group.masterPort();
        await group.kill(old);
        promoted = await group.waitFailover(old, 30_000);
      },
    });
    t.diagnostic(`${r.ops} operations, ${r.failures} failed, ${r.afterFailover} after the promotion of ${promoted}`);
  });
});
