/**
 * RFC 3261 §8.2.1 / §8.2.2.3 / §11.2 and DESIGN §2.1 at the registrar: OPTIONS → 200 with Allow; INVITE and the other
 * methods it knows → 405 with `Allow: REGISTER, OPTIONS, SUBSCRIBE`; CANCEL → 481, or 200 for a transaction that exists (§9.2);
 * a method it does not recognise → 501 with Allow; a non-SIP
 * Request-URI → 416; a required option-tag the registrar lacks → 420 Bad Extension with Unsupported listing it (for
 * OPTIONS too); `path` is fine; malformed input → 400 with a reason phrase (lib/sip), never a crash.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { DOMAIN, akaUser, callId, headerLines, initialAuthorization, registerBytes, registrarFixture, type Ue } from './helpers.ts';

const alice = akaUser('alice');

function request(ue: Ue, method: string, extra: string[] = []): string {
  return [
    `${method} sip:${DOMAIN} SIP/2.0`,
    `Via: SIP/2.0/${ue.transport} 127.0.0.1:${ue.localPort};branch=z9hG4bK-${method}-${Date.now()}${Math.floor(Math.random() * 1e6)}`,
    'Max-Forwards: 70', `From: <sip:x@${DOMAIN}>;tag=1`, `To: <sip:${DOMAIN}>`, `Call-ID: ${callId()}`, `CSeq: 7 ${method}`,
    ...extra, 'Content-Length: 0', '', '',
  ].join('\r\n');
}

describe('RFC 3261 §8.2: methods and extensions', () => {
  const f = registrarFixture({ aka: [alice], ue: true });

  test('OPTIONS → 200 OK with Allow: REGISTER, OPTIONS, SUBSCRIBE', async () => {
    const r = await f.ue.send(request(f.ue, 'OPTIONS', ['Accept: application/sdp']));
    assert.equal(r.text.split('\r\n')[0], 'SIP/2.0 200 OK');
    assert.deepEqual(headerLines(r.text, 'Allow'), ['REGISTER, OPTIONS, SUBSCRIBE']);
    assert.deepEqual(headerLines(r.text, 'Allow-Events'), ['reg'], 'RFC 6665 §8.2.2: the event packages it serves');
    assert.deepEqual(headerLines(r.text, 'CSeq'), ['7 OPTIONS']);
  });

  for (const method of ['INVITE', 'MESSAGE', 'PUBLISH', 'BYE']) {
    test(`${method} → 405 Method Not Allowed with Allow`, async () => {
      const r = await f.ue.send(request(f.ue, method, method === 'INVITE' ? [`Contact: <sip:x@127.0.0.1:${f.ue.localPort}>`] : []));
      assert.equal(r.text.split('\r\n')[0], 'SIP/2.0 405 Method Not Allowed');
      assert.deepEqual(headerLines(r.text, 'Allow'), ['REGISTER, OPTIONS, SUBSCRIBE']);
    });
  }

  test('CANCEL (§9.2): of no transaction → 481; of a REGISTER already answered 401 → 200, and the 401 stands', async () => {
    const none = await f.ue.send(request(f.ue, 'CANCEL'));
    assert.equal(none.text.split('\r\n')[0], 'SIP/2.0 481 Call/Transaction Does Not Exist');
    const register = request(f.ue, 'REGISTER', [`Contact: <sip:x@127.0.0.1:${f.ue.localPort}>`]);
    const challenged = await f.ue.send(register);
    assert.equal(challenged.text.split('\r\n')[0], 'SIP/2.0 401 Unauthorized');
    const cancelled = await f.ue.send(register.replace('REGISTER sip:', 'CANCEL sip:').replace('CSeq: 7 REGISTER', 'CSeq: 7 CANCEL'));
    assert.equal(cancelled.text.split('\r\n')[0], 'SIP/2.0 200 OK');
    assert.deepEqual(headerLines(cancelled.text, 'CSeq'), ['7 CANCEL']);
  });

  for (const method of ['NEWMETHOD', 'invite']) {
    test(`${method} (not a method the registrar recognises; names are case-sensitive, §7.1) → 501 Not Implemented with Allow`, async () => {
      const r = await f.ue.send(request(f.ue, method));
      assert.equal(r.text.split('\r\n')[0], 'SIP/2.0 501 Not Implemented');
      assert.deepEqual(headerLines(r.text, 'Allow'), ['REGISTER, OPTIONS, SUBSCRIBE']);
    });
  }

  test('OPTIONS requiring an unknown option-tag → 420 with Unsupported (§8.2.2.3 holds for every method)', async () => {
    const r = await f.ue.send(request(f.ue, 'OPTIONS', ['Require: foo', 'Proxy-Require: path, bar']));
    assert.equal(r.text.split('\r\n')[0], 'SIP/2.0 420 Bad Extension');
    assert.deepEqual(headerLines(r.text, 'Unsupported'), ['foo, bar']);
  });

  test('Require with an unknown option-tag → 420 Bad Extension, Unsupported lists it (and sec-agree over UDP)', async () => {
    const r = await f.ue.send(registerBytes(f.ue, { impu: alice.impus[0] as string, callId: callId(), cseq: 1, extra: ['Require: foo, path', 'Proxy-Require: sec-agree', 'Security-Client: tls'] }));
    assert.equal(r.text.split('\r\n')[0], 'SIP/2.0 420 Bad Extension');
    assert.deepEqual(headerLines(r.text, 'Unsupported'), ['foo, sec-agree']);
    assert.deepEqual(headerLines(r.text, 'WWW-Authenticate'), []);
  });

  test('Require: path alone is supported → 401', async () => {
    const r = await f.ue.send(registerBytes(f.ue, { impu: alice.impus[0] as string, callId: callId(), cseq: 1, authorization: initialAuthorization(alice.impi), extra: ['Require: path'] }));
    assert.equal(r.msg.status, 401);
  });

  test('malformed REGISTER → 400 with a reason phrase; the registrar keeps serving', async () => {
    const bad = registerBytes(f.ue, { impu: alice.impus[0] as string, callId: callId(), cseq: 1, authorization: 'Digest username="a", =x' });
    const r = await f.ue.send(bad);
    assert.equal(r.text.split('\r\n')[0], 'SIP/2.0 400 Malformed Authorization header (bad auth-param name)');
    const badContact = registerBytes(f.ue, { impu: alice.impus[0] as string, callId: callId(), cseq: 1, contacts: ['<sip:x@[zz>'] });
    assert.equal((await f.ue.send(badContact)).msg.status, 400);
    assert.equal((await f.ue.send(request(f.ue, 'OPTIONS'))).msg.status, 200);
  });

  test('a Request-URI that is not a SIP URI → 416', async () => {
    const r = await f.ue.send(registerBytes(f.ue, { impu: alice.impus[0] as string, callId: callId(), cseq: 1, uri: 'tel:+15550100' }));
    assert.equal(r.text.split('\r\n')[0], 'SIP/2.0 416 Unsupported URI Scheme');
  });

  test('To that is not a SIP URI → 400 (§10.2: the address-of-record is a SIP or SIPS URI)', async () => {
    const r = await f.ue.send(registerBytes(f.ue, { impu: 'tel:+15550100', callId: callId(), cseq: 1 }));
    assert.equal(r.text.split('\r\n')[0], 'SIP/2.0 400 Bad Request (To is not a SIP or SIPS URI)');
  });
});
