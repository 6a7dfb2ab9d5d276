/**
 * DESIGN §2.2 "tshark must decode every message we send without a Malformed or expert warning", for what the
 * partner MMS sends on both legs: the primary-side MAR/SAR it builds, the MAA/SAA it maps back (vectors, rewritten
 * User-Data), and its error answers (Experimental 5001/5002, 3002 with the E bit). Skipped without tshark.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { encodeMessage } from '../../lib/diameter/codec.ts';
import type { DiameterMessage } from '../../lib/diameter/codec.ts';
import { buildSaa } from '../../lib/diameter/cx/index.ts';
import { SessionIdGenerator } from '../../lib/diameter/ids.ts';
import { failureAnswer } from '../../mms/agent.ts';
import { MmsError } from '../../mms/errors.ts';
import { translateAnswer, translateRequest } from '../../mms/translate.ts';
import { MAPPING, PRIMARY, SELF, partnerMar, partnerSar, primaryMaa } from './fixtures.ts';


const USER_DATA = '<?xml version="1.0" encoding="UTF-8"?><IMSSubscription><PrivateID>alice@primary.example</PrivateID><ServiceProfile>' +
  '<PublicIdentity><Identity>sip:alice@primary.example</Identity></PublicIdentity><PublicIdentity><Identity>tel:+4989222</Identity></PublicIdentity>' +
  '</ServiceProfile></IMSSubscription>';

/** Both legs of a MAR and a SAR, in wire order, with the hop-by-hop ids a node would give the primary leg. */
function messages(): { partner: DiameterMessage[]; primary: DiameterMessage[] } {
  const sessions = new SessionIdGenerator(SELF.originHost);
  // The fixture's unknown AVP is the partner's, not ours: leave it out so every warning would be about what we send.
  const withUnknown = partnerMar({ resync: true });
  const mar = { ...withUnknown, avps: withUnknown.avps.filter((a) => a.code !== 99999) };
  const marLeg = translateRequest(mar, MAPPING, SELF, sessions.next());
  const primaryMar = { ...marLeg.request, hopByHop: 0x100, endToEnd: 0x200 };
  const maa = primaryMaa(primaryMar, 3);
  const sar = { ...partnerSar(), hopByHop: 0x0badcaff, endToEnd: 0x51000043 };
  const sarLeg = translateRequest(sar, MAPPING, SELF, sessions.next());
  const primarySar = { ...sarLeg.request, hopByHop: 0x101, endToEnd: 0x201 };
  const saa = buildSaa(primarySar, { ...PRIMARY, result: { resultCode: 2001 }, userName: MAPPING.primaryImpi, userData: USER_DATA });
  const e = (code: number): DiameterMessage => ({ ...mar, hopByHop: mar.hopByHop + code, endToEnd: mar.endToEnd + code });
  const errors = [
    [e(1), failureAnswer(e(1), new MmsError('ERR_MMS_USER_UNKNOWN', 'no mapping'), SELF)],
    [e(2), failureAnswer(e(2), new MmsError('ERR_MMS_IDENTITIES_DONT_MATCH', 'no'), SELF)],
    [e(3), failureAnswer(e(3), new MmsError('ERR_MMS_PRIMARY_UNREACHABLE', 'timeout'), SELF)],
  ].flat();
  return {
    partner: [mar, translateAnswer(mar, maa, marLeg, SELF).answer, sar, translateAnswer(sar, saa, sarLeg, SELF).answer, ...errors],
    primary: [primaryMar, maa, primarySar, saa],
  };
}

/** A pcap (LINKTYPE_RAW) of one TCP connection carrying each message in its own segment. */
function pcap(msgs: DiameterMessage[]): Buffer {
  const parts: Buffer[] = [Buffer.from('d4c3b2a1020004000000000000000000ffff000065000000', 'hex')];
  const seq = { up: 1000, down: 5000 };
  msgs.forEach((m, i) => {
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
    if (up) seq.up += payload.length; else seq.down += payload.length;
    const rec = Buffer.alloc(16);
    rec.writeUInt32LE(1700000000 + i, 0);
    rec.writeUInt32LE(ip.length + payload.length, 8);
    rec.writeUInt32LE(ip.length + payload.length, 12);
    parts.push(rec, ip, payload);
  });
  return Buffer.concat(parts);
}

test('tshark dissects both legs of the translation without Malformed or expert warnings', () => {
  const dir = mkdtempSync(join(tmpdir(), 'mcx-mms-'));
  try {
    const legs = messages();
    for (const [name, msgs] of Object.entries(legs)) {
      const file = join(dir, `${name}.pcap`);
      writeFileSync(file, pcap(msgs));
      const summary = execFileSync('tshark', ['-r', file, '-Y', 'diameter'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
      assert.equal(summary.trim().split('\n').length, msgs.length, summary);
      const detail = execFileSync('tshark', ['-r', file, '-V', '-o', 'tcp.check_checksum:FALSE'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'], maxBuffer: 64 << 20 });
      assert.doesNotMatch(detail, /Malformed/, name);
      const expert = detail.split('\n').filter((l) => /\[Expert Info \((Warning|Error)/.test(l)).map((l) => l.trim());
      assert.deepEqual(expert, [], name);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
