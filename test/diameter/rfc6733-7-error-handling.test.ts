/**
 * RFC 6733 §7 error handling against the dictionary: unknown AVP with M → 5001 (without M: ignored), flag rules →
 * 3009, missing required AVP → 5005 with a zero-filled example, too many → 5009, not allowed → 5008, header bits
 * against the command → 3008, unknown command/application → 3001/3007; §7.2 error answers (E bit only for 3xxx)
 * with Failed-AVP (§7.5) built straight from the thrown DiameterError.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decodeMessage, encodeAvp, encodeAvps, encodeMessage } from '../../lib/diameter/codec.ts';
import type { Avp, DiameterMessage } from '../../lib/diameter/codec.ts';
import {
  buildAvp, checkMessageValidity, errorAnswerFor, errorAnswerForError, findAvp, getValue, validateMessage,
} from '../../lib/diameter/message.ts';
import { buildMar, cxErrorAnswerForError } from '../../lib/diameter/cx/index.ts';
import { buildCer, buildDwr } from '../../lib/diameter/peer-messages.ts';
import { DiameterError } from '../../lib/diameter/errors.ts';
import { MAR_INPUT, expectDiameterError, hex } from './fixtures.ts';

const ORIGIN = { originHost: 'hss.primary.example', originRealm: 'primary.example' };
const M = { mandatory: true, protected: false };
const NOT_M = { mandatory: false, protected: false };
const mar = (): DiameterMessage => buildMar(MAR_INPUT);
const withAvp = (msg: DiameterMessage, avp: Avp, at = msg.avps.length): DiameterMessage => ({ ...msg, avps: [...msg.avps.slice(0, at), avp, ...msg.avps.slice(at)] });

test('a well-formed MAR and DWR pass', () => {
  validateMessage(mar());
  validateMessage(buildDwr(ORIGIN));
});

test('unknown AVP with M → 5001 and the AVP itself as Failed-AVP; without M it is ignored', () => {
  const unknown: Avp = { code: 9999, vendorId: 10415, flags: M, data: Buffer.from('x') };
  const err = expectDiameterError(() => validateMessage(withAvp(mar(), unknown)), 'AVP_UNSUPPORTED', 5001);
  assert.equal(err.failedAvp, unknown);
  assert.equal(err.header?.commandCode, 303);
  validateMessage(withAvp(mar(), { ...unknown, flags: NOT_M }));
  // A Cx server answers with a well-formed MAA (no E bit) carrying the Failed-AVP…
  const maa = cxErrorAnswerForError(err, ORIGIN);
  assert.ok(maa);
  assert.equal(maa.flags.error, false);
  assert.deepEqual(getValue(maa, 'Failed-AVP')?.map(encodeAvp), [encodeAvp(unknown)]);
  validateMessage(decodeMessage(encodeMessage(maa))); // Failed-AVP content is not held to the dictionary
  // …a generic node may use the §7.2 grammar with the E bit instead (§7.1.5).
  const generic = errorAnswerForError(err, { ...ORIGIN, errorBit: true });
  assert.ok(generic);
  assert.equal(generic.flags.error, true);
  validateMessage(decodeMessage(encodeMessage(generic)));
  // Without the E bit a bare §7.2 answer does not meet the MAA grammar: the validator says so.
  const bare = errorAnswerForError(err, ORIGIN);
  assert.equal(bare && checkMessageValidity(bare)?.code, 'MISSING_AVP');
});

test('unknown M AVP inside a known group → 5001 with the group hierarchy as Failed-AVP', () => {
  const msg = mar();
  const i = msg.avps.findIndex((a) => a.code === 612);
  const item = msg.avps[i] as Avp;
  const inner: Avp = { code: 7777, flags: M, data: Buffer.alloc(4) };
  const patched = { ...item, data: Buffer.concat([item.data, encodeAvp(inner)]) };
  msg.avps[i] = patched;
  const err = expectDiameterError(() => validateMessage(msg), 'AVP_UNSUPPORTED', 5001);
  assert.equal(err.failedAvp?.code, 612);
  assert.deepEqual(err.failedAvp?.data, encodeAvp(inner));
});

test('an unknown Grouped AVP without M is ignored whatever it contains (§4.4)', () => {
  const inner = encodeAvp({ code: 7777, flags: M, data: Buffer.alloc(4) });
  validateMessage(withAvp(mar(), { code: 8888, flags: NOT_M, data: inner }));
});

test('missing required AVPs → 5005 with a zero-filled example of the right size, vendor and flags', () => {
  const noName = { ...mar(), avps: mar().avps.filter((a) => a.code !== 1) };
  const e1 = expectDiameterError(() => validateMessage(noName), 'MISSING_AVP', 5005);
  assert.deepEqual(e1.failedAvp, { code: 1, flags: M, data: Buffer.alloc(0) });
  const noCount = { ...mar(), avps: mar().avps.filter((a) => a.code !== 607) };
  const e2 = expectDiameterError(() => validateMessage(noCount), 'MISSING_AVP', 5005);
  assert.equal(encodeAvp(e2.failedAvp as Avp).toString('hex'), '0000025fc0000010000028af00000000');
  const answer = cxErrorAnswerForError(e2, ORIGIN);
  assert.equal(getValue(answer as DiameterMessage, 'Result-Code'), 5005);
  validateMessage(answer as DiameterMessage);
});

test('Vendor-Specific-Application-Id needs exactly one application id', () => {
  const vsai = (inner: string): Avp => ({ code: 260, flags: M, data: hex(inner) });
  const replace = (avp: Avp): DiameterMessage => ({ ...mar(), avps: mar().avps.map((a) => (a.code === 260 ? avp : a)) });
  const neither = expectDiameterError(() => validateMessage(replace(vsai('0000010a 4000000c 000028af'))), 'MISSING_AVP', 5005);
  assert.equal(neither.failedAvp?.code, 260); // hierarchy: the group holding an example Auth-Application-Id
  expectDiameterError(
    () => validateMessage(replace(vsai('0000010a 4000000c 000028af 00000102 4000000c 01000000 00000103 4000000c 01000000'))),
    'AVP_OCCURS_TOO_MANY_TIMES', 5009,
  );
});

test('flag rules: V or M against the definition → 3009 (lenient mode accepts)', () => {
  const msg = mar();
  const flip = (code: number, change: (a: Avp) => Avp): DiameterMessage => ({ ...msg, avps: msg.avps.map((a) => (a.code === code ? change(a) : a)) });
  const mClear = flip(601, (a) => ({ ...a, flags: NOT_M }));
  const err = expectDiameterError(() => validateMessage(mClear), 'INVALID_AVP_BITS', 3009);
  assert.equal(err.protocolError, true);
  validateMessage(mClear, undefined, { lenientFlags: true });
  const vClear = flip(601, (a) => ({ code: a.code, flags: a.flags, data: a.data }));
  assert.equal(checkMessageValidity(vClear)?.resultCode, 5001); // without V it is another (unknown, M) AVP
  const productM = withAvp(buildDwr(ORIGIN), { code: 269, flags: M, data: Buffer.from('x') });
  assert.equal(checkMessageValidity(productM)?.resultCode, 3009);
  const vendorOnBase = withAvp(buildDwr(ORIGIN), { code: 278, vendorId: 10415, flags: M, data: Buffer.alloc(4) });
  assert.equal(checkMessageValidity(vendorOnBase)?.resultCode, 5001);
});

test('Product-Name with M in a CER → 3009; twice Origin-Host → 5009; P bit on CER → 3008', () => {
  const cer = buildCer({ ...ORIGIN, hostIpAddresses: ['192.0.2.1'], vendorId: 10415, productName: 'mcx' });
  validateMessage(cer);
  const withM = { ...cer, avps: cer.avps.map((a) => (a.code === 269 ? { ...a, flags: M } : a)) };
  expectDiameterError(() => validateMessage(withM), 'INVALID_AVP_BITS', 3009);
  const twice = withAvp(cer, cer.avps[0] as Avp);
  const err = expectDiameterError(() => validateMessage(twice), 'AVP_OCCURS_TOO_MANY_TIMES', 5009);
  assert.equal(err.failedAvp, cer.avps[0]);
  expectDiameterError(() => validateMessage({ ...cer, flags: { ...cer.flags, proxiable: true } }), 'INVALID_HDR_BITS', 3008);
  expectDiameterError(() => validateMessage({ ...mar(), flags: { ...mar().flags, proxiable: false } }), 'INVALID_HDR_BITS', 3008);
});

test('an AVP the command does not allow → 5008', () => {
  // Experimental-Result ::= { Vendor-Id } { Experimental-Result-Code } has no *[AVP].
  const er: Avp = { code: 297, flags: M, data: hex('0000010a 4000000c 000028af 0000012a 4000000c 00001389 00000001 4000000c 61626364') };
  const err = expectDiameterError(() => validateMessage(withAvp(buildDwr(ORIGIN), er)), 'AVP_NOT_ALLOWED', 5008);
  assert.equal(err.failedAvp?.code, 297);
});

test('unknown command → 3001, unknown application → 3007 (E bit in the answer)', () => {
  const unknownCmd = { ...buildDwr(ORIGIN), commandCode: 999 };
  const e1 = expectDiameterError(() => validateMessage(unknownCmd), 'COMMAND_UNSUPPORTED', 3001);
  assert.equal(errorAnswerForError(e1, ORIGIN)?.flags.error, true);
  expectDiameterError(() => validateMessage({ ...mar(), applicationId: 16777217 }), 'APPLICATION_UNSUPPORTED', 3007);
});

test('Grouped nesting beyond the limit → NESTING_TOO_DEEP (5012)', () => {
  const host = buildAvp(['Proxy-Host', 'agent.example']);
  const state = buildAvp(['Proxy-State', Buffer.from([0])]);
  let node: Avp = { code: 284, flags: M, data: encodeAvps([host, state]) };
  for (let i = 0; i < 20; i++) node = { code: 284, flags: M, data: encodeAvps([host, state, node]) };
  const deep = withAvp(buildDwr(ORIGIN), node);
  expectDiameterError(() => validateMessage(deep, undefined, { maxDepth: 8 }), 'NESTING_TOO_DEEP', 5012);
  validateMessage(deep, undefined, { maxDepth: 32 });
  expectDiameterError(() => validateMessage(deep), 'NESTING_TOO_DEEP', 5012); // default limit 16
});

test('errorAnswerFor: §7.2 AVP order, E bit iff 3xxx, P bit and identifiers copied, Failed-AVP wrapped', () => {
  const proxyInfo = buildAvp(['Proxy-Info', [['Proxy-Host', 'mms.example'], ['Proxy-State', Buffer.from([1, 2])]]]);
  const req = { ...mar(), avps: [...mar().avps, proxyInfo] };
  const failed: Avp = { code: 9999, flags: M, data: Buffer.from('bad') };
  const a = errorAnswerFor(req, 3009, { ...ORIGIN, failedAvp: failed, errorMessage: 'bits', originStateId: 7 });
  assert.deepEqual(a.flags, { request: false, proxiable: true, error: true, retransmit: false });
  assert.equal(a.hopByHop, MAR_INPUT.hopByHop);
  assert.equal(a.endToEnd, MAR_INPUT.endToEnd);
  assert.deepEqual(a.avps.map((x) => x.code), [263, 264, 296, 268, 278, 281, 279, 284]);
  validateMessage(decodeMessage(encodeMessage(a)));
  assert.equal(errorAnswerFor(req, 5012, ORIGIN).flags.error, false);
});

test('errorAnswerForError: answers a request from its header and partial AVPs; never answers an answer', () => {
  const wire = encodeMessage(mar());
  const truncated = Buffer.from(wire);
  truncated.writeUInt32BE(0x00000001, 100); // scribble over an AVP header in the middle
  truncated.writeUIntBE(0xffffff, 105, 3);
  let err: DiameterError | undefined;
  try { decodeMessage(truncated); } catch (e) { err = e as DiameterError; }
  assert.ok(err instanceof DiameterError);
  const answer = errorAnswerForError(err, ORIGIN);
  assert.ok(answer);
  assert.equal(getValue(answer, 'Session-Id'), MAR_INPUT.sessionId);
  assert.equal(findAvp(answer, 'Session-Id'), answer.avps[0]);
  const asAnswer = Buffer.from(truncated);
  asAnswer.writeUInt8(0x40, 4);
  try { decodeMessage(asAnswer); } catch (e) { assert.equal(errorAnswerForError(e as DiameterError, ORIGIN), undefined); }
  const noHeader = new DiameterError('TRUNCATED_MESSAGE', 'short');
  assert.equal(errorAnswerForError(noHeader, ORIGIN), undefined);
});
