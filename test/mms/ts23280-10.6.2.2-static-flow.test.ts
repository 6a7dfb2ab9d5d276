/**
 * TS 23.280 §10.6.2.2 steps 3–10 with every role its own process: registrar (client) → partner MMS (mutual TLS) →
 * relay, the primary SIP core / IMS (mutual TLS toward the partner) → primary HSS → back. The MAA carries vectors that
 * open with the primary subscriber's key under the partner identities; the HSS sees only primary identities, the
 * registrar only partner ones; SAR/SAA with User-Data rewritten; resynchronisation carried through (33.102 §6.3.5);
 * an unmapped partner IMPI → 5001; each role logs the seed steps it performs; the admin API changes the mappings of
 * the running MMS; SIGTERM → DPR.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { SeqMsArray, buildAuts, makeSqn, openAutn, seqOf } from '../../lib/aka/index.ts';
import { encodeMessage, type DiameterMessage } from '../../lib/diameter/codec.ts';
import { readCxResult, readMaa, readSaa } from '../../lib/diameter/cx/index.ts';
import type { DiameterNode } from '../../lib/diameter/node.ts';
import { adminRequest, type AdminTarget } from '../../lib/admin/client.ts';
import {
  PARTNER_NAMES, PRIMARY_NAMES, PRIMARY_REALM, USER, USIM, logLines, mar, registrarClient, sar, seedSteps, staticTestbed, waitForLines, type Role,
} from './testbed.ts';
import type { TwoSystemTestbed } from '../../deploy/testbed-builder.ts';

/** The first vector of an MAA as the USIM opens it. */
function openFirst(maa: DiameterMessage): { rand: Buffer; sqn: bigint; macValid: boolean } {
  const ra = readMaa(maa).items[0]?.authenticate as Buffer;
  const { sqn, macValid } = openAutn(USIM, ra.subarray(0, 16), ra.subarray(16));
  return { rand: ra.subarray(0, 16), sqn, macValid };
}

/** Asserts that the encoded message names none of `names`. */
function assertNames(msg: DiameterMessage, names: readonly string[], what: string): void {
  const bytes = encodeMessage(msg).toString('latin1');
  for (const n of names) assert.ok(!bytes.includes(n), `${what} must not carry ${n}`);
}

