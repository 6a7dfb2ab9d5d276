/**
 * The Redis store on a real Redis Cluster (DESIGN §2.5; issue #15 item 1): 3 masters with one replica each on loopback
 * (redis-server, cluster-enabled, appendfsync always, `redis-cli --cluster create`). The shared contract holds, with a
 * store given the address of one node (detected as a cluster node) as the "other process"; keys land on every master;
 * appendfsync is checked on every master and replica; a write that must survive a failover (an SQN reservation, a
 * durable record) is refused when no replica acknowledged it — and a kill -9 of the master then shows it was right to
 * be; and a kill -9 of a master under a bounded load reissues no SQN and loses no acknowledged write.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { redisCommand, startRedisCluster, type ClusterNodeView, type RedisCluster } from '../helpers/redis-server.ts';
import { openStore, type Store } from '../../lib/store/store.ts';
import { loadAcrossFailover } from './failover-load.ts';
import { code, storeSuite } from './suite.ts';

let cluster: RedisCluster;
let store: Store;
before(async () => {
  cluster = await startRedisCluster({ masters: 3, replicasPerMaster: 1, nodeTimeoutMs: 1000 });
  store = await openStore(cluster.url, { keepsSqn: true });
});
after(async () => {
  await store?.close();
  await cluster?.stop();
});

/** A store key (`mcx:r:<key>` / `mcx:sqn:<key>` in Redis) whose slot the master on `port` serves. */
async function keyOn(port: number, prefix: string, kind: 'r' | 'sqn'): Promise<string> {
  for (let i = 0; i < 1000; i++) {
    const key = `${prefix}${i}`;
    try {
      await redisCommand(port, ['EXISTS', `mcx:${kind}:${key}`]);
      return key;
    } catch (e) {
      if (!/MOVED/.test(String(e))) throw e;
    }
  }
  throw new Error(`no key on ${port}`);
}

/** A master that serves slots, and its replica. */
async function pair(): Promise<{ master: ClusterNodeView; replica: ClusterNodeView }> {
  const view = await cluster.view();
  for (const master of view.filter((v) => v.role === 'master' && v.slots > 0 && !v.failing)) {
    const replica = view.find((v) => v.masterId === master.id && !v.failing);
    if (replica) return { master, replica };
  }
  throw new Error('no master with a replica');
}

describe('redis store on a Redis Cluster: shared contract (the peer is opened with redis://<one node>)', () => {
  storeSuite({
    store: () => store,
    peer: async () => {
      const s = await openStore(cluster.nodes[1]?.url);
      return { store: s, release: () => s.close() };
    },
  });
});

