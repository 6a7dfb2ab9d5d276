/**
 * The §10.6.2.3 path with the primary MMS in it, each role its own process: registrar → partner MMS → (mutual TLS)
 * primary MMS → relay (the "via SIP core / IMS") → HSS → back. The primary MMS is a pass-through at this stage (the
 * binding API comes with the dynamic configuration), so the partner MMS still maps from its static file; what this
 * checks is the path, the TLS on it, and the steps the primary-side roles log for §10.6.2.3.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { openAutn } from '../../lib/aka/index.ts';
import { readMaa, readSaa } from '../../lib/diameter/cx/index.ts';
import type { DiameterNode } from '../../lib/diameter/node.ts';
import { Testbed, USER, USIM, seedSteps, waitForLines, type Role } from './testbed.ts';

describe('TS 23.280 §10.6.2.3 path: partner MMS → primary MMS (pass-through) → relay → HSS', () => {
  let tb: Testbed;
  let hss: Role;
  let relay: Role;
  let primary: Role;
  let partner: Role;
  let registrar: DiameterNode;

  before(async () => {
    tb = await Testbed.create('mms-primary');
    hss = await tb.hss();
    relay = await tb.relay(hss.port);
    primary = await tb.primaryMms(relay.port);
    partner = await tb.partnerMms(primary.port);
    registrar = await tb.registrar(partner.port);
    await registrar.waitForPeer({ originHost: 'mms.partner.example' }, 10_000);
    await partner.proc.waitFor(/route to primary\.example: mms\.primary\.example/, 10_000);
    await primary.proc.waitFor(/route to primary\.example: relay\.primary\.example/, 10_000);
  });
  after(() => tb?.close());

  test('MAR → MAA 2001 through both MMSs: vectors open with the primary key, partner identities at the registrar', async () => {
    const maa = readMaa(await registrar.request(tb.mar({ n: 3 }), { timeoutMs: 3000 }));
    assert.deepEqual(maa.result, { resultCode: 2001 });
    assert.deepEqual([maa.userName, maa.publicIdentity, maa.items.length], [USER.partner.impi, USER.partner.impus[0], 3]);
    for (const item of maa.items) {
      const ra = item.authenticate as Buffer;
      assert.ok(openAutn(USIM, ra.subarray(0, 16), ra.subarray(16)).macValid);
    }
  });

  test('the primary-side roles log §10.6.2.3: primary MMS 5,6,7,8; relay (via SIP core/IMS) 6,7; HSS 6,7', async () => {
    await Promise.all([[primary, 8], [relay, 7], [hss, 7]].map(([r, n]) => waitForLines((r as Role).proc, (l) => l.step === n)));
    assert.deepEqual(seedSteps(primary.proc).slice(0, 4), [
      [5, 'partner-mms', 'dynamic'], [6, 'primary-mms', 'dynamic'], [7, 'hss', 'dynamic'], [8, 'primary-mms', 'dynamic']]);
    assert.deepEqual(seedSteps(relay.proc).slice(0, 2), [[6, 'primary-mms', 'dynamic'], [7, 'hss', 'dynamic']]);
    assert.deepEqual(seedSteps(hss.proc).slice(0, 2), [[6, 'primary-mms', 'dynamic'], [7, 'hss', 'dynamic']]);
  });

  test('SAR → SAA 2001 through both MMSs, User-Data rewritten to the partner identities', async () => {
    const saa = readSaa(await registrar.request(tb.sar(), { timeoutMs: 3000 }));
    assert.deepEqual(saa.result, { resultCode: 2001 });
    assert.match((saa.userData as Buffer).toString('utf8'), new RegExp(`<PrivateID>${USER.partner.impi}</PrivateID>`));
  });

  test('SIGTERM: the primary MMS sends DPR to both neighbours and exits 0', async () => {
    assert.equal(await primary.proc.stop('SIGTERM'), 0);
    assert.match(primary.proc.output(), /mms: stopped/);
    await partner.proc.waitFor(/DPR received, DPA sent/, 5000);
    await relay.proc.waitFor(/DPR received, DPA sent/, 5000);
  });
});
