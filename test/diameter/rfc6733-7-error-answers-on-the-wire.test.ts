/**
 * RFC 6733 §7 on a live connection: hand-written bytes from a raw socket (malformed header, bad AVP length, unknown
 * M AVP, unknown application, unknown command, bad version) get the right error answer, byte for byte where it
 * matters, and the node keeps serving (a DWR and a MAR are answered afterwards). Only a stream the framer cannot
 * resynchronise (bad version) closes the connection.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { encodeMessage, encodeAvp } from '../../lib/diameter/codec.ts';
import type { Avp, DiameterMessage } from '../../lib/diameter/codec.ts';
import { ApplicationId, ResultCode } from '../../lib/diameter/constants.ts';
import { getValue, requireValue } from '../../lib/diameter/message.ts';
import { buildDwr } from '../../lib/diameter/peer-messages.ts';
import { CX_APPLICATION } from '../../lib/diameter/node.ts';
import type { DiameterNode } from '../../lib/diameter/node.ts';
import { CxCommand, buildMaa, buildMar, buildSar, readMar } from '../../lib/diameter/cx/index.ts';
import { Nodes, RawPeer, captureLogs, rawCaps } from './harness.ts';
import { MAR_INPUT, hex } from './fixtures.ts';

const nodes = new Nodes();
const logs = captureLogs();
let node: DiameterNode;
let port: number;
let peer: RawPeer;

before(async () => {
  node = nodes.make({ originHost: 'hss.primary.example', originRealm: 'primary.example', applications: [CX_APPLICATION], originStateId: 1, logger: logs.logger });
  node.handle(ApplicationId.CX, CxCommand.MAR, (req) => {
    const mar = readMar(req);
    if (mar.userName === 'throw@primary.example') throw new Error('database on fire');
    return buildMaa(req, { originHost: node.originHost, originRealm: node.originRealm, result: { resultCode: ResultCode.SUCCESS }, userName: mar.userName });
  });
  node.handle(ApplicationId.CX, CxCommand.SAR, (req) => {
    requireValue(req, 'User-Data'); // not in a SAR: the handler's DiameterError becomes the answer
    throw new Error('unreachable');
  });
  ({ port } = await node.listen({ host: '127.0.0.1', port: 0 }));
  peer = await RawPeer.connect(port, rawCaps('scscf.partner.example', 'partner.example'));
  assert.equal(getValue(await peer.handshake(), 'Result-Code'), ResultCode.SUCCESS);
});
after(async () => {
  peer.destroy();
  await nodes.closeAll();
});

const answerTo = (hbh: number) => (m: DiameterMessage): boolean => !m.flags.request && m.hopByHop === hbh;
const mar = (hbh: number, userName = MAR_INPUT.userName): DiameterMessage => buildMar({ ...MAR_INPUT, userName, hopByHop: hbh, endToEnd: hbh + 1 });

/** Sends raw bytes and returns the answer's bytes re-encoded (the codec round-trips exactly). */
async function exchange(bytes: Buffer, hbh: number): Promise<{ msg: DiameterMessage; bytes: Buffer }> {
  peer.send(bytes);
  const msg = await peer.next(answerTo(hbh));
  return { msg, bytes: encodeMessage(msg) };
}

async function stillServing(hbh: number): Promise<void> {
  peer.send(buildDwr({ originHost: 'scscf.partner.example', originRealm: 'partner.example' }, { hopByHop: hbh, endToEnd: hbh }));
  assert.equal(getValue(await peer.next(answerTo(hbh)), 'Result-Code'), ResultCode.SUCCESS);
  const ok = await exchange(encodeMessage(mar(hbh + 1)), hbh + 1);
  assert.equal(getValue(ok.msg, 'Result-Code'), ResultCode.SUCCESS);
}

test('bad AVP length (overruns the message): 5014, Failed-AVP is the header with no data, connection survives', async () => {
  const good = encodeMessage(mar(0x101));
  // The 3rd AVP (after Session-Id and VSAI) claims 0x400 octets.
  const sessionLen = (good.readUIntBE(20 + 5, 3) + 3) & ~3;
  const third = 20 + sessionLen + 32;
  const bad = Buffer.from(good);
  bad.writeUIntBE(0x400, third + 5, 3);
  const { msg, bytes } = await exchange(bad, 0x101);
  assert.equal(getValue(msg, 'Result-Code'), ResultCode.INVALID_AVP_LENGTH);
  assert.equal(bytes.readUInt8(4), 0x40, 'Cx-shaped answer: P, no E for a 5xxx');
  assert.equal(bytes.readUIntBE(5, 3), CxCommand.MAR);
  assert.equal(bytes.readUInt32BE(12), 0x101);
  const failed = getValue(msg, 'Failed-AVP') ?? [];
  assert.deepEqual(encodeAvp(failed[0] as Avp), hex('00000115 40000008'), 'Auth-Session-State header, length 8, no data');
  await stillServing(0x110);
});

