/**
 * RFC 6733 §5.3–5.5 peer messages: CER/CEA, DWR/DWA, DPR/DPA. Each one validates against its CCF and survives
 * encode → decode → read unchanged; the CEA advertises the Cx application as Kamailio's cdp requires.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decodeMessage, encodeMessage } from '../../lib/diameter/codec.ts';
import type { DiameterMessage } from '../../lib/diameter/codec.ts';
import { validateMessage } from '../../lib/diameter/message.ts';
import {
  buildCea, buildCer, buildDpa, buildDpr, buildDwa, buildDwr, readCea, readCer, readDpa, readDpr, readDwa, readDwr,
} from '../../lib/diameter/peer-messages.ts';
import type { Capabilities } from '../../lib/diameter/peer-messages.ts';
import { DisconnectCause } from '../../lib/diameter/constants.ts';

const CAPS: Capabilities = {
  originHost: 'mms.partner.example',
  originRealm: 'partner.example',
  hostIpAddresses: ['192.0.2.10', '2001:db8::10'],
  vendorId: 10415,
  productName: 'mcx-migrate',
  originStateId: 1717171717,
  supportedVendorIds: [10415],
  authApplicationIds: [16777216],
  inbandSecurityIds: [0],
  acctApplicationIds: [],
  vendorSpecificApplicationIds: [{ vendorId: 10415, authApplicationId: 16777216 }, { vendorId: 10415, acctApplicationId: 3 }],
  firmwareRevision: 1,
};
const PEER = { originHost: 'scscf.partner.example', originRealm: 'partner.example' };

function wire(msg: DiameterMessage): DiameterMessage {
  validateMessage(msg);
  const back = decodeMessage(encodeMessage(msg));
  assert.deepEqual(back, msg);
  validateMessage(back);
  return back;
}

test('CER/CEA round-trip with every capability field', () => {
  const cer = wire(buildCer(CAPS, { hopByHop: 1, endToEnd: 2 }));
  assert.deepEqual(cer.flags, { request: true, proxiable: false, error: false, retransmit: false });
  assert.equal(cer.applicationId, 0);
  assert.deepEqual(readCer(cer), CAPS);
  const cea = wire(buildCea(cer, { resultCode: 2001 }, { ...CAPS, ...PEER, originStateId: 5 }));
  assert.equal(cea.hopByHop, 1);
  assert.deepEqual(readCea(cea), { ...CAPS, ...PEER, originStateId: 5, resultCode: 2001 });
});

test('CEA with an error and Failed-AVP', () => {
  const cer = buildCer(CAPS);
  const failed = cer.avps[2];
  assert.ok(failed);
  const cea = wire(buildCea(cer, { resultCode: 5010, errorMessage: 'no common application', failedAvp: failed }, { ...CAPS, ...PEER }));
  const read = readCea(cea);
  assert.equal(read.resultCode, 5010);
  assert.equal(read.errorMessage, 'no common application');
  assert.deepEqual(read.failedAvp, failed);
});

test('DWR/DWA round-trip', () => {
  const dwr = wire(buildDwr({ ...PEER, originStateId: 3 }, { hopByHop: 7, endToEnd: 8 }));
  assert.deepEqual(readDwr(dwr), { ...PEER, originStateId: 3 });
  const dwa = wire(buildDwa(dwr, { resultCode: 2001 }, { originHost: CAPS.originHost, originRealm: CAPS.originRealm }));
  assert.deepEqual(readDwa(dwa), { originHost: CAPS.originHost, originRealm: CAPS.originRealm, resultCode: 2001 });
});

test('DPR/DPA round-trip', () => {
  const dpr = wire(buildDpr(PEER, DisconnectCause.DO_NOT_WANT_TO_TALK_TO_YOU));
  assert.deepEqual(readDpr(dpr), { ...PEER, disconnectCause: 2 });
  const dpa = wire(buildDpa(dpr, { resultCode: 2001, errorMessage: 'bye' }, { originHost: CAPS.originHost, originRealm: CAPS.originRealm }));
  assert.deepEqual(readDpa(dpa), { originHost: CAPS.originHost, originRealm: CAPS.originRealm, resultCode: 2001, errorMessage: 'bye' });
});
