/**
 * RFC 3261 §17.1.2 (non-INVITE client transaction) and §17.1.3 (matching responses), against a raw UDP/TCP peer
 * that answers by hand: Timer E retransmits from T1 doubling to T2 (T2 flat after a provisional), Timer F times
 * out, Timer K absorbs response retransmissions, no retransmission on TCP. The timers run on a manual clock
 * (test/helpers/clock.ts), so the schedule is checked to the millisecond without waiting for it; the copies and
 * answers still cross real sockets.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';
import { SipError } from '../../lib/sip/errors.ts';
import { parseMessage } from '../../lib/sip/parser.ts';
import { createRequest } from '../../lib/sip/request.ts';
import { createResponse } from '../../lib/sip/response.ts';
import { serializeMessage } from '../../lib/sip/serialize.ts';
import type { SipRequest } from '../../lib/sip/message.ts';
import { SipStack } from '../../lib/sip/stack.ts';
import { ManualClock } from '../helpers/clock.ts';
import { turn, until } from '../helpers/wait.ts';
import { UdpPeer } from './helpers.ts';

const T1 = 20;
const T2 = 80;
const T4 = 100;

const options = (): SipRequest => createRequest({ method: 'OPTIONS', uri: 'sip:peer.example', from: 'sip:ue@example.com', to: 'sip:peer.example' });

/** The peer's answer to a request it received. */
function answer(raw: Buffer, status: number): Buffer {
  return serializeMessage(createResponse(parseMessage(raw) as SipRequest, status));
}

/** Whether a promise has settled, as seen after the callbacks already queued ran. */
async function settled(p: Promise<unknown>): Promise<boolean> {
  let done = false;
  p.then(() => (done = true), () => (done = true));
  await turn();
  return done;
}

