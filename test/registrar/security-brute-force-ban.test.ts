/**
 * Issue #11 part 4 (brute force; Kamailio's pike + htable as the reference): with the defaults, more than 10 failed
 * authentications from one source address within 60 s ban it for 300 s — its REGISTERs then get 403 without a MAR,
 * the right password included — with one warn line per ban; the same user from another loopback address (127.0.0.8)
 * registers. Only wrong responses count: stale nonces, `nc` above 1, empty responses (MAC failure), `auts`
 * resynchronisations and malformed requests do not. `--ban-action drop` answers nothing. Real UDP sockets.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import type { DigestChallenge } from '../../lib/sip/headers/auth.ts';
import { ManualClock } from '../helpers/clock.ts';
import { until } from '../helpers/wait.ts';
import {
  DOMAIN, Ue, advanceIsim, akaAnswer, akaUser, callId, captureLogger, credentials, initialAuthorization, openIsim,
  passwordUser, registerAka, registerBytes, registrarFixture, sipPort, type PasswordUser,
} from './helpers.ts';

const victim = passwordUser('victim', 'correct horse battery staple');
const aka = akaUser('akauser');

/** REGISTER → 401 → REGISTER with `password`: the final response. */
async function tryPassword(ue: Ue, u: PasswordUser, password: string): Promise<{ first: number; status: number; line: string }> {
  const id = callId();
  const r1 = await ue.send(registerBytes(ue, { impu: u.impus[0] as string, callId: id, cseq: 1 }));
  if (r1.msg.status !== 401) return { first: r1.msg.status, status: r1.msg.status, line: r1.text.split('\r\n')[0] as string };
  const ch = r1.msg.wwwAuthenticate()[0] as DigestChallenge;
  const authorization = credentials(ch, { username: u.impi, qop: 'auth', algorithm: ch.algorithm as string }, Buffer.from(password, 'utf8'));
  const r2 = await ue.send(registerBytes(ue, { impu: u.impus[0] as string, callId: id, cseq: 2, authorization }));
  return { first: 401, status: r2.msg.status, line: r2.text.split('\r\n')[0] as string };
}