describe('TS 23.280 §10.6.2.2 static configuration: registrar → partner MMS → relay → HSS, one process each', () => {
  let tb: TwoSystemTestbed;
  let hss: Role;
  let relay: Role;
  let mms: Role;
  let registrar: DiameterNode;
  let admin: AdminTarget;

  before(async () => {
    tb = await staticTestbed('mms-static');
    hss = await tb.hss();
    relay = await tb.relay({ upstream: hss.port });
    mms = await tb.partnerMms({ upstream: relay.port });
    registrar = await registrarClient(tb, mms.port);
    await registrar.waitForPeer({ originHost: 'mms.partner.example' }, 10_000);
    await mms.waitFor(/"msg":"route to primary\.example: relay\.primary\.example"/, 10_000);
    admin = await tb.adminTarget(mms);
  });
  after(() => tb?.close());

  test('steps 3–10: MAA 2001 with vectors that open with the primary key, under the partner identities only', async () => {
    const answer = await registrar.request(mar({ n: 2 }), { timeoutMs: 3000 });
    const maa = readMaa(answer);
    assert.deepEqual(maa.result, { resultCode: 2001 });
    assert.equal(maa.userName, USER.partner.impi);
    assert.equal(maa.publicIdentity, USER.partner.impus[0]);
    assert.equal(maa.items.length, 2);
    for (const item of maa.items) {
      const ra = item.authenticate as Buffer;
      assert.ok(openAutn(USIM, ra.subarray(0, 16), ra.subarray(16)).macValid, 'AUTN verifies with the primary K/OPc');
      assert.equal((item.authorization as Buffer).length, 8);
    }
    assertNames(answer, PRIMARY_NAMES, 'the MAA toward the registrar');
  });

  test('each role logs the seed steps it performs: MMS 3,4,5,8,9,10; relay 5,6,7,8; HSS 6,7 — all §10.6.2.2', async () => {
    await Promise.all([[mms, 10], [relay, 8], [hss, 7]].map(([r, n]) => waitForLines((r as Role), (l) => l.step === n)));
    assert.deepEqual(seedSteps(mms).slice(0, 6), [
      [3, 'registrar', 'static'], [4, 'partner-mms', 'static'], [5, 'partner-mms', 'static'],
      [8, 'relay', 'static'], [9, 'partner-mms', 'static'], [10, 'partner-mms', 'static']]);
    assert.deepEqual(seedSteps(relay).slice(0, 4), [[5, 'partner-mms', 'static'], [6, 'relay', 'static'], [7, 'hss', 'static'], [8, 'relay', 'static']]);
    assert.deepEqual(seedSteps(hss).slice(0, 2), [[6, 'relay', 'static'], [7, 'hss', 'static']]);
    const seven = logLines(relay).find((l) => l.step === 7);
    assert.match(String(seven?.msg), /^step 7: primary HSS → primary SIP core\/IMS: .* — Result-Code 2001, 2 vector\(s\)$/);
  });

  test('the HSS sees only primary identities (its Cx log names no partner identity)', () => {
    const text = hss.output();
    for (const n of PARTNER_NAMES) assert.ok(!text.includes(n), `HSS log must not name ${n}`);
    const mar = logLines(hss).filter((l) => l.clause === '29.228 §6.3.1');
    assert.ok(mar.length > 0);
    for (const l of mar) {
      assert.equal(l.impi, USER.primary.impi);
      assert.ok(USER.primary.impus.includes(l.impu as never), String(l.impu));
    }
  });

  test('SAR REGISTRATION → SAA 2001 whose User-Data names the partner IMPI and IMPUs only', async () => {
    const answer = await registrar.request(sar(), { timeoutMs: 3000 });
    const saa = readSaa(answer);
    assert.deepEqual(saa.result, { resultCode: 2001 });
    assert.equal(saa.userName, USER.partner.impi);
    const xml = (saa.userData as Buffer).toString('utf8');
    assert.match(xml, new RegExp(`<PrivateID>${USER.partner.impi}</PrivateID>`));
    for (const impu of USER.partner.impus) assert.ok(xml.includes(`<Identity>${impu}</Identity>`), impu);
    assertNames(answer, PRIMARY_NAMES, 'the SAA toward the registrar');
  });

  test('resync (33.102 §6.3.5) through both agents: RAND‖AUTS for the primary K resets the HSS, the next vector is fresh', async () => {
    // A USIM that accepted SEQ 5000 in every IND slot: the HSS's next vector is a replay to it.
    const usim = new SeqMsArray();
    for (let ind = 0; ind < 32; ind++) usim.accept(makeSqn(5000n, ind));
    const challenge = openFirst(await registrar.request(mar(), { timeoutMs: 3000 }));
    assert.ok(challenge.macValid);
    assert.equal(usim.check(challenge.sqn), 'replay');
    const auts = buildAuts(USIM, challenge.rand, usim.highestSqn());
    const answer = await registrar.request(mar({ authorization: Buffer.concat([challenge.rand, auts]) }), { timeoutMs: 3000 });
    assert.deepEqual(readMaa(answer).result, { resultCode: 2001 });
    const next = openFirst(answer);
    assert.ok(next.macValid);
    assert.equal(usim.check(next.sqn), 'fresh', 'the USIM accepts the vector after resync');
    assert.equal(seqOf(next.sqn), 5001n);
    await hss.waitFor(/resync: SEQ_HE set from SQN_MS/, 2000);
  });

  test('unmapped partner IMPI → Experimental-Result 5001 from the MMS, nothing reaches the relay', async () => {
    const arrivals = (l: Record<string, unknown>): boolean => l.step === 5;
    const before = (await waitForLines(relay, arrivals)).length;
    const answer = await registrar.request(mar({ impi: 'nobody@partner.example', impu: 'sip:nobody@partner.example' }), { timeoutMs: 3000 });
    assert.deepEqual(readCxResult(answer), { experimentalResult: { vendorId: 10415, code: 5001 } });
    // A mapped MAR after it: once its arrival is logged, the unmapped one would have been logged before.
    assert.deepEqual(readCxResult(await registrar.request(mar(), { timeoutMs: 3000 })), { resultCode: 2001 });
    assert.equal((await waitForLines(relay, arrivals, before + 1)).length, before + 1);
  });

  test('admin API: GET lists the file\'s mapping, DELETE makes the user unknown (5001), POST brings it back (2001)', async () => {
    const listed = await adminRequest<{ mappings: Array<{ partner_impi: string; impus: unknown[] }> }>(admin, 'GET', 'admin/v1/mappings');
    assert.deepEqual(listed.mappings.map((m) => [m.partner_impi, m.impus.length]), [[USER.partner.impi, 2]]);
    await adminRequest(admin, 'DELETE', `admin/v1/mappings/${encodeURIComponent(USER.partner.impi)}`);
    assert.deepEqual(readCxResult(await registrar.request(mar(), { timeoutMs: 3000 })), { experimentalResult: { vendorId: 10415, code: 5001 } });
    const mapping = {
      partner_impi: USER.partner.impi, primary_impi: USER.primary.impi, primary_realm: PRIMARY_REALM,
      impus: USER.partner.impus.map((p, i) => ({ partner: p, primary: USER.primary.impus[i] })),
    };
    await adminRequest(admin, 'POST', 'admin/v1/mappings', { json: mapping });
    assert.deepEqual(readCxResult(await registrar.request(mar(), { timeoutMs: 3000 })), { resultCode: 2001 });
    await assert.rejects(adminRequest({ ...admin, token: 'x'.repeat(43) }, 'GET', 'admin/v1/mappings'), (e: unknown) => (e as { status?: number }).status === 401);
  });

  test('SIGTERM: the partner MMS sends DPR to the registrar, prints "mms: stopped", exits 0', async () => {
    const down = registrar.events.next('peerDown', () => true, 10_000);
    assert.equal(await mms.stop('SIGTERM'), 0);
    assert.match((await down).reason, /DPR/);
    assert.match(mms.output(), /mms: stopped/);
  });
});
