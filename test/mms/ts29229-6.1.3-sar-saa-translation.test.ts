/**
 * SAR/SAA (TS 29.229 §6.1.3/§6.1.4) through the partner MMS: the registrar's SAR after a successful challenge goes to
 * the primary with primary identities and its assignment type kept; the SAA comes back with User-Name and the
 * IMSSubscription User-Data (TS 29.228 Annex D) in partner identities, primary-only data left out.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { DiameterMessage } from '../../lib/diameter/codec.ts';
import { buildSaa, readSaa, readSar } from '../../lib/diameter/cx/index.ts';
import { findAvp, findAvps, getValue } from '../../lib/diameter/message.ts';
import { SessionIdGenerator } from '../../lib/diameter/ids.ts';
import { translateAnswer, translateRequest, translateSarRequest } from '../../mms/translate.ts';
import { createTranslationAgent } from '../../mms/agent.ts';
import { MmsError } from '../../mms/errors.ts';
import { readCxResult } from '../../lib/diameter/cx/index.ts';
import { MAPPING, PRIMARY, SELF, avpHex, partnerSar, wire } from './fixtures.ts';

const sessions = new SessionIdGenerator(SELF.originHost);

const USER_DATA = '<?xml version="1.0" encoding="UTF-8"?><IMSSubscription><PrivateID>alice@primary.example</PrivateID><ServiceProfile>' +
  '<PublicIdentity><BarringIndication>0</BarringIndication><Identity>sip:alice@primary.example</Identity></PublicIdentity>' +
  '<PublicIdentity><BarringIndication>0</BarringIndication><Identity>tel:+4989222</Identity></PublicIdentity>' +
  '<PublicIdentity><BarringIndication>1</BarringIndication><Identity>sip:alice.private@primary.example</Identity></PublicIdentity>' +
  '</ServiceProfile></IMSSubscription>';

function primarySaa(primarySar: DiameterMessage, serverName?: string): DiameterMessage {
  return buildSaa(primarySar, {
    ...PRIMARY, result: { resultCode: 2001 }, userName: MAPPING.primaryImpi, userData: USER_DATA,
    chargingInformation: { primaryEventChargingFunctionName: 'aaa://ecf.primary.example' },
    associatedIdentities: [MAPPING.primaryImpi, 'alice.tablet@primary.example'],
    ...(serverName === undefined ? {} : { serverName }),
  });
}

test('the primary-side SAR: identities mapped, assignment type and data availability kept', () => {
  const partner = wire(partnerSar());
  const leg = translateRequest(partner, MAPPING, SELF, sessions.next());
  const out = wire(leg.request);
  const sessionId = getValue(out, 'Session-Id') as string;
  assert.match(sessionId, /^mms\.partner\.example;/);
  assert.deepEqual(readSar(out), {
    sessionId,
    originHost: 'mms.partner.example',
    originRealm: 'partner.example',
    destinationRealm: 'primary.example',
    userName: 'alice@primary.example',
    publicIdentities: ['sip:alice@primary.example', 'tel:+4989222'],
    serverName: 'sip:scscf.partner.example:5060',
    serverAssignmentType: 1,
    userDataAlreadyAvailable: 0,
    multipleRegistrationIndication: 0,
  });
  for (const name of ['Server-Assignment-Type', 'User-Data-Already-Available', 'Supported-Features'] as const) {
    assert.deepEqual(avpHex(out, name), avpHex(partner, name), name);
  }
  assert.equal(findAvp(out, 'Destination-Host'), undefined);
  assert.deepEqual([...findAvps(out, 'Proxy-Info'), ...findAvps(out, 'Route-Record')], []);
});

test('the SAA back: User-Name, User-Data rewritten, primary-only data left out', () => {
  const partner = partnerSar();
  const leg = translateSarRequest(partner, MAPPING, SELF, sessions.next());
  const t = translateAnswer(partner, wire(primarySaa(leg.request, 'sip:scscf.primary.example')), leg, SELF);
  const back = wire(t.answer);
  assert.equal(back.hopByHop, partner.hopByHop);
  assert.equal(getValue(back, 'Session-Id'), getValue(partner, 'Session-Id'));
  const saa = readSaa(back);
  assert.deepEqual(saa.result, { resultCode: 2001 });
  assert.equal(saa.userName, 'alice.mig@partner.example');
  assert.equal(saa.userData?.toString(), USER_DATA
    .replace('<PrivateID>alice@primary.example', '<PrivateID>alice.mig@partner.example')
    .replace('<Identity>sip:alice@primary.example', '<Identity>sip:alice.mig@partner.example')
    .replace('<Identity>tel:+4989222', '<Identity>tel:+4930111')
    .replace('<PublicIdentity><BarringIndication>1</BarringIndication><Identity>sip:alice.private@primary.example</Identity></PublicIdentity>', ''));
  assert.deepEqual(t.removedImpus, ['sip:alice.private@primary.example']);
  assert.equal(saa.chargingInformation, undefined, 'primary charging functions are not the partner\'s');
  assert.deepEqual(saa.associatedIdentities, ['alice.mig@partner.example']);
  assert.equal(saa.serverName, undefined, 'a primary S-CSCF name does not cross');
  assert.ok(!back.avps.some((a) => a.data.includes('primary.example')), 'no primary identity or host anywhere in the SAA');
});

test('topology hiding: the SAR carries the MMS URI, an SAA echoing it gets the partner S-CSCF back', () => {
  const self = { ...SELF, topologyHiding: true };
  const partner = partnerSar();
  const leg = translateSarRequest(partner, MAPPING, self, sessions.next());
  assert.equal(getValue(leg.request, 'Server-Name'), 'sip:mms.partner.example');
  const back = wire(translateAnswer(partner, primarySaa(leg.request, 'sip:mms.partner.example'), leg, self).answer);
  assert.equal(getValue(back, 'Server-Name'), 'sip:scscf.partner.example:5060');
});

test('SAR errors: an unmapped IMPU → 5002, no User-Name → 5001', () => {
  assert.throws(() => translateSarRequest(partnerSar(['sip:alice.mig@partner.example', 'sip:zed@partner.example']), MAPPING, SELF, 's'),
    (e: unknown) => e instanceof MmsError && e.code === 'ERR_MMS_IDENTITIES_DONT_MATCH');
  const noUser = partnerSar();
  assert.throws(() => translateSarRequest({ ...noUser, avps: noUser.avps.filter((a) => a.code !== 1) }, MAPPING, SELF, 's'),
    (e: unknown) => e instanceof MmsError && e.code === 'ERR_MMS_USER_UNKNOWN');
});

test('an SAA whose User-Data cannot be rewritten → 5012, never the primary profile', async () => {
  const agent = createTranslationAgent({
    self: SELF, sessionIds: sessions,
    mappings: { byPartnerImpi: async () => MAPPING, byPrimaryImpi: async () => MAPPING },
    forward: async (req) => buildSaa(req, { ...PRIMARY, result: { resultCode: 2001 }, userName: MAPPING.primaryImpi, userData: '<IMSSubscription><PrivateID>alice@primary.example' }),
  });
  const answer = wire(await agent.handle(partnerSar()));
  assert.deepEqual(readCxResult(answer), { resultCode: 5012 });
  assert.equal(findAvp(answer, 'User-Data'), undefined);
});
