/**
 * RFC 3261 §17.2.2 (non-INVITE server transaction) and §17.2.3 (matching), over real loopback sockets with real
 * bytes: retransmissions absorbed in Trying, the last response re-sent in Proceeding and Completed, Timer J (64·T1
 * on UDP, 0 on TCP), a copy from another source address being another transaction on UDP [DESIGN §2.1], the RFC 2543
 * fallback, ACK absorption, and the bound on a TU that never answers. Timer J and the TU bound run on a manual clock
 * (test/helpers/clock.ts); every other wait is for an event (a datagram, a counter), never for a time.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { SipRequest } from '../../lib/sip/message.ts';
import { SipStack } from '../../lib/sip/stack.ts';
import type { ServerTransaction } from '../../lib/sip/transaction/server.ts';
import { ManualClock } from '../helpers/clock.ts';
import { until } from '../helpers/wait.ts';
import { TcpPeer, UdpPeer, rawRequest, statusLine } from './helpers.ts';

const T1 = 10; // Timer J = 64·T1 = 640 ms

describe('§17.2.2 non-INVITE server transaction', () => {
  let stack: SipStack;
  let udpPort: number;
  let tcpPort: number;
  const seen: Array<{ req: SipRequest; tx: ServerTransaction }> = [];
  let mode: 'hold' | 'reply' | 'none' = 'reply';
  const clock = new ManualClock();
  /** Waits for the stack to count one more absorbed request retransmission than `before`. */
  const absorbed = (before: number): Promise<void> =>
    until(() => stack.stats.retransmissionsAbsorbed === before + 1, 'the retransmission at the stack');

  before(async () => {
    stack = new SipStack({
      udp: [{ host: '127.0.0.1', port: 0 }],
      tcp: [{ host: '127.0.0.1', port: 0 }],
      timers: { t1: T1, t2: 40, t4: 50 },
      clock,
      onRequest: (req, tx) => {
        seen.push({ req, tx });
        if (mode === 'reply') tx.reply(req.method === 'INVITE' ? 405 : 200, req.method === 'INVITE' ? { headers: [['Allow', 'REGISTER, OPTIONS']] } : {});
      },
    });
    const bound = await stack.start();
    udpPort = bound.find((b) => b.transport === 'UDP')?.port ?? 0;
    tcpPort = bound.find((b) => b.transport === 'TCP')?.port ?? 0;
  });
  after(() => stack.stop());

  const reset = (m: typeof mode): void => {
    seen.length = 0;
    mode = m;
  };

  test('Trying absorbs retransmissions silently; Completed re-sends the identical final response', async () => {
    reset('hold');
    const peer = await UdpPeer.open();
    const req = rawRequest({ viaPort: peer.port, branch: 'z9hG4bK-trying-1' });
    peer.send(req, udpPort);
    await until(() => seen.length === 1, 'the request at the handler');
    const count = stack.stats.retransmissionsAbsorbed;
    peer.send(req, udpPort);
    await absorbed(count);
    assert.equal(seen.length, 1, 'handler called once');
    assert.equal(peer.received.length, 0, 'nothing sent while Trying');
    assert.equal(seen[0]?.tx.state, 'trying');
    seen[0]?.tx.reply(200);
    assert.equal(seen[0]?.tx.state, 'completed');
    await peer.waitFor(1);
    peer.send(req, udpPort);
    const [first, second] = await peer.waitFor(2);
    assert.equal(second, first, 'the same bytes, To-tag included');
    assert.equal(statusLine(first ?? ''), 'SIP/2.0 200 OK');
    assert.equal(seen.length, 1);
    assert.equal(seen[0]?.tx.reply(500), undefined, 'later final responses are discarded (§17.2.2)');
    await peer.close();
  });

  test('Proceeding re-sends the last provisional response', async () => {
    reset('hold');
    const peer = await UdpPeer.open();
    const req = rawRequest({ viaPort: peer.port, branch: 'z9hG4bK-proc-1' });
    peer.send(req, udpPort);
    await until(() => seen.length === 1, 'the request at the handler');
    seen[0]?.tx.reply(100);
    assert.equal(seen[0]?.tx.state, 'proceeding');
    await peer.waitFor(1);
    peer.send(req, udpPort);
    const got = await peer.waitFor(2);
    assert.deepEqual(got.map(statusLine), ['SIP/2.0 100 Trying', 'SIP/2.0 100 Trying']);
    seen[0]?.tx.reply(200);
    assert.equal(statusLine((await peer.waitFor(3))[2] ?? ''), 'SIP/2.0 200 OK');
    await peer.close();
  });

  test('Timer J (64·T1 on UDP): afterwards the same request is a new transaction', async () => {
    reset('reply');
    const peer = await UdpPeer.open();
    const req = rawRequest({ viaPort: peer.port, branch: 'z9hG4bK-timerj-1' });
    peer.send(req, udpPort);
    await peer.waitFor(1);
    const tx = seen[0]?.tx;
    assert.equal(tx?.state, 'completed');
    assert.equal(tx?.request, undefined, 'a completed transaction keeps only the response bytes');
    clock.advance(64 * T1 - 1);
    assert.equal(tx?.state, 'completed', 'still absorbing 1 ms before Timer J');
    clock.advance(1);
    assert.equal(tx?.state, 'terminated');
    assert.equal(stack.serverTransactions.has(tx?.key ?? ''), false);
    peer.send(req, udpPort);
    await peer.waitFor(2);
    assert.equal(seen.length, 2, 'handler called again after Timer J');
    await peer.close();
  });

  test('UDP: an identical request from another source address is a different transaction', async () => {
    reset('reply');
    const a = await UdpPeer.open();
    const b = await UdpPeer.open();
    const req = rawRequest({ viaPort: a.port, branch: 'z9hG4bK-two-sources' });
    a.send(req, udpPort);
    await a.waitFor(1);
    b.send(req, udpPort);
    // The answer goes to the Via sent-by port (§18.2.2, no rport): a's, where the first answer went.
    await a.waitFor(2);
    assert.equal(seen.length, 2);
    assert.notEqual(seen[0]?.tx.key, seen[1]?.tx.key);
    await Promise.all([a.close(), b.close()]);
  });

  test('§17.2.3 matching: a different branch, method or sent-by is a different transaction', async () => {
    reset('reply');
    const peer = await UdpPeer.open();
    peer.send(rawRequest({ viaPort: peer.port, branch: 'z9hG4bK-m1' }), udpPort);
    peer.send(rawRequest({ viaPort: peer.port, branch: 'z9hG4bK-m2' }), udpPort);
    peer.send(rawRequest({ viaPort: peer.port, branch: 'z9hG4bK-m1', method: 'OPTIONS' }), udpPort);
    peer.send(rawRequest({ viaPort: peer.port, viaHost: 'ue.example.com', branch: 'z9hG4bK-m1' }), udpPort);
    await peer.waitFor(4);
    assert.equal(seen.length, 4);
    await peer.close();
  });

  test('TCP: Timer J is zero, the transaction ends with the final response', async () => {
    reset('reply');
    const peer = await TcpPeer.open(tcpPort);
    const req = rawRequest({ transport: 'TCP', branch: 'z9hG4bK-tcp-j0' });
    peer.socket.write(req);
    await peer.until(() => peer.messages.length === 1);
    assert.equal(seen[0]?.tx.state, 'terminated');
    peer.socket.write(req);
    await peer.until(() => peer.messages.length === 2);
    assert.equal(seen.length, 2);
    peer.socket.destroy();
  });

  test('RFC 2543 fallback: without a magic-cookie branch, retransmissions still match', async () => {
    reset('reply');
    const peer = await UdpPeer.open();
    const req = rawRequest({ viaPort: peer.port }).replace(';branch=z9hG4bK-test-1', '');
    peer.send(req, udpPort);
    await peer.waitFor(1);
    peer.send(req, udpPort);
    const [r1, r2] = await peer.waitFor(2);
    assert.equal(r1, r2);
    assert.equal(seen.length, 1);
    assert.match(seen[0]?.tx.key ?? '', /^2543\|/);
    await peer.close();
  });

  test('INVITE answered 405 through the same machine; the ACK for it is absorbed', async () => {
    reset('reply');
    const peer = await UdpPeer.open();
    peer.send(rawRequest({ method: 'INVITE', viaPort: peer.port, branch: 'z9hG4bK-inv-1' }), udpPort);
    const [r] = await peer.waitFor(1);
    assert.equal(statusLine(r ?? ''), 'SIP/2.0 405 Method Not Allowed');
    assert.match(r ?? '', /\r\nAllow: REGISTER, OPTIONS\r\n/);
    const count = stack.stats.retransmissionsAbsorbed;
    peer.send(rawRequest({ method: 'ACK', viaPort: peer.port, branch: 'z9hG4bK-inv-1' }), udpPort);
    await absorbed(count);
    assert.equal(peer.received.length, 1, 'no response to the ACK');
    assert.equal(seen.length, 1);
    await peer.close();
  });

  test('a TU that never answers: the transaction ends after 64·T1 and is counted', async () => {
    reset('none');
    const peer = await UdpPeer.open();
    const before = stack.stats.tuTimeouts;
    peer.send(rawRequest({ viaPort: peer.port, branch: 'z9hG4bK-silent' }), udpPort);
    await until(() => seen.length === 1, 'the request at the handler');
    clock.advance(64 * T1 - 1);
    assert.equal(seen[0]?.tx.state, 'trying', 'still waiting for the TU 1 ms before 64·T1');
    clock.advance(1);
    assert.equal(seen[0]?.tx.state, 'terminated');
    assert.equal(stack.stats.tuTimeouts, before + 1);
    assert.equal(seen[0]?.tx.reply(200), undefined);
    await peer.close();
  });
});
