/**
 * Issue #11 part 4 (outstanding-challenge cap): per IMPI at most 3 (the default) unanswered challenges. 10,000
 * unauthenticated REGISTERs for one IMPI — 200 in flight at a time over UDP — cost at most 3 MARs (counted at the
 * HSS), so at most 3 × `authVectors` SQNs, and get at most 3 distinct nonces; the UE of that identity still registers
 * by answering the challenge it gets; answering frees a place (the next REGISTER gets a new challenge). With two
 * registrar processes on one Redis store the cap holds per process, and a nonce one process consumed is not handed out
 * again by the other.
 */
import { before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createSocket } from 'node:dgram';
import type { DigestChallenge } from '../../lib/sip/headers/auth.ts';
import { parseMessage } from '../../lib/sip/parser.ts';
import { REGISTRAR_DEFAULTS } from '../../registrar/config.ts';
import type { RunningRegistrar } from '../../registrar/server.ts';
import { startRedisServer, type RedisServer } from '../helpers/redis-server.ts';
import {
  DOMAIN, Ue, akaAnswer, akaUser, callId, initialAuthorization, openIsim, registerAka, registerBytes, registrarFixture,
  sipPort,
} from './helpers.ts';

const target = akaUser('target');
const shared = akaUser('shared');

/**
 * Sends `total` initial REGISTERs for `impi` from one UDP socket, `window` outstanding at a time, within `deadlineMs`;
 * the unanswered ones are retransmitted every 500 ms as Timer E would (a loaded loopback drops datagrams too).
 * @returns the statuses seen and the distinct nonces of the 401s.
 */
async function flood(port: number, impi: string, total: number, window: number, deadlineMs: number): Promise<{ statuses: Map<number, number>; nonces: Set<string> }> {
  const s = createSocket('udp4');
  await new Promise<void>((resolve) => s.bind(0, '127.0.0.1', () => resolve()));
  const local = s.address().port;
  const statuses = new Map<number, number>();
  const nonces = new Set<string>();
  let sent = 0;
  let answered = 0;
  const outstanding = new Map<string, Buffer>();
  const send = (): void => {
    const n = sent++;
    const bytes = Buffer.from([
      `REGISTER sip:${DOMAIN} SIP/2.0`, `Via: SIP/2.0/UDP 127.0.0.1:${local};branch=z9hG4bK-flood-${n};rport`, 'Max-Forwards: 70',
      `From: <sip:${impi}>;tag=f${n}`, `To: <sip:${impi}>`, `Call-ID: flood-${n}@test`, 'CSeq: 1 REGISTER',
      `Contact: <sip:ue@127.0.0.1:${local}>`, `Authorization: ${initialAuthorization(impi)}`, 'Content-Length: 0', '', '',
    ].join('\r\n'));
    outstanding.set(`z9hG4bK-flood-${n}`, bytes);
    s.send(bytes, port, '127.0.0.1');
  };
  const retransmit = setInterval(() => {
    for (const bytes of outstanding.values()) s.send(bytes, port, '127.0.0.1');
  }, 500);
  try {
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`flood: ${answered}/${total} answered within ${deadlineMs} ms`)), deadlineMs);
      s.on('message', (m) => {
        const msg = parseMessage(m, { datagram: true });
        if (msg.kind !== 'response' || msg.status < 200 || !outstanding.delete(msg.topVia().branch ?? '')) return;
        statuses.set(msg.status, (statuses.get(msg.status) ?? 0) + 1);
        const nonce = msg.wwwAuthenticate()[0]?.nonce;
        if (nonce) nonces.add(nonce);
        answered++;
        if (sent < total) send();
        if (answered === total) {
          clearTimeout(timer);
          resolve();
        }
      });
      for (let i = 0; i < Math.min(window, total); i++) send();
    });
  } finally {
    clearInterval(retransmit);
    s.close();
  }
  return { statuses, nonces };
}

