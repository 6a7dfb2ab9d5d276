/**
 * The encoded examples of the spec digest §6.6 (resync SIP-Auth-Data-Item and common Cx AVPs), reproduced exactly,
 * and the MAR header of §6.7 (`01 LLLLLL c0 00012f 01000000 <hbh> <e2e>`).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decodeMessage, encodeAvp, encodeMessage } from '../../lib/diameter/codec.ts';
import { buildAvp, findAvp } from '../../lib/diameter/message.ts';
import { buildMar, readMar } from '../../lib/diameter/cx/index.ts';
import { AUTS, MAR_INPUT, RAND, hex } from './fixtures.ts';

const RESYNC_ITEM = hex(`
  00000264 c0000054 000028af
  00000260 c000001c 000028af 44696765 73742d41 4b417631 2d4d4435
  00000262 c000002a 000028af 23553cbe 9637a89d 218ae64d ae47bf35
  451e8bec a47b7c4a dabf45e7 6f4b0000`);

test('SIP-Auth-Data-Item {scheme Digest-AKAv1-MD5, SIP-Authorization RAND‖AUTS} encodes to the digest bytes', () => {
  const avp = buildAvp(['SIP-Auth-Data-Item', [
    ['SIP-Authentication-Scheme', 'Digest-AKAv1-MD5'],
    ['SIP-Authorization', Buffer.concat([RAND, AUTS])],
  ]]);
  assert.equal(encodeAvp(avp).toString('hex'), RESYNC_ITEM.toString('hex'));
});

test('SIP-Number-Auth-Items = 1', () => {
  assert.equal(encodeAvp(buildAvp(['SIP-Number-Auth-Items', 1])).toString('hex'), hex('0000025f c0000010 000028af 00000001').toString('hex'));
});

test('Auth-Session-State = NO_STATE_MAINTAINED (1), by number and by name', () => {
  const expected = hex('00000115 4000000c 00000001').toString('hex');
  assert.equal(encodeAvp(buildAvp(['Auth-Session-State', 1])).toString('hex'), expected);
  assert.equal(encodeAvp(buildAvp(['Auth-Session-State', 'NO_STATE_MAINTAINED'])).toString('hex'), expected);
});

test('Vendor-Specific-Application-Id {10415, Auth-Application-Id 16777216}', () => {
  const avp = buildAvp(['Vendor-Specific-Application-Id', [['Vendor-Id', 10415], ['Auth-Application-Id', 16777216]]]);
  assert.equal(encodeAvp(avp).toString('hex'), hex('00000104 40000020 0000010a 4000000c 000028af 00000102 4000000c 01000000').toString('hex'));
});

test('Experimental-Result {10415, 5001}', () => {
  const avp = buildAvp(['Experimental-Result', [['Vendor-Id', 10415], ['Experimental-Result-Code', 5001]]]);
  assert.equal(encodeAvp(avp).toString('hex'), hex('00000129 40000020 0000010a 4000000c 000028af 0000012a 4000000c 00001389').toString('hex'));
});

test('a resync MAR carries the exact item bytes and the Cx request header', () => {
  const wire = encodeMessage(buildMar({ ...MAR_INPUT, numberAuthItems: 1 }));
  assert.equal(wire.readUInt8(0), 1);
  assert.equal(wire.readUIntBE(1, 3), wire.length);
  assert.equal(wire.subarray(4, 12).toString('hex'), 'c000012f01000000');
  assert.equal(wire.readUInt32BE(12), MAR_INPUT.hopByHop);
  assert.equal(wire.readUInt32BE(16), MAR_INPUT.endToEnd);
  assert.ok(wire.includes(RESYNC_ITEM), 'SIP-Auth-Data-Item bytes present verbatim');
  assert.ok(wire.includes(hex('0000025f c0000010 000028af 00000001')));
  const msg = decodeMessage(wire);
  const item = findAvp(msg, 'SIP-Auth-Data-Item');
  assert.ok(item);
  assert.equal(encodeAvp(item).toString('hex'), RESYNC_ITEM.toString('hex'));
  assert.deepEqual(readMar(msg).authorization, Buffer.concat([RAND, AUTS]));
});
