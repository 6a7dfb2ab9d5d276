/**
 * DESIGN §2.7, issue #11 part 2: no bypass of the primary MMS. carol may migrate to the partner only by dynamic
 * configuration (`dynamic:<partner realm>`), alice only by static (`static:<partner realm>`). A partner MMS with a
 * valid certificate and its honest realm that sends carol's MAR (or a registering SAR) straight to the primary relay
 * gets Experimental-Result 5004 from the HSS itself — also while carol's binding is live — and no vector; alice's
 * static MAR through the same relay gets its vector; carol through the primary MMS under her live binding gets hers,
 * and once the migration ends she is refused there too. Every role is its own `mcx` process.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { buildMar, readCxResult, readMaa } from '../../lib/diameter/cx/index.ts';
import { getValue } from '../../lib/diameter/message.ts';
import { CX_APPLICATION, DiameterNode } from '../../lib/diameter/node.ts';
import { endMigration } from '../../ue-client/idm-client.ts';
import { migrate, startMigrationTestbed, type MigrationTestbed } from '../e2e/migration-testbed.ts';
import {
  PARTNER_REALM, PRIMARY_REALM, assertNothingHandedOut, dynamicUser, partnerNode, primaryMar, primarySar, secondPartnerMms, staticUser,
} from './helpers.ts';

const alice = staticUser();
const carol = dynamicUser();
const REGISTRAR = `registrar-cx.${PARTNER_REALM}`;

describe('design §2.7 a dynamic-only user is served only through the primary MMS under a live binding', () => {
  let tb: MigrationTestbed;
  const nodes: DiameterNode[] = [];
  let n = 0;

  before(async () => {
    tb = await startMigrationTestbed([alice, carol]);
  });
  after(async () => {
    for (const node of nodes) await node.close();
    await tb?.close();
  });

  test('carol\'s MAR straight through the relay → 5004 from the HSS, no vector; alice through the relay → 2001; carol through the primary MMS → 2001, refused after the binding ends', async () => {
    // The dynamic flow sets up carol's binding (IdM login, token exchange, migration configuration, primary MMS).
    const migration = await migrate(tb, carol);
    const mms2 = await secondPartnerMms(tb);
    const viaRelay = await partnerNode(mms2.host, mms2.tls, tb.addresses.relay, `relay.${PRIMARY_REALM}`, nodes);
    const self = { host: mms2.host, realm: PARTNER_REALM };

    // The bypass: valid partner MMS certificate, honest realm, carol's primary identities, binding live.
    const bypass = await viaRelay.request(primaryMar(carol, self), { timeoutMs: 3000 });
    assert.deepEqual(readCxResult(bypass).experimentalResult, { vendorId: 10415, code: 5004 });
    assert.equal(getValue(bypass, 'Origin-Host'), `hss.${PRIMARY_REALM}`, 'refused by the HSS itself, not only by an agent');
    assertNothingHandedOut(bypass);
    const sar = await viaRelay.request(primarySar(carol, self), { timeoutMs: 3000 });
    assert.deepEqual(readCxResult(sar).experimentalResult, { vendorId: 10415, code: 5004 });
    assertNothingHandedOut(sar);
    assert.match(tb.output('hss'), /MAR: realm not allowed for this subscriber by this path/);

    // Positive control: the static user through the same relay and the same peer.
    const staticMaa = readMaa(await viaRelay.request(primaryMar(alice, self), { timeoutMs: 3000 }));
    assert.deepEqual([staticMaa.result, staticMaa.items.length], [{ resultCode: 2001 }, 1]);

    // Positive control: carol by her partner identity through the partner MMS and the primary MMS (the dynamic path).
    const registrar = new DiameterNode({ originHost: REGISTRAR, originRealm: PARTNER_REALM, applications: [CX_APPLICATION] });
    nodes.push(registrar);
    registrar.addPeer({ host: '127.0.0.1', port: tb.addresses.partnerMms });
    await registrar.waitForPeer({ originHost: `mms.${PARTNER_REALM}` }, 10_000);
    const c = migration.configuration;
    const partnerMar = () => buildMar({
      sessionId: `${REGISTRAR};1;${++n}`, originHost: REGISTRAR, originRealm: PARTNER_REALM, destinationRealm: PARTNER_REALM,
      userName: c.partner_impi, publicIdentity: c.partner_impus[0] as string, serverName: `sip:${REGISTRAR}`, numberAuthItems: 2, scheme: 'Digest-AKAv1-MD5',
    });
    const dynamicMaa = readMaa(await registrar.request(partnerMar(), { timeoutMs: 3000 }));
    assert.deepEqual([dynamicMaa.result, dynamicMaa.items.length], [{ resultCode: 2001 }, 2]);

    // The same second partner MMS straight at the primary MMS, under the binding the real partner MMS made: carol's
    // binding names the partner realm, so the gate lets it through — it is a partner MMS of that realm.
    const viaPrimaryMms = await partnerNode(mms2.host, mms2.tls, tb.addresses.primaryMms, `mms.${PRIMARY_REALM}`, nodes);
    assert.deepEqual(readCxResult(await viaPrimaryMms.request(primaryMar(carol, self), { timeoutMs: 3000 })), { resultCode: 2001 });

    // The migration ends: the partner path, the primary MMS path and the relay path all refuse carol.
    await endMigration({ mms: tb.addresses.migrationApi, accessToken: migration.partnerAccessToken, ca: tb.ca.partner, id: c.id });
    await tb.role('primary-mms').waitFor(/migration binding ended/, 5000);
    const ended = await registrar.request(partnerMar(), { timeoutMs: 3000 });
    assert.deepEqual(readCxResult(ended).experimentalResult, { vendorId: 10415, code: 5001 });
    assertNothingHandedOut(ended);
    const atPrimaryMms = await viaPrimaryMms.request(primaryMar(carol, self), { timeoutMs: 3000 });
    assert.deepEqual(readCxResult(atPrimaryMms).experimentalResult, { vendorId: 10415, code: 5001 });
    assert.equal(getValue(atPrimaryMms, 'Origin-Host'), `mms.${PRIMARY_REALM}`);
    assertNothingHandedOut(atPrimaryMms);
    assert.deepEqual(readCxResult(await viaRelay.request(primaryMar(carol, self), { timeoutMs: 3000 })).experimentalResult, { vendorId: 10415, code: 5004 });
  });
});
