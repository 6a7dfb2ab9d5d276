/**
 * TS 29.228 §6.1.2 / TS 29.229 §6.1.3–6.1.4 on the HSS's SAR handler: Result-Code 2001 with a well-formed
 * IMSSubscription User-Data (29.228 Annex D/E) for registration types — not again to the assigned S-CSCF that says it
 * has it (User-Data-Already-Available) — the serving S-CSCF recorded (written only when it changes) and cleared by
 * de-registration, identity errors as Experimental-Result, unknown Server-Assignment-Type → 5004. Then the minimal
 * UAR (§6.1.1) and LIR (§6.1.4) answers that follow from that state.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  CxExperimentalResultCode as X, ServerAssignmentType as SAT, UserDataAlreadyAvailable, buildLir, buildUar, readCxResult, readLia,
  readSaa, readUaa,
} from '../../lib/diameter/cx/index.ts';
import type { Avp } from '../../lib/diameter/codec.ts';
import { requireValue } from '../../lib/diameter/message.ts';
import { imsSubscriptionXml } from '../../hss/user-data.ts';
import { ALICE, BOB, REALM, ROUTING, assertExperimental, assertWellFormedXml, makeHss, sar, wire, type Hss } from './helpers.ts';

const SCSCF = 'sip:scscf.primary.example:5060';

describe('29.228 §6.1.2 SAR → SAA', () => {
  let hss: Hss;
  before(async () => { hss = await makeHss(); });
  after(() => hss.close());

  test('REGISTRATION: 2001, User-Name, User-Data = IMSSubscription with PrivateID and every IMPU; S-CSCF stored', async () => {
    const saa = readSaa(wire(await hss.cx.sar(sar({ serverAssignmentType: SAT.REGISTRATION, serverName: SCSCF }))));
    assert.deepEqual(saa.result, { resultCode: 2001 });
    assert.equal(saa.userName, ALICE.impi);
    const xml = (saa.userData as Buffer).toString('utf8');
    assert.equal(assertWellFormedXml(xml), 'IMSSubscription');
    assert.match(xml, /^<\?xml version="1.0" encoding="UTF-8"\?>/);
    assert.match(xml, new RegExp(`<PrivateID>${ALICE.impi}</PrivateID>`));
    assert.match(xml, /<ServiceProfile>.*<\/ServiceProfile>/);
    for (const impu of ALICE.impus) assert.ok(xml.includes(`<PublicIdentity><BarringIndication>0</BarringIndication><Identity>${impu}</Identity></PublicIdentity>`), impu);
    const s = await hss.ctx.serving.get(ALICE.impi);
    assert.equal(s.state, 'registered');
    assert.equal(s.server_name, SCSCF);
  });

  test('RE_REGISTRATION and UNREGISTERED_USER carry User-Data too; UNREGISTERED_USER may name the user by IMPU only', async () => {
    assert.ok(readSaa(await hss.cx.sar(sar({ serverAssignmentType: SAT.RE_REGISTRATION }))).userData);
    const saa = readSaa(wire(await hss.cx.sar(sar({ userName: undefined, serverAssignmentType: SAT.UNREGISTERED_USER, publicIdentities: [BOB.impus[0] as string] }))));
    assert.deepEqual(saa.result, { resultCode: 2001 });
    assert.equal(saa.userName, BOB.impi);
    assert.match((saa.userData as Buffer).toString(), /<PrivateID>bob@primary.example<\/PrivateID>/);
    assert.equal((await hss.ctx.serving.get(BOB.impi)).state, 'unregistered');
  });

  test('User-Data-Already-Available: the assigned S-CSCF that has the profile gets none on RE_REGISTRATION; NOT_AVAILABLE, another S-CSCF or a first REGISTRATION get it', async () => {
    const { USER_DATA_ALREADY_AVAILABLE: HAS, USER_DATA_NOT_AVAILABLE: NOT } = UserDataAlreadyAvailable;
    const other = 'sip:scscf2.primary.example:5060';
    await hss.cx.sar(sar({ serverAssignmentType: SAT.USER_DEREGISTRATION, serverName: SCSCF }));
    const first = readSaa(wire(await hss.cx.sar(sar({ serverAssignmentType: SAT.REGISTRATION, serverName: SCSCF, userDataAlreadyAvailable: HAS }))));
    assert.ok(first.userData, 'not registered before: the S-CSCF cannot have this registration\'s profile');
    const again = readSaa(wire(await hss.cx.sar(sar({ serverAssignmentType: SAT.RE_REGISTRATION, serverName: SCSCF, userDataAlreadyAvailable: HAS }))));
    assert.deepEqual(again.result, { resultCode: 2001 });
    assert.equal(again.userName, ALICE.impi);
    assert.equal(again.userData, undefined, 'TS 29.228 §6.1.2: the profile is not downloaded again');
    assert.ok(readSaa(await hss.cx.sar(sar({ serverAssignmentType: SAT.RE_REGISTRATION, serverName: SCSCF, userDataAlreadyAvailable: NOT }))).userData);
    assert.ok(readSaa(await hss.cx.sar(sar({ serverAssignmentType: SAT.RE_REGISTRATION, serverName: other, userDataAlreadyAvailable: HAS }))).userData,
      'another S-CSCF than the assigned one gets the profile whatever it says');
    assert.equal((await hss.ctx.serving.get(ALICE.impi)).server_name, other);
  });

  test('a re-registration through the assigned S-CSCF writes nothing to the store (the serving state is unchanged)', async () => {
    await hss.cx.sar(sar({ serverAssignmentType: SAT.REGISTRATION, serverName: SCSCF }));
    const store = hss.store;
    const set = store.set.bind(store);
    const written: string[] = [];
    store.set = (key, ...rest) => {
      written.push(key);
      return set(key, ...rest);
    };
    try {
      await hss.cx.sar(sar({ serverAssignmentType: SAT.RE_REGISTRATION, serverName: SCSCF }));
      assert.deepEqual(written, []);
      await hss.cx.sar(sar({ serverAssignmentType: SAT.RE_REGISTRATION, serverName: 'sip:scscf2.primary.example:5060' }));
      assert.deepEqual(written, [`hss:serving:${ALICE.impi}`], 'a new S-CSCF is written');
    } finally {
      store.set = set;
    }
  });

  for (const [name, type] of [
    ['USER_DEREGISTRATION', SAT.USER_DEREGISTRATION], ['TIMEOUT_DEREGISTRATION', SAT.TIMEOUT_DEREGISTRATION],
    ['ADMINISTRATIVE_DEREGISTRATION', SAT.ADMINISTRATIVE_DEREGISTRATION], ['DEREGISTRATION_TOO_MUCH_DATA', SAT.DEREGISTRATION_TOO_MUCH_DATA],
  ] as const) {
    test(`${name} clears the serving S-CSCF and answers 2001 without User-Data`, async () => {
      await hss.cx.sar(sar({ serverAssignmentType: SAT.REGISTRATION, serverName: SCSCF }));
      const saa = readSaa(wire(await hss.cx.sar(sar({ serverAssignmentType: type }))));
      assert.deepEqual(saa.result, { resultCode: 2001 });
      assert.equal(saa.userData, undefined);
      const s = await hss.ctx.serving.get(ALICE.impi);
      assert.equal(s.server_name, undefined);
      assert.equal(s.state, 'not_registered');
    });
  }

  test('USER_DEREGISTRATION_STORE_SERVER_NAME keeps the S-CSCF with the user unregistered', async () => {
    await hss.cx.sar(sar({ serverAssignmentType: SAT.REGISTRATION, serverName: SCSCF }));
    await hss.cx.sar(sar({ serverAssignmentType: SAT.USER_DEREGISTRATION_STORE_SERVER_NAME, serverName: SCSCF }));
    assert.deepEqual(await hss.ctx.serving.get(ALICE.impi).then((s) => [s.state, s.server_name]), ['unregistered', SCSCF]);
  });

  test('AUTHENTICATION_FAILURE drops the pending name of the MAR but keeps a registered S-CSCF', async () => {
    await hss.cx.sar(sar({ serverAssignmentType: SAT.REGISTRATION, serverName: SCSCF }));
    await hss.ctx.serving.markPending(ALICE.impi, 'sip:other.example');
    await hss.cx.sar(sar({ serverAssignmentType: SAT.AUTHENTICATION_FAILURE }));
    const s = await hss.ctx.serving.get(ALICE.impi);
    assert.equal(s.pending_server_name, undefined);
    assert.equal(s.server_name, SCSCF);
  });

  test('unknown user → 5001, IMPU of another user → 5002 (Experimental-Result, vendor 10415)', async () => {
    assertExperimental(await hss.cx.sar(sar({ userName: 'nobody@primary.example' })), X.ERROR_USER_UNKNOWN);
    assertExperimental(await hss.cx.sar(sar({ publicIdentities: [BOB.impus[0] as string] })), X.ERROR_IDENTITIES_DONT_MATCH);
  });

  test('an unknown Server-Assignment-Type → base 5004 with it in Failed-AVP', async () => {
    const a = wire(await hss.cx.sar(sar({ serverAssignmentType: 42 })));
    assert.deepEqual(readCxResult(a), { resultCode: 5004 });
    assert.equal((requireValue(a, 'Failed-AVP')[0] as Avp).code, 614);
  });

  test('User-Data escapes XML special characters in identities', () => {
    const xml = imsSubscriptionXml('a&b@x.example', ['sip:a&b@x.example;p="<v>"', "tel:+1'2"]);
    assertWellFormedXml(xml);
    assert.match(xml, /a&amp;b@x\.example;p=&quot;&lt;v&gt;&quot;/);
    assert.match(xml, /tel:\+1&apos;2/);
  });
});

describe('29.228 §6.1.1 UAR / §6.1.4 LIR (minimal)', () => {
  let hss: Hss;
  before(async () => { hss = await makeHss(); });
  after(() => hss.close());
  const uar = (over: Partial<Parameters<typeof buildUar>[0]> = {}) => buildUar({
    ...ROUTING, userName: ALICE.impi, publicIdentity: ALICE.impus[0] as string, visitedNetworkIdentifier: REALM, ...over,
  });
  const lir = (impu: string) => buildLir({ ...ROUTING, publicIdentity: impu });

  test('first registration → 2001 FIRST_REGISTRATION; after SAR → 2002 SUBSEQUENT_REGISTRATION with Server-Name', async () => {
    assert.deepEqual(readUaa(wire(await hss.cx.uar(uar()))).result, { experimentalResult: { vendorId: 10415, code: X.FIRST_REGISTRATION } });
    await hss.cx.sar(sar({ serverAssignmentType: SAT.REGISTRATION, serverName: SCSCF }));
    const uaa = readUaa(wire(await hss.cx.uar(uar())));
    assert.deepEqual(uaa.result, { experimentalResult: { vendorId: 10415, code: X.SUBSEQUENT_REGISTRATION } });
    assert.equal(uaa.serverName, SCSCF);
  });

  test('a visited network outside the realm and allowed_partners → 5004 ROAMING_NOT_ALLOWED', async () => {
    assertExperimental(await hss.cx.uar(uar({ visitedNetworkIdentifier: 'elsewhere.example' })), X.ERROR_ROAMING_NOT_ALLOWED);
  });

  test('LIR: registered → 2001 + Server-Name; unknown IMPU → 5001; not registered → 5003', async () => {
    await hss.cx.sar(sar({ serverAssignmentType: SAT.REGISTRATION, serverName: SCSCF }));
    const lia = readLia(wire(await hss.cx.lir(lir(ALICE.impus[1] as string))));
    assert.deepEqual(lia.result, { resultCode: 2001 });
    assert.equal(lia.serverName, SCSCF);
    assertExperimental(await hss.cx.lir(lir('sip:nobody@primary.example')), X.ERROR_USER_UNKNOWN);
    assertExperimental(await hss.cx.lir(lir(BOB.impus[0] as string)), X.ERROR_IDENTITY_NOT_REGISTERED);
  });
});
