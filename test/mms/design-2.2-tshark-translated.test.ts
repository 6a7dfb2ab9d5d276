/**
 * DESIGN §2.2 "tshark must decode every message we send without a Malformed or expert warning", for what the
 * partner MMS sends on both legs: the primary-side MAR/SAR it builds, the MAA/SAA it maps back (vectors, rewritten
 * User-Data), and its error answers (Experimental 5001/5002, 3002 with the E bit). Skipped without tshark.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { dissectDiameter } from '../helpers/diameter-pcap.ts';
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


test('tshark dissects both legs of the translation without Malformed or expert warnings', () => {
  for (const [name, msgs] of Object.entries(messages())) {
    const d = dissectDiameter(msgs);
    assert.equal(d.diameterPackets, msgs.length, name);
    assert.doesNotMatch(d.detail, /Malformed/, name);
    assert.deepEqual(d.expert, [], name);
  }
});