test('unknown AVP with the M bit: 5001 with that AVP in Failed-AVP', async () => {
  const m = mar(0x201);
  const alien = { code: 99999, vendorId: 12345, flags: { mandatory: true, protected: false }, data: Buffer.from('zz') };
  m.avps.push(alien);
  const { msg } = await exchange(encodeMessage(m), 0x201);
  assert.equal(getValue(msg, 'Result-Code'), ResultCode.AVP_UNSUPPORTED);
  assert.deepEqual(encodeAvp((getValue(msg, 'Failed-AVP') ?? [])[0] as Avp), hex('0001869f c000000e 00003039 7a7a 0000'));
  assert.equal(msg.flags.error, false);
});

test('unknown application: 3007 with the E bit, exact header', async () => {
  const req = hex(`01 000020 c0 000110 00000004 00000301 00000302
                   00000107 4000000b 61 3b 31 00`); // CCR (272, app 4) with Session-Id "a;1"
  const { msg, bytes } = await exchange(req, 0x301);
  assert.deepEqual(bytes.subarray(4, 20), hex('60 000110 00000004 00000301 00000302'), 'R clear, P copied, E set');
  assert.equal(getValue(msg, 'Session-Id'), 'a;1');
  assert.ok(bytes.includes(hex('0000010c 4000000c 00000bbf')), 'Result-Code 3007');
  assert.equal(getValue(msg, 'Origin-Host'), 'hss.primary.example');
});

test('unknown command of a supported application, and a known command without a handler: 3001', async () => {
  const unknown = encodeMessage({ ...mar(0x401), commandCode: 399 });
  const a = await exchange(unknown, 0x401);
  assert.equal(getValue(a.msg, 'Result-Code'), ResultCode.COMMAND_UNSUPPORTED);
  assert.equal(a.msg.flags.error, true);
  const lir = mar(0x402);
  lir.commandCode = CxCommand.LIR;
  const b = await exchange(encodeMessage(lir), 0x402);
  assert.equal(getValue(b.msg, 'Result-Code'), ResultCode.COMMAND_UNSUPPORTED);
});

test('E bit on a request (malformed header): 3008, connection survives', async () => {
  const bytes = encodeMessage(mar(0x501));
  bytes.writeUInt8(0xe0, 4);
  const { msg } = await exchange(bytes, 0x501);
  assert.equal(getValue(msg, 'Result-Code'), ResultCode.INVALID_HDR_BITS);
  assert.equal(msg.flags.error, true);
  await stillServing(0x510);
});

test('validation: missing required AVP → 5005 with a zero-filled example; handler DiameterError and crash', async () => {
  const m = mar(0x601);
  m.avps = m.avps.filter((a) => a.code !== 602); // Server-Name
  const a = await exchange(encodeMessage(m), 0x601);
  assert.equal(getValue(a.msg, 'Result-Code'), ResultCode.MISSING_AVP);
  assert.deepEqual(encodeAvp((getValue(a.msg, 'Failed-AVP') ?? [])[0] as Avp), hex('0000025a c000000c 000028af'));
  const sar = buildSar({ ...MAR_INPUT, hopByHop: 0x602, endToEnd: 1, serverName: 'sip:s', serverAssignmentType: 1, userDataAlreadyAvailable: 0, publicIdentities: ['sip:a@b'] });
  const b = await exchange(encodeMessage(sar), 0x602);
  assert.equal(getValue(b.msg, 'Result-Code'), ResultCode.MISSING_AVP);
  const c = await exchange(encodeMessage(mar(0x603, 'throw@primary.example')), 0x603);
  assert.equal(getValue(c.msg, 'Result-Code'), ResultCode.UNABLE_TO_COMPLY);
  assert.ok(logs.lines().some((l) => l.msg === 'handler failed'));
  await stillServing(0x610);
});

test('bad version: 5011 answer, then the connection is closed (stream out of sync); the node keeps listening', async () => {
  const other = await RawPeer.connect(port, rawCaps('other.partner.example', 'partner.example'));
  await other.handshake();
  const bytes = encodeMessage(mar(0x701));
  bytes.writeUInt8(2, 0);
  other.send(bytes);
  const answer = await other.next(answerTo(0x701));
  assert.equal(getValue(answer, 'Result-Code'), ResultCode.UNSUPPORTED_VERSION);
  await other.closed;
  await stillServing(0x710);
});
