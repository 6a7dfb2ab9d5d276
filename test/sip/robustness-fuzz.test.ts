/**
 * Robustness: 3,000 seeded random mutations of an IMS REGISTER (byte flips, inserted delimiters, deletions,
 * truncation, duplicated and swapped lines, numeric overflow). The parser, every typed reader, the error-response
 * builder, the Via stamping and the stream framer (with random chunking) either succeed or throw SipParseError —
 * never anything else. Then 500 of the mutants go to a live UDP stack, which answers or counts each one, keeps
 * serving, and records no internal error.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SipParseError } from '../../lib/sip/errors.ts';
import type { SipMessage } from '../../lib/sip/message.ts';
import { parseMessage } from '../../lib/sip/parser.ts';
import { createErrorResponse, createResponse } from '../../lib/sip/response.ts';
import { serializeMessage } from '../../lib/sip/serialize.ts';
import { SipStack } from '../../lib/sip/stack.ts';
import { serverKey } from '../../lib/sip/transaction/keys.ts';
import { StreamFramer } from '../../lib/sip/transport/framer.ts';
import { stampReceived, stampReceivedRaw } from '../../lib/sip/transport/routing.ts';
import { until } from '../helpers/wait.ts';
import { UdpPeer, rawRequest, statusLine } from './helpers.ts';

/** mulberry32: small, seeded, good enough to spread mutations. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const BASE = rawRequest({
  viaPort: 5062,
  viaParams: ';rport',
  branch: 'z9hG4bK776asdhds',
  extra: [
    'Authorization: Digest username="user1@ims.partner.example", realm="ims.partner.example", uri="sip:ims.partner.example", nonce="", response=""',
    'Contact: "UE" <sip:user1@[2001:db8::1]:5060;transport=udp>;expires=600000;+sip.instance="<urn:gsma:imei:35209900-176148-0>"',
    'Supported: path, gruu',
    'Expires: 600000',
  ],
  body: 'v=0\r\n',
});

const TOKENS = [';', ',', '"', '<', '>', '\r\n', '\r\n ', ':', ' ', '%', '%0', '\\', '=', '@', '[', ']', '\0', '\xff', '\t',
  'z9hG4bK', 'Content-Length: 99\r\n', 'l: -1\r\n', 'Via: ', 'SIP/2.0', '*', '?', 'tag=', ';branch=', '\r\n\r\n'];

function mutate(src: Buffer, rnd: () => number): Buffer {
  const at = (n: number): number => Math.floor(rnd() * n);
  const text = src.toString('latin1');
  const lines = text.split('\r\n');
  switch (at(8)) {
    case 0: {
      const b = Buffer.from(src);
      for (let i = 1 + at(4); i > 0; i--) b[at(b.length)] = at(256);
      return b;
    }
    case 1: {
      const p = at(text.length);
      return Buffer.from(text.slice(0, p) + (TOKENS[at(TOKENS.length)] ?? '') + text.slice(p), 'latin1');
    }
    case 2: {
      const p = at(text.length);
      return Buffer.from(text.slice(0, p) + text.slice(p + 1 + at(20)), 'latin1');
    }
    case 3:
      return src.subarray(0, at(src.length));
    case 4: {
      const i = at(lines.length);
      lines.splice(i, 0, lines[i] ?? '');
      return Buffer.from(lines.join('\r\n'), 'latin1');
    }
    case 5: {
      const i = at(lines.length);
      const j = at(lines.length);
      [lines[i], lines[j]] = [lines[j] ?? '', lines[i] ?? ''];
      return Buffer.from(lines.join('\r\n'), 'latin1');
    }
    case 6: {
      const i = 1 + at(lines.length - 1);
      const line = lines[i] ?? '';
      const garbage = Array.from({ length: at(30) }, () => String.fromCharCode(32 + at(95))).join('');
      lines[i] = line.slice(0, line.indexOf(':') + 1) + garbage;
      return Buffer.from(lines.join('\r\n'), 'latin1');
    }
    default:
      return Buffer.from(text.replace(/\d+/g, (d) => (rnd() < 0.3 ? ['99999999999999999999', '-1', '4294967296', '0x1f'][at(4)] ?? d : d)), 'latin1');
  }
}

/** Everything a registrar would do with a message; returns what was thrown, if anything. */
function exercise(m: SipMessage): void {
  const readers: Array<() => unknown> = [
    () => m.vias(), () => m.contacts(), () => m.expires(), () => m.authorization(), () => m.maxForwards(),
    () => m.list('Supported'), () => m.nameAddrs('Route'), () => m.wwwAuthenticate(), () => m.authenticationInfo(),
    () => (m.kind === 'request' ? m.requestUri() : undefined),
  ];
  for (const r of readers) {
    try {
      r();
    } catch (err) {
      if (!(err instanceof SipParseError)) throw err;
    }
  }
  if (m.kind === 'request') {
    stampReceived(m, '192.0.2.1', 40000);
    serverKey(m, { transport: 'UDP', remoteAddress: '192.0.2.1', remotePort: 40000 });
    parseMessage(serializeMessage(createResponse(m, 401)));
  }
  parseMessage(serializeMessage(m));
}

