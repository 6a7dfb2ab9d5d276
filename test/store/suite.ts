/**
 * The contract of `Store`, run unchanged against every implementation (memory.test.ts, redis.test.ts). SQN values are
 * exact: they pin lib/store/sqn.ts and the Lua scripts to the same TS 33.102 Annex C arithmetic.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { MAX_SQN_BATCH, SEQ_MAX, isStoreError, type Store, type StoreErrorCode } from '../../lib/store/store.ts';

/** How a suite reaches the implementation under test. */
export interface SuiteContext {
  /** The store under test, opened by the caller's `before` hook. */
  store(): Store;
  /** Another handle on the same data, as another process would hold it (Redis: its own connection). */
  peer(): Promise<{ store: Store; release(): Promise<void> }>;
}

/** SQN = SEQ‖IND, written out here so the expected values do not come from the code under test. */
export const sqn = (seq: bigint, ind: number): bigint => seq * 32n + BigInt(ind);

/** An assert.rejects matcher for a StoreError code. */
export const code = (c: StoreErrorCode) => (e: unknown): boolean => isStoreError(e, c);

const ns = (): string => `${randomUUID().slice(0, 8)}:`;

/** Registers the shared tests; call inside a `describe` whose `before` opened the store. */
export function storeSuite(ctx: SuiteContext): void {
  test('set/get/delete round-trip canonical JSON copies; bad input is ERR_STORE_INPUT', async () => {
    const s = ctx.store();
    const k = ns();
    const value = { b: [1, 'two', null], a: { nested: true }, hex: 'deadbeef' };
    await s.set(`${k}v`, value);
    const got = await s.get<typeof value>(`${k}v`);
    assert.deepEqual(got, value);
    assert.notEqual(got, value);
    assert.equal(await s.get(`${k}missing`), undefined);
    await s.set(`${k}null`, null);
    assert.equal(await s.get(`${k}null`), null);
    assert.equal(await s.delete(`${k}v`), true);
    assert.equal(await s.delete(`${k}v`), false);
    assert.equal(await s.get(`${k}v`), undefined);
    await assert.rejects(s.set('', 1), code('ERR_STORE_INPUT'));
    await assert.rejects(s.set(`${k}x`, undefined), code('ERR_STORE_INPUT'));
    await assert.rejects(s.set(`${k}x`, { b: Buffer.from('00', 'hex') }), code('ERR_STORE_INPUT'));
    await assert.rejects(s.set(`${k}x`, 1n), code('ERR_STORE_INPUT'));
    await assert.rejects(s.set(`${k}x`, Number.NaN), code('ERR_STORE_INPUT'));
    for (const ttlMs of [0, -1, 1.5]) await assert.rejects(s.set(`${k}x`, 1, { ttlMs }), code('ERR_STORE_INPUT'));
    assert.equal(await s.get(`${k}x`), undefined);
  });

  test('TTL: a record expires; a plain set clears an earlier TTL', async () => {
    const s = ctx.store();
    const k = ns();
    await s.set(`${k}short`, 'a', { ttlMs: 150 });
    await s.set(`${k}cleared`, 'b', { ttlMs: 150 });
    await s.set(`${k}cleared`, 'c');
    assert.ok(await s.setIfAbsent(`${k}nx`, 'first', { ttlMs: 150 }));
    assert.equal(await s.get(`${k}short`), 'a');
    await sleep(400);
    assert.equal(await s.get(`${k}short`), undefined);
    assert.equal(await s.take(`${k}short`), undefined);
    assert.equal(await s.delete(`${k}short`), false);
    assert.equal(await s.get(`${k}cleared`), 'c');
    assert.deepEqual(await s.keys(k), [`${k}cleared`]);
    assert.equal(await s.setIfAbsent(`${k}nx`, 'second'), true, 'an expired key is absent');
    assert.equal(await s.get(`${k}nx`), 'second');
  });

  test('setIfAbsent stores once (jti replay cache)', async () => {
    const s = ctx.store();
    const k = `${ns()}jti`;
    assert.equal(await s.setIfAbsent(k, { exp: 1 }, { ttlMs: 60_000 }), true);
    assert.equal(await s.setIfAbsent(k, { exp: 2 }, { ttlMs: 60_000 }), false);
    assert.deepEqual(await s.get(k), { exp: 1 });
    const { store: p, release } = await ctx.peer();
    try {
      const k2 = `${ns()}race`;
      const wins = await Promise.all(Array.from({ length: 10 }, (_, i) => (i % 2 ? p : s).setIfAbsent(k2, i)));
      assert.equal(wins.filter(Boolean).length, 1);
    } finally {
      await release();
    }
  });

  test('take is single-use: 10 concurrent takes, exactly one gets the value', async () => {
    const s = ctx.store();
    const peers = await Promise.all([ctx.peer(), ctx.peer()]);
    try {
      const handles = [s, ...peers.map((p) => p.store)];
      for (let round = 0; round < 5; round++) {
        const k = `${ns()}nonce`;
        await s.set(k, { rand: 'aa', round }, { ttlMs: 30_000 });
        const got = await Promise.all(Array.from({ length: 10 }, (_, i) => (handles[i % handles.length] as Store).take(k)));
        assert.deepEqual(got.filter((v) => v !== undefined), [{ rand: 'aa', round }]);
        assert.equal(await s.get(k), undefined);
      }
      assert.equal(await s.take(`${ns()}missing`), undefined);
    } finally {
      for (const p of peers) await p.release();
    }
  });

  test('durability options: relaxed and volatile records read, take and compare like durable ones; a bad one is ERR_STORE_INPUT', async () => {
    const s = ctx.store();
    const k = ns();
    await s.set(`${k}relaxed`, { a: 1 }, { durability: 'relaxed', ttlMs: 60_000 });
    await s.set(`${k}volatile`, { n: 'nonce' }, { durability: 'volatile', ttlMs: 60_000 });
    assert.equal(await s.setIfAbsent(`${k}volatile`, { n: 'again' }, { durability: 'volatile' }), false);
    assert.deepEqual(await s.get(`${k}relaxed`), { a: 1 });
    assert.deepEqual(await s.get(`${k}volatile`), { n: 'nonce' });
    assert.deepEqual(await s.keys(k), [`${k}relaxed`, `${k}volatile`]);
    const { store: p, release } = await ctx.peer();
    try {
      const takes = await Promise.all(Array.from({ length: 6 }, (_, i) => (i % 2 ? p : s).take(`${k}volatile`)));
      assert.deepEqual(takes.filter((t) => t !== undefined), [{ n: 'nonce' }], 'a volatile record is single-use too');
    } finally {
      await release();
    }
    assert.equal(await s.get(`${k}volatile`), undefined);
    await s.set(`${k}v2`, { b: 2, a: 1 }, { durability: 'volatile' });
    assert.equal(await s.compareAndDelete(`${k}v2`, { a: 1, b: 3 }), false);
    assert.equal(await s.compareAndDelete(`${k}v2`, { a: 1, b: 2 }, { durability: 'relaxed' }), true);
    assert.equal(await s.delete(`${k}relaxed`, { durability: 'relaxed' }), true);
    assert.equal(await s.get(`${k}relaxed`), undefined);
    await assert.rejects(s.set(`${k}x`, 1, { durability: 'eventually' as never }), code('ERR_STORE_INPUT'));
    await assert.rejects(s.delete(`${k}x`, { durability: 'volatile' as never }), code('ERR_STORE_INPUT'));
    assert.equal(await s.get(`${k}x`), undefined);
  });

  test('compareAndDelete deletes only on an equal value (key order does not matter)', async () => {
    const s = ctx.store();
    const k = `${ns()}binding`;
    await s.set(k, { impi: 'a@x', impu: ['sip:a@x'], n: 1 });
    assert.equal(await s.compareAndDelete(k, { impi: 'a@x', impu: ['sip:a@x'], n: 2 }), false);
    assert.ok(await s.get(k));
    assert.equal(await s.compareAndDelete(k, { n: 1, impu: ['sip:a@x'], impi: 'a@x' }), true);
    assert.equal(await s.get(k), undefined);
    assert.equal(await s.compareAndDelete(k, { n: 1, impu: ['sip:a@x'], impi: 'a@x' }), false);
  });

  test('keys(prefix) lists live keys, sorted, and treats glob characters literally', async () => {
    const s = ctx.store();
    const k = ns();
    await s.set(`${k}bind:b`, 1);
    await s.set(`${k}bind:a`, 1);
    await s.set(`${k}bind:gone`, 1, { ttlMs: 1 });
    await s.set(`${k}other`, 1);
    await s.set(`${k}x*[y]?\\`, 1);
    await s.set(`${k}xyz`, 1);
    await s.setSqn(`${k}bind:sqn`, 5n);
    await sleep(20);
    assert.deepEqual(await s.keys(`${k}bind:`), [`${k}bind:a`, `${k}bind:b`]);
    assert.deepEqual(await s.keys(`${k}x*`), [`${k}x*[y]?\\`]);
    assert.deepEqual(await s.keys(`${k}x*[y]?\\`), [`${k}x*[y]?\\`]);
    assert.equal((await s.keys(k)).length, 5);
    assert.deepEqual(await s.keys(`${ns()}`), []);
  });

  test('allocateSqn: SEQ+1 and IND+1 mod 32 per SQN (33.102 Annex C profile 2), IND wraps 31 → 0', async () => {
    const s = ctx.store();
    const k = `${ns()}imsi`;
    assert.equal(await s.getSqn(k), undefined);
    assert.deepEqual(await s.allocateSqn(k, 1), [sqn(1n, 1)], 'a missing counter counts as 0');
    await s.setSqn(k, sqn(10n, 30));
    assert.equal(await s.getSqn(k), sqn(10n, 30));
    assert.deepEqual(await s.allocateSqn(k, 3), [sqn(11n, 31), sqn(12n, 0), sqn(13n, 1)]);
    assert.equal(await s.getSqn(k), sqn(13n, 1));
    assert.deepEqual(await s.allocateSqn(k, 1), [sqn(14n, 2)]);
    const batch = await s.allocateSqn(k, MAX_SQN_BATCH);
    assert.equal(batch.length, MAX_SQN_BATCH);
    assert.equal(batch[0], sqn(15n, 3));
    assert.equal(batch.at(-1), sqn(14n + BigInt(MAX_SQN_BATCH), (2 + MAX_SQN_BATCH) % 32));
    for (const n of [0, -1, 1.5, MAX_SQN_BATCH + 1]) await assert.rejects(s.allocateSqn(k, n), code('ERR_STORE_INPUT'));
    await assert.rejects(s.setSqn(k, 1n << 48n), code('ERR_STORE_INPUT'));
    await assert.rejects(s.setSqn(k, -1n), code('ERR_STORE_INPUT'));
    assert.equal(await s.get(k), undefined, 'counters are not records');
    assert.equal(await s.delete(k), false);
    assert.equal(await s.getSqn(k), sqn(14n + BigInt(MAX_SQN_BATCH), (2 + MAX_SQN_BATCH) % 32));
  });

  test('allocateSqn is exact at the top of the 48-bit range and refuses to wrap', async () => {
    const s = ctx.store();
    const k = `${ns()}top`;
    await s.setSqn(k, sqn(SEQ_MAX - 3n, 29));
    assert.deepEqual(await s.allocateSqn(k, 2), [sqn(SEQ_MAX - 2n, 30), sqn(SEQ_MAX - 1n, 31)]);
    await assert.rejects(s.allocateSqn(k, 2), code('ERR_STORE_SQN_EXHAUSTED'));
    assert.equal(await s.getSqn(k), sqn(SEQ_MAX - 1n, 31), 'a refused allocation changes nothing');
    assert.deepEqual(await s.allocateSqn(k, 1), [sqn(SEQ_MAX, 0)]);
    await assert.rejects(s.allocateSqn(k, 1), code('ERR_STORE_SQN_EXHAUSTED'));
  });

  test('resyncSqn (33.102 §6.3.5): keep, reset up, reset down (wentDown), Δ boundary', async () => {
    const s = ctx.store();
    const k = ns();
    const D = 1n << 28n;
    // keep: next SEQ 101 is above SEQ_MS 90 and within Δ.
    await s.setSqn(`${k}keep`, sqn(100n, 7));
    assert.deepEqual(await s.resyncSqn(`${k}keep`, sqn(90n, 3)),
      { previous: sqn(100n, 7), current: sqn(100n, 7), reset: false, wentDown: false });
    assert.deepEqual(await s.allocateSqn(`${k}keep`, 1), [sqn(101n, 8)]);
    // up: the USIM is ahead; the counter moves to SEQ_MS, keeping the HE's IND.
    await s.setSqn(`${k}up`, sqn(100n, 7));
    assert.deepEqual(await s.resyncSqn(`${k}up`, sqn(500n, 3)),
      { previous: sqn(100n, 7), current: sqn(500n, 7), reset: true, wentDown: false });
    assert.deepEqual(await s.allocateSqn(`${k}up`, 1), [sqn(501n, 8)]);
    // equal SEQ: next SEQ 101 is not above SEQ_MS 101.
    await s.setSqn(`${k}eq`, sqn(100n, 31));
    assert.deepEqual(await s.resyncSqn(`${k}eq`, sqn(101n, 0)),
      { previous: sqn(100n, 31), current: sqn(101n, 31), reset: true, wentDown: false });
    assert.deepEqual(await s.allocateSqn(`${k}eq`, 1), [sqn(102n, 0)]);
    // down: the HE is more than Δ ahead of the USIM.
    await s.setSqn(`${k}down`, sqn(D + 1000n, 4));
    assert.deepEqual(await s.resyncSqn(`${k}down`, sqn(500n, 9)),
      { previous: sqn(D + 1000n, 4), current: sqn(500n, 4), reset: true, wentDown: true });
    assert.deepEqual(await s.allocateSqn(`${k}down`, 1), [sqn(501n, 5)]);
    // Δ boundary: next SEQ exactly Δ above SEQ_MS is kept, Δ+1 is not.
    await s.setSqn(`${k}edge`, sqn(500n + D - 1n, 2));
    assert.equal((await s.resyncSqn(`${k}edge`, sqn(500n, 0))).reset, false);
    await s.setSqn(`${k}edge`, sqn(500n + D, 2));
    assert.deepEqual(await s.resyncSqn(`${k}edge`, sqn(500n, 0)),
      { previous: sqn(500n + D, 2), current: sqn(500n, 2), reset: true, wentDown: true });
    // a custom Δ, and a subscriber without a counter (counts as 0).
    await s.setSqn(`${k}delta`, sqn(20n, 1));
    assert.equal((await s.resyncSqn(`${k}delta`, sqn(5n, 0), 16n)).reset, false);
    assert.deepEqual(await s.resyncSqn(`${k}delta`, sqn(5n, 0), 15n),
      { previous: sqn(20n, 1), current: sqn(5n, 1), reset: true, wentDown: true });
    assert.deepEqual(await s.resyncSqn(`${k}new`, sqn(42n, 17)),
      { previous: 0n, current: sqn(42n, 0), reset: true, wentDown: false });
    // extreme values survive the round trip (Lua doubles).
    await s.setSqn(`${k}max`, 0n);
    assert.deepEqual(await s.resyncSqn(`${k}max`, sqn(SEQ_MAX - 1n, 31)),
      { previous: 0n, current: sqn(SEQ_MAX - 1n, 0), reset: true, wentDown: false });
    await assert.rejects(s.resyncSqn(`${k}max`, 1n << 48n), code('ERR_STORE_INPUT'));
    await assert.rejects(s.resyncSqn(`${k}max`, 1n, 0n), code('ERR_STORE_INPUT'));
  });

  test('acceptance: 4 concurrent clients × 5,000 allocations → 20,000 distinct, increasing SQNs', async () => {
    const s = ctx.store();
    const k = `${ns()}hot`;
    await s.setSqn(k, sqn(1000n, 0));
    const peers = await Promise.all([0, 1, 2, 3].map(() => ctx.peer()));
    try {
      const runs = await Promise.all(peers.map(async ({ store }) => {
        const got: bigint[] = [];
        for (let i = 0; i < 5000; i++) got.push(...(await store.allocateSqn(k, 1)));
        return got;
      }));
      const all = new Set<bigint>();
      for (const run of runs) {
        assert.equal(run.length, 5000);
        for (let i = 1; i < run.length; i++) assert.ok((run[i] as bigint) > (run[i - 1] as bigint), 'each client sees increasing SQNs');
        for (const v of run) all.add(v);
      }
      assert.equal(all.size, 20_000);
      const sorted = [...all].sort((a, b) => (a < b ? -1 : 1));
      // Nothing skipped and nothing reused: exactly SEQ 1001..21000, IND continuing round robin.
      sorted.forEach((v, i) => assert.equal(v, sqn(1001n + BigInt(i), (i + 1) % 32)));
      assert.equal(await s.getSqn(k), sorted.at(-1));
    } finally {
      for (const p of peers) await p.release();
    }
  });
}