describe('issue #11 part 4: brute-force ban per source address', () => {
  const log = captureLogger();
  // The registrar runs with the default limits, on a manual clock the window and ban tests move.
  const clock = new ManualClock(Date.now());
  const f = registrarFixture({ aka: [aka], digest: [victim], registrar: { logger: log.logger, now: clock.now } });

  test('the default window and ban time: failures 60 s apart do not add up; the 11th within 60 s bans for exactly 300 s', async () => {
    const ue = await Ue.udp(sipPort(f.reg, 'UDP'), '127.0.0.10');
    try {
      const wrong = async (n: number): Promise<string[]> => {
        const lines: string[] = [];
        for (let i = 0; i < n; i++) lines.push((await tryPassword(ue, victim, `wrong-${i}`)).line);
        return lines;
      };
      const refused = 'SIP/2.0 403 Forbidden (Authentication Failed)';
      const banned = 'SIP/2.0 403 Forbidden (Too Many Failed Authentications)';
      assert.deepEqual(await wrong(10), Array(10).fill(refused));
      clock.advance(60_000);
      assert.deepEqual(await wrong(10), Array(10).fill(refused), 'the first ten are out of the window');
      assert.equal((await tryPassword(ue, victim, victim.password)).status, 200, 'ten failures within 60 s are tolerated');
      assert.deepEqual(await wrong(2), [refused, banned], 'the eleventh bans: the next REGISTER is refused before any challenge');
      clock.advance(300_000 - 1);
      assert.equal((await tryPassword(ue, victim, victim.password)).line, banned, 'still banned 1 ms before 300 s');
      clock.advance(1);
      assert.equal((await tryPassword(ue, victim, victim.password)).status, 200, 'the ban is over');
    } finally {
      ue.close();
    }
  });

  test('60 wrong passwords from 127.0.0.1, then the right one → not 200; from 127.0.0.8 the right one → 200', async () => {
    const attacker = await Ue.udp(sipPort(f.reg, 'UDP'), '127.0.0.1');
    const elsewhere = await Ue.udp(sipPort(f.reg, 'UDP'), '127.0.0.8');
    try {
      const outcomes: string[] = [];
      for (let i = 0; i < 60; i++) outcomes.push((await tryPassword(attacker, victim, `guess-${i}`)).line);
      // 11 wrong answers (10 tolerated, the 11th bans), then 49 refused at once.
      assert.deepEqual(outcomes.slice(0, 11), Array(11).fill('SIP/2.0 403 Forbidden (Authentication Failed)'));
      assert.deepEqual(outcomes.slice(11), Array(49).fill('SIP/2.0 403 Forbidden (Too Many Failed Authentications)'));
      const marsBefore = f.hss.ctx.stats.get('mar');
      const right = await tryPassword(attacker, victim, victim.password);
      assert.notEqual(right.status, 200);
      assert.equal(right.line, 'SIP/2.0 403 Forbidden (Too Many Failed Authentications)');
      assert.equal(f.hss.ctx.stats.get('mar'), marsBefore, 'a banned source costs no MAR');
      const other = await tryPassword(elsewhere, victim, victim.password);
      assert.equal(other.status, 200, other.line);
      assert.equal(f.reg.stats.get('bans'), 2, 'this one and the window test\'s');
      assert.equal(f.reg.stats.get('banned_requests'), 52);
      const bans = log.lines().filter((l) => typeof l.msg === 'string' && l.msg.includes('banned for') && l.source === '127.0.0.1');
      assert.equal(bans.length, 1, 'one log line per ban');
      assert.equal(bans[0]?.level, 40);
      assert.equal(bans[0]?.source, '127.0.0.1');
      assert.equal(bans[0]?.ban_s, 300);
    } finally {
      attacker.close();
      elsewhere.close();
    }
  });

  test('stale and unknown nonces, nc above 1, empty responses, auts and malformed requests are not failures (127.0.0.9 stays unbanned)', async () => {
    const ue = await Ue.udp(sipPort(f.reg, 'UDP'), '127.0.0.9');
    const isim = await openIsim(f.dir, aka);
    try {
      const failures = f.reg.stats.get('auth_failures');
      const impu = aka.impus[0] as string;
      const challenge = async (id: string): Promise<DigestChallenge> => {
        const r = await ue.send(registerBytes(ue, { impu, callId: id, cseq: 1, authorization: initialAuthorization(aka.impi) }));
        assert.equal(r.msg.status, 401, r.text);
        return r.msg.wwwAuthenticate()[0] as DigestChallenge;
      };
      for (let i = 0; i < 12; i++) {
        // A nonce the registrar never issued → 401, not stale (RFC 7616 §3.3).
        const forged = { realm: DOMAIN, nonce: randomBytes(32).toString('base64'), algorithm: 'AKAv1-MD5' } as DigestChallenge;
        const unknown = await ue.send(registerBytes(ue, { impu, callId: callId(), cseq: 1, authorization: credentials(forged, { username: aka.impi, qop: 'auth' }, randomBytes(8)) }));
        assert.equal(unknown.msg.status, 401, unknown.text);
        assert.equal(unknown.msg.wwwAuthenticate()[0]?.stale, false, unknown.text);
        // nc=00000002 with the right RES on the nonce's first use → 200; the same Authorization again → 401 stale=TRUE.
        const id = callId();
        const { authorization } = await akaAnswer(isim, await challenge(id), { username: aka.impi, qop: 'auth', nc: '00000002' });
        assert.equal((await ue.send(registerBytes(ue, { impu, callId: id, cseq: 2, authorization }))).msg.status, 200);
        const used = await ue.send(registerBytes(ue, { impu, callId: id, cseq: 3, authorization }));
        assert.equal(used.msg.wwwAuthenticate()[0]?.stale, true, used.text);
        // An empty response (the UE's MAC-failure report) → 403 Network Authentication Failed.
        const id2 = callId();
        const ch2 = await challenge(id2);
        const report = `Digest username="${aka.impi}", realm="${DOMAIN}", nonce="${ch2.nonce}", uri="sip:${DOMAIN}", response="", algorithm=AKAv1-MD5`;
        assert.equal((await ue.send(registerBytes(ue, { impu, callId: id2, cseq: 2, authorization: report }))).msg.status, 403);
        // A malformed auts → 400; a request the parser refuses → 400.
        const id3 = callId();
        const bad = credentials(await challenge(id3), { username: aka.impi, qop: 'auth' }, Buffer.alloc(0), 'not-base64!');
        assert.equal((await ue.send(registerBytes(ue, { impu, callId: id3, cseq: 2, authorization: bad }))).msg.status, 400);
        const malformed = registerBytes(ue, { impu, callId: callId(), cseq: 1, contacts: ['<sip:ue@[::1>'] });
        assert.equal((await ue.send(malformed)).msg.status, 400);
      }
      // Real synchronisation failures (auts) twice: resync MAR, fresh 401, then 200.
      for (let i = 0; i < 2; i++) {
        await advanceIsim(isim, aka, 5000n * BigInt(i + 1));
        const id = callId();
        const { authorization, result } = await akaAnswer(isim, await challenge(id), { username: aka.impi, qop: 'auth' });
        assert.ok('syncFailure' in result);
        const again = await ue.send(registerBytes(ue, { impu, callId: id, cseq: 2, authorization }));
        assert.equal(again.msg.status, 401, again.text);
      }
      assert.equal(f.reg.stats.get('auth_failures'), failures, 'nothing above counted');
      const ok = await registerAka(ue, isim, aka);
      assert.equal(ok.final.msg.status, 200, ok.final.text);
    } finally {
      ue.close();
      await isim.close();
    }
  });
});

describe('issue #11 part 4: --ban-action drop, and a ban ends', () => {
  // The ban runs on a manual clock: it ends when the test moves time past it, not after a real wait.
  const clock = new ManualClock(Date.now());
  const f = registrarFixture({ digest: [victim], registrar: { banAfter: 1, banMs: 1500, banAction: 'drop', now: clock.now } });

  test('a banned source gets no answer at all, and is answered again once the ban is over', async () => {
    const ue = await Ue.udp(sipPort(f.reg, 'UDP'), '127.0.0.10');
    try {
      for (let i = 0; i < 2; i++) assert.equal((await tryPassword(ue, victim, `nope-${i}`)).status, 403);
      // Dropped: the registrar decides on the request as it reads it, so once it has counted it, nothing was sent.
      const dropped = async (): Promise<void> => {
        const before = f.reg.stats.get('banned_requests');
        ue.transmit(registerBytes(ue, { impu: victim.impus[0] as string, callId: callId(), cseq: 1 }));
        await until(() => f.reg.stats.get('banned_requests') === before + 1, 'the banned REGISTER at the registrar');
        assert.equal(ue.pending, 0, 'no answer to a banned source');
      };
      await dropped();
      clock.advance(1499);
      await dropped();
      clock.advance(1);
      assert.equal((await tryPassword(ue, victim, victim.password)).status, 200, 'the ban is over after banMs');
    } finally {
      ue.close();
    }
  });
});
