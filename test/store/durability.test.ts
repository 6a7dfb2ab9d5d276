/**
 * Crash durability of the memory store: a child process holding it is killed with SIGKILL (between two allocations,
 * and in the middle of a stream of them); the test then reopens the same stateDir, as a restarted HSS would, and
 * checks that the next SQN is above every SQN the child handed out, and that a record written before the kill is there;
 * and that a single-use challenge stays used across the crash (volatile records are never on disk).
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { NODE, start } from '../helpers/process.ts';
import { openStore } from '../../lib/store/store.ts';

const dirs: string[] = [];
after(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

/** SQNs the child printed (complete lines only: the last may be cut by the kill). */
function printed(output: string): bigint[] {
  return [...output.matchAll(/^sqn (\d+)\n/gm)].map((m) => BigInt(m[1] as string));
}

async function crashChild(args: string[], ready: (out: string) => boolean): Promise<{ dir: string; sqns: bigint[] }> {
  const dir = await mkdtemp(join(tmpdir(), 'mcx-crash-'));
  dirs.push(dir);
  const child = start(NODE, ['--import', 'tsx', 'test/store/fixtures/store-child.ts', dir, ...args]);
  const deadline = Date.now() + 30_000;
  while (!ready(child.output())) {
    if (Date.now() > deadline || child.child.exitCode !== null) {
      await child.stop('SIGKILL');
      assert.fail(`child did not get ready; output:\n${child.output().slice(-2000)}`);
    }
    await sleep(10);
  }
  child.child.kill('SIGKILL');
  assert.equal(await child.exited, null, 'the child died of the signal');
  return { dir, sqns: printed(child.output()) };
}

async function reopenAndCheck(dir: string, sqns: bigint[]): Promise<void> {
  assert.equal(new Set(sqns).size, sqns.length, 'the child never handed out an SQN twice');
  const max = sqns.reduce((m, v) => (v > m ? v : m), 0n);
  const store = await openStore('memory', { stateDir: dir });
  try {
    assert.deepEqual(await store.get('record'), { written: 'before the kill', n: 42 });
    const [next] = await store.allocateSqn('subscriber', 1);
    assert.ok((next as bigint) > max, `next SQN ${next} must be above ${max}`);
  } finally {
    await store.close();
  }
}

test('kill -9 between two allocations: the next SQN after reopening is above every one handed out', async () => {
  const { dir, sqns } = await crashChild(['pause', '1024', '1', '5'], (out) => out.includes('paused\n'));
  assert.equal(sqns.length, 5);
  await reopenAndCheck(dir, sqns);
});

test('kill -9 during a stream of allocations (reservation ahead, one caller)', async () => {
  const { dir, sqns } = await crashChild(['loop', '1024', '1'], (out) => printed(out).length >= 3000);
  assert.ok(sqns.length >= 3000);
  await reopenAndCheck(dir, sqns);
});

test('kill -9 during a stream of allocations (every allocation journaled, 4 concurrent callers)', async () => {
  const { dir, sqns } = await crashChild(['loop', '0', '4'], (out) => printed(out).length >= 1000);
  assert.ok(sqns.length >= 1000);
  await reopenAndCheck(dir, sqns);
});

test('kill -9 after a challenge was taken: after reopening the taken nonce (and the pending one) are gone, never usable again; a relaxed write 200 ms old is kept', async () => {
  const { dir } = await crashChild(['challenge'], (out) => out.includes('taken a1a1a1a1a1a1a1a1\n') && out.includes('relaxed-written\n'));
  const files = await readdir(dir);
  for (const f of files.filter((n) => n.endsWith('.jsonl'))) {
    const text = await readFile(join(dir, f), 'utf8');
    assert.ok(!text.includes('a1a1a1a1') && !text.includes('b2b2b2b2'), `${f} holds no challenge: volatile records are never journaled`);
  }
  const store = await openStore('memory', { stateDir: dir });
  try {
    assert.equal(await store.take('challenge:taken'), undefined, 'the taken nonce is stale after the restart');
    assert.equal(await store.get('challenge:pending'), undefined, 'a pending challenge is lost: the UE is challenged again');
    assert.deepEqual(await store.get('binding'), { contact: 'sip:ue@192.0.2.1' }, 'a relaxed write reached the journal within its flush delay');
    assert.deepEqual(await store.get('record'), { written: 'before the kill', n: 42 });
  } finally {
    await store.close();
  }
});
