/**
 * DESIGN §2.3/§2.5 on a real redis-server (appendonly yes, appendfsync always): two HSS instances on one Redis,
 * with concurrent MARs for the same subscriber, never hand out the same SQN and every vector is accepted by the
 * USIM in order; `mcx hss subscriber add --store redis://…` provisions the shared store directly.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Milenage, openAutn } from '../../lib/aka/index.ts';
import { readMaa } from '../../lib/diameter/cx/index.ts';
import { openStore, type Store } from '../../lib/store/store.ts';
import { createCxHandlers, type CxHandlers } from '../../hss/server.ts';
import { ServingRegistry } from '../../hss/serving.ts';
import { HssStats } from '../../hss/stats.ts';
import { SubscriberRepo } from '../../hss/subscribers.ts';
import { VectorIssuer } from '../../hss/vectors.ts';
import { startMcx, type Proc } from '../helpers/process.ts';
import { startRedisServer, type RedisServer } from '../helpers/redis-server.ts';
import { ALICE, K, OPC, REALM, captureLogger, mar } from './helpers.ts';

const mcx = (args: string[]): Proc => startMcx(args);

async function hssOn(url: string): Promise<{ store: Store; cx: CxHandlers; repo: SubscriberRepo }> {
  const store = await openStore(url);
  const logger = captureLogger().logger;
  const stats = new HssStats();
  const repo = new SubscriberRepo(store, { realm: REALM, logger });
  const cx = createCxHandlers({
    originHost: 'hss.primary.example', originRealm: REALM, subscribers: repo, serving: new ServingRegistry(store), stats, logger,
    vectors: new VectorIssuer({ store, stats, logger }),
  });
  return { store, cx, repo };
}

describe('design §2.5 two HSS processes sharing one Redis', () => {
  let redis: RedisServer;
  let a: Awaited<ReturnType<typeof hssOn>>;
  let b: Awaited<ReturnType<typeof hssOn>>;
  before(async () => {
    redis = await startRedisServer();
    a = await hssOn(redis.url);
    b = await hssOn(redis.url);
    await a.repo.put(ALICE);
  });
  after(async () => {
    await a?.store.close();
    await b?.store.close();
    await redis?.stop();
  });

  test('40 concurrent MARs (3 vectors each) over two HSS instances: 120 distinct SQNs, all acceptable in SEQ order', async () => {
    const answers = await Promise.all(Array.from({ length: 40 }, (_, i) => (i % 2 ? a : b).cx.mar(mar({ numberAuthItems: 3 }))));
    const usim = new Milenage(Buffer.from(K, 'hex'), Buffer.from(OPC, 'hex'));
    const sqns = answers.flatMap((m) => {
      const maa = readMaa(m);
      assert.deepEqual(maa.result, { resultCode: 2001 });
      return maa.items.map((item) => {
        const ra = item.authenticate as Buffer;
        const opened = openAutn(usim, ra.subarray(0, 16), ra.subarray(16));
        assert.ok(opened.macValid);
        return opened.sqn;
      });
    });
    assert.equal(sqns.length, 120);
    assert.equal(new Set(sqns.map(String)).size, 120, 'no SQN handed out twice');
    const seqs = sqns.map((s) => s >> 5n).sort((x, y) => (x < y ? -1 : 1));
    assert.deepEqual(seqs, Array.from({ length: 120 }, (_, i) => BigInt(i + 1)), 'SEQ 1..120 without gaps or repeats');
  });

  test('mcx hss subscriber add --store redis://… writes the shared store; the other instance sees the subscriber', async () => {
    const p = mcx(['hss', 'subscriber', 'add', '--store', redis.url, '--realm', REALM, '--impi', 'zoe@primary.example',
      '--impu', 'sip:zoe@primary.example', '--password', 'zoe-pw']);
    assert.equal(await p.exited, 0, p.output());
    assert.match(p.output(), /"ha1_set":true/);
    assert.ok(!p.output().includes('zoe-pw'));
    const rec = await b.repo.get('zoe@primary.example');
    assert.equal(rec?.ha1?.realm, REALM);
    const noRealm = mcx(['hss', 'subscriber', 'add', '--store', redis.url, '--impi', 'yan@primary.example', '--impu', 'sip:yan@primary.example', '--password', 'x']);
    assert.equal(await noRealm.exited, 2);
    assert.match(noRealm.output(), /--realm: required/);
  });
});
