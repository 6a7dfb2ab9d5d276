/**
 * Issue #11 part 5 (transport limits): at most 64 (the default) TCP or TLS connections at a time from one source
 * address — 500 idle connections from 127.0.0.1: 64 stay, the 65th and every later one is closed at once, and a
 * registration from 127.0.0.8 still succeeds; on a TLS listener the excess is refused before any handshake (the raw
 * socket gets no ServerHello). A connection that sends no complete SIP message within the first-message timeout
 * (default 10 s) is closed; one that did is kept.
 */
import { before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { connect, type Socket } from 'node:net';
import type { RunningRegistrar } from '../../registrar/server.ts';
import { until } from '../helpers/wait.ts';
import { DOMAIN, Ue, akaUser, callId, openIsim, registerAka, registerBytes, registrarFixture, sipPort } from './helpers.ts';

const alice = akaUser('alice');

/** An open TCP connection from `local`, with whether the far end closed it and the bytes it sent. */
interface Conn {
  socket: Socket;
  closed: boolean;
  received: number;
}

async function open(port: number, local: string): Promise<Conn> {
  const socket = connect({ host: '127.0.0.1', port, localAddress: local });
  const c: Conn = { socket, closed: false, received: 0 };
  socket.on('data', (b: Buffer) => (c.received += b.length));
  socket.on('close', () => (c.closed = true));
  socket.on('error', () => undefined);
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', resolve);
    socket.once('error', reject);
  });
  return c;
}

describe('issue #11 part 5: per-source TCP/TLS connection cap and first-message timeout', () => {
  const f = registrarFixture({ aka: [alice], pki: ['partner'] });
  let tlsReg: RunningRegistrar;
  let shortReg: RunningRegistrar;

  before(async () => {
    tlsReg = await f.startRegistrar({
      sip: [{ transport: 'tls', host: '127.0.0.1', port: 0 }], tls: f.tlsFiles('partner', 'registrar'), originHost: `tls.${DOMAIN}`,
    });
    shortReg = await f.startRegistrar({ firstMessageTimeoutMs: 400, originHost: `short.${DOMAIN}` });
  });

  test('500 idle TCP connections from 127.0.0.1 to a registrar with the default cap: 64 stay open, 436 are refused; 127.0.0.8 still registers', async () => {
    const port = sipPort(f.reg, 'TCP');
    const conns: Conn[] = [];
    try {
      for (let i = 0; i < 500; i++) conns.push(await open(port, '127.0.0.1'));
      await until(() => conns.filter((c) => c.closed).length >= 436, 'the refused connections closed');
      const closed = conns.map((c, i) => (c.closed ? i : -1)).filter((i) => i >= 0);
      assert.equal(closed.length, 436);
      assert.equal(closed[0], 64, 'the 65th is the first refused');
      assert.equal(f.reg.stack.stats.connectionsRejectedPerSource, 436);
      const ue = await Ue.stream(port, undefined, '127.0.0.8');
      const isim = await openIsim(f.dir, alice);
      try {
        const r = await registerAka(ue, isim, alice);
        assert.equal(r.final.msg.status, 200, r.final.text);
      } finally {
        ue.close();
        await isim.close();
      }
      // One of the 64 still works too: the cap refuses, it does not disturb what it admitted.
      const kept = conns[0] as Conn;
      const from = { transport: 'TCP', localPort: kept.socket.localPort, localAddress: '127.0.0.1' } as Ue;
      kept.socket.write(registerBytes(from, { impu: alice.impus[0] as string, callId: callId(), cseq: 1 }));
      await until(() => kept.received > 0, 'an answer on an admitted connection', 3000);
      assert.ok(kept.received > 0, 'an admitted connection is answered');
    } finally {
      for (const c of conns) c.socket.destroy();
    }
  });

  test('TLS: the connections over the cap are refused before the handshake (no byte of a ServerHello)', async () => {
    const port = sipPort(tlsReg, 'TLS');
    const conns: Conn[] = [];
    try {
      for (let i = 0; i < 70; i++) conns.push(await open(port, '127.0.0.1'));
      await until(() => conns.filter((c) => c.closed).length >= 6, 'the connections over the cap closed', 3000);
      const refused = conns.map((c, i) => (c.closed ? i : -1)).filter((i) => i >= 0);
      assert.deepEqual(refused, [64, 65, 66, 67, 68, 69]);
      // Nothing was sent on them, so no handshake began: the refusal came from the raw socket's count.
      assert.equal(tlsReg.stack.stats.connectionsRejectedPerSource, 6);
      const ue = await Ue.stream(port, { ca: f.caPem('partner') }, '127.0.0.8');
      try {
        const r = await ue.send(registerBytes(ue, { impu: alice.impus[0] as string, callId: callId(), cseq: 1 }));
        assert.equal(r.msg.status, 401, r.text);
      } finally {
        ue.close();
      }
    } finally {
      for (const c of conns) c.socket.destroy();
    }
  });

  test('a connection without a complete message within the first-message timeout is closed; one with a message is kept', async () => {
    const port = sipPort(shortReg, 'TCP');
    const silent = await open(port, '127.0.0.1');
    const partial = await open(port, '127.0.0.1');
    partial.socket.write('REGISTER sip:partner.example SIP/2.0\r\nVia: SIP/2.0/TCP 127.0.0.1:1'); // never completed
    const talker = await Ue.stream(port);
    try {
      const r = await talker.send(registerBytes(talker, { impu: alice.impus[0] as string, callId: callId(), cseq: 1 }));
      assert.equal(r.msg.status, 401);
      await until(() => silent.closed && partial.closed, 'both slow connections closed', 3000);
      assert.ok(silent.closed && partial.closed, 'both closed by the registrar');
      assert.equal(shortReg.stack.stats.connectionsFirstMessageTimeout, 2);
      const again = await talker.send(registerBytes(talker, { impu: alice.impus[0] as string, callId: callId(), cseq: 1 }));
      assert.equal(again.msg.status, 401, 'the connection that sent a message is still open');
    } finally {
      silent.socket.destroy();
      partial.socket.destroy();
      talker.close();
    }
  });
});
