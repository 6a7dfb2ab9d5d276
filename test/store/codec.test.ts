/**
 * The stored form of a value is canonical JSON (lib/store/codec.ts): keys sorted, so compareAndDelete and Redis's Lua
 * comparison do not depend on the order a caller built an object in. Plain data takes a direct path, anything else
 * the JSON.stringify replacer; both must give the text of the reference definition below.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { encodeValue } from '../../lib/store/codec.ts';

/** The definition: JSON.stringify with every object's keys sorted (after toJSON). */
function reference(value: unknown): string | undefined {
  return JSON.stringify(value, (_key, v: unknown) => {
    if (v !== null && typeof v === 'object' && !Array.isArray(v)) {
      const src = v as Record<string, unknown>;
      return Object.fromEntries(Object.keys(src).sort().map((k) => [k, src[k]]));
    }
    return v;
  });
}

test('canonical JSON: plain data, nested, any key order, gives the reference text', () => {
  const cases: unknown[] = [
    { b: 1, a: [1, 'x', null, undefined, () => 1, { z: 1, y: [true, false] }], c: undefined, d: 'é\u2028"\\' },
    { '10': 1, '9': 2, a: 3, '01': 4, '4294967295': 5, B: 7, _: 8 },
    [], {}, 'str', 0, -0, 1e21, 1.5, true, null, [undefined], { x: { y: { z: [{ b: 2, a: 1 }] } } },
    { date: new Date(0), n: Object.assign(Object.create(null) as object, { b: 1, a: 2 }) },
    { impi: 'u@x', aor: 'sip:u@x', bindings: [{ uri: 'sip:u@192.0.2.1', cseq: 2, callId: 'c', expiresAt: 1765000000000 }], associated: ['sip:u@x'] },
  ];
  for (const c of cases) assert.equal(encodeValue(c), reference(c), JSON.stringify(c));
  assert.equal(encodeValue({ b: { d: 1, c: 2 }, a: 0 }), encodeValue({ a: 0, b: { c: 2, d: 1 } }));
  let deep: unknown = { z: 1, a: 2 };
  for (let i = 0; i < 40; i++) deep = { y: deep, x: i };
  assert.equal(encodeValue(deep), reference(deep));
});

test('canonical JSON: what is not JSON is ERR_STORE_INPUT, nested or not', () => {
  const cyclic: Record<string, unknown> = { a: 1 };
  cyclic.self = cyclic;
  for (const bad of [NaN, Infinity, { a: NaN }, [1n], { b: Buffer.from('x') }, [new Uint8Array(1)], undefined, cyclic]) {
    assert.throws(() => encodeValue(bad), { code: 'ERR_STORE_INPUT' });
  }
});
