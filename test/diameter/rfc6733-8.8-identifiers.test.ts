/**
 * RFC 6733 §8.8 Session-Id `<DiameterIdentity>;<high 32>;<low 32>[;<optional>]` and §3 End-to-End (high 12 bits =
 * low 12 bits of the time, low 20 random, increasing) and Hop-by-Hop identifiers.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { EndToEndIdGenerator, HopByHopIdGenerator, SessionIdGenerator } from '../../lib/diameter/message.ts';

const T = Date.parse('2025-06-01T12:00:00Z');
const NTP = Math.floor(T / 1000) + 2208988800;

test('Session-Id: identity, NTP-time high half, counting low half, optional suffix', () => {
  const g = new SessionIdGenerator('scscf.partner.example', () => T);
  assert.equal(g.next(), `scscf.partner.example;${NTP};0`);
  assert.equal(g.next('mar'), `scscf.partner.example;${NTP};1;mar`);
  assert.match(new SessionIdGenerator('x.example').next(), /^x\.example;\d+;0$/);
});

test('Session-Id: the low half carries into the high half', () => {
  const g = new SessionIdGenerator('h', () => T);
  (g as unknown as { low: number }).low = 0xffffffff;
  assert.equal(g.next(), `h;${NTP};4294967295`);
  assert.equal(g.next(), `h;${NTP + 1};0`);
});

test('End-to-End: high 12 bits from the clock, low 20 random, then +1 per request with 32-bit wrap', () => {
  const g = new EndToEndIdGenerator(() => T, () => 0xabcde);
  const first = g.next();
  assert.equal(first >>> 20, Math.floor(T / 1000) & 0xfff);
  assert.equal(first & 0xfffff, 0xabcde);
  assert.equal(g.next(), first + 1);
  const wrap = new EndToEndIdGenerator(() => 0xfff * 1000, () => 0xfffff);
  assert.equal(wrap.next(), 0xffffffff);
  assert.equal(wrap.next(), 0);
  const ids = new Set(Array.from({ length: 1000 }, () => g.next()));
  assert.equal(ids.size, 1000);
});

test('Hop-by-Hop: increasing from its start, wrapping at 2^32, random start by default', () => {
  const g = new HopByHopIdGenerator(0xfffffffe);
  assert.deepEqual([g.next(), g.next(), g.next()], [0xfffffffe, 0xffffffff, 0]);
  const a = new HopByHopIdGenerator().next();
  assert.ok(Number.isInteger(a) && a >= 0 && a < 2 ** 32);
});
