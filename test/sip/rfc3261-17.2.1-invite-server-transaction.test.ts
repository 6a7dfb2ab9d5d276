/**
 * RFC 3261 §17.2.1 (INVITE server transaction, Figure 7) for the answer this stack's TUs give an INVITE, a non-2xx
 * final response, over real loopback sockets: over UDP the response is re-sent on Timer G — T1, then doubling up to
 * T2 — with the very same bytes, until Timer H (64·T1); the ACK (same branch, §17.1.1.3) stops it (Confirmed) and is
 * absorbed; over TCP nothing is re-sent; a non-INVITE final response is never re-sent unasked (§17.2.2); at most
 * MAX_RETRANSMITTING responses are re-sent at a time. The timers run on a manual clock and are read at the stack's
 * retransmission counter, which a Timer G firing moves at once; every other wait is for an event.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { SipStack } from '../../lib/sip/stack.ts';
import { MAX_RETRANSMITTING } from '../../lib/sip/transaction/invite-completed.ts';
import { ManualClock } from '../helpers/clock.ts';
import { until } from '../helpers/wait.ts';
import { TcpPeer, UdpPeer, rawRequest, statusLine } from './helpers.ts';

const T1 = 10;
const T2 = 40;

/** When Timer G fires after the response, in ms: T1, 3·T1, 7·T1, … (intervals doubling up to T2), before 64·T1. */
function timerG(): number[] {
  const out: number[] = [];
  for (let at = T1, interval = T1; at < 64 * T1; interval = Math.min(2 * interval, T2), at += interval) out.push(at);
  return out;
}

describe('§17.2.1 INVITE server transaction: a non-2xx final response', () => {
  let stack: SipStack;
  let udpPort: number;
  let tcpPort: number;
  const clock = new ManualClock();
  const resent = (): number => stack.stats.responsesRetransmitted;

  before(async () => {
    stack = new SipStack({
      udp: [{ host: '127.0.0.1', port: 0 }],
      tcp: [{ host: '127.0.0.1', port: 0 }],
      timers: { t1: T1, t2: T2, t4: 50 },
      clock,
      onRequest: (req, tx) => void tx.reply(req.method === 'INVITE' ? 405 : 200, req.method === 'INVITE' ? { headers: [['Allow', 'REGISTER, OPTIONS']] } : {}),
    });
    const bound = await stack.start();
    udpPort = bound.find((b) => b.transport === 'UDP')?.port ?? 0;
    tcpPort = bound.find((b) => b.transport === 'TCP')?.port ?? 0;
  });
  after(() => stack.stop());

  test('over UDP without an ACK: re-sent at each Timer G (T1, doubling, capped at T2), the same bytes, none from Timer H on', async () => {
    const peer = await UdpPeer.open();
    try {
      peer.send(rawRequest({ method: 'INVITE', viaPort: peer.port, branch: 'z9hG4bK-g-1' }), udpPort);
      const [first] = await peer.waitFor(1);
      assert.equal(statusLine(first as string), 'SIP/2.0 405 Method Not Allowed');
      const start = resent();
      let elapsed = 0;
      for (const [i, at] of timerG().entries()) {
        clock.advance(at - 1 - elapsed);
        assert.equal(resent(), start + i, `nothing re-sent before ${at} ms`);
        clock.advance(1);
        elapsed = at;
        assert.equal(resent(), start + i + 1, `re-sent at ${at} ms`);
      }
      clock.advance(64 * T1 * 4);
      const count = timerG().length;
      assert.equal(resent(), start + count, 'Timer H ended the retransmissions');
      assert.equal(count, 17, 'T1=10, T2=40: 10, 30, 70, then every 40 ms up to 630');
      const all = await peer.waitFor(1 + count);
      assert.ok(all.every((d) => d === first), 'each copy is the first response, byte for byte');
      assert.equal(stack.inviteRetransmissions.size, 0);
    } finally {
      await peer.close();
    }
  });

  test('the ACK (same branch) stops Timer G and is absorbed, not answered', async () => {
    const peer = await UdpPeer.open();
    try {
      const invite = { viaPort: peer.port, branch: 'z9hG4bK-g-ack', callId: 'g-ack@test' };
      peer.send(rawRequest({ method: 'INVITE', ...invite }), udpPort);
      await peer.waitFor(1);
      const start = resent();
      clock.advance(T1);
      assert.equal(resent(), start + 1);
      await peer.waitFor(2);
      const absorbed = stack.stats.retransmissionsAbsorbed;
      peer.send(rawRequest({ method: 'ACK', ...invite }), udpPort);
      await until(() => stack.stats.retransmissionsAbsorbed === absorbed + 1, 'the ACK at the stack');
      assert.equal(stack.inviteRetransmissions.size, 0);
      // The INVITE again, within Timer J: its response once more from the Completed record, and no new Timer G.
      peer.send(rawRequest({ method: 'INVITE', ...invite }), udpPort);
      const got = await peer.waitFor(3);
      assert.equal(statusLine(got[2] as string), 'SIP/2.0 405 Method Not Allowed');
      assert.equal(stack.inviteRetransmissions.size, 0);
      assert.equal(resent(), start + 2, 'one Timer G, one answer to the retransmitted INVITE');
      clock.advance(64 * T1);
      assert.equal(resent(), start + 2, 'nothing re-sent on a timer after the ACK');
    } finally {
      await peer.close();
    }
  });

  test('over TCP: nothing re-sent (a reliable transport, Timer G is not set)', async () => {
    const peer = await TcpPeer.open(tcpPort);
    try {
      peer.socket.write(rawRequest({ method: 'INVITE', transport: 'TCP', branch: 'z9hG4bK-g-tcp' }));
      await peer.until(() => peer.messages.length === 1);
      assert.equal(statusLine(peer.messages[0] as string), 'SIP/2.0 405 Method Not Allowed');
      const start = resent();
      clock.advance(64 * T1);
      assert.equal(resent(), start);
      assert.equal(stack.inviteRetransmissions.size, 0);
    } finally {
      peer.socket.destroy();
    }
  });

  test('a non-INVITE final response over UDP is not re-sent unasked (§17.2.2)', async () => {
    const peer = await UdpPeer.open();
    try {
      peer.send(rawRequest({ viaPort: peer.port, branch: 'z9hG4bK-g-register' }), udpPort);
      await peer.waitFor(1);
      const start = resent();
      clock.advance(64 * T1);
      assert.equal(resent(), start);
    } finally {
      await peer.close();
    }
  });

  test(`at most ${MAX_RETRANSMITTING} responses re-sent at a time; an INVITE beyond that gets its response once`, async () => {
    const peer = await UdpPeer.open();
    try {
      const skipped = stack.inviteRetransmissions.skipped;
      for (let i = 0; i <= MAX_RETRANSMITTING; i++) peer.send(rawRequest({ method: 'INVITE', viaPort: peer.port, branch: `z9hG4bK-g-cap-${i}` }), udpPort);
      await peer.waitFor(MAX_RETRANSMITTING + 1, 20_000);
      assert.equal(stack.inviteRetransmissions.size, MAX_RETRANSMITTING);
      assert.equal(stack.inviteRetransmissions.skipped, skipped + 1);
      clock.advance(64 * T1);
      assert.equal(stack.inviteRetransmissions.size, 0, 'Timer H ended every one');
    } finally {
      await peer.close();
    }
  });
});
