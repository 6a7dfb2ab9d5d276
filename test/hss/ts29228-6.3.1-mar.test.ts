/**
 * TS 29.228 §6.3.1 / TS 29.229 §6.1.7–6.1.8 on the HSS's MAR handler, without sockets: n vectors that a USIM with
 * the subscriber's key accepts, the identity checks (Experimental-Result 5001/5002, vendor 10415), scheme choice
 * (5006), SIP Digest HA1, SIP-Number-Auth-Items bounds, malformed RAND‖AUTS (5004 with Failed-AVP), pending
 * Server-Name.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { Milenage, SeqMsArray, openAutn } from '../../lib/aka/index.ts';
import type { Avp } from '../../lib/diameter/codec.ts';
import { CxExperimentalResultCode as X, cxRequest, readCxResult, readMaa } from '../../lib/diameter/cx/index.ts';
import { findAvp, getValue, requireValue } from '../../lib/diameter/message.ts';
import { ALICE, BOB, CAROL, K, OP, OPC, REALM, ROUTING, assertExperimental, makeHss, mar, wire, type Hss } from './helpers.ts';

const hex = (s: string) => Buffer.from(s, 'hex');

describe('29.228 §6.3.1 MAR → MAA (AKA)', () => {
  let hss: Hss;
  before(async () => { hss = await makeHss(); });
  after(() => hss.close());

  test('SIP-Number-Auth-Items 3 → 3 items; each AUTN opens with the subscriber key, SQNs strictly increase, RANDs differ', async () => {
    const maa = readMaa(wire(await hss.cx.mar(mar({ numberAuthItems: 3 }))));
    assert.deepEqual(maa.result, { resultCode: 2001 });
    assert.equal(maa.userName, ALICE.impi);
    assert.equal(maa.publicIdentity, ALICE.impus[0]);
    assert.equal(maa.numberAuthItems, 3);
    assert.deepEqual(maa.items.map((i) => i.itemNumber), [1, 2, 3]);
    const usim = new Milenage(hex(K), hex(OPC));
    const seqMs = new SeqMsArray();
    let last = -1n;
    for (const item of maa.items) {
      assert.equal(item.scheme, 'Digest-AKAv1-MD5');
      const ra = item.authenticate as Buffer;
      assert.equal(ra.length, 32, 'SIP-Authenticate = RAND(16)‖AUTN(16)');
      const [rand, autn] = [ra.subarray(0, 16), ra.subarray(16)];
      const opened = openAutn(usim, rand, autn);
      assert.ok(opened.macValid, 'MAC-A verifies with K/OPc');
      assert.equal(opened.amf.toString('hex'), '0000', 'default AMF 0000');
      assert.ok(opened.sqn > last, 'SQNs strictly increasing');
      last = opened.sqn;
      assert.equal(seqMs.check(opened.sqn), 'fresh', 'a new USIM accepts it (SEQ ≥ 1)');
      seqMs.accept(opened.sqn);
      const keys = usim.f2345(rand);
      assert.deepEqual(item.authorization, keys.res, 'SIP-Authorization = XRES');
      assert.deepEqual(item.ck, keys.ck);
      assert.deepEqual(item.ik, keys.ik);
    }
    assert.equal(new Set(maa.items.map((i) => (i.authenticate as Buffer).subarray(0, 16).toString('hex'))).size, 3, 'distinct RANDs');
    assert.equal(hss.ctx.stats.get('vectors_issued'), 3);
  });

  test('a later MAR continues above every SQN already issued', async () => {
    const first = readMaa(await hss.cx.mar(mar({ numberAuthItems: 2 })));
    const second = readMaa(await hss.cx.mar(mar()));
    const usim = new Milenage(hex(K), hex(OPC));
    const sqn = (i: (typeof first.items)[number]) => openAutn(usim, (i.authenticate as Buffer).subarray(0, 16), (i.authenticate as Buffer).subarray(16)).sqn;
    assert.ok(sqn(second.items[0] as (typeof first.items)[number]) > sqn(first.items[1] as (typeof first.items)[number]));
  });

  test('SIP-Number-Auth-Items above the cap gets 5 vectors; 0 gets 1', async () => {
    assert.equal(readMaa(await hss.cx.mar(mar({ numberAuthItems: 50 }))).items.length, 5);
    assert.equal(readMaa(await hss.cx.mar(mar({ numberAuthItems: 0 }))).items.length, 1);
  });

  test('OP is converted to OPc at provisioning and the subscriber AMF (8000) is carried in AUTN', async () => {
    const maa = readMaa(await hss.cx.mar(mar({ userName: BOB.impi, publicIdentity: BOB.impus[0] })));
    const ra = maa.items[0]?.authenticate as Buffer;
    const opened = openAutn(Milenage.fromOp(hex(K), hex(OP)), ra.subarray(0, 16), ra.subarray(16));
    assert.ok(opened.macValid);
    assert.equal(opened.amf.toString('hex'), '8000');
    const stored = await hss.ctx.subscribers.get(BOB.impi);
    assert.equal(stored?.opc, OPC);
    assert.equal((stored as unknown as Record<string, unknown>).op, undefined, 'OP is not stored');
  });

  test('Digest-AKAv2-MD5 is answered with the same vector layout under its own scheme name', async () => {
    const maa = readMaa(await hss.cx.mar(mar({ scheme: 'Digest-AKAv2-MD5' })));
    assert.equal(maa.items[0]?.scheme, 'Digest-AKAv2-MD5');
  });

  test('scheme Unknown: the HSS picks Digest-AKAv1-MD5 for an ISIM subscriber', async () => {
    assert.equal(readMaa(await hss.cx.mar(mar({ scheme: 'Unknown' }))).items[0]?.scheme, 'Digest-AKAv1-MD5');
  });

  test('Server-Name of the MAR is recorded as the pending S-CSCF', async () => {
    await hss.cx.mar(mar({ serverName: 'sip:scscf9.partner.example' }));
    const s = await hss.ctx.serving.get(ALICE.impi);
    assert.equal(s.pending_server_name, 'sip:scscf9.partner.example');
    assert.equal(s.server_name, undefined, 'a MAR does not assign');
  });
});

describe('29.228 §6.3.1 MAR errors: Experimental-Result with Vendor-Id 10415, never base Result-Code', () => {
  let hss: Hss;
  before(async () => { hss = await makeHss(); });
  after(() => hss.close());

  test('unknown IMPI → 5001 DIAMETER_ERROR_USER_UNKNOWN', async () => {
    const a = await hss.cx.mar(mar({ userName: 'mallory@primary.example' }));
    assertExperimental(a, X.ERROR_USER_UNKNOWN);
    assert.equal(getValue(a, 'Result-Code'), undefined);
    assert.equal(a.flags.error, false, 'an Experimental-Result answer is not an E-bit answer');
  });

  test('IMPU unknown to the HSS → 5001 (both identities must exist)', async () => {
    assertExperimental(await hss.cx.mar(mar({ publicIdentity: 'sip:nobody@primary.example' })), X.ERROR_USER_UNKNOWN);
  });

  test('IMPU of another IMPI → 5002 DIAMETER_ERROR_IDENTITIES_DONT_MATCH', async () => {
    assertExperimental(await hss.cx.mar(mar({ publicIdentity: BOB.impus[0] })), X.ERROR_IDENTITIES_DONT_MATCH);
  });

  test('NASS-Bundled, or AKA for a password-only user, or SIP Digest for an ISIM-only user → 5006', async () => {
    assertExperimental(await hss.cx.mar(mar({ scheme: 'NASS-Bundled' })), X.ERROR_AUTH_SCHEME_NOT_SUPPORTED);
    assertExperimental(await hss.cx.mar(mar({ userName: CAROL.impi, publicIdentity: CAROL.impus[0] })), X.ERROR_AUTH_SCHEME_NOT_SUPPORTED);
    assertExperimental(await hss.cx.mar(mar({ scheme: 'SIP Digest' })), X.ERROR_AUTH_SCHEME_NOT_SUPPORTED);
  });

  test('SIP-Authorization that is not RAND(16)‖AUTS(14) → base 5004 with the offending AVP in Failed-AVP', async () => {
    const a = wire(await hss.cx.mar(mar({ authorization: Buffer.alloc(29, 7) })));
    assert.deepEqual(readCxResult(a), { resultCode: 5004 });
    const failed = requireValue(a, 'Failed-AVP');
    const item = requireValue(failed, 'SIP-Auth-Data-Item');
    assert.deepEqual(getValue(item, 'SIP-Authorization'), Buffer.alloc(29, 7));
    assert.equal(hss.ctx.stats.get('vectors_issued'), 0, 'nothing issued');
  });

  test('a MAR without Public-Identity → base 5005 DIAMETER_MISSING_AVP naming it in Failed-AVP', async () => {
    const req = mar();
    const pi = findAvp(req, 'Public-Identity') as Avp;
    req.avps = req.avps.filter((x) => x !== pi);
    const a = wire(await hss.cx.mar(req));
    assert.deepEqual(readCxResult(a), { resultCode: 5005 });
    assert.equal((requireValue(a, 'Failed-AVP')[0] as Avp).code, 601);
  });
});

describe('29.228 §6.3.1 MAR with SIP Digest (RFC 2617 / RFC 8760 HA1)', () => {
  let hss: Hss;
  before(async () => { hss = await makeHss(); });
  after(() => hss.close());
  const md5 = (s: string) => createHash('md5').update(s, 'utf8').digest('hex');
  const sha256 = (s: string) => createHash('sha256').update(s, 'utf8').digest('hex');

  for (const scheme of ['SIP Digest', 'Unknown']) {
    test(`scheme ${scheme}: SIP-Digest-Authenticate with realm, MD5, qop auth, HA1 = MD5(user:realm:password)`, async () => {
      const a = wire(await hss.cx.mar(mar({ userName: CAROL.impi, publicIdentity: CAROL.impus[0], scheme, numberAuthItems: 3 })));
      const maa = readMaa(a);
      assert.deepEqual(maa.result, { resultCode: 2001 });
      assert.equal(maa.items.length, 1);
      assert.equal(maa.items[0]?.scheme, 'SIP Digest');
      assert.deepEqual(maa.items[0]?.digest, { realm: REALM, algorithm: 'MD5', qop: 'auth', ha1: md5(`${CAROL.impi}:${REALM}:${CAROL.password}`) });
    });
  }

  test('Digest-Algorithm SHA-256 in the MAR item selects HA1-SHA-256; an unknown algorithm → 5006', async () => {
    const ask = (algorithm: string) => cxRequest('MAR', ROUTING, [
      ['User-Name', CAROL.impi], ['Public-Identity', CAROL.impus[0] as string],
      ['SIP-Auth-Data-Item', [['SIP-Authentication-Scheme', 'SIP Digest'], ['Digest-Algorithm', algorithm]]],
      ['SIP-Number-Auth-Items', 1], ['Server-Name', 'sip:scscf.partner.example'],
    ]);
    const maa = readMaa(wire(await hss.cx.mar(ask('SHA-256'))));
    assert.deepEqual(maa.items[0]?.digest, { realm: REALM, algorithm: 'SHA-256', qop: 'auth', ha1: sha256(`${CAROL.impi}:${REALM}:${CAROL.password}`) });
    assertExperimental(await hss.cx.mar(ask('SHA-512-256')), X.ERROR_AUTH_SCHEME_NOT_SUPPORTED);
  });

  test('the password itself is stored nowhere', async () => {
    const rec = await hss.ctx.subscribers.get(CAROL.impi);
    assert.ok(rec?.ha1);
    assert.ok(!JSON.stringify(rec).includes(CAROL.password));
    for (const key of await hss.store.keys('')) assert.ok(!JSON.stringify(await hss.store.get(key)).includes(CAROL.password), key);
  });
});
