/**
 * RFC 3261 §17.2.2: a Completed non-INVITE server transaction on UDP answers every retransmission of its request with
 * the same final response, octet for octet, for all of Timer J and not a millisecond longer; §17.2.3: only a request
 * with the same key matches it; §17.2.4: a transport error ends it early. The stack keeps these transactions outside
 * the heap (lib/sip/transaction/completed.ts: typed-array slots, a hash table on FNV-1a, responses in shared chunks);
 * these tests hold that table to those rules across growth, wrap-around, hash collisions and a burst that ends.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { CompletedTransactions, fnv1a } from '../../lib/sip/transaction/completed.ts';
import { ManualClock } from '../helpers/clock.ts';

const J = 32_000;

/** Two different keys with the same 32-bit FNV-1a (a birthday search: ~2^16 keys). */
function collidingKeys(): [string, string] {
  const seen = new Map<number, string>();
  for (let i = 0; i < 1_000_000; i++) {
    const k = `z9hG4bK-${i}|127.0.0.1:5060|REGISTER|127.0.0.1|5060`;
    const h = fnv1a(k);
    const other = seen.get(h);
    if (other !== undefined) return [other, k];
    seen.set(h, k);
  }
  throw new Error('no collision in 1,000,000 keys');
}

test('§17.2.2 every response comes back octet for octet with its route, across chunk and slot growth', () => {
  const clock = new ManualClock();
  const done = new CompletedTransactions(clock, J);
  // Mostly registrar-sized responses, some larger than a shared chunk takes, one the largest a UDP datagram carries.
  const sizes = [1, 17, 300, 600, 1500, 9000, 65_507, 70_000];
  const routes = Array.from({ length: 7 }, (_, i) => ({ route: i }));
  const items = Array.from({ length: 5000 }, (_, i) => ({
    key: `z9hG4bK-grow-${i}|ue${i % 13}.example.test:5060|REGISTER|127.0.0.${i % 200}|${5000 + i}`,
    bytes: randomBytes(sizes[i % sizes.length] as number),
    route: routes[i % routes.length],
  }));
  for (const it of items) {
    clock.advance(1);
    done.add(it.key, it.bytes, it.route);
  }
  assert.equal(done.size, 5000);
  assert.ok(done.slots >= 5000, `${done.slots} slots for 5000 records`);
  for (const it of items) {
    const hit = done.find(it.key);
    assert.ok(hit, it.key);
    assert.deepEqual(hit.bytes, it.bytes);
    assert.equal(hit.route, it.route, 'the same route object');
  }
  assert.equal(done.find('z9hG4bK-grow-5000|ue0.example.test:5060|REGISTER|127.0.0.0|10000'), undefined);
  // A key in another script survives its round trip through UTF-8.
  done.add('2543|sip:ü@例え.jp|t|f|c|1|REGISTER|SIP/2.0/UDP 例え.jp|127.0.0.1|5060', Buffer.from('x'), routes[0]);
  assert.deepEqual(done.find('2543|sip:ü@例え.jp|t|f|c|1|REGISTER|SIP/2.0/UDP 例え.jp|127.0.0.1|5060')?.bytes, Buffer.from('x'));
});

test('§17.2.2 Timer J: a record answers until 64·T1 after it was added, not a millisecond longer', () => {
  const clock = new ManualClock(1000);
  const done = new CompletedTransactions(clock, J);
  const at = done.add('k1', Buffer.from('SIP/2.0 200 OK\r\n\r\n'), 'r');
  assert.equal(at, 1000 + J);
  clock.advance(J - 1);
  assert.ok(done.find('k1'), 'still Completed 1 ms before Timer J');
  clock.advance(1);
  assert.equal(done.find('k1'), undefined, 'gone at Timer J, whether or not the sweep has run');
  clock.advance(100);
  assert.equal(done.size, 0, 'swept');
});

