/**
 * The queue behind the Diameter answer timeouts, and Timer J's until it moved outside the heap (lib/expiry-queue.ts;
 * lib/sip/transaction/completed.ts): every entry expires after its delay
 * — never early, at most the queue's slack late — in the order added; a cancelled entry never fires and keeps no timer
 * set; entries added close together expire in one timer run. On a manual clock, to the millisecond.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ExpiryQueue } from '../../lib/expiry-queue.ts';
import { ManualClock } from '../helpers/clock.ts';

test('expiry queue: never early, at most the slack late, in order; cancelled entries never fire', () => {
  const clock = new ManualClock();
  const q = new ExpiryQueue(640, clock);
  assert.equal(q.slack, 10);
  const fired: Array<[string, number]> = [];
  const add = (name: string) => q.add({ onExpiry: () => fired.push([name, clock.now()]) });
  add('a');
  clock.advance(3);
  add('b');
  clock.advance(1);
  const c = add('c');
  clock.advance(30);
  add('d');
  c.cancel();
  clock.advance(640 - 34 - 1);
  assert.equal(fired.length, 0, 'nothing before its delay');
  clock.advance(1);
  assert.deepEqual(fired, [['a', 640]], 'the first entry exactly on time');
  clock.advance(10);
  assert.deepEqual(fired, [['a', 640], ['b', 650]], 'b (due 643) within the slack, c cancelled');
  clock.advance(30);
  assert.deepEqual(fired.map(([n]) => n), ['a', 'b', 'd']);
  for (const [name, at] of fired) {
    const due = { a: 640, b: 643, d: 674 }[name] as number;
    assert.ok(at >= due && at <= due + q.slack, `${name} at ${at}, due ${due}`);
  }
  assert.equal(clock.pending, 0, 'an empty queue keeps no timer');
});

test('expiry queue: a queue of cancelled entries skips them and keeps no timer for them', () => {
  const clock = new ManualClock();
  const q = new ExpiryQueue(1000, clock);
  const first = q.add({ onExpiry: () => assert.fail('cancelled') });
  for (let i = 0; i < 100; i++) {
    clock.advance(1);
    q.add({ onExpiry: () => assert.fail('cancelled') }).cancel();
  }
  first.cancel();
  clock.advance(1000);
  assert.equal(clock.pending, 0, 'one run found only cancelled entries and set no further timer');
  let fired = 0;
  q.add({ onExpiry: () => fired++ });
  clock.advance(1000);
  assert.equal(fired, 1);
});

test('expiry queue: a target carrying its deadline fires once, at its latest schedule; unscheduled, never', () => {
  const clock = new ManualClock();
  const q = new ExpiryQueue(640, clock);
  const fired: Array<[string, number]> = [];
  const target = (name: string) => ({ expiresAt: 0, onExpiry: () => fired.push([name, clock.now()]) });
  // A transaction: the TU bound from its creation, then Timer J from its final response (§17.2.2).
  const tx = target('tx');
  const dropped = target('dropped');
  q.schedule(tx);
  q.schedule(dropped);
  assert.equal(tx.expiresAt, 640);
  clock.advance(100);
  q.schedule(tx);
  q.unschedule(dropped);
  assert.equal(dropped.expiresAt, 0);
  clock.advance(540);
  assert.deepEqual(fired, [], 'the first schedule was replaced: nothing at 640');
  clock.advance(100);
  assert.deepEqual(fired, [['tx', 740]], 'once, at the second deadline');
  assert.equal(tx.expiresAt, 0, 'fired: no schedule left');
  assert.equal(q.size, 0);
  assert.equal(clock.pending, 0);
  // A fractional clock: the deadline is rounded up to a whole millisecond, never down.
  clock.advance(0.25);
  q.schedule(tx);
  assert.equal(tx.expiresAt, 1381);
  q.clear();
  assert.equal(tx.expiresAt, 0, 'clear() leaves no target believing it is scheduled');
});
