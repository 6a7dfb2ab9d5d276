/**
 * TS 29.229 §6.1.7 SIP-Number-Auth-Items > 1 at the registrar (registrar/vector-cache.ts, after Kamailio ims_auth's
 * av_request_at_once and vector states): one MAR asks for `--auth-vectors` (4) vectors; the identity's next
 * challenges take the unused ones — in SQN order, each once, so the ISIM (TS 33.102 Annex C) accepts every one — and
 * cost no MAR, a stale or reused nonce too (one vector each, like any challenge); an unused vector is dropped after
 * `--auth-vector-lifetime`; a resynchronisation drops the IMPI's kept vectors before its resync MAR; concurrent
 * challenges of one identity share one MAR; decoys never use or fill it; a vector is kept for the IMPU its MAR named.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Milenage, openAutn, parseAkaNonce } from '../../lib/aka/index.ts';
import type { SipAuthItem } from '../../lib/diameter/cx/index.ts';
import type { DigestChallenge } from '../../lib/sip/headers/auth.ts';
import { REGISTRAR_DEFAULTS } from '../../registrar/config.ts';
import { RegistrarStats } from '../../registrar/stats.ts';
import { VectorCache } from '../../registrar/vector-cache.ts';
import {
  DOMAIN, Ue, advanceIsim, akaAnswer, akaUser, callId, initialAuthorization, openIsim, registerAka, registerBytes,
  registrarFixture, sipPort, type AkaUser,
} from './helpers.ts';

const alice = akaUser('alice');
const bob = akaUser('bob');
const carol = akaUser('carol');
const dave = akaUser('dave');
const erin = akaUser('erin');

/** The SQN in a challenge's AUTN, as the ISIM of `u` reads it. */
function sqnOf(u: AkaUser, ch: DigestChallenge): bigint {
  const { rand, autn } = parseAkaNonce(ch.nonce as string);
  const opened = openAutn(Milenage.fromOp(Buffer.from(u.k, 'hex'), Buffer.from(u.op, 'hex')), rand, autn);
  assert.ok(opened.macValid);
  return opened.sqn;
}

