/**
 * Issue #11 (floods; Kamailio's pike as the reference): each source address has a token bucket of `--rate-burst`
 * requests refilled at `--rate-limit` per second. A request over it gets `503 Service Unavailable` with Retry-After,
 * whatever its method — REGISTER (no MAR is sent for it), OPTIONS, and CANCEL, which the registrar answers itself
 * (RFC 3261 §9.2) after the same check — and counts in `rate_limited`; another address is not affected; time refills
 * the bucket. Real UDP sockets; the registrar's clock is a manual one, so nothing refills unless the test says so.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { ManualClock } from '../helpers/clock.ts';
import { DOMAIN, Ue, callId, passwordUser, registerBytes, registrarFixture, sipPort } from './helpers.ts';

const user = passwordUser('flooder', 'not a secret');

/** An OPTIONS or CANCEL from `ue` with a fresh branch. */
function request(ue: Ue, method: 'OPTIONS' | 'CANCEL'): string {
  return [
    `${method} sip:${DOMAIN} SIP/2.0`,
    `Via: SIP/2.0/UDP ${ue.localAddress}:${ue.localPort};branch=z9hG4bK-rate-${callId().split('@')[0]};rport`,
    'Max-Forwards: 70', `From: <sip:x@${DOMAIN}>;tag=1`, `To: <sip:${DOMAIN}>`, `Call-ID: ${callId()}`, `CSeq: 1 ${method}`,
    'Content-Length: 0', '', '',
  ].join('\r\n');
}

describe('issue #11: per-source rate limit, every method alike', () => {
  const clock = new ManualClock(Date.now());
  const f = registrarFixture({ digest: [user], registrar: { rateLimit: 1, rateBurst: 3, now: clock.now } });

  test('three requests pass, the fourth of any method gets 503 with Retry-After and is counted; another address is served', async () => {
    const ue = await Ue.udp(sipPort(f.reg, 'UDP'), '127.0.0.20');
    try {
      const status = async (bytes: string): Promise<string> => (await ue.send(bytes)).text.split('\r\n')[0] as string;
      assert.equal(await status(request(ue, 'OPTIONS')), 'SIP/2.0 200 OK');
      assert.equal(await status(request(ue, 'CANCEL')), 'SIP/2.0 481 Call/Transaction Does Not Exist');
      assert.equal(await status(registerBytes(ue, { impu: user.impus[0] as string, callId: callId(), cseq: 1 })), 'SIP/2.0 401 Unauthorized');
      const limited = f.reg.stats.get('rate_limited');
      const challenges = f.reg.stats.get('challenges_issued');
      for (const bytes of [request(ue, 'CANCEL'), request(ue, 'OPTIONS'), registerBytes(ue, { impu: user.impus[0] as string, callId: callId(), cseq: 1 })]) {
        const r = await ue.send(bytes);
        assert.equal(r.text.split('\r\n')[0], 'SIP/2.0 503 Service Unavailable (Rate Limit)', r.text);
        assert.equal(r.msg.headers.get('retry-after'), '1');
      }
      assert.equal(f.reg.stats.get('rate_limited'), limited + 3);
      assert.equal(f.reg.stats.get('challenges_issued'), challenges, 'no challenge (and no MAR) for a limited REGISTER');
      const other = await Ue.udp(sipPort(f.reg, 'UDP'), '127.0.0.21');
      try {
        assert.equal((await other.send(request(other, 'CANCEL'))).text.split('\r\n')[0], 'SIP/2.0 481 Call/Transaction Does Not Exist');
      } finally {
        other.close();
      }
      clock.advance(1000);
      assert.equal(await status(request(ue, 'OPTIONS')), 'SIP/2.0 200 OK', 'one token back after a second');
    } finally {
      ue.close();
    }
  });
});
