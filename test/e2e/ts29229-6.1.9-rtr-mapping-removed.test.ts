/**
 * TS 29.229 §6.1.9/§6.1.10 Registration-Termination-Request (TS 29.228 §6.1.3) when a static mapping ends, every role
 * its own `mcx` process (registrar → partner MMS → relay → HSS; the registrar ↔ MMS leg plain TCP so tshark reads it):
 * the UE registers (the registrar holds its binding and, from the MAR's batch, kept vectors); the mapping is removed
 * with the partner MMS admin API; by the time the DELETE is answered the MMS has sent an RTR to the registrar that
 * served the identity, and the registrar has removed the binding (admin API) and dropped the kept vectors — the next
 * REGISTER gets a decoy challenge, not a vector of the user, and its answer 403. tshark decodes the RTR and its RTA
 * (2001) without a Malformed packet or an expert warning.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { adminRequest } from '../../lib/admin/client.ts';
import { Milenage, computeOpc, openAutn, parseAkaNonce } from '../../lib/aka/index.ts';
import type { DigestChallenge } from '../../lib/sip/headers/auth.ts';
import type { TwoSystemTestbed } from '../../deploy/testbed-builder.ts';
import { decodeDiameter, startCapture, tsharkFields, type Capture } from '../helpers/tshark.ts';
import { K, OP, PARTNER_REALM, USER, sipBindings, sipChain, staticTestbed, type SipChain } from '../mms/testbed.ts';
import { Ue, callId, initialAuthorization, openIsim, registerAka, registerBytes, type AkaUser } from '../registrar/helpers.ts';

const UE_USER: AkaUser = { impi: USER.partner.impi, impus: [...USER.partner.impus], k: K, op: OP, amf: '8000' };

describe('TS 29.229 §6.1.9: a removed static mapping ends the live registration (RTR → registrar)', () => {
  let tb: TwoSystemTestbed;
  let chain: SipChain;
  let ue: Ue;
  let capture: Capture;

  before(async () => {
    tb = await staticTestbed('e2e-rtr', { registrarTls: false });
    chain = await sipChain(tb);
    ue = await Ue.udp(chain.registrar.sipPort('udp'));
  });
  after(async () => {
    ue?.close();
    if (capture) {
      await capture.stop();
      capture.remove();
    }
    await tb?.close();
  });

  test('registered, then DELETE of the mapping: the binding is gone when the DELETE is answered; the next REGISTER is challenged with a decoy and refused', async () => {
    const isim = await openIsim(tb.dir, UE_USER);
    const r = await registerAka(ue, isim, UE_USER);
    assert.equal(r.final.msg.status, 200, r.final.text);
    assert.deepEqual((await sipBindings(tb, chain.registrar)).map((b) => b.aor), [USER.partner.impus[0]]);

    capture = await startCapture(`tcp port ${chain.mms.port}`);
    const t0 = performance.now();
    await adminRequest(await tb.adminTarget(chain.mms), 'DELETE', `admin/v1/mappings/${encodeURIComponent(USER.partner.impi)}`);
    const ms = performance.now() - t0;
    assert.deepEqual(await sipBindings(tb, chain.registrar), [], 'de-registered by the RTR');
    assert.ok(ms < 1000, `DELETE (with the RTR) answered after ${ms.toFixed(0)} ms`);
    await capture.stop();

    // Without the RTR the registrar would challenge with a kept vector of the user's last MAR.
    const id = callId();
    const impu = USER.partner.impus[0];
    const again = await ue.send(registerBytes(ue, { impu, callId: id, cseq: 1, authorization: initialAuthorization(USER.partner.impi) }));
    assert.equal(again.msg.status, 401, again.text);
    const ch = again.msg.wwwAuthenticate()[0] as DigestChallenge;
    const { rand, autn } = parseAkaNonce(ch.nonce as string);
    const usim = new Milenage(Buffer.from(K, 'hex'), computeOpc(Buffer.from(K, 'hex'), Buffer.from(OP, 'hex')));
    assert.equal(openAutn(usim, rand, autn).macValid, false, 'a decoy: no vector of the user is left at the registrar');
    const empty = `Digest username="${USER.partner.impi}", realm="${PARTNER_REALM}", nonce="${ch.nonce}", uri="sip:${PARTNER_REALM}", response="", algorithm=AKAv1-MD5`;
    const refused = await ue.send(registerBytes(ue, { impu, callId: id, cseq: 2, authorization: empty }));
    assert.equal(refused.msg.status, 403, refused.text);
  });

  test('tshark: the RTR (304, Destination-Host the registrar, Deregistration-Reason PERMANENT_TERMINATION, the registered partner IMPU) and its RTA 2001, nothing Malformed, no expert warning', async () => {
    const d = await decodeDiameter(capture.file, chain.mms.port);
    const rtr = d.fields.filter(([code]) => code === '304');
    assert.deepEqual(rtr.map(([, req, rc]) => [req === '1' || req === 'True', rc]), [[true, ''], [false, '2001']], JSON.stringify(d.fields));
    assert.doesNotMatch(d.verbose, /Malformed/);
    assert.doesNotMatch(d.expert, /Warning|Error/, d.expert);
    const rows = await tsharkFields(capture.file, chain.mms.port, 'diameter',
      ['diameter.cmd.code', 'diameter.Destination-Host', 'diameter.User-Name', 'diameter.Public-Identity', 'diameter.Reason-Code'], 'tcp');
    const [req] = rows.filter(([code, host]) => code === '304' && host !== '');
    assert.ok(req, JSON.stringify(rows));
    assert.equal(req[1], `registrar.${PARTNER_REALM}`);
    assert.equal(req[2], USER.partner.impi);
    assert.equal(req[3], USER.partner.impus[0], 'the public identity the registrar named in its MAR and SAR');
    assert.equal(req[4], '0');
  });

  test('both counted one termination; the kept vectors of the MAR\'s batch went with it', async () => {
    const stats = await adminRequest<Record<string, number>>(await tb.adminTarget(chain.registrar), 'GET', 'admin/v1/stats');
    assert.equal(stats.registration_terminations, 1);
    assert.ok((stats.vectors_dropped ?? 0) >= 1, 'the kept vectors of the MAR\'s batch went with it');
    const mmsStats = await adminRequest<Record<string, number>>(await tb.adminTarget(chain.mms), 'GET', 'admin/v1/stats');
    assert.equal(mmsStats.registration_terminations, 1);
    assert.equal(mmsStats.registration_terminations_failed, 0);
  });
});
