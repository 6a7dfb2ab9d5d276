/**
 * DESIGN §2.5 on a Redis Cluster (issue #15, acceptance of item 1): the HSS and the registrar share a real 3-master
 * cluster with one replica each; 24 AKA UEs register again and again (a bounded load: at most 900 attempts, 60 s);
 * after the first 150 successes one master is killed with `kill -9`, its replica is promoted, the load goes on. Then:
 * - no acknowledged binding is lost: every UE's last REGISTER answered 200 is in the store (its Call-ID, a CSeq at
 *   least the acknowledged one), the AORs on the killed master included;
 * - no SQN is reused: every SQN the HSS issued (its debug line per MAA lists them) is above the one it issued before
 *   for that subscriber, every challenge's SQN (opened from AUTN with the UE's K) is one of them and above the
 *   previous challenge's, and the HSS's counter is above every one — the counters on the killed master included.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { redisCommand, startRedisCluster, type RedisCluster } from '../helpers/redis-server.ts';
import { Milenage, openAutn, parseAkaNonce } from '../../lib/aka/index.ts';
import { openStore, type Store } from '../../lib/store/store.ts';
import { startHss, type RunningHss } from '../../hss/run.ts';
import type { AorRecord } from '../../registrar/bindings.ts';
import type { RunningRegistrar } from '../../registrar/server.ts';
import type { Isim } from '../../ue-client/isim.ts';
import {
  HSS_REALM, Ue, akaUser, callId, captureLogger, hssPort, openIsim, registerAka, sipPort, startTestRegistrar, subscribersCsv, tempDir,
  type AkaUser,
} from './helpers.ts';

const USERS = 24;
const MAX_ATTEMPTS = 900;
const KILL_AFTER = 150;

interface UeState {
  u: AkaUser;
  ue: Ue;
  isim: Isim;
  milenage: Milenage;
  callId: string;
  cseq: number;
  /** Each challenge's nonce and SQN, in the order received. */
  challenges: Array<{ nonce: string; sqn: bigint }>;
  /** CSeq of the last REGISTER answered 200. */
  acked?: number;
}

