/**
 * TS 29.229 §6.1 Cx commands: MAR/MAA (3 vectors, resync, SIP Digest, Experimental-Result errors), SAR/SAA with
 * User-Data, UAR/UAA, LIR/LIA, RTR/RTA (§6.1.9/§6.1.10). Each message validates against its CCF, encode → decode is byte-exact, and the typed
 * reader returns what the builder was given. Result-Code and Experimental-Result stay apart.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decodeMessage, encodeMessage } from '../../lib/diameter/codec.ts';
import type { DiameterMessage } from '../../lib/diameter/codec.ts';
import { buildAvp, getValue, validateMessage } from '../../lib/diameter/message.ts';
import {
  CxExperimentalResultCode, ReasonCode, ServerAssignmentType, UserDataAlreadyAvailable, buildLia, buildLir, buildMaa, buildMar,
  buildRta, buildRtr, buildSaa, buildSar, buildUaa, buildUar, cxErrorAnswer, experimental, isCxSuccess, readCxResult, readLia, readLir,
  readMaa, readMar, readRta, readRtr, readSaa, readSar, readUaa, readUar,
} from '../../lib/diameter/cx/index.ts';
import type { MaaData, SipAuthItem } from '../../lib/diameter/cx/index.ts';
import { ResultCode } from '../../lib/diameter/constants.ts';
import { AUTN, CK, IK, MAR_INPUT, RAND, ROUTING, XRES, expectDiameterError } from './fixtures.ts';

const HSS = { originHost: 'hss.primary.example', originRealm: 'primary.example' };
const { hopByHop: _h, endToEnd: _e, ...MAR_DATA } = MAR_INPUT;

function wire(msg: DiameterMessage): DiameterMessage {
  validateMessage(msg);
  const bytes = encodeMessage(msg);
  const back = decodeMessage(bytes);
  assert.deepEqual(back, msg);
  assert.deepEqual(encodeMessage(back), bytes);
  return back;
}

function vector(n: number): SipAuthItem {
  const bump = (b: Buffer): Buffer => Buffer.from(b.map((x, i) => (i === b.length - 1 ? (x + n) & 0xff : x)));
  return { itemNumber: n, scheme: 'Digest-AKAv1-MD5', authenticate: Buffer.concat([RAND, bump(AUTN)]), authorization: bump(XRES), ck: bump(CK), ik: bump(IK) };
}

test('MAR (resync) round-trips with R+P, Cx application and the common Cx AVPs', () => {
  const mar = wire(buildMar(MAR_INPUT));
  assert.deepEqual(mar.flags, { request: true, proxiable: true, error: false, retransmit: false });
  assert.equal(mar.applicationId, 16777216);
  assert.equal(mar.commandCode, 303);
  assert.equal(getValue(mar, 'Auth-Session-State'), 1);
  assert.deepEqual(readMar(mar), MAR_DATA);
  const { authorization: _a, destinationHost: _d, ...plain } = MAR_DATA;
  assert.deepEqual(readMar(wire(buildMar({ ...plain, numberAuthItems: 1 }))), { ...plain, numberAuthItems: 1 });
});

test('MAA with three vectors round-trips byte-exact, items ordered by SIP-Item-Number', () => {
  const mar = buildMar(MAR_INPUT);
  const items = [vector(1), vector(2), vector(3)];
  const maa = wire(buildMaa(mar, { ...HSS, result: { resultCode: ResultCode.SUCCESS }, userName: MAR_INPUT.userName, publicIdentity: MAR_INPUT.publicIdentity, items }));
  assert.deepEqual(maa.flags, { request: false, proxiable: true, error: false, retransmit: false });
  assert.equal(maa.hopByHop, MAR_INPUT.hopByHop);
  const expected: MaaData = {
    sessionId: MAR_INPUT.sessionId, ...HSS, result: { resultCode: 2001 }, userName: MAR_INPUT.userName,
    publicIdentity: MAR_INPUT.publicIdentity, numberAuthItems: 3, items,
  };
  assert.deepEqual(readMaa(maa), expected);
  const shuffled = { ...maa, avps: [...maa.avps].reverse() };
  assert.deepEqual(readMaa(shuffled).items.map((i) => i.itemNumber), [1, 2, 3]);
  assert.equal(isCxSuccess(readMaa(maa).result), true);
});

test('MAA for a SIP Digest user carries SIP-Digest-Authenticate', () => {
  const items: SipAuthItem[] = [{ itemNumber: 1, scheme: 'SIP Digest', digest: { realm: 'primary.example', algorithm: 'MD5', qop: 'auth', ha1: '0123456789abcdef0123456789abcdef' } }];
  const maa = wire(buildMaa(buildMar({ ...MAR_INPUT, scheme: 'SIP Digest' }), { ...HSS, result: { resultCode: 2001 }, items }));
  assert.deepEqual(readMaa(maa).items, items);
});

test('MAA errors: Experimental-Result USER_UNKNOWN is not base AVP_UNSUPPORTED', () => {
  const mar = buildMar(MAR_INPUT);
  const maa = wire(buildMaa(mar, { ...HSS, result: experimental(CxExperimentalResultCode.ERROR_USER_UNKNOWN) }));
  const read = readMaa(maa);
  assert.deepEqual(read.result, { experimentalResult: { vendorId: 10415, code: 5001 } });
  assert.equal(read.result.resultCode, undefined);
  assert.equal(getValue(maa, 'Result-Code'), undefined);
  assert.equal(isCxSuccess(read.result), false);
  assert.deepEqual(read.items, []);
  assert.equal(isCxSuccess(experimental(CxExperimentalResultCode.FIRST_REGISTRATION)), true);
});

test('cxErrorAnswer: 3xxx as an E-bit answer, 5xxx as a Cx answer with Failed-AVP', () => {
  const mar = buildMar(MAR_INPUT);
  const busy = wire(cxErrorAnswer(mar, { resultCode: ResultCode.UNABLE_TO_DELIVER }, HSS));
  assert.equal(busy.flags.error, true);
  assert.deepEqual(readCxResult(busy), { resultCode: 3002 });
  const failedAvp = buildAvp(['SIP-Number-Auth-Items', 0]);
  const bad = wire(cxErrorAnswer(mar, { resultCode: ResultCode.INVALID_AVP_VALUE }, { ...HSS, failedAvp, errorMessage: 'zero vectors' }));
  assert.equal(bad.flags.error, false);
  assert.deepEqual(getValue(bad, 'Failed-AVP'), [failedAvp]);
  assert.equal(getValue(bad, 'Auth-Session-State'), 1);
  const unknown = wire(cxErrorAnswer(mar, experimental(CxExperimentalResultCode.ERROR_IDENTITIES_DONT_MATCH), HSS));
  assert.deepEqual(readCxResult(unknown), { experimentalResult: { vendorId: 10415, code: 5002 } });
});

test('readCxResult refuses an answer with neither or both result AVPs', () => {
  const maa = buildMaa(buildMar(MAR_INPUT), { ...HSS, result: { resultCode: 2001 } });
  expectDiameterError(() => readCxResult({ ...maa, avps: maa.avps.filter((a) => a.code !== 268) }), 'MISSING_AVP', 5005);
  const both = { ...maa, avps: [...maa.avps, buildAvp(['Experimental-Result', [['Vendor-Id', 10415], ['Experimental-Result-Code', 2001]]])] };
  expectDiameterError(() => readCxResult(both), 'CONTRADICTING_AVPS', 5007);
});

test('readMar reports a missing required AVP as 5005 with the example AVP', () => {
  const mar = buildMar(MAR_INPUT);
  const err = expectDiameterError(() => readMar({ ...mar, avps: mar.avps.filter((a) => a.code !== 602) }), 'MISSING_AVP', 5005);
  assert.equal(err.failedAvp?.code, 602);
  assert.equal(err.failedAvp?.vendorId, 10415);
});

test('SAR and SAA with User-Data XML round-trip', () => {
  const sarInput = {
    ...ROUTING, destinationHost: 'hss.primary.example', userName: MAR_INPUT.userName,
    publicIdentities: ['sip:alice@primary.example', 'tel:+15551234'], serverName: MAR_INPUT.serverName,
    serverAssignmentType: ServerAssignmentType.REGISTRATION, userDataAlreadyAvailable: UserDataAlreadyAvailable.USER_DATA_NOT_AVAILABLE,
    multipleRegistrationIndication: 0, sarFlags: 1,
  };
  const sar = wire(buildSar(sarInput));
  assert.equal(sar.commandCode, 301);
  assert.deepEqual(readSar(sar), sarInput);
  const xml = '<?xml version="1.0" encoding="UTF-8"?><IMSSubscription><PrivateID>alice@primary.example</PrivateID>'
    + '<ServiceProfile><PublicIdentity><Identity>sip:alice@primary.example</Identity></PublicIdentity></ServiceProfile></IMSSubscription>';
  const saa = wire(buildSaa(sar, {
    ...HSS, result: { resultCode: 2001 }, userName: MAR_INPUT.userName, userData: xml,
    chargingInformation: { primaryEventChargingFunctionName: 'aaa://ecf.primary.example', primaryChargingCollectionFunctionName: 'aaa://ccf.primary.example' },
    associatedIdentities: ['alice2@primary.example'], serverName: MAR_INPUT.serverName,
  }));
  assert.deepEqual(readSaa(saa), {
    sessionId: ROUTING.sessionId, ...HSS, result: { resultCode: 2001 }, userName: MAR_INPUT.userName,
    userData: Buffer.from(xml), serverName: MAR_INPUT.serverName, associatedIdentities: ['alice2@primary.example'],
    chargingInformation: { primaryEventChargingFunctionName: 'aaa://ecf.primary.example', primaryChargingCollectionFunctionName: 'aaa://ccf.primary.example' },
  });
});

test('UAR/UAA and LIR/LIA round-trip', () => {
  const uarInput = { ...ROUTING, userName: MAR_INPUT.userName, publicIdentity: MAR_INPUT.publicIdentity, visitedNetworkIdentifier: Buffer.from('partner.example'), userAuthorizationType: 0, uarFlags: 0 };
  const uar = wire(buildUar(uarInput));
  assert.equal(uar.commandCode, 300);
  assert.deepEqual(readUar(uar), uarInput);
  const caps = { mandatory: [1, 2], optional: [3], serverNames: ['sip:scscf1.primary.example'] };
  const uaa = wire(buildUaa(uar, { ...HSS, result: experimental(CxExperimentalResultCode.FIRST_REGISTRATION), serverCapabilities: caps }));
  assert.deepEqual(readUaa(uaa), { sessionId: ROUTING.sessionId, ...HSS, result: { experimentalResult: { vendorId: 10415, code: 2001 } }, serverCapabilities: caps });
  const lirInput = { ...ROUTING, publicIdentity: 'tel:+15551234', originatingRequest: true, userAuthorizationType: 2, sessionPriority: 1 };
  const lir = wire(buildLir(lirInput));
  assert.equal(lir.commandCode, 302);
  assert.deepEqual(readLir(lir), lirInput);
  const lia = wire(buildLia(lir, { ...HSS, result: { resultCode: 2001 }, serverName: 'sip:scscf1.primary.example', wildcardedPublicIdentity: 'sip:!.*!@primary.example', liaFlags: 0 }));
  assert.deepEqual(readLia(lia), { sessionId: ROUTING.sessionId, ...HSS, result: { resultCode: 2001 }, serverName: 'sip:scscf1.primary.example', wildcardedPublicIdentity: 'sip:!.*!@primary.example', liaFlags: 0 });
});

test('RTR/RTA (§6.1.9/§6.1.10) round-trip: Destination-Host, User-Name, Associated-Identities, Public-Identities, Deregistration-Reason', () => {
  const rtrInput = {
    ...ROUTING, destinationHost: 'registrar.partner.example', userName: 'alice.mig@partner.example', associatedIdentities: ['alice2.mig@partner.example'],
    publicIdentities: ['sip:alice.mig@partner.example', 'tel:+4930111'], reasonCode: ReasonCode.PERMANENT_TERMINATION, reasonInfo: 'migration ended', rtrFlags: 0,
  };
  const rtr = wire(buildRtr(rtrInput));
  assert.equal(rtr.commandCode, 304);
  assert.deepEqual(rtr.flags, { request: true, proxiable: true, error: false, retransmit: false });
  assert.deepEqual(readRtr(rtr), rtrInput);
  const rta = wire(buildRta(rtr, { ...HSS, result: { resultCode: ResultCode.SUCCESS } }));
  assert.deepEqual(readRta(rta), { sessionId: ROUTING.sessionId, ...HSS, result: { resultCode: 2001 } });
  const unknown = wire(buildRta(rtr, { ...HSS, result: experimental(CxExperimentalResultCode.ERROR_USER_UNKNOWN) }));
  assert.deepEqual(readCxResult(unknown), { experimentalResult: { vendorId: 10415, code: 5001 } });
  const { associatedIdentities: _a, reasonInfo: _r, rtrFlags: _f, ...required } = rtrInput;
  const bare = readRtr(wire(buildRtr({ ...required, publicIdentities: [] })));
  assert.deepEqual(bare.publicIdentities, []);
  assert.equal(bare.reasonInfo, undefined);
});
