/**
 * RFC 8760 / RFC 2617 for SIP Digest (password) users, DESIGN §2.1 and §2.3: the MAR (scheme Unknown) brings the
 * MD5 HA1 for the HSS realm, a second MAR (SIP Digest, Digest-Algorithm SHA-256) the SHA-256 one; the 401 carries
 * one WWW-Authenticate per algorithm, SHA-256 first, same random nonce, realm = the HSS's Digest-Realm, when the
 * registrar offers both (`--digest-algorithms SHA-256,MD5`). A softphone answering with either algorithm (qop auth or
 * none) registers; a wrong password → 403. By default only MD5 is offered, as Kamailio and Asterisk do (baresip 1.0
 * fails on a 401 that also carries a SHA-256 challenge), and an answer with SHA-256 then is refused.
 */
import { before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { DigestChallenge } from '../../lib/sip/headers/auth.ts';
import type { RunningRegistrar } from '../../registrar/server.ts';
import {
  HSS_REALM, Ue, callId, credentials, headerLines, passwordUser, registerBytes, registrarFixture, sipPort,
  type PasswordUser,
} from './helpers.ts';

const carol = passwordUser('carol');
const dave = passwordUser('dave', 'd@ve "quoted" pass');

describe('RFC 8760: SIP Digest users', () => {
  const f = registrarFixture({ digest: [carol, dave], registrar: { digestAlgorithms: ['SHA-256', 'MD5'] } });
  let md5only: RunningRegistrar;

  before(async () => {
    // The default offer.
    md5only = await f.startRegistrar({ originHost: 'registrar2.partner.example' });
  });

  /** REGISTER (no Authorization, as a softphone sends it) → 401; the challenges. */
  async function challenge(r: RunningRegistrar, ue: Ue, u: PasswordUser, id: string): Promise<{ text: string; ch: DigestChallenge[] }> {
    const res = await ue.send(registerBytes(ue, { impu: u.impus[0] as string, callId: id, cseq: 1 }));
    assert.equal(res.msg.status, 401, res.text);
    return { text: res.text, ch: res.msg.wwwAuthenticate() };
  }

  test('401: SHA-256 then MD5, one nonce, realm of the HSS, qop from the MAA', async () => {
    const ue = await Ue.udp(sipPort(f.reg, 'UDP'));
    try {
      const { text } = await challenge(f.reg, ue, carol, callId());
      const www = headerLines(text, 'WWW-Authenticate');
      assert.equal(www.length, 2);
      const m1 = /^Digest realm="primary\.example", nonce="([A-Za-z0-9+/]{43}=)", algorithm=SHA-256, qop="auth"$/.exec(www[0] as string);
      const m2 = /^Digest realm="primary\.example", nonce="([A-Za-z0-9+/]{43}=)", algorithm=MD5, qop="auth"$/.exec(www[1] as string);
      assert.ok(m1 && m2, www.join('\n'));
      assert.equal(m1[1], m2[1]);
    } finally {
      ue.close();
    }
  });

  for (const [algorithm, qop] of [['SHA-256', 'auth'], ['MD5', 'auth'], ['MD5', undefined]] as const) {
    test(`answering with ${algorithm}${qop ? `, qop=${qop}` : ' without qop (RFC 2069 form)'} → 200 with rspauth`, async () => {
      const ue = await Ue.udp(sipPort(f.reg, 'UDP'));
      try {
        const id = callId();
        const { ch } = await challenge(f.reg, ue, dave, id);
        const c = ch.find((x) => x.algorithm === algorithm) as DigestChallenge;
        const authorization = credentials(c, { username: dave.impi, algorithm, ...(qop ? { qop } : {}) }, Buffer.from(dave.password, 'utf8'));
        const r = await ue.send(registerBytes(ue, { impu: dave.impus[0] as string, callId: id, cseq: 2, authorization }));
        assert.equal(r.msg.status, 200, r.text);
        assert.match(headerLines(r.text, 'Authentication-Info')[0] as string, qop ? /^qop=auth, rspauth="[0-9a-f]+", cnonce="[0-9a-f]+", nc=00000001$/ : /^rspauth="[0-9a-f]+"$/);
        assert.equal(c.realm, HSS_REALM);
      } finally {
        ue.close();
      }
    });
  }

  test('a wrong password → 403', async () => {
    const ue = await Ue.udp(sipPort(f.reg, 'UDP'));
    try {
      const id = callId();
      const { ch } = await challenge(f.reg, ue, carol, id);
      const authorization = credentials(ch[0] as DigestChallenge, { username: carol.impi, qop: 'auth' }, Buffer.from('guess'));
      const r = await ue.send(registerBytes(ue, { impu: carol.impus[0] as string, callId: id, cseq: 2, authorization }));
      assert.equal(r.msg.status, 403);
    } finally {
      ue.close();
    }
  });

  test('by default one MD5 challenge; an answer with an algorithm that was not offered (SHA-256) → 403', async () => {
    const ue = await Ue.udp(sipPort(md5only, 'UDP'));
    try {
      const id = callId();
      const { ch } = await challenge(md5only, ue, carol, id);
      assert.deepEqual(ch.map((c) => c.algorithm), ['MD5']);
      const authorization = credentials(ch[0] as DigestChallenge, { username: carol.impi, qop: 'auth', algorithm: 'SHA-256' }, Buffer.from(carol.password));
      const r = await ue.send(registerBytes(ue, { impu: carol.impus[0] as string, callId: id, cseq: 2, authorization }));
      assert.equal(r.msg.status, 403);
    } finally {
      ue.close();
    }
  });
});