describe('TS 29.229 §6.1.7: vectors fetched several at a time and kept per identity', () => {
  const clock = { now: Date.now() };
  const f = registrarFixture({ aka: [alice, bob, carol, dave, erin], registrar: { now: () => clock.now } });
  const mars = (): number => f.hss.ctx.stats.get('mar');
  const vectors = (): number => f.hss.ctx.stats.get('vectors_issued');

  test(`one MAR brings ${REGISTRAR_DEFAULTS.authVectors} vectors; the next challenges use them in SQN order without a MAR, and the ISIM accepts each`, async () => {
    assert.equal(REGISTRAR_DEFAULTS.authVectors, 4);
    const ue = await Ue.udp(sipPort(f.reg, 'UDP'));
    const isim = await openIsim(f.dir, alice);
    try {
      const [m0, v0] = [mars(), vectors()];
      const sqns: bigint[] = [];
      for (let i = 0; i < 4; i++) {
        const r = await registerAka(ue, isim, alice);
        assert.equal(r.final.msg.status, 200, r.final.text);
        sqns.push(sqnOf(alice, r.ch));
      }
      assert.equal(mars() - m0, 1, 'one MAR for four challenges');
      assert.equal(vectors() - v0, 4);
      assert.deepEqual([...sqns].sort((a, b) => (a < b ? -1 : 1)), sqns, `handed out in SQN order: ${sqns.join(' ')}`);
      assert.equal(new Set(sqns).size, 4, 'each vector once');
      assert.equal((await registerAka(ue, isim, alice)).final.msg.status, 200);
      assert.equal(mars() - m0, 2, 'the fifth challenge asks again');
    } finally {
      ue.close();
    }
  });

  test('an unused vector is dropped after --auth-vector-lifetime: the next challenge costs a MAR', async () => {
    const ue = await Ue.udp(sipPort(f.reg, 'UDP'));
    const isim = await openIsim(f.dir, bob);
    try {
      assert.equal((await registerAka(ue, isim, bob)).final.msg.status, 200);
      const m0 = mars();
      const expired = f.reg.stats.get('vectors_expired');
      clock.now += REGISTRAR_DEFAULTS.authVectorLifetimeMs + 1;
      assert.equal((await registerAka(ue, isim, bob)).final.msg.status, 200);
      assert.equal(mars() - m0, 1);
      assert.equal(f.reg.stats.get('vectors_expired') - expired, 3, 'the three spare vectors of the first MAR');
    } finally {
      ue.close();
    }
  });

  test('a resynchronisation drops the kept vectors (their SQNs are what the ISIM refused) and asks the HSS', async () => {
    const ue = await Ue.udp(sipPort(f.reg, 'UDP'));
    const isim = await openIsim(f.dir, carol);
    try {
      assert.equal((await registerAka(ue, isim, carol)).final.msg.status, 200);
      await advanceIsim(isim, carol);
      const [m0, dropped] = [mars(), f.reg.stats.get('vectors_dropped')];
      const id = callId();
      const impu = carol.impus[0] as string;
      const r1 = await ue.send(registerBytes(ue, { impu, callId: id, cseq: 1, authorization: initialAuthorization(carol.impi) }));
      assert.equal(mars() - m0, 0, 'challenged with a kept vector');
      const a1 = await akaAnswer(isim, r1.msg.wwwAuthenticate()[0] as DigestChallenge, { username: carol.impi, qop: 'auth' });
      assert.ok('syncFailure' in a1.result);
      const r2 = await ue.send(registerBytes(ue, { impu, callId: id, cseq: 2, authorization: a1.authorization }));
      assert.equal(r2.msg.status, 401, r2.text);
      assert.equal(f.reg.stats.get('vectors_dropped') - dropped, 2, 'the two vectors left of the first MAR');
      assert.equal(mars() - m0, 1, 'the resync MAR');
      const a2 = await akaAnswer(isim, r2.msg.wwwAuthenticate()[0] as DigestChallenge, { username: carol.impi, qop: 'auth' });
      assert.ok('res' in a2.result, 'the ISIM accepts the vector after the resync');
      const r3 = await ue.send(registerBytes(ue, { impu, callId: id, cseq: 3, authorization: a2.authorization }));
      assert.equal(r3.msg.status, 200, r3.text);
      assert.equal((await registerAka(ue, isim, carol)).final.msg.status, 200, 'the resync MAR\'s spare vectors are fresh too');
      assert.equal(mars() - m0, 1);
    } finally {
      ue.close();
    }
  });

  test('three REGISTERs of one identity at once: one MAR, three different nonces', async () => {
    const ue = await Ue.udp(sipPort(f.reg, 'UDP'));
    try {
      const m0 = mars();
      const impu = dave.impus[0] as string;
      const replies = await Promise.all([0, 1, 2].map(async () => ue.send(registerBytes(ue, { impu, callId: callId(), cseq: 1, authorization: initialAuthorization(dave.impi) }))));
      for (const r of replies) assert.equal(r.msg.status, 401, r.text);
      assert.equal(new Set(replies.map((r) => r.msg.wwwAuthenticate()[0]?.nonce)).size, 3);
      assert.equal(mars() - m0, 1);
    } finally {
      ue.close();
    }
  });

  test('a used nonce again gets a fresh 401 stale=TRUE with the next kept vector, whose answer (nc 00000002: any nc on a first use) registers: no MAR', async () => {
    const ue = await Ue.udp(sipPort(f.reg, 'UDP'));
    const isim = await openIsim(f.dir, erin);
    try {
      const r = await registerAka(ue, isim, erin);
      assert.equal(r.final.msg.status, 200);
      const [m0, v0, kept] = [mars(), vectors(), f.reg.stats.get('challenges_from_kept_vectors')];
      const impu = erin.impus[0] as string;
      const replayed = await ue.send(registerBytes(ue, { impu, callId: callId(), cseq: 1, authorization: r.authorization }));
      assert.equal(replayed.msg.status, 401);
      assert.equal(replayed.msg.wwwAuthenticate()[0]?.stale, true);
      const ch = replayed.msg.wwwAuthenticate()[0] as DigestChallenge;
      const { authorization } = await akaAnswer(isim, ch, { username: erin.impi, qop: 'auth', nc: '00000002' });
      const answered = await ue.send(registerBytes(ue, { impu, callId: callId(), cseq: 1, authorization }));
      assert.equal(answered.msg.status, 200, answered.text);
      assert.equal(f.reg.stats.get('challenges_from_kept_vectors') - kept, 1);
      assert.deepEqual([mars() - m0, vectors() - v0], [0, 0]);
    } finally {
      ue.close();
    }
  });

  test('decoys (identities the HSS refuses) neither use nor fill the cache: every challenge asks the HSS', async () => {
    const ue = await Ue.udp(sipPort(f.reg, 'UDP'));
    try {
      const [m0, kept] = [mars(), f.reg.stats.get('vectors_kept_total')];
      const impi = `nobody@${DOMAIN}`;
      for (let i = 0; i < 2; i++) {
        const r = await ue.send(registerBytes(ue, { impu: `sip:${impi}`, callId: callId(), cseq: 1, authorization: initialAuthorization(impi) }));
        assert.equal(r.msg.status, 401);
      }
      assert.equal(mars() - m0, 2);
      assert.equal(f.reg.stats.get('vectors_kept_total'), kept);
    } finally {
      ue.close();
    }
  });
});

