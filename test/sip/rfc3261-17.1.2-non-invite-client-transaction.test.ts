/**
 * RFC 3261 §17.1.2 (non-INVITE client transaction) and §17.1.3 (matching responses), against a raw UDP/TCP peer
 * that answers by hand: Timer E retransmits from T1 doubling to T2 (T2 flat after a provisional), Timer F times
 * out, Timer K absorbs response retransmissions, no retransmission on TCP.
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
import { UdpPeer, sleep } from './helpers.ts';

const T1 = 20;
const T2 = 80;
const T4 = 100;

const options = (): SipRequest => createRequest({ method: 'OPTIONS', uri: 'sip:peer.example', from: 'sip:ue@example.com', to: 'sip:peer.example' });

/** The peer's answer to a request it received. */
function answer(raw: Buffer, status: number): Buffer {
  return serializeMessage(createResponse(parseMessage(raw) as SipRequest, status));
}

describe('§17.1.2 non-INVITE client transaction', () => {
  let stack: SipStack;

  before(async () => {
    stack = new SipStack({ udp: [{ host: '127.0.0.1', port: 0 }], timers: { t1: T1, t2: T2, t4: T4 } });
    await stack.start();
  });
  after(() => stack.stop());

  test('Timer E: retransmits at T1, 2·T1, 4·T1 … capped at T2 until the final response', async () => {
    const peer = await UdpPeer.open();
    const times: number[] = [];
    peer.socket.on('message', () => times.push(Date.now()));
    const p = stack.sendRequest(options(), { transport: 'UDP', host: '127.0.0.1', port: peer.port });
    await peer.waitFor(6, 2000);
    const first = peer.received[0] as Buffer;
    assert.ok(peer.received.every((b) => b.equals(first)), 'retransmissions are the same bytes');
    peer.send(answer(first, 200), stack.addresses()[0]?.port ?? 0);
    const res = await p;
    assert.equal(res.status, 200);
    // Nominal schedule after the first copy: +20, +60, +140, +220, +300 ms (T1 doubling, capped at T2 = 80).
    // Timers fire late, never early, and the first copy may itself arrive a little late, hence the slack.
    const offsets = times.slice(1, 6).map((t) => t - (times[0] as number));
    const nominal = [T1, 3 * T1, 3 * T1 + T2, 3 * T1 + 2 * T2, 3 * T1 + 3 * T2];
    offsets.forEach((o, i) => assert.ok(o >= (nominal[i] as number) - 10, `copy ${i + 1} at +${o} ms, nominal +${nominal[i]}`));
    const lastGap = (times[5] as number) - (times[4] as number);
    assert.ok(lastGap >= T2 - 10 && lastGap < 3 * T2, `capped at T2: ${lastGap} ms`);
    const count = peer.received.length;
    await sleep(3 * T2);
    assert.equal(peer.received.length, count, 'no retransmission after the final response');
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
    await sleep(T2 / 2); // let the 100 arrive; copies sent before it may still be in flight
    const times: number[] = [];
    peer.socket.on('message', () => times.push(Date.now()));
    const n = peer.received.length;
    await peer.waitFor(n + 3, 1500);
    const gaps = times.slice(1, 3).map((t, i) => t - (times[i] as number));
    assert.ok(gaps.every((g) => g >= T2 - 10), `T2 spacing once proceeding: ${gaps}`);
    peer.send(answer(first, 404), stackPort);
    assert.equal((await p).status, 404);
    assert.deepEqual(provisional, [100]);
    await peer.close();
  });

  test('Timer F: no answer rejects with TIMEOUT after 64·T1', async () => {
    const peer = await UdpPeer.open();
    const before = stack.stats.clientTimeouts;
    const t0 = Date.now();
    await assert.rejects(stack.sendRequest(options(), { transport: 'UDP', host: '127.0.0.1', port: peer.port }),
      (e: unknown) => e instanceof SipError && e.code === 'TIMEOUT');
    assert.ok(Date.now() - t0 >= 64 * T1 - 5);
    assert.equal(stack.stats.clientTimeouts, before + 1);
    assert.ok(peer.received.length >= 6, `retransmitted ${peer.received.length} times (nominally 17)`);
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
    peer.send(final, stackPort);
    await sleep(30);
    assert.equal(stack.stats.strayResponses, stray, 'absorbed while Completed');
    await sleep(T4 + 50);
    peer.send(final, stackPort);
    await sleep(30);
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
    await sleep(30);
    assert.equal(stack.stats.strayResponses, stray + 1);
    peer.send(answer(raw, 200), stackPort);
    assert.equal((await p).status, 200);
    await peer.close();
  });

  test('TCP: sent once (no Timer E), answered on the same connection', async (t) => {
    const tcpStack = new SipStack({ timers: { t1: T1, t2: T2, t4: T4 } });
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
    await sleep(8 * T1);
    assert.equal(copies.length, 1);
    const req = parseMessage(Buffer.concat(copies), { datagram: false });
    assert.match(req.headers.get('Via') ?? '', /^SIP\/2\.0\/TCP 127\.0\.0\.1:\d+;branch=z9hG4bK[0-9a-f]{24};rport$/);
    conn?.write(answer(Buffer.concat(copies), 202));
    assert.equal((await p).status, 202);
    await tcpStack.stop();
    conn?.destroy();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });

  test('TCP: a connection closed before the response fails the transaction at once (§17.1.4), not after Timer F', async (t) => {
    const tcpStack = new SipStack({ timers: { t1: 500 } });
    t.after(() => tcpStack.stop());
    await tcpStack.start();
    const server = createServer((s) => s.once('data', () => s.destroy()));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    server.unref();
    const port = (server.address() as AddressInfo).port;
    const t0 = Date.now();
    await assert.rejects(tcpStack.sendRequest(options(), { transport: 'TCP', host: '127.0.0.1', port }),
      (e: unknown) => e instanceof SipError && e.code === 'TRANSPORT_ERROR');
    assert.ok(Date.now() - t0 < 1000);
    await tcpStack.stop();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });

  test('INVITE is refused: it needs an INVITE client transaction', async () => {
    const invite = createRequest({ method: 'INVITE', uri: 'sip:x@h', from: 'sip:a@h', to: 'sip:x@h' });
    await assert.rejects(stack.sendRequest(invite, { transport: 'UDP', host: '127.0.0.1', port: 9 }),
      (e: unknown) => e instanceof SipError && e.code === 'UNSUPPORTED_METHOD');
  });
});
