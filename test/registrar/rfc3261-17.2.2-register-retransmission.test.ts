/**
 * RFC 3261 §17.2.2 (non-INVITE server transaction) on real sockets, DESIGN §2.1 ("non-INVITE server transactions absorb
 * retransmissions"; "the UDP transaction key includes the source address"): a REGISTER retransmitted over UDP — the
 * same bytes, so the same branch, from the same address and port — gets the response the transaction already sent,
 * byte for byte, and costs nothing more: one challenge (counted by the registrar: a vector from a MAR or one kept from
 * an earlier MAA) and, for the authenticated REGISTER, one SAR (counted by the HSS's own admin API). The same bytes
 * from another source port are another transaction.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { DigestChallenge } from '../../lib/sip/headers/auth.ts';
import {
  Ue, akaAnswer, akaUser, callId, hssStats, initialAuthorization, openIsim, registerAka, registerBytes,
  registrarFixture, sipPort, type AkaUser,
} from './helpers.ts';

const users = Array.from({ length: 4 }, (_, i) => akaUser(`retx${i}`));
const user = (i: number): AkaUser => users[i] as AkaUser;

describe('RFC 3261 §17.2.2: a retransmitted REGISTER over UDP', () => {
  const f = registrarFixture({ aka: users });
  const udp = async (): Promise<Ue> => {
    const ue = await Ue.udp(sipPort(f.reg, 'UDP'));
    f.onTeardown(() => ue.close());
    return ue;
  };

  /**
   * A complete registration of another user through its own socket: its MAR travels the same Diameter connection
   * after any MAR the registrar sent before, so once its 401 is back the HSS has counted every earlier one.
   */
  async function settle(u: AkaUser): Promise<void> {
    const r = await registerAka(await udp(), await openIsim(f.dir, u), u);
    assert.equal(r.final.msg.status, 200);
  }

  const challenges = (): number => f.reg.stats.get('challenges_issued');

  test('same bytes, same branch, same source: the cached 401 again, byte for byte, and one challenge', async () => {
    const u = user(0);
    const ue = await udp();
    const before = challenges();
    const absorbed = f.reg.stack.stats.retransmissionsAbsorbed;
    const bytes = registerBytes(ue, { impu: u.impus[0] as string, callId: callId(), cseq: 1, authorization: initialAuthorization(u.impi) });
    ue.transmit(bytes);
    const first = await ue.next();
    assert.equal(first.msg.status, 401, first.text);
    ue.transmit(bytes);
    const again = await ue.next();
    assert.equal(again.text, first.text, 'the transaction resends its response; a second challenge would bring a new nonce');
    assert.equal(f.reg.stack.stats.retransmissionsAbsorbed, absorbed + 1);
    await settle(user(3));
    assert.equal(challenges() - before, 2, 'one challenge for the REGISTER and its retransmission, one for the settling registration');
  });

  test('a copy arriving while the MAR is in flight is absorbed too (Trying state): still one challenge, one nonce', async () => {
    const u = user(1);
    const ue = await udp();
    const before = challenges();
    const bytes = registerBytes(ue, { impu: u.impus[0] as string, callId: callId(), cseq: 1, authorization: initialAuthorization(u.impi) });
    ue.transmit(bytes);
    ue.transmit(bytes);
    const first = await ue.next();
    assert.equal(first.msg.status, 401, first.text);
    ue.transmit(bytes);
    const later = await ue.next();
    assert.equal(later.text, first.text);
    await settle(user(3));
    assert.equal(challenges() - before, 2);
    while (ue.pending > 0) assert.equal((await ue.next()).text, first.text, 'any other response is the same cached 401');
  });

  test('the authenticated REGISTER retransmitted: the cached 200, one SAR', async () => {
    const u = user(2);
    const ue = await udp();
    const id = callId();
    const impu = u.impus[0] as string;
    const r1 = await ue.send(registerBytes(ue, { impu, callId: id, cseq: 1, authorization: initialAuthorization(u.impi) }));
    assert.equal(r1.msg.status, 401);
    const { authorization } = await akaAnswer(await openIsim(f.dir, u), r1.msg.wwwAuthenticate()[0] as DigestChallenge, { username: u.impi, qop: 'auth' });
    const before = await hssStats(f.hss);
    const bytes = registerBytes(ue, { impu, callId: id, cseq: 2, authorization });
    ue.transmit(bytes);
    const ok = await ue.next();
    assert.equal(ok.msg.status, 200, ok.text);
    ue.transmit(bytes);
    const again = await ue.next();
    // Not a 401 stale=TRUE: the used nonce is never looked at again, the transaction answers.
    assert.equal(again.text, ok.text);
    await settle(user(3));
    const after = await hssStats(f.hss);
    assert.equal(after.sar - before.sar, 2, 'one SAR for the REGISTER and its retransmission, one for the settling registration');
  });

  test('the same bytes from another source port are a new transaction (the UDP key holds the source): a second challenge, a new nonce', async () => {
    const u = user(0);
    const [a, b] = [await udp(), await udp()];
    const before = challenges();
    // The Via names a's port with rport, so the response goes to whichever port the request came from.
    const bytes = registerBytes(a, { impu: u.impus[0] as string, callId: callId(), cseq: 1, authorization: initialAuthorization(u.impi) });
    a.transmit(bytes);
    const fromA = await a.next();
    b.transmit(bytes);
    const fromB = await b.next();
    assert.equal(fromA.msg.status, 401);
    assert.equal(fromB.msg.status, 401);
    assert.notEqual(fromB.msg.wwwAuthenticate()[0]?.nonce, fromA.msg.wwwAuthenticate()[0]?.nonce);
    assert.equal(challenges() - before, 2);
  });
});