describe('§17.1.2 non-INVITE client transaction', () => {
  let stack: SipStack;
  const clock = new ManualClock();

  before(async () => {
    stack = new SipStack({ udp: [{ host: '127.0.0.1', port: 0 }], timers: { t1: T1, t2: T2, t4: T4 }, clock });
    await stack.start();
  });
  after(() => stack.stop());

  /** Advances the clock by `ms` and checks that exactly one copy was retransmitted, at that moment and not before. */
  const retransmitsAfter = (ms: number): void => {
    const before = stack.stats.requestRetransmissions;
    clock.advance(ms - 1);
    assert.equal(stack.stats.requestRetransmissions, before, `nothing before +${ms} ms`);
    clock.advance(1);
    assert.equal(stack.stats.requestRetransmissions, before + 1, `one copy at +${ms} ms`);
  };

  test('Timer E: retransmits at T1, 2·T1, 4·T1 … capped at T2 until the final response', async () => {
    const peer = await UdpPeer.open();
    const p = stack.sendRequest(options(), { transport: 'UDP', host: '127.0.0.1', port: peer.port });
    await peer.waitFor(1);
    // The intervals after the first copy: T1, 2·T1, then doubling capped at T2 = 80 (copies at +20, +60, +140, +220, +300).
    for (const [i, gap] of [T1, 2 * T1, T2, T2, T2].entries()) {
      retransmitsAfter(gap);
      await peer.waitFor(i + 2);
    }
    const first = peer.received[0] as Buffer;
    assert.ok(peer.received.every((b) => b.equals(first)), 'retransmissions are the same bytes');
    peer.send(answer(first, 200), stack.addresses()[0]?.port ?? 0);
    const res = await p;
    assert.equal(res.status, 200);
    const count = stack.stats.requestRetransmissions;
    clock.advance(3 * T2);
    assert.equal(stack.stats.requestRetransmissions, count, 'no retransmission after the final response');
    assert.equal(peer.received.length, 6);
    await peer.close();
  });

  test('a provisional response moves to Proceeding: retransmissions continue every T2', async () => {
    const peer = await UdpPeer.open();
    const provisional: number[] = [];
    const p = stack.sendRequest(options(), { transport: 'UDP', host: '127.0.0.1', port: peer.port }, { onProvisional: (r) => provisional.push(r.status) });
    await peer.waitFor(1);
    const first = peer.received[0] as Buffer;
    const stackPort = stack.addresses()[0]?.port ?? 0;
    peer.send(answer(first, 100), stackPort);
    await until(() => provisional.length === 1, 'the 100 at the transaction');
    // §17.1.2.2: the 100 restarts Timer E at T2, whatever the interval of Trying was.
    for (const [i, gap] of [T2, T2, T2].entries()) {
      retransmitsAfter(gap);
      await peer.waitFor(i + 2);
    }
    peer.send(answer(first, 404), stackPort);
    assert.equal((await p).status, 404);
    assert.deepEqual(provisional, [100]);
    await peer.close();
  });

  test('Timer F: no answer rejects with TIMEOUT after 64·T1, having retransmitted on the Timer E schedule', async () => {
    const peer = await UdpPeer.open();
    const before = { timeouts: stack.stats.clientTimeouts, copies: stack.stats.requestRetransmissions };
    const p = stack.sendRequest(options(), { transport: 'UDP', host: '127.0.0.1', port: peer.port });
    p.catch(() => undefined);
    await peer.waitFor(1);
    clock.advance(64 * T1 - 1);
    assert.equal(await settled(p), false, 'still waiting 1 ms before Timer F');
    clock.advance(1);
    await assert.rejects(p, (e: unknown) => e instanceof SipError && e.code === 'TIMEOUT');
    assert.equal(stack.stats.clientTimeouts, before.timeouts + 1);
    // +20, +60, then every 80 ms up to +1260: 17 copies before Timer F at +1280.
    assert.equal(stack.stats.requestRetransmissions - before.copies, 17);
    await peer.waitFor(18);
    await peer.close();
  });

  test('Timer K absorbs a retransmitted final response; after K it is stray', async () => {
    const peer = await UdpPeer.open();
    const p = stack.sendRequest(options(), { transport: 'UDP', host: '127.0.0.1', port: peer.port });
    await peer.waitFor(1);
    const final = answer(peer.received[0] as Buffer, 200);
    const stackPort = stack.addresses()[0]?.port ?? 0;
    peer.send(final, stackPort);
    await p;
    const stray = stack.stats.strayResponses;
    const received = (): number => stack.stats.responsesReceived;
    let n = received();
    peer.send(final, stackPort);
    await until(() => received() === n + 1, 'the retransmitted 200 at the stack');
    assert.equal(stack.stats.strayResponses, stray, 'absorbed while Completed');
    clock.advance(T4);
    n = received();
    peer.send(final, stackPort);
    await until(() => received() === n + 1, 'the 200 after Timer K at the stack');
    assert.equal(stack.stats.strayResponses, stray + 1, 'unmatched once Terminated');
    await peer.close();
  });

  test('§17.1.3: a response matches on branch and CSeq method only', async () => {
    const peer = await UdpPeer.open();
    const p = stack.sendRequest(options(), { transport: 'UDP', host: '127.0.0.1', port: peer.port });
    await peer.waitFor(1);
    const raw = peer.received[0] as Buffer;
    const stackPort = stack.addresses()[0]?.port ?? 0;
    const stray = stack.stats.strayResponses;
    peer.send(answer(raw, 200).toString().replace('CSeq: 1 OPTIONS', 'CSeq: 1 CANCEL'), stackPort);
    await until(() => stack.stats.strayResponses === stray + 1, 'the CANCEL answer counted as stray');
    assert.equal(await settled(p), false, 'the transaction still waits');
    peer.send(answer(raw, 200), stackPort);
    assert.equal((await p).status, 200);
    await peer.close();
  });

  test('TCP: sent once (no Timer E), answered on the same connection', async (t) => {
    const tcpClock = new ManualClock();
    const tcpStack = new SipStack({ timers: { t1: T1, t2: T2, t4: T4 }, clock: tcpClock });
    t.after(() => tcpStack.stop());
    await tcpStack.start();
    const copies: Buffer[] = [];
    let conn: Socket | undefined;
    const server = createServer((s) => {
      conn = s;
      s.on('data', (d: Buffer) => copies.push(d));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    server.unref();
    const port = (server.address() as AddressInfo).port;
    const p = tcpStack.sendRequest(options(), { transport: 'TCP', host: '127.0.0.1', port });
    await until(() => /\r\n\r\n/.test(Buffer.concat(copies).toString('latin1')), 'the request at the server');
    tcpClock.advance(8 * T1);
    assert.equal(tcpStack.stats.requestRetransmissions, 0, 'no Timer E on a reliable transport');
    const req = parseMessage(Buffer.concat(copies), { datagram: false });
    assert.match(req.headers.get('Via') ?? '', /^SIP\/2\.0\/TCP 127\.0\.0\.1:\d+;branch=z9hG4bK[0-9a-f]{24};rport$/);
    conn?.write(answer(Buffer.concat(copies), 202));
    assert.equal((await p).status, 202);
    await tcpStack.stop();
    conn?.destroy();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });

  test('TCP: a connection closed before the response fails the transaction at once (§17.1.4), not after Timer F', async (t) => {
    const tcpClock = new ManualClock();
    const tcpStack = new SipStack({ timers: { t1: 500 }, clock: tcpClock });
    t.after(() => tcpStack.stop());
    await tcpStack.start();
    const server = createServer((s) => s.once('data', () => s.destroy()));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    server.unref();
    const port = (server.address() as AddressInfo).port;
    // The clock never moves here: Timer F cannot be what ends the transaction.
    await assert.rejects(tcpStack.sendRequest(options(), { transport: 'TCP', host: '127.0.0.1', port }),
      (e: unknown) => e instanceof SipError && e.code === 'TRANSPORT_ERROR');
    assert.equal(tcpClock.now(), 0);
    await tcpStack.stop();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });

  test('INVITE is refused: it needs an INVITE client transaction', async () => {
    const invite = createRequest({ method: 'INVITE', uri: 'sip:x@h', from: 'sip:a@h', to: 'sip:x@h' });
    await assert.rejects(stack.sendRequest(invite, { transport: 'UDP', host: '127.0.0.1', port: 9 }),
      (e: unknown) => e instanceof SipError && e.code === 'UNSUPPORTED_METHOD');
  });
});
