/**
 * TS 23.280 §10.6.2.2 steps 3–10 at the partner MMS, with the Cx MAR/MAA of TS 29.229 §6.1.7/§6.1.8 as "get SIP
 * authentication information" (digest §1.5) and the translation rules of digest §6.8 / DESIGN §2.2: every AVP of the
 * primary-side MAR, the vectors byte-identical both ways (a resync item of digest §6.6 too), the count honoured, and
 * the answer mapped back onto the partner request's identifiers.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { DiameterMessage } from '../../lib/diameter/codec.ts';
import { encodeAvp } from '../../lib/diameter/codec.ts';
import { findAvp, findAvps, getValue, getValues } from '../../lib/diameter/message.ts';
import { readMaa, readMar } from '../../lib/diameter/cx/index.ts';
import { SessionIdGenerator } from '../../lib/diameter/ids.ts';
import { translateAnswer, translateMarRequest } from '../../mms/translate.ts';
import { MmsError } from '../../mms/errors.ts';
import {
  AUTS, MAPPING, PROXY_INFO, RAND, SELF, SUPPORTED_FEATURES, avpHex, hex, partnerMar, primaryMaa, vector, wire,
} from './fixtures.ts';

const sessions = new SessionIdGenerator(SELF.originHost, () => 1_700_000_000_000);

/** The SIP-Auth-Data-Item of digest §6.6, exactly. */
const RESYNC_ITEM = hex(`
  00000264 c0000054 000028af
  00000260 c000001c 000028af 44696765 73742d41 4b417631 2d4d4435
  00000262 c000002a 000028af 23553cbe 9637a89d 218ae64d ae47bf35
  451e8bec a47b7c4a dabf45e7 6f4b0000`);

function names(msg: DiameterMessage): string[] {
  return msg.avps.map((a) => `${a.code}/${a.vendorId ?? 0}`);
}

test('step 4 → 5: the primary-side MAR, every AVP', () => {
  const partner = wire(partnerMar({ resync: true }));
  const leg = translateMarRequest(partner, MAPPING, SELF, sessions.next());
  const out = wire(leg.request);
  assert.deepEqual(out.flags, { request: true, proxiable: true, error: false, retransmit: false });
  assert.equal(out.commandCode, 303);
  assert.equal(out.applicationId, 16777216);
  assert.equal(out.hopByHop, 0, 'the node assigns hop-by-hop');
  assert.equal(out.endToEnd, 0, 'the node assigns a new end-to-end id');
  // Back-to-back: a Session-Id of the MMS, not the partner's.
  const sessionId = getValue(out, 'Session-Id') as string;
  assert.match(sessionId, /^mms\.partner\.example;\d+;\d+$/);
  assert.notEqual(sessionId, getValue(partner, 'Session-Id'));
  assert.equal(out.avps[0]?.code, 263, 'Session-Id first');
  assert.deepEqual(readMar(out), {
    sessionId,
    originHost: 'mms.partner.example',
    originRealm: 'partner.example',
    destinationRealm: 'primary.example',
    userName: 'alice@primary.example',
    publicIdentity: 'sip:alice@primary.example',
    serverName: 'sip:scscf.partner.example:5060',
    numberAuthItems: 3,
    scheme: 'Digest-AKAv1-MD5',
    authorization: Buffer.concat([RAND, AUTS]),
  });
  assert.equal(findAvp(out, 'Destination-Host'), undefined, 'Destination-Host dropped');
  assert.deepEqual(getValues(out, 'Auth-Session-State'), [1]);
  assert.deepEqual(getValue(out, 'Vendor-Specific-Application-Id')?.map((a) => a.data.readUInt32BE(0)), [10415, 16777216]);
  // RAND‖AUTS crosses as the very bytes of digest §6.6, and as the very AVP the partner sent.
  assert.deepEqual(avpHex(out, 'SIP-Auth-Data-Item'), [RESYNC_ITEM.toString('hex')]);
  assert.deepEqual(avpHex(out, 'SIP-Auth-Data-Item'), avpHex(partner, 'SIP-Auth-Data-Item'));
  assert.deepEqual(avpHex(out, 'SIP-Number-Auth-Items'), avpHex(partner, 'SIP-Number-Auth-Items'));
  assert.deepEqual(avpHex(out, 'Supported-Features'), [encodeAvp(SUPPORTED_FEATURES).toString('hex')]);
  // The partner leg's Proxy-Info / Route-Record and an unknown AVP do not cross; nothing else is there.
  assert.deepEqual(names(out), ['263/0', '260/0', '277/0', '264/0', '296/0', '283/0', '1/0', '628/10415', '601/10415', '612/10415', '607/10415', '602/10415']);
  assert.deepEqual(leg.primaryImpus, ['sip:alice@primary.example']);
  assert.equal(leg.requestedItems, 3);
});

