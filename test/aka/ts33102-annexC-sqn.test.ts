/**
 * TS 33.102 Annex C SQN management: SEQ‖IND layout (C.3.1: IND 5 bits, Δ = 2^28), the HE counter (profile 2, C.3.2),
 * the USIM's SEQ_MS array (C.2.1 Δ check, C.2.2 per-IND freshness) and HE resynchronisation (§6.3.5, DESIGN §2.3).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  AkaError, DELTA, IND_SLOTS, SEQ_MAX, SQN_MAX, SeqMsArray, bufToSqn, indOf, makeSqn, nextSqn, resyncDecision, seqOf,
  sqnToBuf,
} from '../../lib/aka/index.ts';

const isCode = (code: string) => (e: unknown): boolean => e instanceof AkaError && e.code === code;

test('ts33102 C.3.1: SQN = SEQ (43 bits) ‖ IND (5 bits), Δ = 2^28', () => {
  assert.equal(IND_SLOTS, 32);
  assert.equal(DELTA, 268435456n);
  const sqn = makeSqn(0x123456789n, 17);
  assert.equal(sqn, (0x123456789n << 5n) | 17n);
  assert.equal(seqOf(sqn), 0x123456789n);
  assert.equal(indOf(sqn), 17);
  assert.equal(makeSqn(SEQ_MAX, 31), SQN_MAX);
  assert.throws(() => makeSqn(SEQ_MAX + 1n, 0), isCode('ERR_AKA_INPUT'));
  assert.throws(() => makeSqn(1n, 32), isCode('ERR_AKA_INPUT'));
  assert.throws(() => makeSqn(1n, 1.5), isCode('ERR_AKA_INPUT'));
  assert.throws(() => seqOf(-1n), isCode('ERR_AKA_INPUT'));
});

test('ts33102 §6.3.2: SQN travels as 6 octets, big-endian', () => {
  assert.equal(bufToSqn(Buffer.from('ff9bb4d0b607', 'hex')), 0xff9bb4d0b607n);
  assert.equal(sqnToBuf(0x40n).toString('hex'), '000000000040');
  assert.equal(sqnToBuf(SQN_MAX).toString('hex'), 'ffffffffffff');
  assert.equal(bufToSqn(sqnToBuf(0n)), 0n);
  assert.throws(() => sqnToBuf(SQN_MAX + 1n), isCode('ERR_AKA_INPUT'));
  assert.throws(() => bufToSqn(Buffer.alloc(5)), isCode('ERR_AKA_INPUT'));
});

test('ts33102 C.3.2 (digest §4.3 recipe): nextSqn = SEQ+1, IND+1 mod 32; SEQ never wraps', () => {
  assert.equal(nextSqn(0n), makeSqn(1n, 1));
  assert.equal(nextSqn(makeSqn(41n, 31)), makeSqn(42n, 0));
  let s = makeSqn(7n, 5);
  const inds = new Set<number>();
  for (let i = 0; i < 32; i++) {
    s = nextSqn(s);
    inds.add(indOf(s));
  }
  assert.equal(inds.size, 32, '32 consecutive vectors use all 32 slots');
  assert.equal(seqOf(s), 39n);
  assert.throws(() => nextSqn(makeSqn(SEQ_MAX, 3)), isCode('ERR_AKA_SQN_EXHAUSTED'));
});

test('ts33102 C.2 / digest §4.3 pitfall: a new USIM has SQN_MS 0 and SEQ 0 is never fresh', () => {
  const a = new SeqMsArray();
  assert.equal(a.highestSqn(), 0n);
  for (let sqn = 0n; sqn < 32n; sqn++) assert.equal(a.check(sqn), 'replay');
  assert.equal(a.check(makeSqn(1n, 0)), 'fresh');
});

test('ts33102 C.2.2: freshness is per IND slot; replay of an accepted SQN fails', () => {
  const a = new SeqMsArray();
  const s = makeSqn(5n, 3);
  assert.equal(a.check(s), 'fresh');
  a.accept(s);
  assert.equal(a.check(s), 'replay');
  assert.equal(a.check(makeSqn(4n, 3)), 'replay');
  assert.equal(a.check(makeSqn(4n, 4)), 'fresh', 'an older SEQ in an unused slot is still fresh');
  assert.equal(a.seqAt(3), 5n);
  assert.throws(() => a.accept(s), isCode('ERR_AKA_INPUT'));
});

test('ts33102 C.2.2 / C.3: up to 32 outstanding vectors may be used in any order', () => {
  const issued: bigint[] = [];
  let s = makeSqn(100n, 0);
  for (let i = 0; i < 33; i++) issued.push((s = nextSqn(s)));
  const a = new SeqMsArray();
  const first32 = issued.slice(0, 32);
  for (const sqn of [...first32].reverse()) {
    assert.equal(a.check(sqn), 'fresh', `SQN ${sqn.toString(16)}`);
    a.accept(sqn);
  }
  assert.equal(a.highestSqn(), issued[31]);
  // The 33rd reuses the first one's slot with a higher SEQ: fresh; after it, the first would be a replay anyway.
  assert.equal(a.check(issued[32]!), 'fresh');
  const b = new SeqMsArray();
  b.accept(issued[32]!);
  assert.equal(b.check(issued[0]!), 'replay', 'the 33rd outstanding vector overtook the 1st in its slot');
});

test('ts33102 C.2.1: SEQ more than Δ above the highest accepted SEQ is refused', () => {
  const a = new SeqMsArray();
  assert.equal(a.check(makeSqn(DELTA, 0)), 'fresh');
  assert.equal(a.check(makeSqn(DELTA + 1n, 0)), 'delta');
  a.accept(makeSqn(1000n, 9));
  assert.equal(a.check(makeSqn(1000n + DELTA, 2)), 'fresh');
  assert.equal(a.check(makeSqn(1001n + DELTA, 2)), 'delta');
});

test('ts33102 C.2: SQN_MS is the highest accepted SEQ with its IND', () => {
  const a = new SeqMsArray();
  a.accept(makeSqn(7n, 30));
  a.accept(makeSqn(9n, 2));
  a.accept(makeSqn(8n, 31));
  assert.equal(a.highestSqn(), makeSqn(9n, 2));
  assert.equal(a.highestSeq(), 9n);
});

test('SeqMsArray survives JSON and rejects malformed JSON', () => {
  // The constructor takes any state a USIM can reach; accept() alone could not jump by more than Δ.
  const a = new SeqMsArray(Array.from({ length: 32 }, (_, i) => (i === 31 ? SEQ_MAX : i === 0 ? 12n : 0n)));
  const round = SeqMsArray.fromJSON(JSON.parse(JSON.stringify(a)));
  assert.deepEqual(round.entries(), a.entries());
  assert.equal(round.highestSqn(), SQN_MAX);
  const j = a.toJSON();
  assert.throws(() => new SeqMsArray([1n]), isCode('ERR_AKA_INPUT'));
  for (const bad of [null, {}, { ...j, indBits: 4 }, { ...j, seqMs: j.seqMs.slice(1) }, { ...j, seqMs: j.seqMs.map(() => '-1') },
    { ...j, seqMs: j.seqMs.map(() => (SEQ_MAX + 1n).toString()) }, { ...j, seqMs: j.seqMs.map(() => 1) }]) {
    assert.throws(() => SeqMsArray.fromJSON(bad), isCode('ERR_AKA_INPUT'), JSON.stringify(bad));
  }
  const c = round.clone();
  c.reset();
  assert.equal(c.highestSqn(), 0n);
  assert.equal(round.highestSqn(), SQN_MAX, 'clone is independent');
});

test('ts33102 §6.3.5: resync keeps SEQ_HE when the next SQN is acceptable to the USIM', () => {
  const last = makeSqn(100n, 3);
  assert.deepEqual(resyncDecision(last, makeSqn(90n, 7)), { keep: true, newLastSqn: last, wentDown: false });
  assert.deepEqual(resyncDecision(last, makeSqn(100n, 20)), { keep: true, newLastSqn: last, wentDown: false });
  // Boundary: the next SEQ exactly Δ above SEQ(SQN_MS) is still acceptable.
  const far = makeSqn(DELTA + 9n, 0);
  assert.equal(resyncDecision(far, makeSqn(10n, 0)).keep, true);
});

test('ts33102 §6.3.5: resync resets from SQN_MS when the HE is behind the USIM (counter goes up)', () => {
  const d = resyncDecision(makeSqn(10n, 0), makeSqn(500n, 4));
  assert.deepEqual(d, { keep: false, newLastSqn: makeSqn(500n, 4), wentDown: false });
  assert.equal(seqOf(nextSqn(d.newLastSqn)), 501n);
  // Next SEQ equal to SEQ(SQN_MS) is not fresh: reset.
  assert.equal(resyncDecision(makeSqn(499n, 0), makeSqn(500n, 4)).keep, false);
});

test('ts33102 §6.3.5: resync lowers the counter when the HE is more than Δ ahead (wentDown)', () => {
  const d = resyncDecision(makeSqn(DELTA + 10n, 0), makeSqn(9n, 1));
  assert.deepEqual(d, { keep: false, newLastSqn: makeSqn(9n, 1), wentDown: true });
  assert.equal(seqOf(nextSqn(d.newLastSqn)), 10n);
});

test('ts33102 §6.3.5: after any resync decision the next SQN issued is accepted by the USIM', () => {
  const cases: [bigint, bigint][] = [[0n, 0n], [100n, 5n], [5n, 100n], [DELTA * 3n, 2n], [2n, DELTA * 3n], [77n, 77n]];
  for (const [heSeq, msSeq] of cases) {
    const usim = new SeqMsArray(Array.from({ length: 32 }, (_, i) => (i === 13 ? msSeq : 0n)));
    const d = resyncDecision(makeSqn(heSeq, 4), usim.highestSqn());
    assert.equal(usim.check(nextSqn(d.newLastSqn)), 'fresh', `HE SEQ ${heSeq}, MS SEQ ${msSeq}`);
  }
});
