/**
 * DESIGN §2.3 "allowed partner systems (for migration)", held by the HSS itself on every request that hands out
 * vectors or the profile, whatever agent the request came through: a MAR or a registering SAR whose Origin-Realm is
 * neither the home realm nor in the subscriber's `allowed_partners` → Experimental-Result 5004
 * DIAMETER_ERROR_ROAMING_NOT_ALLOWED (TS 29.229 Table 6.2.2; the check TS 29.228 §6.1.1 makes for the UAR, applied
 * to MAR and SAR too — our [design]; the registrar answers 403), no SQN spent; a de-registration
 * from that realm still clears state; taking a partner off the list stops its next MAR at once.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { CxExperimentalResultCode as X, ServerAssignmentType as SAT, readMaa, readSaa } from '../../lib/diameter/cx/index.ts';
import { ALICE, REALM, assertExperimental, makeHss, mar, sar, wire, type Hss } from './helpers.ts';

let hss: Hss;
before(async () => {
  hss = await makeHss();
});
after(() => hss?.close());

const from = (realm: string) => ({ originHost: `scscf.${realm}`, originRealm: realm, sessionId: `scscf.${realm};1;${Math.random()}` });

test('MAR from an allowed partner → vectors; from another realm → 5004 without spending an SQN; from the home realm → vectors', async () => {
  assert.equal(readMaa(wire(await hss.cx.mar(mar()))).items.length, 1, 'partner.example is in allowed_partners');
  const before = hss.ctx.stats.get('vectors_issued');
  assertExperimental(await hss.cx.mar(mar(from('elsewhere.example'))), X.ERROR_ROAMING_NOT_ALLOWED);
  assert.equal(hss.ctx.stats.get('vectors_issued'), before, 'no vector, no SQN for a realm the subscription does not allow');
  assert.equal(readMaa(wire(await hss.cx.mar(mar(from(REALM))))).items.length, 1, 'the home network needs no entry');
});

test('SAR REGISTRATION / NO_ASSIGNMENT from another realm → 5004 (no profile); USER_DEREGISTRATION from it → 2001', async () => {
  for (const t of [SAT.REGISTRATION, SAT.NO_ASSIGNMENT]) {
    assertExperimental(await hss.cx.sar(sar({ ...from('elsewhere.example'), serverAssignmentType: t })), X.ERROR_ROAMING_NOT_ALLOWED);
  }
  assert.deepEqual(readSaa(wire(await hss.cx.sar(sar({ ...from('elsewhere.example'), serverAssignmentType: SAT.USER_DEREGISTRATION })))).result, { resultCode: 2001 });
});

test('taking the partner off allowed_partners stops its very next MAR (revocation needs no agent in front of the HSS)', async () => {
  await hss.ctx.subscribers.put({ ...ALICE, allowed_partners: [] }, { replace: true });
  assertExperimental(await hss.cx.mar(mar()), X.ERROR_ROAMING_NOT_ALLOWED);
  await hss.ctx.subscribers.put(ALICE, { replace: true });
  assert.equal(readMaa(wire(await hss.cx.mar(mar()))).items.length, 1);
});
