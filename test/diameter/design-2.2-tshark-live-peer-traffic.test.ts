/**
 * DESIGN §2.2 "tshark must decode every message we send", on live traffic of the peer layer: CER/CEA, a MAR/MAA,
 * DWR/DWA from the watchdog, the error answers the node sends for an unknown application (3007, E bit) and an
 * unknown M AVP (5001), and DPR/DPA on close, captured on loopback and decoded without a Malformed packet or an
 * expert warning. Skipped when tshark is absent or cannot capture.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { freePort } from '../helpers/ports.ts';
import { decodeDiameter, startCapture } from '../helpers/tshark.ts';
import { ApplicationId, ResultCode } from '../../lib/diameter/constants.ts';
import { CX_APPLICATION } from '../../lib/diameter/node.ts';
import { CxCommand, buildMaa, buildMar } from '../../lib/diameter/cx/index.ts';
import { Nodes, RawPeer, rawCaps, sleep } from './harness.ts';
import { MAR_INPUT, hex } from './fixtures.ts';


test('live peer traffic decodes cleanly in tshark', async () => {
  const port = await freePort();
  const capture = await startCapture(`tcp port ${port}`);
  const nodes = new Nodes();
  try {
    const hss = nodes.make({ originHost: 'hss.primary.example', originRealm: 'primary.example', applications: [CX_APPLICATION], watchdog: { twMs: 300, jitterMs: 0 } });
    hss.handle(ApplicationId.CX, CxCommand.MAR, (req) => buildMaa(req, { originHost: 'hss.primary.example', originRealm: 'primary.example', result: { resultCode: ResultCode.SUCCESS } }));
    await hss.listen({ host: '127.0.0.1', port });
    const client = nodes.make({ originHost: 'scscf.partner.example', originRealm: 'partner.example', applications: [CX_APPLICATION], watchdog: { twMs: 300, jitterMs: 0 } });
    client.addPeer({ host: '127.0.0.1', port, originHost: 'hss.primary.example' });
    await client.waitForPeer();
    const { hopByHop: _h, endToEnd: _e, destinationHost: _d, ...mar } = MAR_INPUT;
    await client.request(buildMar({ ...mar, sessionId: client.nextSessionId() }));
    await sleep(450); // one watchdog round each way

    const raw = await RawPeer.connect(port, rawCaps('raw.partner.example', 'partner.example'));
    await raw.handshake();
    raw.send(hex('01000020 c0000110 00000004 00000301 00000302 00000107 4000000b 613b3100')); // CCR, app 4
    await raw.next((m) => m.hopByHop === 0x301);
    const alien = buildMar({ ...mar, originHost: 'raw.partner.example', sessionId: 'raw;1', hopByHop: 0x302, endToEnd: 1 });
    alien.avps.push({ code: 99999, flags: { mandatory: true, protected: false }, data: Buffer.from('x') });
    raw.send(alien);
    await raw.next((m) => m.hopByHop === 0x302);
    raw.destroy();
  } finally {
    await nodes.closeAll();
    await capture.stop();
  }
  const d = await decodeDiameter(capture.file, port);
  const kinds = new Set(d.fields.map(([cmd, req, rc]) => `${cmd}/${req === '1' || req === 'True' ? 'R' : 'A'}${rc ? `/${rc}` : ''}`));
  for (const k of ['257/R', '257/A/2001', '303/R', '303/A/2001', '280/R', '280/A/2001', '272/A/3007', '303/A/5001', '282/R', '282/A/2001']) {
    assert.ok(kinds.has(k), `${k} missing in ${[...kinds].join(' ')}`);
  }
  assert.doesNotMatch(d.verbose, /Malformed/i);
  assert.doesNotMatch(d.expert, /Warning|Error/, d.expert);
});
