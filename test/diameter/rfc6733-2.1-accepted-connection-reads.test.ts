/**
 * RFC 6733 §2.1 (the transport under the peer connection): an accepted TCP or TLS connection is read through a
 * buffer of its own (`onread`, lib/diameter/read-sink.ts) like an outgoing one — issue #12. Every octet the client
 * sends arrives once and in order, the ones that came with or right after the TLS handshake (before the reader was
 * attached) included; no 'data' event fires; the end of the connection is still seen.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { connect as tcpConnect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect as tlsConnect } from 'node:tls';
import { initPki } from '../../certs/issue.ts';
import { loadTlsMaterial, type TlsMaterial } from '../../certs/layout.ts';
import { readSinkOf } from '../../lib/diameter/read-sink.ts';
import { listenTransport, type TransportListener } from '../../lib/diameter/transport.ts';
import { captureLogs } from './harness.ts';

let root: string;
let server: TlsMaterial;
let client: TlsMaterial;
const listeners: TransportListener[] = [];

before(async () => {
  root = await mkdtemp(join(tmpdir(), 'mcx-diameter-reads-'));
  await initPki({ dir: join(root, 'pki'), systems: [{ name: 'primary', realm: 'primary.example' }] });
  server = await loadTlsMaterial(join(root, 'pki'), 'primary', 'hss');
  client = await loadTlsMaterial(join(root, 'pki'), 'primary', 'mms');
});
after(async () => {
  for (const l of listeners) await l.close();
  await rm(root, { recursive: true, force: true });
});

/** 40 distinct chunks of 1…400 octets: a message boundary in every position a read could cut. */
const CHUNKS = Array.from({ length: 40 }, (_, i) => Buffer.alloc(1 + ((i * 97) % 400), i + 1));

/**
 * Accepts one connection, attaches a reader only after `attachAfterMs` (octets that come earlier must be held), and
 * resolves with everything read and whether a 'data' event or the end was seen.
 */
function accept(tls: boolean, attachAfterMs: number): Promise<{ port: number; result: Promise<{ got: Buffer; dataEvents: number; ended: boolean; sink: boolean }> }> {
  return new Promise((resolveListen) => {
    let resolveResult: (r: { got: Buffer; dataEvents: number; ended: boolean; sink: boolean }) => void = () => undefined;
    const result = new Promise<{ got: Buffer; dataEvents: number; ended: boolean; sink: boolean }>((r) => (resolveResult = r));
    const onSocket = (socket: Socket): void => {
      const parts: Buffer[] = [];
      let dataEvents = 0;
      const sink = readSinkOf(socket);
      const finish = (ended: boolean): void => resolveResult({ got: Buffer.concat(parts), dataEvents, ended, sink: sink !== undefined });
      socket.on('end', () => finish(true));
      socket.on('error', () => finish(false));
      setTimeout(() => {
        // A 'data' listener switches a stream-read socket to flowing mode: it is how a socket without a sink is read.
        socket.on('data', (d: Buffer) => { dataEvents++; if (!sink) parts.push(d); });
        sink?.attach((c) => parts.push(c));
      }, attachAfterMs);
    };
    const address = { host: '127.0.0.1', port: 0, ...(tls ? { tls: { cert: server.cert, key: server.key, ca: server.ca } } : {}) };
    void listenTransport(address, onSocket, captureLogs().logger).then((l) => {
      listeners.push(l);
      resolveListen({ port: l.port, result });
    });
  });
}

async function send(tls: boolean, port: number): Promise<void> {
  const socket: Socket = tls
    ? tlsConnect({ host: '127.0.0.1', port, cert: client.cert, key: client.key, ca: client.ca, checkServerIdentity: () => undefined })
    : tcpConnect({ host: '127.0.0.1', port });
  await new Promise<void>((resolve, reject) => {
    socket.once('error', reject);
    socket.once(tls ? 'secureConnect' : 'connect', () => resolve());
  });
  // The first ten in the same turn as the handshake's end: they reach the server before its reader is attached.
  for (const c of CHUNKS.slice(0, 10)) socket.write(c);
  await new Promise((r) => setTimeout(r, 150));
  for (const c of CHUNKS.slice(10)) {
    socket.write(c);
    await new Promise((r) => setImmediate(r));
  }
  socket.end();
}

for (const tls of [false, true]) {
  test(`${tls ? 'TLS' : 'TCP'}: an accepted connection is read through its own buffer, every octet once and in order`, async () => {
    const { port, result } = await accept(tls, 50);
    await send(tls, port);
    const r = await result;
    assert.equal(r.sink, true, 'the accepted socket has a read sink on this Node');
    assert.equal(r.dataEvents, 0, "no octet went through 'data' events");
    assert.equal(r.ended, true, 'the end of the connection was seen');
    assert.deepEqual(r.got, Buffer.concat(CHUNKS));
  });
}
