/**
 * DESIGN §2.2 "tshark must decode every message we send without a Malformed or expert warning", for what the HSS
 * sends: every answer kind its handlers produce (MAA with vectors, after a resync, SIP Digest with the alternate
 * SHA-256 HA1, Experimental-Result errors, 5004 with Failed-AVP, SAA with User-Data, UAA, LIA), each after its
 * request, in one TCP stream of a pcap read back by tshark. Skipped when tshark is not installed.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { encodeMessage, type DiameterMessage } from '../../lib/diameter/codec.ts';
import { buildLir, buildUar, cxRequest } from '../../lib/diameter/cx/index.ts';
import { ALICE, BOB, CAROL, REALM, ROUTING, makeHss, mar, sar } from './helpers.ts';


/** A pcap (LINKTYPE_RAW, IPv4/TCP) of one connection, one segment per message, requests towards port 3868. */
function pcap(messages: DiameterMessage[]): Buffer {
  const parts: Buffer[] = [Buffer.from('d4c3b2a1020004000000000000000000ffff000065000000', 'hex')];
  const seq = { up: 1000, down: 5000 };
  messages.forEach((m, i) => {
    const payload = encodeMessage(m);
    const up = m.flags.request;
    const ip = Buffer.alloc(40);
    ip.writeUInt8(0x45, 0);
    ip.writeUInt16BE(40 + payload.length, 2);
    ip.writeUInt8(64, 8);
    ip.writeUInt8(6, 9);
    Buffer.from(up ? [10, 0, 0, 1, 10, 0, 0, 2] : [10, 0, 0, 2, 10, 0, 0, 1]).copy(ip, 12);
    ip.writeUInt16BE(up ? 40000 : 3868, 20);
    ip.writeUInt16BE(up ? 3868 : 40000, 22);
    ip.writeUInt32BE(up ? seq.up : seq.down, 24);
    ip.writeUInt32BE(up ? seq.down : seq.up, 28);
    ip.writeUInt8(0x50, 32);
    ip.writeUInt8(0x18, 33);
    ip.writeUInt16BE(65535, 34);
    if (up) seq.up += payload.length;
    else seq.down += payload.length;
    const rec = Buffer.alloc(16);
    rec.writeUInt32LE(1700000000 + i, 0);
    rec.writeUInt32LE(ip.length + payload.length, 8);
    rec.writeUInt32LE(ip.length + payload.length, 12);
    parts.push(rec, ip, payload);
  });
  return Buffer.concat(parts);
}

test('tshark dissects every HSS answer without Malformed or expert warnings', async () => {
  const hss = await makeHss();
  const dir = mkdtempSync(join(tmpdir(), 'mcx-hss-pcap-'));
  try {
    let hbh = 100;
    const ids = () => ({ hopByHop: ++hbh, endToEnd: hbh + 1000 });
    const digestSha = cxRequest('MAR', { ...ROUTING, ...ids() }, [
      ['User-Name', CAROL.impi], ['Public-Identity', CAROL.impus[0] as string],
      ['SIP-Auth-Data-Item', [['SIP-Authentication-Scheme', 'SIP Digest'], ['Digest-Algorithm', 'SHA-256']]],
      ['SIP-Number-Auth-Items', 1], ['Server-Name', 'sip:scscf.partner.example'],
    ]);
    const exchanges: Array<[DiameterMessage, (m: DiameterMessage) => Promise<DiameterMessage>]> = [
      [mar({ ...ids(), numberAuthItems: 3 }), hss.cx.mar],
      [mar({ ...ids(), authorization: Buffer.alloc(30, 0x5a) }), hss.cx.mar],
      [mar({ ...ids(), userName: 'nobody@primary.example' }), hss.cx.mar],
      [mar({ ...ids(), publicIdentity: BOB.impus[0] }), hss.cx.mar],
      [mar({ ...ids(), authorization: Buffer.alloc(12) }), hss.cx.mar],
      [mar({ ...ids(), userName: CAROL.impi, publicIdentity: CAROL.impus[0], scheme: 'SIP Digest' }), hss.cx.mar],
      [digestSha, hss.cx.mar],
      [sar({ ...ids(), serverAssignmentType: 1 }), hss.cx.sar],
      [sar({ ...ids(), serverAssignmentType: 5 }), hss.cx.sar],
      [sar({ ...ids(), serverAssignmentType: 77 }), hss.cx.sar],
      [buildUar({ ...ROUTING, ...ids(), userName: ALICE.impi, publicIdentity: ALICE.impus[0] as string, visitedNetworkIdentifier: REALM }), hss.cx.uar],
      [buildLir({ ...ROUTING, ...ids(), publicIdentity: 'sip:nobody@primary.example' }), hss.cx.lir],
    ];
    const messages: DiameterMessage[] = [];
    for (const [req, handle] of exchanges) messages.push(req, await handle(req));
    const file = join(dir, 'hss.pcap');
    writeFileSync(file, pcap(messages));
    const summary = execFileSync('tshark', ['-r', file, '-Y', 'diameter'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
    assert.equal(summary.trim().split('\n').length, messages.length, summary);
    const detail = execFileSync('tshark', ['-r', file, '-V', '-o', 'tcp.check_checksum:FALSE'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'], maxBuffer: 64 << 20 });
    assert.doesNotMatch(detail, /Malformed/);
    const expert = detail.split('\n').filter((l) => /\[Expert Info \((Warning|Error)/.test(l)).map((l) => l.trim());
    assert.deepEqual(expert, []);
    assert.match(detail, /Experimental-Result-Code: DIAMETER_ERROR_USER_UNKNOWN \(5001\)/);
    assert.match(detail, /User-Data/);
    assert.doesNotMatch(detail, /DIAMETER_UNABLE_TO_COMPLY/, 'no handler failed');
  } finally {
    rmSync(dir, { recursive: true, force: true });
    await hss.close();
  }
});
