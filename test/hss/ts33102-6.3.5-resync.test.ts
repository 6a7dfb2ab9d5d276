/**
 * TS 33.102 §6.3.5 (HE side of resynchronisation) through the MAR handler, with a USIM simulated by lib/aka
 * (SeqMsArray + buildAuts): after a sync failure the resync MAR's vectors are accepted by the USIM, SEQ_HE is kept
 * when still acceptable, set from SQN_MS otherwise, the move down (HSS more than Δ ahead) is logged, and an AUTS
 * whose MAC-S fails resets nothing but is still answered with fresh vectors (33.102 §6.3.5 step 6).
 */
import { beforeEach, afterEach, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { DELTA, Milenage, SeqMsArray, buildAuts, makeSqn, openAutn, seqOf } from '../../lib/aka/index.ts';
import { readMaa } from '../../lib/diameter/cx/index.ts';
import { sqnKey } from '../../hss/subscribers.ts';
import { ALICE, K, OPC, makeHss, mar, wire, type Hss } from './helpers.ts';

const usimKey = new Milenage(Buffer.from(K, 'hex'), Buffer.from(OPC, 'hex'));

/** A USIM that accepted SEQ `seq` in every IND slot (Annex C freshness is per slot, so one slot is not enough). */
function usimAt(seq: bigint): SeqMsArray {
  const usim = new SeqMsArray();
  for (let ind = 0; ind < 32; ind++) usim.accept(makeSqn(seq, ind));
  return usim;
}

/** The (RAND, SQN) of the first vector of a MAA, as the USIM opens it. */
function firstVector(maaMsg: Parameters<typeof readMaa>[0]): { rand: Buffer; sqn: bigint; macValid: boolean } {
  const ra = readMaa(maaMsg).items[0]?.authenticate as Buffer;
  const rand = ra.subarray(0, 16);
  const { sqn, macValid } = openAutn(usimKey, rand, ra.subarray(16));
  return { rand, sqn, macValid };
}

/** Runs challenge → sync failure → resync MAR, returning the resync answer's first vector and the log text. */
async function syncFailureThenResync(hss: Hss, usim: SeqMsArray): Promise<{ verdict: string; after: ReturnType<typeof firstVector> }> {
  const challenge = firstVector(await hss.cx.mar(mar()));
  assert.ok(challenge.macValid);
  const verdict = usim.check(challenge.sqn);
  assert.notEqual(verdict, 'fresh', 'the set-up must produce a sync failure');
  const auts = buildAuts(usimKey, challenge.rand, usim.highestSqn());
  const answer = wire(await hss.cx.mar(mar({ authorization: Buffer.concat([challenge.rand, auts]) })));
  assert.deepEqual(readMaa(answer).result, { resultCode: 2001 });
  return { verdict, after: firstVector(answer) };
}

describe('33.102 §6.3.5 resync through MAR (SIP-Authorization = RAND‖AUTS)', () => {
  let hss: Hss;
  beforeEach(async () => { hss = await makeHss(); });
  afterEach(() => hss.close());

  test('USIM ahead of the HSS: SEQ_HE is set from SQN_MS and the fresh vector is accepted', async () => {
    const usim = usimAt(1000n);
    const { verdict, after } = await syncFailureThenResync(hss, usim);
    assert.equal(verdict, 'replay');
    assert.ok(after.macValid);
    assert.equal(usim.check(after.sqn), 'fresh');
    assert.equal(seqOf(after.sqn), 1001n, 'continues at SEQ(SQN_MS)+1');
    assert.equal(hss.ctx.stats.get('resync_resets'), 1);
    assert.equal(hss.ctx.stats.get('resync_seq_went_down'), 0);
    assert.match(hss.log.text(), /resync: SEQ_HE set from SQN_MS/);
  });

  test('HSS more than Δ ahead: SEQ_HE goes down to SEQ(SQN_MS), the USIM accepts, and the move down is logged', async () => {
    await hss.store.setSqn(sqnKey(ALICE.impi), makeSqn(DELTA + 500n, 3));
    const usim = usimAt(40n);
    const { verdict, after } = await syncFailureThenResync(hss, usim);
    assert.equal(verdict, 'delta');
    assert.equal(usim.check(after.sqn), 'fresh');
    assert.equal(seqOf(after.sqn), 41n);
    assert.equal(hss.ctx.stats.get('resync_seq_went_down'), 1);
    const line = hss.log.lines().find((l) => /SEQ_HE went down/.test(String(l.msg)));
    assert.ok(line, 'a log line says SEQ_HE went down');
    assert.equal(line.level, 40, 'at warn level');
    assert.equal(line.clause, '33.102 §6.3.5');
    assert.equal(line.sqn_ms, makeSqn(40n, 31).toString(16).padStart(12, '0'));
  });

  test('SEQ_HE still acceptable (vector lost, old one replayed): the counter is kept', async () => {
    const usim = new SeqMsArray();
    const first = firstVector(await hss.cx.mar(mar()));
    usim.accept(first.sqn);
    // The UE is challenged again with the vector it already used (a stale retransmission): replay.
    const auts = buildAuts(usimKey, first.rand, usim.highestSqn());
    const before = await hss.store.getSqn(sqnKey(ALICE.impi));
    const after = firstVector(await hss.cx.mar(mar({ authorization: Buffer.concat([first.rand, auts]) })));
    assert.equal(usim.check(after.sqn), 'fresh');
    assert.equal(hss.ctx.stats.get('resync_resets'), 0);
    assert.ok(after.sqn > (before as bigint));
    assert.match(hss.log.text(), /SEQ_HE kept/);
  });

  test('MAC-S does not verify: no reset, still answered with fresh vectors, warning logged', async () => {
    const usim = usimAt(1000n);
    const challenge = firstVector(await hss.cx.mar(mar()));
    const auts = buildAuts(usimKey, challenge.rand, usim.highestSqn());
    auts[13] = (auts[13] as number) ^ 0x01;
    const before = await hss.store.getSqn(sqnKey(ALICE.impi));
    const answer = await hss.cx.mar(mar({ authorization: Buffer.concat([challenge.rand, auts]) }));
    const after = firstVector(answer);
    assert.ok(after.macValid);
    assert.equal(seqOf(after.sqn), seqOf(before as bigint) + 1n, 'the counter just continued');
    assert.equal(usim.check(after.sqn), 'replay', 'the USIM is still out of sync, as 33.102 expects');
    assert.equal(hss.ctx.stats.get('resync_mac_failures'), 1);
    assert.equal(hss.ctx.stats.get('resync_resets'), 0);
    const line = hss.log.lines().find((l) => /MAC-S does not verify/.test(String(l.msg)));
    assert.equal(line?.level, 40);
  });

  test('no key material reaches the log', async () => {
    const usim = usimAt(1000n);
    await syncFailureThenResync(hss, usim);
    const text = hss.log.text().toLowerCase();
    for (const secret of [K, OPC]) assert.ok(!text.includes(secret), 'K/OPc in the log');
  });
});
