/**
 * RFC 6733 §6.1.8/§6.1.9 forwarding without re-encoding (lib/diameter/wire.ts, DESIGN §2.8): a decoded message is
 * sent again as the octets it arrived as — with the header rewritten from its fields (hop-by-hop, end-to-end, flags,
 * length) and a relay's Route-Record appended after the body — while a message whose AVP list was rebuilt, or whose
 * octets break RFC 6733 §4.1 (non-zero padding, reserved AVP flag bits), is encoded anew from its AVPs. (The live
 * relay path — request out with Route-Record, answer back with the original hop-by-hop id — is
 * rfc6733-6.1-relay.test.ts's.)
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decodeMessage, encodeMessage, withAppendedAvps, withHeader, type DiameterMessage } from '../../lib/diameter/codec.ts';
import { buildMar } from '../../lib/diameter/cx/index.ts';
import { buildAvp } from '../../lib/diameter/message.ts';
import { receivedLength } from '../../lib/diameter/wire.ts';
import { MAR_INPUT } from './fixtures.ts';

/** A MAR with an unknown vendor AVP (no M bit) in it, as octets. */
function received(): Buffer {
  const mar = buildMar(MAR_INPUT);
  const unknown = { code: 99_999, vendorId: 10415, flags: { mandatory: false, protected: false }, data: Buffer.from('opaque, kept as is') };
  return encodeMessage({ ...mar, avps: [...mar.avps, unknown] });
}

test('a decoded message encodes to the octets it came from, with the header written from its fields', () => {
  const bytes = received();
  const msg = decodeMessage(bytes);
  assert.equal(receivedLength(msg), bytes.length, 'the received octets are kept');
  assert.deepEqual(encodeMessage(msg), bytes);
  const relayed = withHeader(msg, { hopByHop: 0x0a0b0c0d, endToEnd: 0x01020304, flags: { ...msg.flags, retransmit: true } });
  const out = encodeMessage(relayed);
  assert.deepEqual(out.subarray(20), bytes.subarray(20), 'the body is the received one');
  assert.equal(out.readUInt32BE(12), 0x0a0b0c0d);
  assert.equal(out.readUInt32BE(16), 0x01020304);
  assert.equal(out.readUInt8(4), 0xc0 | 0x10, 'R, P and now T');
  assert.deepEqual(decodeMessage(out).avps, msg.avps);
});

test('a relay\'s Route-Record is appended after the received body; the length follows', () => {
  const bytes = received();
  const msg = decodeMessage(bytes);
  const rr = buildAvp(['Route-Record', 'mms.partner.example']);
  const out = encodeMessage(withAppendedAvps(msg, [rr]));
  const tail = encodeMessage({ ...msg, avps: [rr] }).subarray(20);
  assert.deepEqual(out, Buffer.concat([out.subarray(0, 20), bytes.subarray(20), tail]));
  assert.equal(out.readUIntBE(1, 3), out.length);
  const twice = withAppendedAvps(decodeMessage(out), [buildAvp(['Route-Record', 'relay.primary.example'])]);
  assert.deepEqual(decodeMessage(encodeMessage(twice)).avps.slice(-2).map((a) => a.data.toString()), ['mms.partner.example', 'relay.primary.example']);
});

test('a rebuilt AVP list, non-zero padding or reserved AVP flag bits: encoded anew from the AVPs (padding zero, reserved bits clear)', () => {
  const bytes = received();
  const msg = decodeMessage(bytes);
  const rebuilt: DiameterMessage = { ...msg, avps: msg.avps.filter((a) => a.code !== 99_999) };
  assert.equal(receivedLength(rebuilt), undefined);
  assert.equal(encodeMessage(rebuilt).length, bytes.length - 32, 'the unknown AVP (12 + 18 octets, padded) is gone');
  // The first padding octet of the message: after the first AVP whose length is not a multiple of 4.
  let padAt = -1;
  for (let off = 20; off < bytes.length && padAt < 0;) {
    const length = bytes.readUIntBE(off + 5, 3);
    if (length % 4 !== 0) padAt = off + length;
    off += (length + 3) & ~3;
  }
  assert.ok(padAt > 0, 'the fixture has a padded AVP');
  const dirty = Buffer.from(bytes);
  dirty[padAt] = 0xff;
  const fromDirty = decodeMessage(dirty);
  assert.equal(receivedLength(fromDirty), undefined);
  assert.deepEqual(encodeMessage(fromDirty), bytes, 'the padding octet is written as zero again');
  const reserved = Buffer.from(bytes);
  reserved[20 + 4] = (reserved[20 + 4] as number) | 0x01;
  assert.equal(receivedLength(decodeMessage(reserved)), undefined);
  assert.deepEqual(encodeMessage(decodeMessage(reserved)), bytes);
});
