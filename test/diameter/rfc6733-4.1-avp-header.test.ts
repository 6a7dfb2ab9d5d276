/**
 * RFC 6733 §4.1 AVP header: code, V/M/P flags, 24-bit length without padding, Vendor-ID when V, data padded to 4
 * with zeros; §7.1.5 DIAMETER_INVALID_AVP_LENGTH (5014) with the Failed-AVP contents §7.5 asks for.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decodeAvps, decodeMessage, encodeAvp, encodeAvps, encodeMessage } from '../../lib/diameter/codec.ts';
import type { Avp } from '../../lib/diameter/codec.ts';
import { buildMessage, getValue, validateMessage } from '../../lib/diameter/message.ts';
import { expectDiameterError, hex } from './fixtures.ts';

const flags = (mandatory = true, prot = false) => ({ mandatory, protected: prot });

function message(body: Buffer): Buffer {
  const head = hex('01000000 80000118 00000000 00000001 00000002');
  const buf = Buffer.concat([head, body]);
  buf.writeUIntBE(buf.length, 1, 3);
  return buf;
}

test('encodes flags, length without padding and zero padding; vendor id iff V', () => {
  const avp: Avp = { code: 0x01020304, vendorId: 10415, flags: flags(true, true), data: Buffer.from([0xff]) };
  assert.equal(encodeAvp(avp).toString('hex'), '01020304e000000d000028afff000000');
  const ietf: Avp = { code: 1, flags: flags(false), data: Buffer.from('ab') };
  assert.equal(encodeAvp(ietf).toString('hex'), '000000010000000a61620000');
  assert.equal(encodeAvp({ code: 2, flags: flags(), data: Buffer.alloc(0) }).toString('hex'), '0000000240000008');
});

test('decode(encode(avps)) is exact for every data length 0..9 and for vendor AVPs', () => {
  const avps: Avp[] = [];
  for (let n = 0; n < 10; n++) {
    avps.push({ code: 1000 + n, flags: flags(n % 2 === 0, n % 3 === 0), data: Buffer.from(Array.from({ length: n }, (_, i) => (i * 37) & 0xff)) });
    avps.push({ code: 600 + n, vendorId: 10415, flags: flags(), data: Buffer.alloc(n, 0xaa) });
  }
  assert.deepEqual(decodeAvps(encodeAvps(avps)), avps);
});

test('non-zero padding is tolerated on decode and re-encoded as zeros', () => {
  const body = hex('00000001 4000000b 616263ff 00000002 4000000c 00000007');
  const msg = decodeMessage(message(body));
  assert.deepEqual(msg.avps[0]?.data, Buffer.from('abc'));
  assert.equal(msg.avps[1]?.data.readUInt32BE(0), 7);
  assert.equal(encodeMessage(msg).subarray(20, 32).toString('hex'), '000000014000000b61626300');
});

test('AVP length below 8 → 5014 with the header and an empty payload as Failed-AVP', () => {
  for (const len of [0, 1, 7]) {
    const body = hex('00000107 40000000 00000000');
    body.writeUIntBE(len, 5, 3);
    const err = expectDiameterError(() => decodeMessage(message(body)), 'INVALID_AVP_LENGTH', 5014);
    assert.deepEqual(err.failedAvp, { code: 263, flags: flags(), data: Buffer.alloc(0) });
    assert.equal(err.header?.commandCode, 280);
  }
});

test('V bit with length below 12 → 5014', () => {
  const body = hex('00000264 c000000b 000028af 00000000');
  const err = expectDiameterError(() => decodeMessage(message(body)), 'INVALID_AVP_LENGTH', 5014);
  assert.deepEqual(err.failedAvp, { code: 612, vendorId: 10415, flags: flags(), data: Buffer.alloc(0) });
});

test('AVP overrunning the message → 5014, AVPs before it are kept for the error answer', () => {
  const body = hex('00000107 40000010 61626364 65666768 00000108 40000100 61626364');
  const err = expectDiameterError(() => decodeMessage(message(body)), 'INVALID_AVP_LENGTH', 5014);
  assert.equal(err.avps?.length, 1);
  assert.equal(err.avps?.[0]?.code, 263);
  assert.equal(err.failedAvp?.code, 264);
  assert.equal(err.failedAvp?.data.length, 0);
});

test('a truncated AVP header at the end of a group is zero-padded to the minimum header (§7.1.5)', () => {
  const err = expectDiameterError(() => decodeAvps(hex('00000107 40')), 'INVALID_AVP_LENGTH', 5014);
  assert.deepEqual(err.failedAvp, { code: 263, flags: flags(), data: Buffer.alloc(0) });
  const v = expectDiameterError(() => decodeAvps(hex('00000264 c0000010 0000')), 'INVALID_AVP_LENGTH', 5014);
  assert.equal(v.failedAvp?.code, 612);
  assert.equal(v.failedAvp?.vendorId, 0);
});

test('a Grouped AVP whose inner AVPs do not add up → 5014 naming the group', () => {
  // Vendor-Specific-Application-Id of length 28: the inner Auth-Application-Id claims 12 but only 8 octets remain.
  const vsai = hex('00000104 4000001c 0000010a 4000000c 000028af 00000102 4000000c');
  const msg = buildMessage({ commandCode: 280, applicationId: 0, flags: { request: true } }, [
    ['Origin-Host', 'a.example'], ['Origin-Realm', 'example'],
    { code: 260, flags: flags(), data: vsai.subarray(8) },
  ]);
  const err = expectDiameterError(() => validateMessage(msg), 'INVALID_AVP_LENGTH', 5014);
  assert.deepEqual(err.failedAvp, { code: 260, flags: flags(), data: Buffer.alloc(0) });
  expectDiameterError(() => getValue(msg, 'Vendor-Specific-Application-Id'), 'INVALID_AVP_LENGTH', 5014);
  // A group whose length is not a multiple of 4 leaves its last inner AVP unpadded: also 5014.
  const unpadded = { code: 260, flags: flags(), data: hex('0000010a 4000000c 000028af 00000001 40000009 61') };
  expectDiameterError(() => decodeAvps(unpadded.data), 'INVALID_AVP_LENGTH', 5014);
});

test('§4.1: padding octets are zero whatever the recycled buffer memory held (encoders do not zero-fill first)', () => {
  // Dirty Node's allocation pool so that a buffer not written over would show it.
  for (let i = 0; i < 64; i++) Buffer.allocUnsafe(64).fill(0xff);
  const avps = [1, 2, 3, 5, 6, 7].map((n, i) => ({ code: 1000 + i, flags: { mandatory: false, protected: false }, data: Buffer.alloc(n, 0x41) }));
  const msg = { version: 1, flags: { request: true, proxiable: false, error: false, retransmit: false }, commandCode: 280, applicationId: 0, hopByHop: 1, endToEnd: 2, avps };
  for (let round = 0; round < 3; round++) {
    for (let i = 0; i < 64; i++) Buffer.allocUnsafe(48).fill(0xff);
    const wire = encodeMessage(msg);
    let off = 20;
    for (const a of avps) {
      const end = off + 8 + a.data.length;
      const padded = off + ((8 + a.data.length + 3) & ~3);
      assert.deepEqual([...wire.subarray(end, padded)], new Array(padded - end).fill(0), `padding of AVP ${a.code}`);
      off = padded;
    }
    assert.equal(off, wire.length);
    for (let i = 0; i < 64; i++) Buffer.allocUnsafe(40).fill(0xff);
    const alone = encodeAvps(avps);
    assert.deepEqual(alone, wire.subarray(20));
  }
});
