/**
 * DESIGN §2.7, issue #11: the primary MMS's binding API (HTTPS, mutual TLS; the primary MMS a process of the testbed)
 * takes only a client certificate naming an MMS of the `partner_realm` asked for (`mcx://<partner realm>/mms`).
 * The partner registrar's or IdMS's certificate — same partner CA — gets 403 `untrusted_partner` and no binding (the
 * Cx gate still refuses the user); the partner MMS's gets 200 (positive control) but not for another realm; a
 * static-only user is not bound (403 `migration_not_allowed`).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readCxResult } from '../../lib/diameter/cx/index.ts';
import type { DiameterNode } from '../../lib/diameter/node.ts';
import { startMigrationTestbed, type MigrationTestbed } from '../e2e/migration-testbed.ts';
import { PARTNER_REALM, PRIMARY_REALM, bindingCall, dynamicUser, partnerLeaf, partnerNode, primaryMar, secondPartnerMms, staticUser, type Material } from './helpers.ts';

const alice = staticUser();
const carol = dynamicUser();
const BINDINGS = '/migration/v1/bindings';

describe('design §2.7 the binding API takes only a partner MMS certificate of the realm asked for', () => {
  let tb: MigrationTestbed;
  let mms: Material;
  const nodes: DiameterNode[] = [];

  const body = (mcpttId: string, realm = PARTNER_REALM) => {
    const id = `mig-${randomBytes(6).toString('hex')}@${realm}`;
    return { mcptt_id: mcpttId, partner_realm: realm, partner_impi: id, partner_impus: [`sip:${id}`], expires_at: new Date(Date.now() + 600_000).toISOString() };
  };

  before(async () => {
    tb = await startMigrationTestbed([alice, carol]);
    mms = await partnerLeaf(tb, 'mms');
  });
  after(async () => {
    for (const n of nodes) await n.close();
    await tb?.close();
  });

  test('the partner registrar\'s (or IdMS\'s) certificate → 403 untrusted_partner and no binding; the partner MMS\'s → 200', async () => {
    const mms2 = await secondPartnerMms(tb);
    const cx = await partnerNode(mms2.host, mms2.tls, tb.addresses.primaryMms, `mms.${PRIMARY_REALM}`, nodes);
    const carolMar = () => cx.request(primaryMar(carol, { host: mms2.host, realm: PARTNER_REALM }), { timeoutMs: 3000 });
    for (const role of ['registrar', 'idms'] as const) {
      const r = await bindingCall(tb.addresses.bindingApi, await partnerLeaf(tb, role), 'POST', BINDINGS, body(carol.mcpttId));
      assert.equal(r.status, 403, JSON.stringify(r.json));
      assert.equal(r.json.error, 'untrusted_partner');
      assert.match(String(r.json.error_description), new RegExp(`mcx://partner\\.example/${role}\\) is not an MMS of partner realm partner\\.example`));
      const del = await bindingCall(tb.addresses.bindingApi, await partnerLeaf(tb, role), 'DELETE', `${BINDINGS}/x@${PARTNER_REALM}?partner_realm=${PARTNER_REALM}`);
      assert.equal(del.status, 403);
    }
    assert.deepEqual(readCxResult(await carolMar()).experimentalResult, { vendorId: 10415, code: 5001 }, 'no binding was created');
    assert.match(tb.output('primary-mms'), /403 untrusted_partner/);
    // Positive control: the partner MMS certificate binds carol, and the Cx gate lets her through.
    const ok = await bindingCall(tb.addresses.bindingApi, mms, 'POST', BINDINGS, body(carol.mcpttId));
    assert.equal(ok.status, 200, JSON.stringify(ok.json));
    assert.deepEqual([ok.json.primary_impi, ok.json.primary_realm], [carol.impi, PRIMARY_REALM]);
    assert.deepEqual(readCxResult(await carolMar()), { resultCode: 2001 });
  });

  test('a partner MMS certificate asking for another partner realm → 403 untrusted_partner', async () => {
    const r = await bindingCall(tb.addresses.bindingApi, mms, 'POST', BINDINGS, body(carol.mcpttId, 'other.example'));
    assert.equal(r.status, 403, JSON.stringify(r.json));
    assert.equal(r.json.error, 'untrusted_partner');
    assert.equal((await bindingCall(tb.addresses.bindingApi, mms, 'POST', BINDINGS, body(carol.mcpttId))).status, 200, 'its own realm still binds');
  });

  test('a static-only user is not bound (403 migration_not_allowed), like an unknown one; a dynamic one is', async () => {
    for (const id of [alice.mcpttId, 'sip:nobody@mcptt.primary.example']) {
      const r = await bindingCall(tb.addresses.bindingApi, mms, 'POST', BINDINGS, body(id));
      assert.equal(r.status, 403, JSON.stringify(r.json));
      assert.equal(r.json.error, 'migration_not_allowed');
    }
    assert.equal((await bindingCall(tb.addresses.bindingApi, mms, 'POST', BINDINGS, body(carol.mcpttId))).status, 200);
  });
});