describe('issue #11 part 4: at most 3 outstanding challenges per IMPI (memory store)', () => {
  // reg-await-auth long enough that no pending challenge expires during the flood.
  const f = registrarFixture({ aka: [target], registrar: { regAwaitAuthMs: 120_000 } });

  test('10,000 unauthenticated REGISTERs for one IMPI cost at most 3 MARs (3 × auth-vectors SQNs) and 3 nonces', async (t) => {
    const started = Date.now();
    assert.equal(REGISTRAR_DEFAULTS.maxPendingChallenges, 3);
    const before = f.hss.ctx.stats.get('mar');
    const vectors = f.hss.ctx.stats.get('vectors_issued');
    const { statuses, nonces } = await flood(sipPort(f.reg, 'UDP'), target.impi, 10_000, 200, 90_000);
    assert.deepEqual([...statuses], [[401, 10_000]]);
    const mars = f.hss.ctx.stats.get('mar') - before;
    assert.ok(mars >= 1 && mars <= 3, `MARs: ${mars}`);
    assert.ok(f.hss.ctx.stats.get('vectors_issued') - vectors <= mars * REGISTRAR_DEFAULTS.authVectors);
    assert.ok(nonces.size <= 3, `${nonces.size} nonces`);
    assert.ok(f.reg.stats.get('challenges_reused') >= 10_000 - 3);
    t.diagnostic(`10,000 REGISTERs answered in ${Date.now() - started} ms`);
  });

  test('the identity\'s UE still registers with the challenge it gets; answering frees a place for a new one', async () => {
    const ue = await Ue.udp(sipPort(f.reg, 'UDP'));
    const isim = await openIsim(f.dir, target);
    try {
      const before = f.hss.ctx.stats.get('mar');
      const issued = f.reg.stats.get('challenges_issued');
      const reused = f.reg.stats.get('challenges_reused');
      const r = await registerAka(ue, isim, target);
      assert.equal(r.final.msg.status, 200, r.final.text);
      assert.equal(f.hss.ctx.stats.get('mar') - before, 0, 'no MAR: the challenge was a pending one');
      const again = await ue.send(registerBytes(ue, { impu: target.impus[0] as string, callId: callId(), cseq: 1, authorization: initialAuthorization(target.impi) }));
      assert.equal(again.msg.status, 401);
      // A place was free: a new challenge, with the flood MAR's spare vector or a MAR of its own.
      assert.equal(f.reg.stats.get('challenges_issued') - issued, 1, 'a new challenge');
      assert.ok(f.reg.stats.get('challenges_reused') - reused <= 1, 'not the pending one again');
      assert.ok(f.hss.ctx.stats.get('mar') - before <= 1);
    } finally {
      ue.close();
      await isim.close();
    }
  });
});

describe('issue #11 part 4: the cap with two registrar processes on one Redis store', () => {
  const f = registrarFixture({ aka: [shared], registrar: false });
  let redis: RedisServer;
  let a: RunningRegistrar;
  let b: RunningRegistrar;

  before(async () => {
    redis = await startRedisServer();
    f.onTeardown(() => redis.stop());
    const common = { store: redis.url, regAwaitAuthMs: 60_000, maxPendingChallenges: 2 };
    a = await f.startRegistrar({ ...common, originHost: `a.${DOMAIN}` });
    b = await f.startRegistrar({ ...common, originHost: `b.${DOMAIN}` });
  });

  test('per process: 300 REGISTERs at each cost at most 2 + 2 MARs; a nonce taken at A is not reused by B', async () => {
    const before = f.hss.ctx.stats.get('mar');
    const fa = await flood(sipPort(a, 'UDP'), shared.impi, 300, 50, 30_000);
    const fb = await flood(sipPort(b, 'UDP'), shared.impi, 300, 50, 30_000);
    assert.ok(f.hss.ctx.stats.get('mar') - before <= 4, `MARs: ${f.hss.ctx.stats.get('mar') - before}`);
    assert.ok(fa.nonces.size <= 2 && fb.nonces.size <= 2);
    // Consume every nonce B hands out, through A (the challenges are in Redis); B must then issue new ones.
    const ua = await Ue.udp(sipPort(a, 'UDP'));
    const ub = await Ue.udp(sipPort(b, 'UDP'));
    const isim = await openIsim(f.dir, shared);
    try {
      for (const nonce of fb.nonces) {
        const ch = { realm: DOMAIN, nonce, algorithm: 'AKAv1-MD5', qop: ['auth', 'auth-int'] } as unknown as DigestChallenge;
        const { authorization } = await akaAnswer(isim, ch, { username: shared.impi, qop: 'auth' });
        const r = await ua.send(registerBytes(ua, { impu: shared.impus[0] as string, callId: callId(), cseq: 1, authorization }));
        assert.equal(r.msg.status, 200, r.text);
      }
      const next = await ub.send(registerBytes(ub, { impu: shared.impus[0] as string, callId: callId(), cseq: 1, authorization: initialAuthorization(shared.impi) }));
      assert.equal(next.msg.status, 401, next.text);
      const nonce = (next.msg.wwwAuthenticate()[0] as DigestChallenge).nonce as string;
      assert.ok(!fb.nonces.has(nonce), 'B handed out a fresh nonce, not one A consumed');
    } finally {
      ua.close();
      ub.close();
      await isim.close();
    }
  });
});