describe('redis store on a Redis Cluster', () => {
  test('keys land on every master; any node, a replica too, is detected as a cluster node and reads them', async () => {
    for (let i = 0; i < 60; i++) {
      await store.set(`spread:${i}`, { i });
      await store.allocateSqn(`spread-sub-${i}`, 1);
    }
    const masters = await cluster.masterPorts();
    assert.equal(masters.length, 3);
    let total = 0;
    for (const port of masters) {
      const n = await redisCommand<number>(port, ['DBSIZE']);
      assert.ok(n > 0, `master ${port} holds no key`);
      total += n;
    }
    assert.ok(total >= 120, `${total} keys over the masters`);
    const { replica } = await pair();
    const viaReplica = await openStore(`redis://127.0.0.1:${replica.port}`);
    try {
      assert.deepEqual(await viaReplica.get('spread:7'), { i: 7 });
      assert.equal((await viaReplica.keys('spread:')).length, 60, 'keys() scans every master');
    } finally {
      await viaReplica.close();
    }
  });

  test('appendfsync is checked on every master and every replica (a failover may promote it), each named', async () => {
    const { master, replica } = await pair();
    for (const node of [master, replica]) {
      await redisCommand(node.port, ['CONFIG', 'SET', 'appendfsync', 'everysec']);
      try {
        await assert.rejects(openStore(cluster.url, { keepsSqn: true }), (e: unknown) => {
          const m = (e as Error).message;
          return code('ERR_STORE_NOT_DURABLE')(e) && m.includes(`127.0.0.1:${node.port}`) && m.includes('everysec') &&
            m.includes(node === master ? 'cluster master' : 'replica of');
        });
      } finally {
        await redisCommand(node.port, ['CONFIG', 'SET', 'appendfsync', 'always']);
      }
    }
    // A store without SQNs accepts everysec, and refuses SQN operations on that master only.
    await redisCommand(master.port, ['CONFIG', 'SET', 'appendfsync', 'everysec']);
    const relaxed = await openStore(cluster.url);
    try {
      const there = await keyOn(master.port, 'fsync-sub-', 'sqn');
      await assert.rejects(relaxed.allocateSqn(there, 1), (e: unknown) => code('ERR_STORE_NOT_DURABLE')(e) && (e as Error).message.includes(`${master.port}`));
      const elsewhere = await keyOn((await cluster.masterPorts()).find((p) => p !== master.port) as number, 'fsync-sub-', 'sqn');
      assert.equal((await relaxed.allocateSqn(elsewhere, 1)).length, 1);
    } finally {
      await relaxed.close();
      await redisCommand(master.port, ['CONFIG', 'SET', 'appendfsync', 'always']);
    }
  });

  test('no replica acknowledges (it is stopped, its link cut): SQN reservations and durable writes are refused, relaxed and volatile ones accepted; ' +
    'kill -9 of the master then loses the refused reservation, and the next SQN is still above every acknowledged one', async () => {
    const { master, replica } = await pair();
    const strict = await openStore(cluster.url, { keepsSqn: true, replicaAckTimeoutMs: 300 });
    const sub = await keyOn(master.port, 'lagging-sub-', 'sqn');
    const rec = await keyOn(master.port, 'lagging-rec-', 'r');
    const acked: bigint[] = [];
    try {
      for (let i = 0; i < 5; i++) acked.push(...await strict.allocateSqn(sub, 1));
      // Stopped, and its link cut (else the kernel would buffer what the master sends, and it would read it on SIGCONT).
      process.kill(cluster.node(replica.port).pid, 'SIGSTOP');
      try {
        assert.equal(await redisCommand(master.port, ['CLIENT', 'KILL', 'TYPE', 'replica']), 1);
        const t0 = Date.now();
        await assert.rejects(strict.allocateSqn(sub, 1), (e: unknown) => code('ERR_STORE_NOT_DURABLE')(e) && /no replica of .* acknowledged it within 300 ms/.test((e as Error).message));
        assert.ok(Date.now() - t0 < 3000);
        await assert.rejects(strict.set(rec, { v: 'durable' }), code('ERR_STORE_NOT_DURABLE'));
        await strict.set(rec, { v: 'relaxed' }, { durability: 'relaxed' });
        await strict.set(`${rec}:challenge`, { v: 'volatile' }, { durability: 'volatile' });
        assert.deepEqual(await strict.get(rec), { v: 'relaxed' }, 'the master has the writes');
        const onMaster = BigInt(await redisCommand<string>(master.port, ['GET', `mcx:sqn:${sub}`]));
        assert.ok(onMaster > (acked.at(-1) as bigint), 'the refused reservation is on the master');
        await cluster.kill(master.port);
      } finally {
        process.kill(cluster.node(replica.port).pid, 'SIGCONT');
      }
      await cluster.waitHealthy(30_000);
      assert.ok((await cluster.masterPorts()).includes(replica.port), 'the replica was promoted');
      assert.equal(await strict.getSqn(sub), acked.at(-1), 'the promoted replica lacks the refused reservation: had it been handed out, it would come again');
      const [next] = await strict.allocateSqn(sub, 1);
      assert.ok((next as bigint) > (acked.at(-1) as bigint), 'above every acknowledged SQN');
    } finally {
      await strict.close();
      await cluster.restart(master.port);
      await cluster.waitHealthy(30_000);
    }
  });

  test('kill -9 of a master during a bounded load: every acknowledged SQN is unique and increasing per subscriber, the counter ' +
    'stays above them, and every acknowledged durable and relaxed write survives the promotion of its replica', async (t) => {
    let victim = 0;
    const r = await loadAcrossFailover({
      store, prefix: 'cluster-load', before: 400, after: 600, maxOps: 6000, timeoutMs: 30_000,
      failover: async () => {
        const { master, replica } = await pair();
        victim = master.port;
        await cluster.kill(victim);
        try {
          await cluster.waitHealthy(20_000);
        } catch (e) {
          // Redis's own election did not promote the replica in time (seen once in CI on a loaded box, cause not
          // known): say what the replica saw, then promote it by hand, which is what this test needs (the writes
          // acknowledged before must be on it), not the election.
          t.diagnostic(`${(e as Error).message}; replica ${replica.port}: ${(await redisCommand<string>(replica.port, ['INFO', 'replication'])).replace(/\r\n/g, ' ')}` +
            ` | ${(await redisCommand<string>(replica.port, ['CLUSTER', 'INFO'])).replace(/\r\n/g, ' ')}; CLUSTER FAILOVER TAKEOVER on it`);
          await redisCommand(replica.port, ['CLUSTER', 'FAILOVER', 'TAKEOVER']);
          await cluster.waitHealthy(30_000);
        }
      },
    });
    t.diagnostic(`${r.ops} operations, ${r.failures} failed, ${r.afterFailover} after the promotion`);
    await cluster.restart(victim);
    await cluster.waitHealthy(30_000);
  });
});
