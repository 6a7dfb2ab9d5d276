/**
 * DESIGN §4 interop, TS 23.280 §10.6.2.2 with a real S-CSCF as the partner SIP core: Kamailio 5.6 (cdp + ims_auth +
 * ims_registrar_scscf, the ../shared/peers templates) has the partner MMS as its Cx peer — plain TCP, inside the
 * partner system — and the MMS goes on over mutual TLS to the relay (the primary SIP core / IMS) and the primary HSS
 * (`--rand-policy sipp361`), each its own `mcx` process. SIPp (sip-tester 3.6.1) is the migrating user's UE: partner
 * IMPI/IMPU, the K/OP of its primary ISIM; REGISTER → 401 → REGISTER → 200 over UDP and over TCP.
 *
 * Asserted: the 200s; Kamailio's Cx leg, captured, holds MAR/MAA and SAR/SAA 2001 that tshark decodes without a
 * Malformed packet or an expert warning, naming partner identities only (the SAA's User-Data included: Kamailio needs
 * it); the HSS saw only primary ones; an unmapped partner user is refused by Kamailio after the MMS's 5001.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { startKamailio, type Kamailio } from '../helpers/kamailio.ts';
import { freePorts } from '../helpers/ports.ts';
import { runSipp, writeAkaScenario, type SippResult, type SippUser } from '../helpers/sipp.ts';
import { decodeDiameter, startCapture, tsharkFields, type Capture } from '../helpers/tshark.ts';
import {
  K, OP, PARTNER_NAMES, PARTNER_REALM, PRIMARY_NAMES, USER, logLines, staticPath, staticTestbed, waitForLines, type Role,
} from '../mms/testbed.ts';
import type { TwoSystemTestbed } from '../../deploy/testbed-builder.ts';

const UE: SippUser = { domain: PARTNER_REALM, impi: USER.partner.impi, impu: USER.partner.impus[0], k: K, op: OP, amf: '8000' };

describe('DESIGN §4: Kamailio S-CSCF → partner MMS → relay → HSS; SIPp registers a migrating user', () => {
  let tb: TwoSystemTestbed;
  let hss: Role;
  let mms: Role;
  let kam: Kamailio;
  let ports: number[];
  let capture: Capture | undefined;
  const failure = (r: SippResult): string =>
    `sipp exit ${r.code}\n${r.output.slice(-2000)}\n--- kamailio ---\n${kam.proc.output().slice(-2500)}\n--- mms ---\n${mms.output().slice(-1500)}`;

  before(async () => {
    assert.ok(!K.startsWith('00') && !OP.startsWith('00'), 'SIPp 3.6.1 misreads a K or OP whose first octet is 0x00');
    tb = await staticTestbed('kam-partner-mms', { amf: UE.amf, randPolicy: 'sipp361' });
    ports = await freePorts(4);
    const [dport, aport, sport] = ports as [number, number, number, number];
    ({ hss, mms } = await staticPath(tb, { mmsListen: { host: '127.0.0.1', port: dport, transport: 'tcp' } }));
    // The cdp peer is "localhost" (it must resolve) at the MMS's port; the CEA must list Cx for the peer to open.
    kam = await startKamailio({ realm: PARTNER_REALM, sipPort: sport, diameterPort: dport, acceptorPort: aport });
  });
  after(async () => {
    await capture?.stop();
    capture?.remove();
    await kam?.stop();
    await tb?.close();
  });

  test('over UDP: REGISTER → 401 → REGISTER → 200; the Cx leg decodes cleanly and names partner identities only', async () => {
    const dport = ports[0] as number;
    capture = await startCapture(`tcp port ${dport}`);
    const r = await runSipp(`127.0.0.1:${kam.sipPort}`, writeAkaScenario(UE, tb.dir), { transport: 'udp', localPort: ports[3] as number });
    await capture.stop();
    assert.equal(r.code, 0, failure(r));
    const d = await decodeDiameter(capture.file, dport);
    const kinds = d.fields.map(([cmd, req, rc]) => `${cmd}/${req === '1' || req === 'True' ? 'R' : 'A'}${rc ? `/${rc}` : ''}`);
    for (const k of ['303/R', '303/A/2001', '301/R', '301/A/2001']) assert.ok(kinds.includes(k), `${k} missing in ${kinds.join(' ')}`);
    assert.doesNotMatch(d.verbose, /Malformed/i);
    assert.doesNotMatch(d.expert, /Warning|Error/, d.expert);
    assert.match(d.verbose, /Origin-Host: mms\.partner\.example/);
    const bytes = readFileSync(capture.file).toString('latin1');
    assert.ok(bytes.includes(`<PrivateID>${USER.partner.impi}</PrivateID>`), 'the SAA carries User-Data with the partner IMPI');
    for (const n of PRIMARY_NAMES) assert.ok(!bytes.includes(n), `no ${n} on Kamailio's Cx leg`);
  });

  test('over TCP: REGISTER → 401 → REGISTER → 200', async () => {
    const r = await runSipp(`127.0.0.1:${kam.sipPort}`, writeAkaScenario(UE, tb.dir), { transport: 'tcp', localPort: ports[3] as number });
    assert.equal(r.code, 0, failure(r));
  });

  test('the HSS served both registrations for the primary identities and never saw a partner one', async () => {
    const mars = await waitForLines(hss, (l) => l.clause === '29.228 §6.3.1', 2);
    for (const l of mars) assert.equal(l.impi, USER.primary.impi);
    const text = hss.output();
    for (const n of PARTNER_NAMES) assert.ok(!text.includes(n), `the HSS must not learn ${n}`);
    const served = logLines(mms).filter((l) => l.step === 10);
    assert.ok(served.length >= 2, `the MMS answered ${served.length} MAR(s) toward Kamailio`);
  });

  test('an unmapped partner user: the MMS answers 5001 and Kamailio answers 403 HSS User Unknown instead of a challenge', async () => {
    const nobody = { ...UE, impi: `nobody@${PARTNER_REALM}`, impu: `sip:nobody@${PARTNER_REALM}` };
    const sip = await startCapture(`udp port ${kam.sipPort}`);
    try {
      const r = await runSipp(`127.0.0.1:${kam.sipPort}`, writeAkaScenario(nobody, tb.dir), { transport: 'udp', localPort: ports[3] as number, timeoutS: 3 });
      await sip.stop();
      assert.notEqual(r.code, 0, 'SIPp waits in vain for its 401');
      await waitForLines(mms, (l) => l.msg === `translation failed: no mapping for partner IMPI ${nobody.impi}`);
      const lines = await tsharkFields(sip.file, kam.sipPort, 'sip', ['sip.Status-Code', 'sip.Status-Line'], 'udp');
      const statuses = lines.map(([, l]) => l).filter(Boolean);
      // The MMS's 5001 MAA echoes User-Name (cxErrorAnswer), so Kamailio tells "user unknown", not "no private identity".
      assert.ok(statuses.length > 0 && statuses.every((l) => l === 'SIP/2.0 403 Forbidden - HSS User Unknown'), `Kamailio's responses: ${statuses.join(' | ')}`);
    } finally {
      await sip.stop();
      sip.remove();
    }
  });
});
