/**
 * DESIGN §2.2 "tshark must decode every message we send without a Malformed or expert warning", for what the HSS
 * sends: every answer kind its handlers produce (MAA with vectors, after a resync, SIP Digest with the alternate
 * SHA-256 HA1, Experimental-Result errors, 5004 with Failed-AVP, SAA with User-Data, UAA, LIA), each after its
 * request, in one TCP stream of a pcap read back by tshark. Skipped when tshark is not installed.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { dissectDiameter } from '../helpers/diameter-pcap.ts';
import type { DiameterMessage } from '../../lib/diameter/codec.ts';
import { buildLir, buildUar, cxRequest } from '../../lib/diameter/cx/index.ts';
import { ALICE, BOB, CAROL, REALM, ROUTING, makeHss, mar, sar } from './helpers.ts';



test('tshark dissects every HSS answer without Malformed or expert warnings', async () => {
  const hss = await makeHss();
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
    const { diameterPackets, detail, expert } = dissectDiameter(messages);
    assert.equal(diameterPackets, messages.length);
    assert.doesNotMatch(detail, /Malformed/);
    assert.deepEqual(expert, []);
    assert.match(detail, /Experimental-Result-Code: DIAMETER_ERROR_USER_UNKNOWN \(5001\)/);
    assert.match(detail, /User-Data/);
    assert.doesNotMatch(detail, /DIAMETER_UNABLE_TO_COMPLY/, 'no handler failed');
  } finally {
    await hss.close();
  }
});
