/**
 * RFC 3329 (sec-agree) at the registrar, as DESIGN §2.1 scopes it: over TLS, with `tls` among the client's
 * Security-Client mechanisms, the 401 carries `Security-Server: tls;q=0.1`, the authenticated REGISTER repeats it in
 * Security-Verify → 200 (a mismatch → 494); over TCP, or without a tls mechanism → 420 with `Unsupported: sec-agree`.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { DigestChallenge } from '../../lib/sip/headers/auth.ts';
import {
  Ue, akaAnswer, akaUser, callId, headerLines, initialAuthorization, openIsim, registerBytes, registrarFixture,
  sipPort, type AkaUser,
} from './helpers.ts';

const alice = akaUser('alice');
const bob = akaUser('bob');
const SEC = ['Require: sec-agree', 'Proxy-Require: sec-agree', 'Security-Client: ipsec-3gpp;alg=hmac-sha-1-96;spi-c=1;spi-s=2;port-c=3;port-s=4, tls;q=0.2'];

describe('RFC 3329: sec-agree', () => {
  const f = registrarFixture({
    aka: [alice, bob], pki: ['partner'],
    registrar: (x) => ({
      sip: [{ transport: 'tcp', host: '127.0.0.1', port: 0 }, { transport: 'tls', host: '127.0.0.1', port: 0 }], tls: x.tlsFiles('partner', 'registrar'),
    }),
  });

  /** The sec-agree exchange over TLS up to the authenticated REGISTER, with `verify` as its Security-Verify. */
  async function exchange(u: AkaUser, verify: string): Promise<{ first: string; final: string }> {
    const ue = await Ue.stream(sipPort(f.reg, 'TLS'), { ca: f.caPem('partner') });
    try {
      const id = callId();
      const impu = u.impus[0] as string;
      const r1 = await ue.send(registerBytes(ue, { impu, callId: id, cseq: 1, authorization: initialAuthorization(u.impi), extra: SEC }));
      const ch = r1.msg.wwwAuthenticate()[0] as DigestChallenge;
      const { authorization } = await akaAnswer(await openIsim(f.dir, u), ch, { username: u.impi, qop: 'auth' });
      const r2 = await ue.send(registerBytes(ue, {
        impu, callId: id, cseq: 2, authorization,
        extra: ['Require: sec-agree', 'Proxy-Require: sec-agree', `Security-Verify: ${verify}`],
      }));
      return { first: r1.text, final: r2.text };
    } finally {
      ue.close();
    }
  }

  test('over TLS with a tls mechanism: 401 with Security-Server: tls;q=0.1, matching Security-Verify → 200', async () => {
    const { first, final } = await exchange(alice, 'tls;q=0.1');
    assert.equal(first.split('\r\n')[0], 'SIP/2.0 401 Unauthorized');
    assert.deepEqual(headerLines(first, 'Security-Server'), ['tls;q=0.1']);
    assert.equal(final.split('\r\n')[0], 'SIP/2.0 200 OK', final);
  });

  test('a Security-Verify that does not repeat Security-Server → 494', async () => {
    const { final } = await exchange(bob, 'ipsec-3gpp;q=0.1');
    assert.equal(final.split('\r\n')[0], 'SIP/2.0 494 Security Agreement Required');
    assert.deepEqual(headerLines(final, 'Security-Server'), ['tls;q=0.1']);
  });

  test('over TCP → 420 Bad Extension, Unsupported: sec-agree', async () => {
    const ue = await Ue.stream(sipPort(f.reg, 'TCP'));
    try {
      const r = await ue.send(registerBytes(ue, { impu: alice.impus[0] as string, callId: callId(), cseq: 1, extra: SEC }));
      assert.equal(r.text.split('\r\n')[0], 'SIP/2.0 420 Bad Extension');
      assert.deepEqual(headerLines(r.text, 'Unsupported'), ['sec-agree']);
    } finally {
      ue.close();
    }
  });

  test('over TLS but only ipsec-3gpp offered → 420 Unsupported: sec-agree', async () => {
    const ue = await Ue.stream(sipPort(f.reg, 'TLS'), { ca: f.caPem('partner') });
    try {
      const r = await ue.send(registerBytes(ue, {
        impu: alice.impus[0] as string, callId: callId(), cseq: 1,
        extra: ['Require: sec-agree', 'Security-Client: ipsec-3gpp;alg=hmac-sha-1-96;spi-c=1;spi-s=2;port-c=3;port-s=4'],
      }));
      assert.equal(r.msg.status, 420);
      assert.deepEqual(headerLines(r.text, 'Unsupported'), ['sec-agree']);
    } finally {
      ue.close();
    }
  });

  test('plain REGISTER over TLS (no sec-agree) registers without Security-Server', async () => {
    const ue = await Ue.stream(sipPort(f.reg, 'TLS'), { ca: f.caPem('partner') });
    try {
      const r = await ue.send(registerBytes(ue, { impu: alice.impus[0] as string, callId: callId(), cseq: 1 }));
      assert.equal(r.msg.status, 401);
      assert.deepEqual(headerLines(r.text, 'Security-Server'), []);
    } finally {
      ue.close();
    }
  });
});
