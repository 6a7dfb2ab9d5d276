/**
 * Issue #11 part 3, DESIGN §2.1/§2.7 (no user enumeration): an identity the HSS refuses (Experimental-Result 5001)
 * gets the same first answer as a known one — a 401 with a challenge of the same form (an AKA-shaped one when the
 * REGISTER is an IMS UE's initial form, else the password users' set) — and its answer then the 403 a known user's
 * wrong answer gets. Its AKA decoy makes a real ISIM see a MAC failure; no response verifies; the pending-challenge cap
 * holds for unknown IMPIs too. Wire bytes over UDP from a scripted UAC.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { parseAkaNonce } from '../../lib/aka/index.ts';
import type { DigestChallenge } from '../../lib/sip/headers/auth.ts';
import { Isim } from '../../ue-client/isim.ts';
import {
  DOMAIN, akaUser, callId, credentials, initialAuthorization, openIsim, passwordUser, registerAka, registerBytes,
  registrarFixture, type Reply,
} from './helpers.ts';

const known = akaUser('known');
const pw = passwordUser('pwuser');

/** The response with what differs per challenge masked: nonce, tags, branch, Call-ID, ports. */
function shape(r: Reply): string {
  return r.text
    .replace(/nonce="[^"]*"/g, 'nonce="N"')
    .replace(/;tag=[^;\r\n>]+/g, ';tag=T')
    .replace(/branch=[^;\r\n]+/g, 'branch=B')
    .replace(/Call-ID: [^\r\n]+/g, 'Call-ID: C')
    .replace(/(From|To): <sip:[^@]+@/g, '$1: <sip:U@')
    .replace(/rport=\d+/g, 'rport=P')
    .replace(/127\.0\.0\.1:\d+/g, 'HOST:P');
}

