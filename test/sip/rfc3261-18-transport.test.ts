/**
 * RFC 3261 §18 transports on real loopback sockets with real bytes: UDP over IPv4 and IPv6, TCP framing (two
 * requests in one chunk, one split byte by byte, CRLF keep-alives, missing or broken Content-Length), §18.2.2
 * reconnection when the request's connection is gone, connection reuse, idle timeout, the connection limit, and
 * malformed input:
 * a 400 with a reason phrase when a response can be formed, otherwise dropped and counted — never a crash.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';
import { SipError } from '../../lib/sip/errors.ts';
import { createRequest } from '../../lib/sip/request.ts';
import { SipStack, type RequestHandler } from '../../lib/sip/stack.ts';
import { StreamFramer } from '../../lib/sip/transport/framer.ts';
import { freePort } from '../helpers/ports.ts';
import { until } from '../helpers/wait.ts';
import { TcpPeer, UdpPeer, headerValue, rawRequest, statusLine } from './helpers.ts';

/** A registrar-like handler: 200 with the contact; 400 when a header it reads is malformed; 500 on a bug. */
function handler(): RequestHandler {
  return async (req, tx) => {
    if (req.headers.get('X-Fail') === 'bug') throw new Error('handler bug');
    const contacts = req.contacts(); // a malformed Contact throws SipParseError → 400
    await Promise.resolve();
    const c = contacts === '*' ? [] : contacts;
    tx.reply(200, { headers: c.map((x) => ['Contact', `<${x.uri.raw}>;expires=60`] as [string, string]) });
  };
}