test('a plain (non-resync) MAR keeps its item byte-identical too, and the requested count', () => {
  const partner = partnerMar({ n: 1, impu: 'tel:+4930111' });
  const out = wire(translateMarRequest(partner, MAPPING, SELF, sessions.next()).request);
  assert.equal(getValue(out, 'Public-Identity'), 'tel:+4989222');
  assert.equal(getValue(out, 'SIP-Number-Auth-Items'), 1);
  assert.deepEqual(avpHex(out, 'SIP-Auth-Data-Item'), avpHex(partner, 'SIP-Auth-Data-Item'));
  assert.equal(findAvp(getValue(out, 'SIP-Auth-Data-Item') ?? [], 'SIP-Authorization'), undefined);
});

test('topology hiding: Server-Name toward the primary is the MMS SIP URI', () => {
  const leg = translateMarRequest(partnerMar(), MAPPING, { ...SELF, topologyHiding: true }, sessions.next());
  assert.equal(getValue(leg.request, 'Server-Name'), 'sip:mms.partner.example');
  assert.equal(leg.partnerServerName, 'sip:scscf.partner.example:5060');
});

test('IMPU not in the mapping → ERR_MMS_IDENTITIES_DONT_MATCH; another IMPI\'s mapping → ERR_MMS_USER_UNKNOWN', () => {
  assert.throws(() => translateMarRequest(partnerMar({ impu: 'sip:mallory@partner.example' }), MAPPING, SELF, 's'),
    (e: unknown) => e instanceof MmsError && e.code === 'ERR_MMS_IDENTITIES_DONT_MATCH');
  assert.throws(() => translateMarRequest(partnerMar({ impi: 'bob@partner.example' }), MAPPING, SELF, 's'),
    (e: unknown) => e instanceof MmsError && e.code === 'ERR_MMS_USER_UNKNOWN');
});

test('step 9 → 10: the MAA mapped back onto the partner request, vectors byte-identical', () => {
  const partner = partnerMar();
  const leg = translateMarRequest(partner, MAPPING, SELF, sessions.next());
  const primary = wire(primaryMaa(leg.request, 3));
  const { answer, items, result, removedImpus } = translateAnswer(partner, primary, leg, SELF);
  const back = wire(answer);
  assert.deepEqual(back.flags, { request: false, proxiable: true, error: false, retransmit: false });
  assert.equal(back.hopByHop, partner.hopByHop);
  assert.equal(back.endToEnd, partner.endToEnd);
  assert.equal(back.commandCode, 303);
  assert.deepEqual(result, { resultCode: 2001 });
  assert.equal(items, 3);
  assert.deepEqual(removedImpus, []);
  assert.deepEqual(readMaa(back), {
    sessionId: getValue(partner, 'Session-Id'),
    originHost: 'mms.partner.example',
    originRealm: 'partner.example',
    result: { resultCode: 2001 },
    userName: 'alice.mig@partner.example',
    publicIdentity: 'sip:alice.mig@partner.example',
    numberAuthItems: 3,
    items: [vector(1), vector(2), vector(3)],
  });
  assert.deepEqual(avpHex(back, 'SIP-Auth-Data-Item'), avpHex(primary, 'SIP-Auth-Data-Item'));
  assert.deepEqual(avpHex(back, 'Proxy-Info'), [encodeAvp(PROXY_INFO).toString('hex')], 'the partner leg\'s Proxy-Info comes back');
  assert.deepEqual(findAvps(back, 'Route-Record'), []);
});

test('the count is honoured: never more vectors than the partner asked for', () => {
  const partner = partnerMar({ n: 2 });
  const leg = translateMarRequest(partner, MAPPING, SELF, sessions.next());
  const primary = primaryMaa(leg.request, 3);
  const back = wire(translateAnswer(partner, primary, leg, SELF).answer);
  assert.equal(getValue(back, 'SIP-Number-Auth-Items'), 2);
  assert.deepEqual(avpHex(back, 'SIP-Auth-Data-Item'), avpHex(primary, 'SIP-Auth-Data-Item').slice(0, 2));
});

test('an IMPU the primary echoes without a mapping is left out, never forwarded as a primary identity', () => {
  const partner = partnerMar();
  const leg = translateMarRequest(partner, MAPPING, SELF, sessions.next());
  const primary = primaryMaa(leg.request, 1);
  const odd = { ...primary, avps: primary.avps.map((a) => (a.code === 601 ? { ...a, data: Buffer.from('sip:other@primary.example') } : a)) };
  const t = translateAnswer(partner, odd, leg, SELF);
  assert.equal(getValue(wire(t.answer), 'Public-Identity'), undefined);
  assert.deepEqual(t.removedImpus, ['sip:other@primary.example']);
});
