/**
 * TS 24.229 §5.4.1.2.3 / §5.1.1.5.3, RFC 7616 §3.3 (stale) and §3.4.5 (nc), DESIGN §2.1: what the registrar does with
 * answers that are not a fresh, correct response — wrong response → 403; empty response without auts (the UE's
 * MAC-failure report) → 403 and the vector discarded; a used or expired nonce of ours → a fresh 401 with stale=TRUE
 * (SIP.js resends its last Authorization on refresh), a nonce never issued (or issued to another identity) → a fresh
 * 401 with stale=FALSE; any nc on the nonce's one use is accepted (linphone sends 00000002 on a fresh nonce), the
 * same nonce again is stale; an identity the HSS refuses (5001, 5002) → a decoy 401, then 403 (no user enumeration:
 * security-no-user-enumeration.test.ts has the rest); credentials of another identity → 403; malformed auts → 400.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { DigestChallenge } from '../../lib/sip/headers/auth.ts';
import { ManualClock } from '../helpers/clock.ts';
import {
  DOMAIN, akaAnswer, akaUser, callId, credentials, headerLines, initialAuthorization, openIsim, registerAka,
  registerBytes, registrarFixture, type AkaUser,
} from './helpers.ts';

const users = Array.from({ length: 10 }, (_, i) => akaUser(`u${i}`));
const user = (i: number): AkaUser => users[i] as AkaUser;

describe('TS 24.229 §5.4.1.2.3: authentication failures and stale nonces', () => {
  // reg-await-auth runs on a manual clock: a nonce expires when the test moves time, not after a real wait.
  const clock = new ManualClock(Date.now());
  const f = registrarFixture({ aka: users, registrar: { regAwaitAuthMs: 400, now: clock.now }, ue: true });

  /** REGISTER → 401; returns the challenge and the Call-ID. */
  async function challenge(u: AkaUser, id = callId(), cseq = 1): Promise<{ ch: DigestChallenge; id: string }> {
    const r = await f.ue.send(registerBytes(f.ue, { impu: u.impus[0] as string, callId: id, cseq, authorization: initialAuthorization(u.impi) }));
    assert.equal(r.msg.status, 401, r.text);
    return { ch: r.msg.wwwAuthenticate()[0] as DigestChallenge, id };
  }

  test('a wrong response → 403 Forbidden', async () => {
    const u = user(0);
    const { ch, id } = await challenge(u);
    const wrong = credentials(ch, { username: u.impi, qop: 'auth' }, Buffer.from('0011223344556677', 'hex'));
    const r = await f.ue.send(registerBytes(f.ue, { impu: u.impus[0] as string, callId: id, cseq: 2, authorization: wrong }));
    assert.equal(r.text.split('\r\n')[0], 'SIP/2.0 403 Forbidden (Authentication Failed)');
    assert.deepEqual(headerLines(r.text, 'Contact'), []);
  });

  test('empty response without auts (MAC failure at the UE) → 403, and the vector is gone', async () => {
    const u = user(1);
    const { ch, id } = await challenge(u);
    const report = `Digest username="${u.impi}", realm="${DOMAIN}", nonce="${ch.nonce}", uri="sip:${DOMAIN}", response="", algorithm=AKAv1-MD5`;
    const r = await f.ue.send(registerBytes(f.ue, { impu: u.impus[0] as string, callId: id, cseq: 2, authorization: report }));
    assert.equal(r.msg.status, 403, r.text);
    // Even the right RES for that nonce now finds nothing: a fresh challenge, marked stale.
    const { authorization } = await akaAnswer(await openIsim(f.dir, u), ch, { username: u.impi, qop: 'auth' });
    const again = await f.ue.send(registerBytes(f.ue, { impu: u.impus[0] as string, callId: id, cseq: 3, authorization }));
    assert.equal(again.msg.status, 401, again.text);
    assert.equal(again.msg.wwwAuthenticate()[0]?.stale, true);
  });

  test('a reused nonce (SIP.js refresh with its last Authorization) → fresh 401 stale=TRUE, then 200', async () => {
    const u = user(2);
    const isim = await openIsim(f.dir, u);
    const first = await registerAka(f.ue, isim, u);
    assert.equal(first.final.msg.status, 200);
    const id = /Call-ID: (\S+)/.exec(first.final.text)?.[1] as string;
    const replay = await f.ue.send(registerBytes(f.ue, { impu: u.impus[0] as string, callId: id, cseq: 3, authorization: first.authorization }));
    assert.equal(replay.msg.status, 401, replay.text);
    const www = headerLines(replay.text, 'WWW-Authenticate')[0] as string;
    assert.match(www, /^Digest realm="partner\.example", nonce="[A-Za-z0-9+/]{43}=", algorithm=AKAv1-MD5, qop="auth,auth-int", stale=TRUE$/);
    const ch = replay.msg.wwwAuthenticate()[0] as DigestChallenge;
    assert.notEqual(ch.nonce, first.ch.nonce);
    const { authorization } = await akaAnswer(isim, ch, { username: u.impi, qop: 'auth' });
    const ok = await f.ue.send(registerBytes(f.ue, { impu: u.impus[0] as string, callId: id, cseq: 4, authorization }));
    assert.equal(ok.msg.status, 200, ok.text);
  });

  test('RFC 7616 §3.4.5: nc 00000002 on the nonce\'s first use → 200 (the nonce is single-use, not the count); the same nonce again, nc 00000003 → 401 stale=TRUE', async () => {
    const u = user(3);
    const isim = await openIsim(f.dir, u);
    const { ch, id } = await challenge(u);
    const { authorization } = await akaAnswer(isim, ch, { username: u.impi, qop: 'auth', nc: '00000002' });
    const r = await f.ue.send(registerBytes(f.ue, { impu: u.impus[0] as string, callId: id, cseq: 2, authorization }));
    assert.equal(r.msg.status, 200, r.text);
    assert.match(headerLines(r.text, 'Authentication-Info')[0] ?? '', /nc=00000002/);
    const again = await akaAnswer(isim, ch, { username: u.impi, qop: 'auth', nc: '00000003' });
    const replay = await f.ue.send(registerBytes(f.ue, { impu: u.impus[0] as string, callId: id, cseq: 3, authorization: again.authorization }));
    assert.equal(replay.msg.status, 401, replay.text);
    assert.equal(replay.msg.wwwAuthenticate()[0]?.stale, true);
    assert.notEqual(replay.msg.wwwAuthenticate()[0]?.nonce, ch.nonce);
  });

  test('RFC 7616 §3.3: a nonce the registrar never issued → fresh 401 with stale=FALSE (only a nonce of ours can be stale)', async () => {
    const u = user(4);
    const forged = { ...(await challenge(u)).ch, nonce: Buffer.alloc(32, 7).toString('base64') };
    const authorization = credentials(forged, { username: u.impi, qop: 'auth' }, Buffer.alloc(8));
    const r = await f.ue.send(registerBytes(f.ue, { impu: u.impus[0] as string, callId: callId(), cseq: 1, authorization }));
    assert.equal(r.msg.status, 401);
    assert.equal(r.msg.wwwAuthenticate()[0]?.stale, false);
    assert.doesNotMatch(headerLines(r.text, 'WWW-Authenticate')[0] ?? '', /stale/i);
  });

  test('RFC 7616 §3.3: a used nonce of another identity is not stale for this one → fresh 401 with stale=FALSE', async () => {
    const [a, b] = [user(8), user(9)];
    const done = await registerAka(f.ue, await openIsim(f.dir, a), a);
    assert.equal(done.final.msg.status, 200);
    const authorization = credentials(done.ch, { username: b.impi, qop: 'auth' }, Buffer.alloc(8));
    const r = await f.ue.send(registerBytes(f.ue, { impu: b.impus[0] as string, callId: callId(), cseq: 1, authorization }));
    assert.equal(r.msg.status, 401, r.text);
    assert.equal(r.msg.wwwAuthenticate()[0]?.stale, false);
  });

  test('an expired nonce (reg-await-auth passed) → fresh 401 stale=TRUE', async () => {
    const u = user(5);
    const { ch, id } = await challenge(u);
    const { authorization } = await akaAnswer(await openIsim(f.dir, u), ch, { username: u.impi, qop: 'auth' });
    clock.advance(400);
    const r = await f.ue.send(registerBytes(f.ue, { impu: u.impus[0] as string, callId: id, cseq: 2, authorization }));
    assert.equal(r.msg.status, 401, r.text);
    assert.equal(r.msg.wwwAuthenticate()[0]?.stale, true);
  });

  test('a used nonce is remembered as ours for reg-await-auth + max-expires (a refresh\'s resent Authorization: stale=TRUE), then forgotten (stale=FALSE)', async () => {
    const u = user(2);
    const done = await registerAka(f.ue, await openIsim(f.dir, u), u);
    assert.equal(done.final.msg.status, 200);
    const resend = async (): Promise<boolean | undefined> => {
      const r = await f.ue.send(registerBytes(f.ue, { impu: u.impus[0] as string, callId: callId(), cseq: 1, authorization: done.authorization }));
      assert.equal(r.msg.status, 401, r.text);
      return r.msg.wwwAuthenticate()[0]?.stale;
    };
    // The fixture's max-expires is 3600 s.
    clock.advance(3_600_000);
    assert.equal(await resend(), true, 'max-expires later: a refresh may still resend it');
    clock.advance(400);
    assert.equal(await resend(), false);
  });

  test('credentials of one identity used for another To → 403', async () => {
    const [a, b] = [user(6), user(7)];
    const { ch } = await challenge(a);
    const { authorization } = await akaAnswer(await openIsim(f.dir, a), ch, { username: a.impi, qop: 'auth' });
    const r = await f.ue.send(registerBytes(f.ue, { impu: b.impus[0] as string, callId: callId(), cseq: 1, authorization }));
    assert.equal(r.msg.status, 403, r.text);
  });

  /** The first REGISTER gets a 401; its AKA answer (MAC failure at a real ISIM: an empty response) gets 403. */
  async function decoyThen403(impi: string, impu: string): Promise<void> {
    const id = callId();
    const first = await f.ue.send(registerBytes(f.ue, { impu, callId: id, cseq: 1, authorization: initialAuthorization(impi) }));
    assert.equal(first.msg.status, 401, first.text);
    const ch = first.msg.wwwAuthenticate()[0] as DigestChallenge;
    assert.equal(ch.algorithm, 'AKAv1-MD5');
    const report = `Digest username="${impi}", realm="${DOMAIN}", nonce="${ch.nonce}", uri="sip:${DOMAIN}", response="", algorithm=AKAv1-MD5`;
    const r = await f.ue.send(registerBytes(f.ue, { impu, callId: id, cseq: 2, authorization: report }));
    assert.equal(r.text.split('\r\n')[0], 'SIP/2.0 403 Forbidden (Network Authentication Failed)');
  }

  test('unknown user (HSS: Experimental-Result 5001) → a decoy 401, then 403', async () => {
    await decoyThen403(`nobody@${DOMAIN}`, `sip:nobody@${DOMAIN}`);
  });

  test('IMPI and IMPU of different subscribers (5002) → a decoy 401, then 403', async () => {
    await decoyThen403(user(1).impi, user(0).impus[0] as string);
  });

  test('malformed auts → 400', async () => {
    const u = user(0);
    const { ch, id } = await challenge(u);
    const authorization = credentials(ch, { username: u.impi, qop: 'auth' }, Buffer.alloc(0), 'not-base64!');
    const r = await f.ue.send(registerBytes(f.ue, { impu: u.impus[0] as string, callId: id, cseq: 2, authorization }));
    assert.equal(r.msg.status, 400, r.text);
  });
});
