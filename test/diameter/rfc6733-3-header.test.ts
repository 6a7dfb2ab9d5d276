/**
 * RFC 6733 §3: the 20-octet header — version, 24-bit Message Length (multiple of 4, whole message), R/P/E/T flags
 * with reserved bits, 24-bit command code, Application-ID, Hop-by-Hop and End-to-End identifiers.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decodeHeader, decodeMessage, encodeMessage } from '../../lib/diameter/codec.ts';
import type { DiameterMessage } from '../../lib/diameter/codec.ts';
import { buildMessage } from '../../lib/diameter/message.ts';
import { expectDiameterError, hex } from './fixtures.ts';

const DWR = hex('01000014 80000118 00000000 11223344 55667788');

test('encodes every header field in network order', () => {
  const msg: DiameterMessage = {
    version: 1,
    flags: { request: true, proxiable: true, error: false, retransmit: true },
    commandCode: 0xabcdef, applicationId: 0xffffffff, hopByHop: 0x01020304, endToEnd: 0xfffffffe, avps: [],
  };
  assert.equal(encodeMessage(msg).toString('hex'), '01000014d0abcdefffffffff01020304fffffffe');
  assert.deepEqual(decodeMessage(encodeMessage(msg)), msg);
});

test('decodes a bare DWR header and its flags', () => {
  const h = decodeHeader(DWR);
  assert.equal(h.length, 20);
  assert.deepEqual(h.flags, { request: true, proxiable: false, error: false, retransmit: false });
  assert.equal(h.commandCode, 280);
  assert.equal(h.hopByHop, 0x11223344);
  assert.equal(h.endToEnd, 0x55667788);
});

test('fewer than 20 octets → 5015, no header', () => {
  for (let n = 0; n < 20; n++) {
    const err = expectDiameterError(() => decodeMessage(DWR.subarray(0, n)), 'TRUNCATED_MESSAGE', 5015);
    assert.equal(err.header, undefined);
  }
});

test('version other than 1 → 5011 with the header for the answer', () => {
  const bad = Buffer.from(DWR);
  bad.writeUInt8(2, 0);
  const err = expectDiameterError(() => decodeMessage(bad), 'UNSUPPORTED_VERSION', 5011);
  assert.equal(err.header?.hopByHop, 0x11223344);
  assert.equal(err.header?.version, 2);
});

test('Message Length below 20, not a multiple of 4, or unlike the buffer → 5015', () => {
  for (const length of [0, 4, 16, 21, 22, 23]) {
    const bad = Buffer.concat([DWR, Buffer.alloc(4)]);
    bad.writeUIntBE(length, 1, 3);
    expectDiameterError(() => decodeMessage(bad), 'INVALID_MESSAGE_LENGTH', 5015);
  }
  const longer = Buffer.concat([DWR, Buffer.alloc(4)]); // says 20, is 24
  expectDiameterError(() => decodeMessage(longer), 'INVALID_MESSAGE_LENGTH', 5015);
  const shorter = Buffer.from(DWR);
  shorter.writeUIntBE(24, 1, 3); // says 24, is 20
  const err = expectDiameterError(() => decodeMessage(shorter), 'TRUNCATED_MESSAGE', 5015);
  assert.equal(err.header?.commandCode, 280);
});

test('E bit on a request → 3008 (protocol error: answered with E)', () => {
  const bad = Buffer.from(DWR);
  bad.writeUInt8(0xa0, 4);
  const err = expectDiameterError(() => decodeMessage(bad), 'INVALID_HDR_BITS', 3008);
  assert.equal(err.protocolError, true);
});

test('reserved flag bits are ignored by default (§3) and rejected with 5013 when strict', () => {
  const bad = Buffer.from(DWR);
  bad.writeUInt8(0x8f, 4);
  assert.equal(decodeMessage(bad).commandCode, 280);
  assert.equal(decodeHeader(bad).reservedFlags, 0x0f);
  expectDiameterError(() => decodeMessage(bad, { strictReservedBits: true }), 'INVALID_BIT_IN_HEADER', 5013);
  // …and are never sent.
  assert.equal(encodeMessage(decodeMessage(bad)).readUInt8(4), 0x80);
});

test('the encoder refuses out-of-range header fields with a DiameterError', () => {
  const base = buildMessage({ commandCode: 280, applicationId: 0 }, []);
  expectDiameterError(() => encodeMessage({ ...base, commandCode: 0x1000000 }), 'INVALID_VALUE', undefined);
  expectDiameterError(() => encodeMessage({ ...base, hopByHop: -1 }), 'INVALID_VALUE', undefined);
  expectDiameterError(() => encodeMessage({ ...base, endToEnd: 2 ** 32 }), 'INVALID_VALUE', undefined);
  expectDiameterError(() => encodeMessage({ ...base, applicationId: 1.5 }), 'INVALID_VALUE', undefined);
  expectDiameterError(
    () => encodeMessage({ ...base, avps: [{ code: 1, flags: { mandatory: true, protected: false }, data: Buffer.alloc(0xfffff8) }] }),
    'INVALID_VALUE', undefined,
  );
});
