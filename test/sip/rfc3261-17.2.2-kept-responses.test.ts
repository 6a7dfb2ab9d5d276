/**
 * RFC 3261 §17.2.2: in Completed, a retransmitted request gets the final response again — the same octets, for all
 * of Timer J. The stack keeps those responses outside the heap in shared chunks (lib/sip/transaction/kept-responses.ts);
 * these tests hold it to giving back exactly what it was given whatever the order of release, to reusing what is
 * released, and to letting go of memory after a burst.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { KeptResponses, type KeptResponse } from '../../lib/sip/transaction/kept-responses.ts';

const holder = (): KeptResponse => ({ keptIn: undefined, keptAt: 0, keptLength: 0 });

/** A deterministic shuffle (xorshift), so a failure reproduces. */
function shuffled<T>(xs: T[], seed = 0x9e3779b9): T[] {
  const out = [...xs];
  let s = seed >>> 0;
  for (let i = out.length - 1; i > 0; i--) {
    s ^= s << 13; s >>>= 0; s ^= s >>> 17; s ^= s << 5; s >>>= 0;
    const j = s % (i + 1);
    [out[i], out[j]] = [out[j] as T, out[i] as T];
  }
  return out;
}

test('§17.2.2 every kept response comes back octet for octet, across chunks, whatever is released around it', () => {
  const kept = new KeptResponses();
  const sizes = [1, 17, 300, 600, 1500, 9000, 65_507, 70_000, 200_000];
  const items = Array.from({ length: 3000 }, (_, i) => ({ bytes: randomBytes(sizes[i % sizes.length] as number), k: holder() }));
  for (const it of items) kept.keep(it.bytes, it.k);
  // Release a shuffled half, keep as many again (reusing whatever emptied), then check every one still held.
  const order = shuffled(items);
  const gone = order.slice(0, 1500);
  for (const it of gone) kept.release(it.k);
  const more = Array.from({ length: 1500 }, (_, i) => ({ bytes: randomBytes(sizes[(i * 7) % sizes.length] as number), k: holder() }));
  for (const it of more) kept.keep(it.bytes, it.k);
  for (const it of [...order.slice(1500), ...more]) assert.deepEqual(kept.copy(it.k), it.bytes);
  for (const it of gone) assert.equal(kept.copy(it.k), undefined, 'a released response is gone');
});

test('§17.2.2 a copy is independent of the chunk: reusing the chunk later does not change a copy already sent', () => {
  const kept = new KeptResponses();
  const a = holder();
  const bytes = Buffer.from('SIP/2.0 401 Unauthorized\r\n\r\n');
  kept.keep(bytes, a);
  const copy = kept.copy(a);
  kept.release(a);
  // Fill well past one chunk so the first one is reused and overwritten.
  const fill = Buffer.alloc(600, 0x5a);
  for (let i = 0; i < 2000; i++) kept.keep(fill, holder());
  assert.deepEqual(copy, bytes);
});

test('§17.2.2 releasing twice counts once: the other responses of the chunk stay intact', () => {
  const kept = new KeptResponses();
  const a = holder();
  const b = holder();
  const bBytes = Buffer.from('SIP/2.0 200 OK\r\nContact: <sip:b@127.0.0.1>\r\n\r\n');
  kept.keep(Buffer.from('SIP/2.0 200 OK\r\n\r\n'), a);
  kept.keep(bBytes, b);
  kept.release(a);
  kept.release(a);
  // Move on to further chunks; had the first been taken for empty, it would be reused and b overwritten.
  const fill = Buffer.alloc(1000, 0x41);
  for (let i = 0; i < 2000; i++) {
    const h = holder();
    kept.keep(fill, h);
    kept.release(h);
  }
  for (let i = 0; i < 600; i++) kept.keep(fill, holder());
  assert.deepEqual(kept.copy(b), bBytes);
});

test('§17.2.2 the chunk being filled is not taken for empty when everything in it so far was released', () => {
  const kept = new KeptResponses();
  const items: Array<{ bytes: Buffer; k: KeptResponse }> = [];
  for (let round = 0; round < 3; round++) {
    const a = holder();
    kept.keep(Buffer.from('SIP/2.0 100 Trying\r\n\r\n'), a);
    kept.release(a);
    for (let i = 0; i < 1000; i++) {
      const it = { bytes: randomBytes(600), k: holder() };
      kept.keep(it.bytes, it.k);
      items.push(it);
    }
  }
  for (const it of items) assert.deepEqual(kept.copy(it.k), it.bytes);
});

test('§17.2.2 memory outside the heap is reused while held and given back after a burst', () => {
  const kept = new KeptResponses();
  const response = Buffer.alloc(600, 0x30);
  const burst = Array.from({ length: 20_000 }, () => holder());
  for (const h of burst) kept.keep(response, h);
  const atPeak = kept.octets;
  assert.ok(atPeak >= 20_000 * 600 && atPeak < 20_000 * 600 * 1.1, `${atPeak} octets for 12 MB of responses`);
  for (const h of burst) kept.release(h);
  assert.ok(kept.octets <= 9 * 256 * 1024, `${kept.octets} octets kept after the burst ended (at most 8 spare chunks and the current one)`);
  // Steady state (release as much as is kept): no growth.
  const window: KeptResponse[] = [];
  for (let i = 0; i < 50_000; i++) {
    const h = holder();
    kept.keep(response, h);
    window.push(h);
    if (window.length > 1000) kept.release(window.shift() as KeptResponse);
  }
  assert.ok(kept.octets <= 9 * 256 * 1024, `${kept.octets} octets for a steady 1,000 held`);
  // A response above a quarter chunk (64 KiB) has a chunk of its own, given back when released.
  const before = kept.octets;
  const big = holder();
  kept.keep(Buffer.alloc(70_000, 1), big);
  assert.equal(kept.octets, before + 70_000);
  kept.release(big);
  assert.equal(kept.octets, before);
});