describe('§18 UDP', () => {
  let stack: SipStack;
  let port4: number;
  let port6: number;

  before(async () => {
    stack = new SipStack({ udp: [{ host: '127.0.0.1', port: 0 }, { host: '::1', port: 0 }], maxMessageSize: 4000, onRequest: handler() });
    const b = await stack.start();
    port4 = b[0]?.port ?? 0;
    port6 = b[1]?.port ?? 0;
  });
  after(() => stack.stop());

  test('IPv4: a REGISTER gets a 200 with the Via copied, To tag, Content-Length: 0', async () => {
    const peer = await UdpPeer.open();
    peer.send(rawRequest({ viaPort: peer.port, viaParams: ';rport', branch: 'z9hG4bK-v4' }), port4);
    const [res = ''] = await peer.waitFor(1);
    assert.equal(statusLine(res), 'SIP/2.0 200 OK');
    assert.equal(headerValue(res, 'Via'), `SIP/2.0/UDP 127.0.0.1:${peer.port};branch=z9hG4bK-v4;rport=${peer.port};received=127.0.0.1`);
    assert.match(headerValue(res, 'To') ?? '', /^<sip:alice@ims\.partner\.example>;tag=[0-9a-f]{16}$/);
    assert.equal(headerValue(res, 'From'), '<sip:alice@ims.partner.example>;tag=f1');
    assert.equal(headerValue(res, 'Call-ID'), 'call-1@test');
    assert.equal(headerValue(res, 'CSeq'), '1 REGISTER');
    assert.equal(headerValue(res, 'Contact'), '<sip:alice@127.0.0.1>;expires=60');
    assert.ok(res.endsWith('\r\nContent-Length: 0\r\n\r\n'));
    await peer.close();
  });

  test('§18.2.2 on UDP: without rport the response goes to the sent-by port, with rport back to the source port — one source, in any order', async () => {
    const sender = await UdpPeer.open();
    const listener = await UdpPeer.open();
    try {
      // The same source socket each time, so the stack's shared origin of that source serves all three requests.
      sender.send(rawRequest({ viaPort: listener.port, branch: 'z9hG4bK-sentby-1' }), port4);
      const [first = ''] = await listener.waitFor(1);
      assert.equal(statusLine(first), 'SIP/2.0 200 OK');
      // sent-by is the source address, so no received is added (§18.2.1) and sent-by is where it goes.
      assert.equal(headerValue(first, 'Via'), `SIP/2.0/UDP 127.0.0.1:${listener.port};branch=z9hG4bK-sentby-1`);
      sender.send(rawRequest({ viaPort: listener.port, viaParams: ';rport', branch: 'z9hG4bK-sentby-2' }), port4);
      const [second = ''] = await sender.waitFor(1);
      assert.equal(headerValue(second, 'Via'), `SIP/2.0/UDP 127.0.0.1:${listener.port};branch=z9hG4bK-sentby-2;rport=${sender.port};received=127.0.0.1`);
      sender.send(rawRequest({ viaPort: listener.port, branch: 'z9hG4bK-sentby-3' }), port4);
      const [, third = ''] = await listener.waitFor(2);
      assert.equal(headerValue(third, 'Via'), `SIP/2.0/UDP 127.0.0.1:${listener.port};branch=z9hG4bK-sentby-3`);
      assert.equal(sender.received.length, 1, 'only the rport request was answered to the source port');
    } finally {
      await sender.close();
      await listener.close();
    }
  });

  test('IPv6: the same over [::1]', async () => {
    const peer = await UdpPeer.open('::1');
    peer.send(rawRequest({ viaHost: '[::1]', viaPort: peer.port, viaParams: ';rport', branch: 'z9hG4bK-v6' }), port6, '::1');
    const [res = ''] = await peer.waitFor(1);
    assert.equal(headerValue(res, 'Via'), `SIP/2.0/UDP [::1]:${peer.port};branch=z9hG4bK-v6;rport=${peer.port};received=::1`);
    await peer.close();
  });

  test('a malformed request that can be answered gets 400 with a reason phrase', async () => {
    const peer = await UdpPeer.open();
    peer.send(rawRequest({ viaPort: peer.port, branch: 'z9hG4bK-bad1' }).replace('CSeq: 1 REGISTER', 'CSeq: 99999999999 REGISTER'), port4);
    const [res = ''] = await peer.waitFor(1);
    assert.equal(statusLine(res), 'SIP/2.0 400 Malformed CSeq header (sequence number not below 2^31)');
    assert.equal(headerValue(res, 'CSeq'), '99999999999 REGISTER');
    assert.match(headerValue(res, 'To') ?? '', /;tag=/);
    assert.ok(res.endsWith('\r\nContent-Length: 0\r\n\r\n'));
    await peer.close();
  });

  test('Content-Length larger than the datagram: 400 (§18.3)', async () => {
    const peer = await UdpPeer.open();
    peer.send(rawRequest({ viaPort: peer.port, branch: 'z9hG4bK-bad2' }).replace('Content-Length: 0', 'Content-Length: 500'), port4);
    const [res = ''] = await peer.waitFor(1);
    assert.equal(statusLine(res), 'SIP/2.0 400 Content-Length larger than message');
    await peer.close();
  });

  test('a malformed header read by the handler: 400 naming it; a handler bug: 500', async () => {
    const peer = await UdpPeer.open();
    peer.send(rawRequest({ viaPort: peer.port, branch: 'z9hG4bK-bad3' }).replace('Contact: <sip:alice@127.0.0.1>', 'Contact: sip:alice@127.0.0.1?x=y'), port4);
    peer.send(rawRequest({ viaPort: peer.port, branch: 'z9hG4bK-bad4', extra: ['X-Fail: bug'] }), port4);
    const got = await peer.waitFor(2);
    assert.deepEqual(got.map(statusLine).sort(), [
      'SIP/2.0 400 Malformed Contact header (URI with ? or , must be enclosed in <>)',
      'SIP/2.0 500 Server Internal Error',
    ]);
    await peer.close();
  });

  test('garbage, responses nobody asked for, keep-alives and oversize datagrams are dropped and counted', async () => {
    const peer = await UdpPeer.open();
    const s0 = { ...stack.stats };
    peer.send('hello world\r\n\r\n', port4);
    peer.send(Buffer.from([0, 1, 2, 255, 254, 13, 10, 13, 10]), port4);
    peer.send(rawRequest({ viaPort: peer.port }).replace(/\r\nFrom: [^\r]*/, ''), port4); // no From: unanswerable
    peer.send('SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP 127.0.0.1;branch=z9hG4bKnone\r\nFrom: <sip:a@b>;tag=1\r\nTo: <sip:a@b>\r\nCall-ID: x\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n', port4);
    peer.send('\r\n\r\n', port4);
    peer.send(rawRequest({ viaPort: peer.port, body: 'x'.repeat(5000) }), port4);
    await until(() => stack.stats.datagramsReceived - s0.datagramsReceived === 6, 'the six datagrams at the stack');
    // Each datagram is dealt with as it is read: none of them made the stack send anything.
    assert.equal(stack.stats.messagesSent, s0.messagesSent);
    assert.equal(peer.received.length, 0);
    const s = stack.stats;
    assert.equal(s.datagramsReceived - s0.datagramsReceived, 6);
    assert.equal(s.dropped - s0.dropped, 4);
    assert.equal(s.parseErrors - s0.parseErrors, 3);
    assert.equal(s.strayResponses - s0.strayResponses, 1);
    assert.equal(s.keepalives - s0.keepalives, 1);
    assert.equal(s.oversizeDatagrams - s0.oversizeDatagrams, 1);
    await peer.close();
  });

  test('binding a port in use is a SipError, not a crash', async (t) => {
    const other = new SipStack({ udp: [{ host: '127.0.0.1', port: port4 }] });
    t.after(() => other.stop());
    await assert.rejects(other.start(), (e: unknown) => e instanceof SipError && e.code === 'TRANSPORT_ERROR');
  });
});