test('§17.2.3 a key with the same hash as a held one is another transaction', () => {
  const [a, b] = collidingKeys();
  assert.equal(fnv1a(a), fnv1a(b));
  const done = new CompletedTransactions(new ManualClock(), J);
  done.add(a, Buffer.from('response to a'), 'ra');
  assert.equal(done.find(b), undefined, 'b must not get a\'s response');
  done.add(b, Buffer.from('response to b'), 'rb');
  assert.equal(done.find(a)?.bytes.toString(), 'response to a');
  assert.equal(done.find(b)?.bytes.toString(), 'response to b');
  assert.equal(done.find(b)?.route, 'rb');
});

test('§17.2.4 delete ends the record it names, not a later one with the same key', () => {
  const clock = new ManualClock();
  const done = new CompletedTransactions(clock, J);
  const first = done.add('k', Buffer.from('one'), 'r');
  done.add('other', Buffer.from('two'), 'r');
  assert.equal(done.delete('k', first + 1), false, 'another deadline names another record');
  assert.equal(done.delete('k', first), true);
  assert.equal(done.find('k'), undefined);
  assert.equal(done.find('other')?.bytes.toString(), 'two', 'its neighbour untouched');
  assert.equal(done.size, 1);
  clock.advance(10);
  const second = done.add('k', Buffer.from('three'), 'r');
  assert.equal(done.delete('k', first), false, 'the late error of the first record does not end the second');
  assert.equal(done.find('k')?.bytes.toString(), 'three');
  assert.equal(done.delete('k', second), true);
});

test('after a burst the slots and chunks go back; records added later still come back whole', () => {
  const clock = new ManualClock();
  const done = new CompletedTransactions(clock, J);
  const response = randomBytes(600);
  // 40,000 transactions within a second (a burst at 40,000/s), then their Timer J runs out.
  for (let i = 0; i < 40_000; i++) {
    if (i % 40 === 0) clock.advance(1);
    done.add(`burst-${i}`, response, 'r');
  }
  const burstSlots = done.slots;
  const burstOctets = done.octets;
  assert.ok(burstSlots >= 40_000 && burstOctets >= 40_000 * 600, `${burstSlots} slots, ${burstOctets} octets`);
  clock.advance(J + 1000);
  assert.equal(done.size, 0);
  assert.ok(done.slots <= burstSlots / 4, `${done.slots} slots left of ${burstSlots}`);
  // Eight spare chunks of 256 KiB and the one written last.
  assert.ok(done.octets <= 9 * 256 * 1024, `${done.octets} octets left of ${burstOctets}`);
  // Steady traffic afterwards: records wrap around the ring and reuse the spare chunks.
  const later = Array.from({ length: 3000 }, (_, i) => ({ key: `later-${i}`, bytes: randomBytes(100 + (i % 900)) }));
  for (const [i, it] of later.entries()) {
    clock.advance(20);
    done.add(it.key, it.bytes, i);
  }
  // Every record from the last 32 s is there; those older are not.
  const held = later.filter((_, i) => (later.length - 1 - i) * 20 < J);
  for (const it of held) assert.deepEqual(done.find(it.key)?.bytes, it.bytes, it.key);
  assert.equal(done.find('later-0'), undefined);
  // The sweep may run up to 50 ms late (lookups are exact): at most that much more is still held.
  assert.ok(done.size >= held.length && done.size <= held.length + 50 / 20, `${done.size} held for ${held.length}`);
});

test('clear() drops every record and its memory beyond one set of slots', () => {
  const done = new CompletedTransactions(new ManualClock(), J);
  for (let i = 0; i < 3000; i++) done.add(`c-${i}`, Buffer.alloc(500), 'r');
  done.clear();
  assert.equal(done.size, 0);
  assert.equal(done.octets, 0);
  assert.equal(done.find('c-1'), undefined);
  done.add('c-1', Buffer.from('again'), 'r');
  assert.equal(done.find('c-1')?.bytes.toString(), 'again');
});