describe('registrar/vector-cache.ts', () => {
  const item = (n: number): SipAuthItem => ({ itemNumber: n, authenticate: Buffer.alloc(32, n), authorization: Buffer.alloc(8, n) });
  const id = { impi: 'a@partner.example', impu: 'sip:a@partner.example' };

  test('per IMPI and IMPU, in the order given, each once; SIP Digest items are not kept; drop empties the IMPI', () => {
    const cache = new VectorCache(30_000, 10, new RegistrarStats());
    try {
      cache.put(id, [item(2), item(3), { itemNumber: 4, digest: { realm: 'r', qop: 'auth', ha1: '00' } }], 0);
      assert.equal(cache.take({ ...id, impu: 'sip:other@partner.example' }), undefined, 'another IMPU of the IMPI gets nothing');
      assert.equal(cache.take(id)?.itemNumber, 2);
      assert.equal(cache.take(id)?.itemNumber, 3);
      assert.equal(cache.take(id), undefined);
      cache.put(id, [item(5), item(6)], cache.generation(id.impi));
      assert.equal(cache.drop(id.impi), 2);
      assert.equal(cache.take(id), undefined);
    } finally {
      cache.close();
    }
  });

  test('vectors of a MAR that left before a drop (an RTR, a resync) are not kept when its answer comes', () => {
    const stats = new RegistrarStats();
    const cache = new VectorCache(30_000, 10, stats);
    try {
      const before = cache.generation(id.impi);
      cache.drop(id.impi);
      cache.put(id, [item(1), item(2)], before);
      assert.equal(cache.take(id), undefined);
      assert.equal(stats.get('vectors_dropped'), 2);
      cache.put(id, [item(3)], cache.generation(id.impi));
      assert.equal(cache.take(id)?.itemNumber, 3);
    } finally {
      cache.close();
    }
  });

  test('at most maxImpis identities: the least recently filled is dropped', () => {
    const stats = new RegistrarStats();
    const cache = new VectorCache(30_000, 2, stats);
    try {
      for (const n of [1, 2, 3]) cache.put({ impi: `u${n}`, impu: `sip:u${n}` }, [item(n)], 0);
      assert.equal(cache.take({ impi: 'u1', impu: 'sip:u1' }), undefined);
      assert.equal(cache.take({ impi: 'u3', impu: 'sip:u3' })?.itemNumber, 3);
      assert.equal(stats.get('vectors_dropped'), 1);
    } finally {
      cache.close();
    }
  });
});
