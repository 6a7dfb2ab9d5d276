/**
 * A bounded store load across a failover (redis-cluster.test.ts, redis-sentinel.test.ts): workers allocate SQNs and
 * write a durable and a relaxed record per subscriber, one writer per key with a growing sequence number; after the
 * first operations the caller's failover runs (kill -9 of a master, wait for the promotion), the load goes on for a
 * while, and then every acknowledged result is checked: per subscriber the SQNs strictly increase and the counter is
 * at least the last one; every record holds at least the sequence number last acknowledged for it.
 */
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Store } from '../../lib/store/store.ts';

/** Bounds and the failover of a run. */
export interface FailoverLoad {
  store: Store;
  /** Key prefix of this run. */
  prefix: string;
  /** Operations (each an allocation and two writes) before the failover starts. */
  before: number;
  /** Operations acknowledged after the failover that end the run. */
  after: number;
  /** Most operations in all. */
  maxOps: number;
  /** Most time in all. */
  timeoutMs: number;
  /** Kills and waits for the promotion. */
  failover(): Promise<void>;
}

/** What happened. */
export interface FailoverLoadResult {
  ops: number;
  failures: number;
  afterFailover: number;
}

/**
 * Runs the load and the failover and checks that nothing acknowledged was lost or reissued.
 * @returns the counts, for the caller's own assertions and diagnostics.
 */
export async function loadAcrossFailover(o: FailoverLoad): Promise<FailoverLoadResult> {
  const deadline = Date.now() + o.timeoutMs;
  const sqns = new Map<string, bigint[]>();
  const ackedSeq = new Map<string, number>();
  const r: FailoverLoadResult = { ops: 0, failures: 0, afterFailover: 0 };
  let failedOver = false;
  const worker = async (w: number) => {
    for (let i = 0; r.ops < o.maxOps && Date.now() < deadline && r.afterFailover < o.after; i++) {
      const sub = `${o.prefix}-${w}-${i % 6}`;
      r.ops++;
      try {
        const [q] = await o.store.allocateSqn(sub, 1);
        (sqns.get(sub) ?? sqns.set(sub, []).get(sub) as bigint[]).push(q as bigint);
        await o.store.set(`durable:${sub}`, { seq: i });
        ackedSeq.set(`durable:${sub}`, i);
        await o.store.set(`relaxed:${sub}`, { seq: i }, { durability: 'relaxed' });
        ackedSeq.set(`relaxed:${sub}`, i);
        if (failedOver) r.afterFailover++;
      } catch {
        r.failures++;
        await sleep(50);
      }
    }
  };
  const load = [0, 1, 2, 3].map(worker);
  while (r.ops < o.before && Date.now() < deadline) await sleep(20);
  await o.failover();
  failedOver = true;
  await Promise.all(load);
  assert.ok(r.afterFailover > 0, `the load went on after the failover (${r.ops} operations, ${r.failures} failed)`);
  assert.ok(r.ops <= o.maxOps + 4);
  for (const [sub, list] of sqns) {
    for (let i = 1; i < list.length; i++) assert.ok((list[i] as bigint) > (list[i - 1] as bigint), `${sub}: SQN ${list[i]} after ${list[i - 1]}`);
    assert.ok(((await o.store.getSqn(sub)) as bigint) >= (list.at(-1) as bigint), `${sub}: the counter fell below an acknowledged SQN`);
  }
  for (const [key, seq] of ackedSeq) {
    const got = await o.store.get<{ seq: number }>(key);
    assert.ok(got !== undefined && got.seq >= seq, `${key}: acknowledged seq ${seq}, stored ${JSON.stringify(got)}`);
  }
  return r;
}
