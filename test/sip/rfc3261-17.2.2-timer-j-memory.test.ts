/**
 * RFC 3261 §17.2.2: a non-INVITE server transaction on UDP stays Completed for Timer J (64·T1 = 32 s), to answer
 * retransmissions of its request. What it keeps for that must not include the request's text (issue #12: the key was
 * built from slices of the decoded header block, and a heap snapshot of a registrar at 2,000 registrations/s held
 * 70,000 such blocks). Requests with 4 KB of padding headers are answered over real UDP; after a full GC the held
 * transactions cost far less than their requests, and a retransmission still gets the same response, octet for
 * octet. Datagrams from one source share its flow, origin and response route, and a Completed transaction is a record
 * outside the heap (completed.ts): its key, its response and a reference to its route. The registrar's table of issued nonces
 * (kept for minutes) is held to the same rule.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createSocket } from 'node:dgram';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { parseMessage } from '../../lib/sip/parser.ts';
import type { SipRequest } from '../../lib/sip/message.ts';
import { SipStack } from '../../lib/sip/stack.ts';
import { IssuedNonces } from '../../registrar/issued-nonces.ts';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

function heapAfterGc(): number {
  gc();
  gc();
  return process.memoryUsage().heapUsed;
}

const PAD = `X-Pad: ${'p'.repeat(4000)}`;
const N = 3000;

function register(i: number, port: number): Buffer {
  return Buffer.from([
    'REGISTER sip:ims.example.test SIP/2.0',
    `Via: SIP/2.0/UDP 127.0.0.1:${port};branch=z9hG4bK-memory-${i}`,
    'Max-Forwards: 70',
    `From: <sip:u${i}@ims.example.test>;tag=f${i}`,
    `To: <sip:u${i}@ims.example.test>`,
    `Call-ID: memory-${i}@127.0.0.1`,
    'CSeq: 1 REGISTER',
    PAD,
    'Content-Length: 0',
    '', '',
  ].join('\r\n'));
}

test('§17.2.2 Timer J: a Completed UDP transaction keeps its response, not its request', async () => {
  const server = new SipStack({ udp: [{ host: '127.0.0.1', port: 0 }], onRequest: (_req, tx) => { tx.reply(200); } });
  const [srv] = await server.start();
  assert.ok(srv);
  const client = createSocket('udp4');
  await new Promise<void>((resolve) => client.bind(0, '127.0.0.1', () => resolve()));
  const port = client.address().port;
  // The client keeps a flag per request and one response, so the heap that grows is the server's.
  const answered = new Uint8Array(N);
  let count = 0;
  let first: Buffer | undefined;
  let again: Buffer | undefined;
  client.on('message', (m) => {
    const i = Number(/^memory-(\d+)@/.exec((parseMessage(m) as SipRequest).callId())?.[1]);
    if (i === 0 && first === undefined) first = m;
    else if (i === 0) again = m;
    if (answered[i] === 0) count++;
    answered[i] = 1;
  });
  try {
    const before = heapAfterGc();
    // At most 32 unanswered at a time, and a retransmission (the same request) for any datagram a busy machine dropped.
    for (let i = 0; i < N; i++) {
      for (let t = 0; i - count >= 32 && t < 200; t++) await new Promise((r) => setTimeout(r, 2));
      client.send(register(i, port), srv.port, '127.0.0.1');
    }
    for (let round = 0; count < N && round < 10; round++) {
      for (let t = 0; count < N && t < 40; t++) await new Promise((r) => setTimeout(r, 25));
      for (let i = 0; i < N; i++) if (answered[i] === 0) client.send(register(i, port), srv.port, '127.0.0.1');
    }
    assert.equal(count, N, 'every REGISTER answered');
    assert.equal(server.completedTransactions.size, N, 'every transaction still held (Completed, Timer J running)');
    assert.equal(server.serverTransactions.size, 0, 'none of them as a live transaction object');
    const perTransaction = (heapAfterGc() - before) / N;
    // ~825 while the response was a string on the heap and the key a slice of a copy of itself; ~550 with the response
    // outside the heap and the key one flat string; ~280 with the whole Completed transaction outside the heap
    // (completed.ts), of which ~60 per transaction at 20,000 (its place in the route array): the rest is fixed
    // (compiled code, arrays sized in powers of two).
    assert.ok(perTransaction < 400, `${Math.round(perTransaction)} octets held per transaction (its request had over 4,000)`);

    assert.ok(first);
    client.send(register(0, port), srv.port, '127.0.0.1');
    for (let t = 0; again === undefined && t < 200; t++) await new Promise((r) => setTimeout(r, 10));
    assert.deepEqual(again, first, 'the retransmission got the same response, octet for octet');
  } finally {
    client.close();
    await server.stop();
  }
});

test('issued nonces remember the IMPI, not the REGISTER it was read from', () => {
  const issued = new IssuedNonces(600_000, 10_000);
  const before = heapAfterGc();
  for (let i = 0; i < N; i++) {
    const text = `username="user${i}@ims.example.test", ${PAD}`;
    issued.issued(`nonce-${i}`, text.slice(10, text.indexOf('"', 10)));
  }
  const perNonce = (heapAfterGc() - before) / N;
  assert.ok(perNonce < 1000, `${Math.round(perNonce)} octets held per nonce (the text it came from had over 4,000)`);
  assert.equal(issued.wasIssued('nonce-7', 'user7@ims.example.test'), true);
});

test('issued nonces share one copy of each IMPI and keep their deadline as a small integer', () => {
  let now = 1_796_000_000_000; // epoch milliseconds, as Date.now gives them: a heap number each if kept as they are
  const issued = new IssuedNonces(600_000, 100_000, () => now);
  const impis = Array.from({ length: 20 }, (_, i) => `sN${i}.static@partner.example`);
  const before = heapAfterGc();
  const M = 20_000;
  for (let i = 0; i < M; i++) {
    // Each IMPI arrives as a slice of its REGISTER's text, as the parser gives it.
    const text = `Authorization: Digest username="${impis[i % 20]}", realm="partner.example"`;
    issued.issued(`nonce-${i}`, text.slice(32, text.indexOf('"', 32)));
  }
  const perNonce = (heapAfterGc() - before) / M;
  // ~214 with an own copy of the IMPI (a sliced string over a flat one) and an epoch-ms deadline per nonce; ~119 now
  // (the entry, its nonce and the table's slot).
  assert.ok(perNonce < 170, `${Math.round(perNonce)} octets held per nonce`);
  assert.equal(issued.wasIssued('nonce-7', impis[7] as string), true);
  assert.equal(issued.wasIssued('nonce-7', impis[8] as string), false, 'another identity\'s nonce is not a stale one of this');
  now += 599_999;
  assert.equal(issued.wasIssued('nonce-8', impis[8] as string), true, 'remembered for its whole life');
  now += 101;
  assert.equal(issued.wasIssued('nonce-8', impis[8] as string), false, 'forgotten at most 100 ms after it');
});