describe('DESIGN §2.5: registrar and HSS on a Redis Cluster, kill -9 of a master during a registration load', () => {
  let cluster: RedisCluster;
  let dir: { dir: string; remove: () => Promise<void> };
  let hss: RunningHss;
  let reg: RunningRegistrar;
  let check: Store;
  const ues: UeState[] = [];
  const hssLog = captureLogger();

  before(async () => {
    dir = await tempDir('mcx-cluster-failover-');
    cluster = await startRedisCluster({ masters: 3, replicasPerMaster: 1, nodeTimeoutMs: 1000 });
    const users = Array.from({ length: USERS }, (_, i) => akaUser(`load${i}`));
    const csv = join(dir.dir, 'subscribers.csv');
    await writeFile(csv, subscribersCsv(users));
    hss = await startHss({
      listen: { host: '127.0.0.1', port: 0 }, originHost: `hss.${HSS_REALM}`, realm: HSS_REALM, subscribersCsv: csv,
      store: cluster.url, stateDir: join(dir.dir, 'hss'), randPolicy: 'uniform', admin: { host: '127.0.0.1', port: 0 }, logger: hssLog.logger,
    });
    reg = await startTestRegistrar(dir.dir, [hssPort(hss)], { store: cluster.url, regAwaitAuthMs: 10_000 });
    for (const u of users) {
      ues.push({
        u, ue: await Ue.udp(sipPort(reg, 'UDP')), isim: await openIsim(dir.dir, u),
        milenage: Milenage.fromOp(Buffer.from(u.k, 'hex'), Buffer.from(u.op, 'hex')), callId: callId(), cseq: 1, challenges: [],
      });
    }
    check = await openStore(cluster.url);
  });

  after(async () => {
    for (const s of ues) {
      s.ue.close();
      await s.isim.close();
    }
    await check?.close();
    await reg?.close();
    await hss?.close();
    await cluster?.stop();
    await dir?.remove();
  });

  test('no acknowledged binding lost, no SQN reused (every SQN the HSS issued and every challenge checked), the load served after the promotion', async (t) => {
    const deadline = Date.now() + 60_000;
    let attempts = 0;
    let ok = 0;
    let failed = 0;
    let okAfterFailover = 0;
    let phase: 'before' | 'failing' | 'after' = 'before';
    const run = async (s: UeState) => {
      while (attempts < MAX_ATTEMPTS && Date.now() < deadline && okAfterFailover < 150) {
        attempts++;
        const cseq = s.cseq;
        s.cseq += 2;
        try {
          const r = await registerAka(s.ue, s.isim, s.u, { callId: s.callId, cseq, expires: 3600 });
          const nonce = r.ch.nonce as string;
          const { rand, autn } = parseAkaNonce(nonce);
          s.challenges.push({ nonce, sqn: openAutn(s.milenage, rand, autn).sqn });
          if (r.final.msg.status === 200) {
            s.acked = r.cseq;
            ok++;
            if (phase === 'after') okAfterFailover++;
          } else {
            failed++;
          }
        } catch {
          // A timeout, a 5xx to the first REGISTER, or an ISIM that refused a challenge it had seen: not acknowledged.
          failed++;
          await sleep(200);
        }
      }
    };
    const load = Promise.all(ues.map(run));
    while (ok < KILL_AFTER && Date.now() < deadline) await sleep(20);
    assert.ok(ok >= KILL_AFTER, `only ${ok} registrations before the kill`);
    const victim = (await cluster.masterPorts())[0] as number;
    // Which AORs and SQN counters live on the master about to die (a test that killed an empty master proves nothing).
    const onVictim = async (key: string) => redisCommand(victim, ['EXISTS', key]).then(() => true, () => false);
    const aorsThere = ues.filter((s) => s.acked !== undefined);
    const aorOnVictim = new Set<string>();
    const sqnOnVictim = new Set<string>();
    for (const s of aorsThere) {
      if (await onVictim(`mcx:r:registrar:aor:${s.u.impus[0]}`)) aorOnVictim.add(s.u.impi);
      if (await onVictim(`mcx:sqn:hss:sqn:${s.u.impi}`)) sqnOnVictim.add(s.u.impi);
    }
    phase = 'failing';
    await cluster.kill(victim);
    await cluster.waitHealthy(30_000);
    assert.ok(!(await cluster.masterPorts()).includes(victim));
    phase = 'after';
    await load;
    assert.ok(attempts <= MAX_ATTEMPTS + USERS, `${attempts} attempts`);
    assert.ok(okAfterFailover > 0, `registrations served after the promotion (${ok} ok, ${failed} failed)`);
    assert.ok(aorOnVictim.size > 0 && sqnOnVictim.size > 0, 'the killed master held bindings and SQN counters');

    t.diagnostic(`${attempts} attempts: ${ok} answered 200 (${okAfterFailover} after the promotion), ${failed} not; ` +
      `${aorOnVictim.size} AORs and ${sqnOnVictim.size} SQN counters were on the killed master`);
    // Every SQN the HSS issued, per subscriber, in the order it issued them.
    const issued = new Map<string, bigint[]>();
    for (const l of hssLog.lines()) {
      if (l.msg !== 'MAR: vectors issued (33.102 §6.3.2) → MAA') continue;
      const list = issued.get(l.impi as string) ?? issued.set(l.impi as string, []).get(l.impi as string) as bigint[];
      list.push(...(l.sqns as string[]).map((h) => BigInt(`0x${h}`)));
    }
    let sqnsChecked = 0;
    for (const [impi, list] of issued) {
      for (let i = 1; i < list.length; i++) {
        assert.ok((list[i] as bigint) > (list[i - 1] as bigint), `${impi}: the HSS issued SQN ${list[i]} after ${list[i - 1]}${sqnOnVictim.has(impi) ? ' (counter on the killed master)' : ''}`);
      }
      sqnsChecked += list.length;
    }
    t.diagnostic(`${sqnsChecked} SQNs issued by the HSS, each checked`);
    let bindingsChecked = 0;
    for (const s of ues) {
      const mine = new Set(issued.get(s.u.impi) ?? []);
      for (const c of s.challenges) assert.ok(mine.has(c.sqn), `${s.u.impi}: challenge SQN ${c.sqn} was not issued by the HSS`);
      // SQNs: distinct challenges (a challenge resent to a UE with unanswered ones is the same nonce) strictly increase.
      const distinct = s.challenges.filter((c, i) => s.challenges.findIndex((d) => d.nonce === c.nonce) === i);
      for (let i = 1; i < distinct.length; i++) {
        assert.ok((distinct[i]?.sqn as bigint) > (distinct[i - 1]?.sqn as bigint),
          `${s.u.impi}: SQN ${distinct[i]?.sqn} after ${distinct[i - 1]?.sqn}${sqnOnVictim.has(s.u.impi) ? ' (counter on the killed master)' : ''}`);
      }
      const counter = await check.getSqn(`hss:sqn:${s.u.impi}`);
      const highest = distinct.reduce((m, c) => (c.sqn > m ? c.sqn : m), 0n);
      assert.ok(counter !== undefined && counter >= highest, `${s.u.impi}: HSS counter ${counter} below SQN ${highest} already sent`);
      if (s.acked === undefined) continue;
      const rec = await check.get<AorRecord>(`registrar:aor:${s.u.impus[0]}`);
      const b = rec?.bindings.find((x) => x.callId === s.callId);
      assert.ok(b !== undefined && b.cseq >= s.acked,
        `${s.u.impi}: REGISTER CSeq ${s.acked} was answered 200, the store has ${JSON.stringify(b ?? null)}${aorOnVictim.has(s.u.impi) ? ' (AOR on the killed master)' : ''}`);
      bindingsChecked++;
    }
    assert.equal(bindingsChecked, ues.filter((s) => s.acked !== undefined).length);
  });
});
