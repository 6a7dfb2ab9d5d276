/**
 * `mcx testbed --store` on a Redis Cluster (issue #15 item 1, DESIGN §2.5): a real 3-master cluster with one replica
 * each on loopback. The static and the dynamic flow pass with the explicit `redis+cluster://` form and with
 * `redis://<one node>` (a replica's address: the store detects the cluster and follows it — before, this failed at once
 * with MOVED); the keys land on every master; a master that does not fsync every write is refused (exit 2), named.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { redisCommand, startRedisCluster, type RedisCluster } from '../helpers/redis-server.ts';
import { startMcx } from '../helpers/process.ts';

describe('mcx testbed --once on a Redis Cluster (3 masters, 1 replica each)', () => {
  let cluster: RedisCluster;
  let dir: string;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'mcx-testbed-cluster-'));
    cluster = await startRedisCluster({ masters: 3, replicasPerMaster: 1 });
  });
  after(async () => {
    await cluster?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  async function testbed(store: string, sub: string): Promise<{ code: number | null; out: string }> {
    const p = startMcx(['testbed', '--once', '--ports', 'auto', '--dir', join(dir, sub), '--store', store]);
    return { code: await p.exited, out: p.output() };
  }

  test('redis+cluster://<every node>: the static and the dynamic flow register (200); keys on every master', async () => {
    const r = await testbed(cluster.url, 'explicit');
    assert.equal(r.code, 0, r.out);
    assert.match(r.out, /^result: OK — sip:alice\.mig@partner\.mcx\.test registered \(200 OK\)/m);
    assert.match(r.out, /^result: OK — sip:mig-[0-9a-f]{12}@partner\.mcx\.test registered \(200 OK\) by dynamic configuration /m);
    assert.doesNotMatch(r.out, /MOVED|resynchronisation/);
    const masters = await cluster.masterPorts();
    assert.equal(masters.length, 3);
    for (const port of masters) assert.ok(await redisCommand<number>(port, ['DBSIZE']) > 0, `master ${port} holds no key`);
  });

  test('redis://<a replica of the cluster>: detected as a cluster node; both flows register again on the same cluster', async () => {
    const replica = (await cluster.view()).find((v) => v.role === 'replica');
    assert.ok(replica);
    const r = await testbed(`redis://127.0.0.1:${replica.port}`, 'detected');
    assert.equal(r.code, 0, r.out);
    assert.equal(r.out.match(/^result: OK — /gm)?.length, 2, r.out);
    assert.doesNotMatch(r.out, /MOVED|resynchronisation/);
  });

  test('a master with appendfsync everysec: exit 2 before anything serves, naming that node', async () => {
    const [port] = await cluster.masterPorts();
    await redisCommand(port as number, ['CONFIG', 'SET', 'appendfsync', 'everysec']);
    try {
      const r = await testbed(cluster.url, 'lossy');
      assert.equal(r.code, 2, r.out);
      assert.match(r.out, new RegExp(`127\\.0\\.0\\.1:${port} \\(cluster master\\) runs with appendfsync everysec`));
    } finally {
      await redisCommand(port as number, ['CONFIG', 'SET', 'appendfsync', 'always']);
    }
  });
});
