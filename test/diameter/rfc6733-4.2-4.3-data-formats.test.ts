/**
 * RFC 6733 §4.2 basic and §4.3 derived data formats: fixed sizes (5014 otherwise), 64-bit values as bigint, UTF-8
 * validity (5004), Address families, NTP Time with the 2036 rollover, DiameterIdentity / DiameterURI, Enumerated.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  decodeAddress, decodeFloat32, decodeFloat64, decodeInteger32, decodeInteger64, decodeTime, decodeUnsigned32,
  decodeUnsigned64, decodeUTF8String, encodeAddress, encodeDiameterIdentity, encodeDiameterURI, encodeFloat32,
  encodeFloat64, encodeInteger32, encodeInteger64, encodeOctetString, encodeTime, encodeUnsigned32, encodeUnsigned64,
  encodeUTF8String,
} from '../../lib/diameter/codec.ts';
import { buildAvp, decodeAvpValue, getValue } from '../../lib/diameter/message.ts';
import { expectDiameterError, hex } from './fixtures.ts';

test('integers: limits round-trip, 64-bit as bigint', () => {
  for (const v of [0, 1, -1, 0x7fffffff, -0x80000000]) assert.equal(decodeInteger32(encodeInteger32(v)), v);
  for (const v of [0, 1, 0xffffffff]) assert.equal(decodeUnsigned32(encodeUnsigned32(v)), v);
  for (const v of [0n, -1n, (1n << 63n) - 1n, -(1n << 63n)]) assert.equal(decodeInteger64(encodeInteger64(v)), v);
  for (const v of [0n, (1n << 64n) - 1n]) assert.equal(decodeUnsigned64(encodeUnsigned64(v)), v);
  assert.equal(decodeUnsigned64(encodeUnsigned64(42)), 42n);
  assert.equal(encodeUnsigned64((1n << 64n) - 1n).toString('hex'), 'ffffffffffffffff');
  assert.equal(encodeInteger32(-2).toString('hex'), 'fffffffe');
});

test('out-of-range or non-integer values are refused when encoding', () => {
  for (const f of [
    () => encodeUnsigned32(-1), () => encodeUnsigned32(2 ** 32), () => encodeUnsigned32(1.5),
    () => encodeInteger32(2 ** 31), () => encodeUnsigned64(-1n), () => encodeUnsigned64(1n << 64n),
    () => encodeInteger64(1n << 63n), () => encodeUnsigned64(2 ** 60),
  ]) expectDiameterError(f, 'INVALID_VALUE', undefined);
});

test('floats round-trip (single precision where it applies)', () => {
  assert.equal(decodeFloat64(encodeFloat64(Math.PI)), Math.PI);
  assert.equal(decodeFloat32(encodeFloat32(1.5)), 1.5);
  assert.equal(encodeFloat32(1).toString('hex'), '3f800000');
});

test('fixed-size types with the wrong data length → 5014', () => {
  for (const [f, n] of [[decodeInteger32, 4], [decodeUnsigned32, 4], [decodeFloat32, 4], [decodeTime, 4], [decodeInteger64, 8], [decodeUnsigned64, 8], [decodeFloat64, 8]] as const) {
    expectDiameterError(() => f(Buffer.alloc(n - 1)), 'INVALID_AVP_LENGTH', 5014);
    expectDiameterError(() => f(Buffer.alloc(n + 1)), 'INVALID_AVP_LENGTH', 5014);
  }
});

test('UTF8String: well-formed text round-trips (BOM and astral code points kept), malformed bytes → 5004', () => {
  for (const s of ['', 'sip:alice@example.org', 'Grüße', '\uFEFFbom', '😀 emoji', 'nul\u0000inside']) {
    assert.equal(decodeUTF8String(encodeUTF8String(s)), s);
  }
  for (const bad of ['c0af', 'ed a0 80', 'e2 82', 'ff', 'f4 90 80 80', '80']) {
    expectDiameterError(() => decodeUTF8String(hex(bad)), 'INVALID_AVP_VALUE', 5004);
  }
  expectDiameterError(() => encodeUTF8String('lone \uD800 surrogate'), 'INVALID_VALUE', undefined);
});

test('a bad UTF8String inside a message is reported with the AVP as Failed-AVP', () => {
  const avp = { code: 1, flags: { mandatory: true, protected: false }, data: hex('616263ff') };
  const err = expectDiameterError(() => getValue([avp], 'User-Name'), 'INVALID_AVP_VALUE', 5004);
  assert.equal(err.failedAvp, avp);
});

test('OctetString is byte-exact and never re-interpreted', () => {
  const bytes = hex('00 ff c0 af ed a0 80 00');
  assert.deepEqual(decodeAvpValue(buildAvp(['SIP-Authenticate', bytes]), 'OctetString'), bytes);
  assert.deepEqual(encodeOctetString('é'), Buffer.from([0xc3, 0xa9]));
});

test('Address: IPv4 and IPv6 (RFC 5952 text), other families → 5004', () => {
  assert.equal(encodeAddress('192.0.2.1').toString('hex'), '0001c0000201');
  assert.equal(decodeAddress(hex('0001 7f000001')), '127.0.0.1');
  const v6 = ['::1', '2001:db8::1', 'fe80::', '::', '2001:db8:0:1:1:1:1:1', '2001:0:0:1::1', '::ffff:192.0.2.1'];
  const text = ['::1', '2001:db8::1', 'fe80::', '::', '2001:db8:0:1:1:1:1:1', '2001:0:0:1::1', '::ffff:c000:201'];
  v6.forEach((a, i) => assert.equal(decodeAddress(encodeAddress(a)), text[i]));
  assert.equal(encodeAddress('2001:db8::1').toString('hex'), '000220010db8000000000000000000000001');
  expectDiameterError(() => decodeAddress(hex('0008 3531')), 'INVALID_AVP_VALUE', 5004); // E.164
  expectDiameterError(() => decodeAddress(hex('0001 7f0000')), 'INVALID_AVP_VALUE', 5004);
  expectDiameterError(() => decodeAddress(hex('00')), 'INVALID_AVP_VALUE', 5004);
  expectDiameterError(() => encodeAddress('example.org'), 'INVALID_VALUE', undefined);
});

test('Time: NTP seconds since 1900, with the 2036 rollover of RFC 4330', () => {
  assert.equal(encodeTime(new Date('1970-01-01T00:00:00Z')).toString('hex'), '83aa7e80');
  const now = new Date('2025-06-01T12:34:56Z');
  assert.deepEqual(decodeTime(encodeTime(now)), now);
  const era1 = new Date('2036-02-07T06:28:16Z');
  assert.equal(encodeTime(era1).toString('hex'), '00000000');
  assert.deepEqual(decodeTime(hex('00000000')), era1);
  const late = new Date('2100-01-01T00:00:00Z');
  assert.deepEqual(decodeTime(encodeTime(late)), late);
  assert.deepEqual(decodeTime(hex('80000000')), new Date('1968-01-20T03:14:08Z'));
  expectDiameterError(() => encodeTime(new Date('1960-01-01T00:00:00Z')), 'INVALID_VALUE', undefined);
  expectDiameterError(() => encodeTime(new Date('2105-01-01T00:00:00Z')), 'INVALID_VALUE', undefined);
  expectDiameterError(() => encodeTime(new Date(Number.NaN)), 'INVALID_VALUE', undefined);
});

test('DiameterIdentity and DiameterURI are checked when sent', () => {
  assert.equal(encodeDiameterIdentity('hss.example').toString(), 'hss.example');
  assert.equal(encodeDiameterURI('aaa://host.example.com:6666;transport=tcp').toString(), 'aaa://host.example.com:6666;transport=tcp');
  expectDiameterError(() => encodeDiameterIdentity(''), 'INVALID_VALUE', undefined);
  expectDiameterError(() => encodeDiameterIdentity('bad host'), 'INVALID_VALUE', undefined);
  expectDiameterError(() => encodeDiameterURI('http://x'), 'INVALID_VALUE', undefined);
});

test('Enumerated takes a number or a dictionary value name; unknown names are refused', () => {
  assert.deepEqual(buildAvp(['Server-Assignment-Type', 'REGISTRATION']).data, encodeInteger32(1));
  assert.deepEqual(buildAvp(['Server-Assignment-Type', 1]).data, encodeInteger32(1));
  expectDiameterError(() => buildAvp(['Server-Assignment-Type', 'NO_SUCH']), 'INVALID_VALUE', undefined);
});