function check(buf: Buffer, datagram: boolean): void {
  let m: SipMessage;
  try {
    m = parseMessage(buf, { datagram });
  } catch (err) {
    if (!(err instanceof SipParseError)) throw err;
    if (err.canRespond && err.headers) {
      stampReceivedRaw(err.headers, '192.0.2.1', 40000);
      const res = createErrorResponse(err);
      assert.ok(res, 'canRespond means a response can be formed');
      serializeMessage(res);
    }
    return;
  }
  exercise(m);
}

test('3,000 mutations: only SipParseError ever escapes', () => {
  const rnd = prng(0x5eed5);
  const base = Buffer.from(BASE);
  let parsed = 0;
  for (let i = 0; i < 3000; i++) {
    let buf = mutate(base, rnd);
    if (rnd() < 0.3) buf = mutate(buf, rnd);
    try {
      check(buf, true);
      const framer = new StreamFramer();
      for (let off = 0; off < buf.length;) {
        const n = 1 + Math.floor(rnd() * 200);
        const r = framer.push(buf.subarray(off, off + n));
        for (const f of r.messages) check(f, false);
        off += n;
        if (r.error) break;
      }
      try {
        parseMessage(buf);
        parsed++;
      } catch {
        // counted above
      }
    } catch (err) {
      assert.fail(`mutation ${i} threw ${String(err)}\n${JSON.stringify(buf.toString('latin1'))}`);
    }
  }
  assert.ok(parsed > 300 && parsed < 2900, `a useful mix of accepted (${parsed}) and rejected mutants`);
});

test('500 mutants against a live UDP stack: each answered or counted, service continues', async (t) => {
  const stack = new SipStack({ udp: [{ host: '127.0.0.1', port: 0 }], onRequest: (req, tx) => {
    req.contacts();
    req.authorization();
    tx.reply(200);
  } });
  t.after(() => stack.stop());
  const [b] = await stack.start();
  const port = b?.port ?? 0;
  const peer = await UdpPeer.open();
  const rnd = prng(42);
  const base = Buffer.from(BASE.replace(':5062;', `:${peer.port};`));
  for (let i = 0; i < 500; i++) {
    peer.send(mutate(base, rnd), port);
    // Fifty at a time, each batch read before the next is sent, so no datagram is lost to a full socket buffer.
    if (i % 50 === 49) await until(() => stack.stats.datagramsReceived === i + 1, `datagrams ${i - 48}–${i + 1} at the stack`);
  }
  const s = stack.stats;
  assert.equal(s.internalErrors, 0);
  assert.equal(s.datagramsReceived, 500);
  assert.equal(s.requestsReceived + s.responsesReceived + s.parseErrors + s.keepalives + s.oversizeDatagrams, 500);
  // Answers to mutants may still be on their way: the one that counts is the answer to this request's branch.
  const already = peer.received.length;
  peer.send(rawRequest({ viaPort: peer.port, branch: 'z9hG4bK-after-fuzz' }), port);
  const mine = (): string | undefined => peer.received.slice(already).map((b) => b.toString('latin1')).find((r) => r.includes('branch=z9hG4bK-after-fuzz'));
  await until(() => mine() !== undefined, 'the answer to the request after the mutants');
  assert.equal(statusLine(mine() ?? ''), 'SIP/2.0 200 OK');
  await peer.close();
  await stack.stop();
});