describe('issue #11 part 3: no user enumeration at the registrar', () => {
  const f = registrarFixture({ aka: [known], digest: [pw], ue: true, registrar: { digestAlgorithms: ['SHA-256', 'MD5'] } });

  const initial = (impi: string, id = callId()): string =>
    registerBytes(f.ue, { impu: `sip:${impi}`, callId: id, cseq: 1, authorization: initialAuthorization(impi) });

  test('IMS UE initial form: an unknown and a known AKA user get the same 401 (AKA-shaped, nonce of 32 octets)', async () => {
    const a = await f.ue.send(initial(known.impi));
    const b = await f.ue.send(initial(`nobody-${randomBytes(3).toString('hex')}@${DOMAIN}`));
    assert.equal(a.msg.status, 401, a.text);
    assert.equal(b.msg.status, 401, b.text);
    assert.equal(shape(b), shape(a));
    const ch = b.msg.wwwAuthenticate()[0] as DigestChallenge;
    assert.match(b.text, /WWW-Authenticate: Digest realm="partner\.example", nonce="[A-Za-z0-9+/]{43}=", algorithm=AKAv1-MD5, qop="auth,auth-int"\r\n/);
    const { rand, autn } = parseAkaNonce(ch.nonce as string);
    assert.equal(rand.length + autn.length, 32);
  });

  test('no Authorization (a softphone): an unknown user and a known password user get the same 401 set', async () => {
    const unknown = `ghost-${randomBytes(3).toString('hex')}@${DOMAIN}`;
    const b = await f.ue.send(registerBytes(f.ue, { impu: `sip:${unknown}`, callId: callId(), cseq: 1 }));
    const a = await f.ue.send(registerBytes(f.ue, { impu: pw.impus[0] as string, callId: callId(), cseq: 1 }));
    assert.equal(a.msg.status, 401, a.text);
    assert.equal(b.msg.status, 401, b.text);
    assert.equal(shape(b), shape(a));
    assert.deepEqual(b.msg.wwwAuthenticate().map((c) => c.algorithm), ['SHA-256', 'MD5']);
  });

  test('an ISIM sees a MAC failure in the decoy; its empty response gets the 403 of a MAC failure', async () => {
    const isim = await Isim.open(`${f.dir}/isim-decoy.json`, {
      k: randomBytes(16), op: randomBytes(16), impi: `stranger@${DOMAIN}`, impus: [`sip:stranger@${DOMAIN}`], domain: DOMAIN,
    });
    try {
      const id = callId();
      const r1 = await f.ue.send(initial(`stranger@${DOMAIN}`, id));
      const ch = r1.msg.wwwAuthenticate()[0] as DigestChallenge;
      const { rand, autn } = parseAkaNonce(ch.nonce as string);
      await assert.rejects(isim.authenticate(rand, autn), (e: Error & { code?: string }) => e.code === 'ERR_AKA_MAC_FAILURE');
      const report = `Digest username="stranger@${DOMAIN}", realm="${DOMAIN}", nonce="${ch.nonce}", uri="sip:${DOMAIN}", response="", algorithm=AKAv1-MD5`;
      const r2 = await f.ue.send(registerBytes(f.ue, { impu: `sip:stranger@${DOMAIN}`, callId: id, cseq: 2, authorization: report }));
      assert.equal(r2.text.split('\r\n')[0], 'SIP/2.0 403 Forbidden (Network Authentication Failed)');
    } finally {
      await isim.close();
    }
  });

  test('any answer to a decoy gets the 403 of a wrong answer (same status line), and counts as a failed authentication', async () => {
    const failures = f.reg.stats.get('auth_failures');
    // A known AKA user answering wrongly…
    const id = callId();
    const ka = await f.ue.send(initial(known.impi, id));
    const wrong = credentials(ka.msg.wwwAuthenticate()[0] as DigestChallenge, { username: known.impi, qop: 'auth' }, randomBytes(8));
    const kr = await f.ue.send(registerBytes(f.ue, { impu: known.impus[0] as string, callId: id, cseq: 2, authorization: wrong }));
    // …and an unknown one answering its decoy with any RES, and a password decoy with any password.
    const impi = `nemo@${DOMAIN}`;
    const id2 = callId();
    const da = await f.ue.send(initial(impi, id2));
    const guess = credentials(da.msg.wwwAuthenticate()[0] as DigestChallenge, { username: impi, qop: 'auth' }, randomBytes(8));
    const dr = await f.ue.send(registerBytes(f.ue, { impu: `sip:${impi}`, callId: id2, cseq: 2, authorization: guess }));
    const id3 = callId();
    const pa = await f.ue.send(registerBytes(f.ue, { impu: `sip:${impi}`, callId: id3, cseq: 1 }));
    const pch = pa.msg.wwwAuthenticate()[0] as DigestChallenge;
    const pguess = credentials(pch, { username: impi, qop: 'auth', algorithm: pch.algorithm as string }, Buffer.from('password1'));
    const pr = await f.ue.send(registerBytes(f.ue, { impu: `sip:${impi}`, callId: id3, cseq: 2, authorization: pguess }));
    for (const r of [kr, dr, pr]) assert.equal(r.text.split('\r\n')[0], 'SIP/2.0 403 Forbidden (Authentication Failed)', r.text);
    assert.equal(f.reg.stats.get('auth_failures'), failures + 3);
    assert.ok(f.reg.stats.get('decoy_challenges') >= 2);
  });

  test('the pending-challenge cap holds for unknown IMPIs: 20 REGISTERs cost at most 3 MARs', async () => {
    const impi = `flood-${randomBytes(3).toString('hex')}@${DOMAIN}`;
    const before = f.hss.ctx.stats.get('mar');
    const nonces = new Set<string>();
    for (let i = 0; i < 20; i++) {
      const r = await f.ue.send(initial(impi));
      assert.equal(r.msg.status, 401, r.text);
      nonces.add((r.msg.wwwAuthenticate()[0] as DigestChallenge).nonce as string);
    }
    assert.ok(f.hss.ctx.stats.get('mar') - before <= 3, `MARs: ${f.hss.ctx.stats.get('mar') - before}`);
    assert.ok(nonces.size <= 3, `${nonces.size} distinct nonces`);
  });

  test('a known user still registers (the decoys changed nothing for it)', async () => {
    const isim = await openIsim(f.dir, known);
    try {
      const r = await registerAka(f.ue, isim, known);
      assert.equal(r.final.msg.status, 200, r.final.text);
    } finally {
      await isim.close();
    }
  });
});
