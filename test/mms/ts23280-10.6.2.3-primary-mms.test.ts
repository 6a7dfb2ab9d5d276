/**
 * The §10.6.2.3 Cx path with every role its own process (test/e2e/migration-testbed.ts), at the Diameter level: a
 * stand-in for the partner registrar sends MAR/SAR for a dynamically bound user → partner MMS → (mutual TLS)
 * primary MMS → relay ("via SIP core / IMS") → HSS → back; the primary-side roles log the §10.6.2.3 steps; the
 * primary MMS's gate answers a partner without a binding itself (5001, nothing reaches the relay); SIGTERM → DPR.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { issueLeaf } from '../../certs/issue-leaf.ts';
import { loadTlsMaterial } from '../../certs/layout.ts';
import { Milenage, openAutn } from '../../lib/aka/index.ts';
import { buildMar, buildSar, readCxResult, readMaa, readSaa, ServerAssignmentType, UserDataAlreadyAvailable } from '../../lib/diameter/cx/index.ts';
import { getValue } from '../../lib/diameter/message.ts';
import { CX_APPLICATION, DiameterNode } from '../../lib/diameter/node.ts';
import { endMigration } from '../../ue-client/idm-client.ts';
import type { Migration } from '../../ue-client/migrate.ts';
import { PARTNER_REALM, PRIMARY_REALM, migrate, startMigrationTestbed, subscriber, type MigrationTestbed } from '../e2e/migration-testbed.ts';
import { seedSteps, waitForLines } from './testbed.ts';

const alice = subscriber('alice');
const bob = subscriber('bob');
const REGISTRAR = `registrar-cx.${PARTNER_REALM}`;

describe('TS 23.280 §10.6.2.3 Cx path: partner MMS → primary MMS (binding gate) → relay → HSS', () => {
  let tb: MigrationTestbed;
  let registrar: DiameterNode;
  let m: Migration;
  let sessions = 0;
  const nodes: DiameterNode[] = [];
  let probeNode: DiameterNode | undefined;

  const mar = (impi: string, impu: string, n = 1, origin = { host: REGISTRAR, realm: PARTNER_REALM }, destinationRealm = PARTNER_REALM) => buildMar({
    sessionId: `${origin.host};1;${++sessions}`, originHost: origin.host, originRealm: origin.realm, destinationRealm,
    userName: impi, publicIdentity: impu, serverName: `sip:${REGISTRAR}`, numberAuthItems: n, scheme: 'Digest-AKAv1-MD5',
  });

  before(async () => {
    tb = await startMigrationTestbed([alice, bob]);
    m = await migrate(tb, alice);
    registrar = new DiameterNode({ originHost: REGISTRAR, originRealm: PARTNER_REALM, applications: [CX_APPLICATION] });
    nodes.push(registrar);
    registrar.addPeer({ host: '127.0.0.1', port: tb.addresses.partnerMms });
    await registrar.waitForPeer({ originHost: `mms.${PARTNER_REALM}` }, 10_000);
  });
  after(async () => {
    for (const n of nodes) await n.close();
    await tb?.close();
  });

  test('MAR → MAA 2001 through both MMSs: 3 vectors that open with the primary key, partner identities toward the registrar', async () => {
    const c = m.configuration;
    const maa = readMaa(await registrar.request(mar(c.partner_impi, c.partner_impus[0] as string, 3), { timeoutMs: 3000 }));
    assert.deepEqual(maa.result, { resultCode: 2001 });
    assert.deepEqual([maa.userName, maa.publicIdentity, maa.items.length], [c.partner_impi, c.partner_impus[0], 3]);
    const usim = Milenage.fromOp(Buffer.from(alice.k, 'hex'), Buffer.from(alice.op, 'hex'));
    for (const item of maa.items) {
      const ra = item.authenticate as Buffer;
      assert.ok(openAutn(usim, ra.subarray(0, 16), ra.subarray(16)).macValid);
    }
  });

  test('the primary-side roles log §10.6.2.3: primary MMS 5,6,7,8; relay (via SIP core/IMS) 6,7; HSS 6,7', async () => {
    const [primary, relay, hss] = [tb.role('primary-mms'), tb.role('relay'), tb.role('hss')];
    await Promise.all([[primary, 8], [relay, 7], [hss, 7]].map(([p, n]) => waitForLines(p as typeof primary, (l) => l.step === n)));
    assert.deepEqual(seedSteps(primary).slice(0, 4), [[5, 'partner-mms', 'dynamic'], [6, 'primary-mms', 'dynamic'], [7, 'hss', 'dynamic'], [8, 'primary-mms', 'dynamic']]);
    assert.deepEqual(seedSteps(relay).slice(0, 2), [[6, 'primary-mms', 'dynamic'], [7, 'hss', 'dynamic']]);
    assert.deepEqual(seedSteps(hss).slice(0, 2), [[6, 'primary-mms', 'dynamic'], [7, 'hss', 'dynamic']]);
  });

  test('SAR → SAA 2001 through both MMSs, User-Data with the partner identities only', async () => {
    const c = m.configuration;
    const saa = readSaa(await registrar.request(buildSar({
      sessionId: `${REGISTRAR};1;${++sessions}`, originHost: REGISTRAR, originRealm: PARTNER_REALM, destinationRealm: PARTNER_REALM,
      userName: c.partner_impi, publicIdentities: c.partner_impus, serverName: `sip:${REGISTRAR}`,
      serverAssignmentType: ServerAssignmentType.REGISTRATION, userDataAlreadyAvailable: UserDataAlreadyAvailable.USER_DATA_NOT_AVAILABLE,
    }), { timeoutMs: 3000 }));
    assert.deepEqual(saa.result, { resultCode: 2001 });
    const xml = (saa.userData as Buffer).toString('utf8');
    assert.match(xml, new RegExp(`<PrivateID>${c.partner_impi}</PrivateID>`));
    assert.ok(!xml.includes(alice.impi) && !xml.includes(alice.impus[1] as string), 'no primary identity in the partner profile');
  });

  test('the gate: a partner MAR for an unbound subscriber straight at the primary MMS → 5001 from the primary MMS, nothing relayed', async () => {
    // A second partner MMS (its own leaf from `certs issue`: across systems only MMS certificates are admitted).
    const probe = `mms2.${PARTNER_REALM}`;
    const leaf = await issueLeaf({ dir: tb.pki, system: 'partner', role: 'mms', name: probe });
    const peer = new DiameterNode({ originHost: probe, originRealm: PARTNER_REALM, applications: [CX_APPLICATION] });
    nodes.push(peer);
    const ca = (await loadTlsMaterial(tb.pki, 'partner', 'mms', ['primary'])).ca;
    const file = (f: string) => readFile(join(tb.pki, f), 'utf8');
    peer.addPeer({ host: '127.0.0.1', port: tb.addresses.primaryMms, tls: { cert: await file(leaf.cert), key: await file(leaf.key), ca } });
    await peer.waitForPeer({ originHost: `mms.${PRIMARY_REALM}` }, 10_000);
    const relayed = tb.output('relay').length;
    const origin = { host: probe, realm: PARTNER_REALM };
    const answer = await peer.request(mar(bob.impi, bob.impus[0] as string, 1, origin, PRIMARY_REALM), { timeoutMs: 3000 });
    assert.deepEqual(readCxResult(answer).experimentalResult, { vendorId: 10415, code: 5001 });
    assert.equal(getValue(answer, 'Origin-Host'), `mms.${PRIMARY_REALM}`, 'answered by the primary MMS itself');
    assert.ok(!tb.output('relay').slice(relayed).includes(bob.impi), 'the relay saw nothing of it');
    // Alice is bound toward this partner: its node gets through; the same node naming another realm is refused before
    // the gate (an Origin-Realm that is not the peer's own, lib/diameter/admission.ts).
    const aliceMar = (realm: string) => mar(alice.impi, alice.impus[0] as string, 1, { host: probe, realm }, PRIMARY_REALM);
    assert.deepEqual(readCxResult(await peer.request(aliceMar(PARTNER_REALM), { timeoutMs: 3000 })), { resultCode: 2001 });
    assert.deepEqual(readCxResult(await peer.request(aliceMar('other.example'), { timeoutMs: 3000 })), { resultCode: 5012 });
    probeNode = peer;
  });

  test('after DELETE the primary MMS itself refuses the user (5001), not only the partner MMS', async () => {
    await endMigration({ mms: tb.addresses.migrationApi, accessToken: m.partnerAccessToken, ca: tb.ca.partner, id: m.configuration.id });
    await tb.role('primary-mms').waitFor(/migration binding ended/, 5000);
    const answer = await (probeNode as DiameterNode).request(mar(alice.impi, alice.impus[0] as string, 1, { host: `mms2.${PARTNER_REALM}`, realm: PARTNER_REALM }, PRIMARY_REALM), { timeoutMs: 3000 });
    assert.deepEqual(readCxResult(answer).experimentalResult, { vendorId: 10415, code: 5001 });
    assert.equal(getValue(answer, 'Origin-Host'), `mms.${PRIMARY_REALM}`);
  });

  test('SIGTERM: the primary MMS sends DPR to its neighbours and exits 0', async () => {
    const primary = tb.role('primary-mms');
    assert.equal(await primary.stop('SIGTERM'), 0);
    assert.match(primary.output(), /mms: stopped/);
    assert.match(tb.output('relay'), /DPR received, DPA sent/);
  });
});