describe('§18 TCP', () => {
  let stack: SipStack;
  let port: number;

  before(async () => {
    port = await freePort();
    stack = new SipStack({ tcp: [{ host: '127.0.0.1', port }], udp: [{ host: '127.0.0.1', port }], idleTimeoutMs: 300, maxConnections: 4, onRequest: handler() });
    await stack.start();
  });
  after(() => stack.stop());

  test('two requests in one chunk: two responses, in order', async () => {
    const peer = await TcpPeer.open(port);
    peer.socket.write(rawRequest({ transport: 'TCP', branch: 'z9hG4bK-c1', cseq: 1 }) + rawRequest({ transport: 'TCP', branch: 'z9hG4bK-c2', cseq: 2 }));
    await peer.until(() => peer.messages.length === 2);
    assert.deepEqual(peer.messages.map((m) => headerValue(m, 'CSeq')), ['1 REGISTER', '2 REGISTER']);
    assert.ok(peer.messages.every((m) => statusLine(m) === 'SIP/2.0 200 OK'));
    peer.socket.destroy();
  });

  test('one request split byte by byte, with CRLF keep-alives around it', async () => {
    const peer = await TcpPeer.open(port);
    peer.socket.setNoDelay(true);
    const keepalives = stack.stats.keepalives;
    const bytes = Buffer.from('\r\n\r\n' + rawRequest({ transport: 'TCP', branch: 'z9hG4bK-bytes' }) + '\r\n\r\n');
    for (const b of bytes) {
      peer.socket.write(Buffer.of(b));
      await new Promise((r) => setImmediate(r));
    }
    await peer.until(() => peer.messages.length === 1);
    assert.equal(statusLine(peer.messages[0] ?? ''), 'SIP/2.0 200 OK');
    await until(() => stack.stats.keepalives >= keepalives + 1, 'the CRLF keep-alive after the message counted');
    assert.equal(peer.closed, false);
    peer.socket.destroy();
  });

  test('missing Content-Length on a stream: 400, then the connection is closed', async () => {
    const peer = await TcpPeer.open(port);
    peer.socket.write(rawRequest({ transport: 'TCP', branch: 'z9hG4bK-nocl' }).replace('Content-Length: 0\r\n', ''));
    await peer.until(() => peer.closed);
    assert.deepEqual(peer.messages.map(statusLine), ['SIP/2.0 400 Missing Content-Length']);
  });

  test('broken framing (negative Content-Length) closes the connection', async () => {
    const peer = await TcpPeer.open(port);
    const before = stack.stats.framingErrors;
    peer.socket.write(rawRequest({ transport: 'TCP', branch: 'z9hG4bK-ncl' }).replace('Content-Length: 0', 'Content-Length: -999'));
    await peer.until(() => peer.closed);
    assert.deepEqual(peer.messages.map(statusLine), ['SIP/2.0 400 Malformed Content-Length']);
    assert.equal(stack.stats.framingErrors, before + 1);
  });

  test('idle connections are closed after idleTimeoutMs', async () => {
    const peer = await TcpPeer.open(port);
    const before = stack.stats.connectionsIdleClosed;
    await peer.until(() => peer.closed, 2000);
    assert.equal(stack.stats.connectionsIdleClosed, before + 1);
  });

  test('connections beyond maxConnections are closed at once', async () => {
    const accepted = stack.stats.connectionsAccepted;
    const peers = await Promise.all([1, 2, 3, 4].map(() => TcpPeer.open(port)));
    await until(() => stack.stats.connectionsAccepted === accepted + 4, 'the four connections accepted');
    const before = stack.stats.connectionsRejected;
    const extra = await TcpPeer.open(port);
    await extra.until(() => extra.closed);
    assert.equal(stack.stats.connectionsRejected, before + 1);
    assert.ok(peers.every((p) => !p.closed), 'the connections within the limit stay open');
    peers[0]?.socket.write(rawRequest({ transport: 'TCP', branch: 'z9hG4bK-within-limit' }));
    await peers[0]?.until(() => (peers[0]?.messages.length ?? 0) === 1);
    for (const p of peers) p.socket.destroy();
  });

  test('§18.2.2: when the request connection is gone, the response opens one to received at the sent-by port', async (t) => {
    const copies: string[] = [];
    const uaServer = createServer((s: Socket) => {
      const f = new StreamFramer();
      s.on('data', (d: Buffer) => copies.push(...f.push(d).messages.map((m) => m.toString())));
    });
    await new Promise<void>((r) => uaServer.listen(0, '127.0.0.1', r));
    uaServer.unref();
    const uaPort = (uaServer.address() as AddressInfo).port;
    const slow = new SipStack({ tcp: [{ host: '127.0.0.1', port: 0 }], onRequest: (_req, tx) => {
      setTimeout(() => tx.reply(200), 100);
    } });
    t.after(() => slow.stop());
    const [b] = await slow.start();
    const peer = await TcpPeer.open(b?.port ?? 0);
    peer.socket.end(rawRequest({ transport: 'TCP', viaPort: uaPort, branch: 'z9hG4bK-reconnect' }));
    await until(() => copies.length > 0, 'the response on a new connection');
    assert.equal(copies.length, 1);
    assert.equal(statusLine(copies[0] ?? ''), 'SIP/2.0 200 OK');
    assert.equal(slow.stats.connectionsOpened, 1);
    await slow.stop();
    await new Promise<void>((r) => uaServer.close(() => r()));
  });

  test('connection reuse: requests to the same destination share one connection', async (t) => {
    const client = new SipStack();
    t.after(() => client.stop());
    await client.start();
    const mk = (): ReturnType<typeof createRequest> => createRequest({ method: 'OPTIONS', uri: 'sip:ims.partner.example', from: 'sip:ue@example.com', to: 'sip:ims.partner.example' });
    const [a, b] = await Promise.all([
      client.sendRequest(mk(), { transport: 'TCP', host: '127.0.0.1', port }),
      client.sendRequest(mk(), { transport: 'TCP', host: '127.0.0.1', port }),
    ]);
    assert.equal(a.status, 200);
    assert.equal(b.status, 200);
    assert.equal((await client.sendRequest(mk(), { transport: 'TCP', host: '127.0.0.1', port })).status, 200);
    assert.equal(client.stats.connectionsOpened, 1);
    await client.stop();
  });
});
