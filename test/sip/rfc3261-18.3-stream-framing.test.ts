/**
 * RFC 3261 §18.3 on streams: Content-Length framing of a TCP/TLS byte stream, whatever the chunking; CRLF
 * keep-alives between messages (RFC 5626 §3.5.1); a missing, invalid or conflicting Content-Length or an oversize
 * message loses sync, so the connection must close (after a 400 when one can be formed).
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { StreamFramer } from '../../lib/sip/transport/framer.ts';
import { rawRequest } from './helpers.ts';

const A = rawRequest({ branch: 'z9hG4bKa', body: 'first body' });
const B = rawRequest({ branch: 'z9hG4bKb', method: 'OPTIONS' });

describe('StreamFramer', () => {
  test('two messages in one chunk', () => {
    const r = new StreamFramer().push(Buffer.from(A + B));
    assert.deepEqual(r.messages.map((m) => m.toString()), [A, B]);
    assert.equal(r.error, undefined);
  });

  test('split at every possible offset, and byte by byte', () => {
    const both = Buffer.from(A + B);
    for (let cut = 1; cut < both.length; cut++) {
      const f = new StreamFramer();
      const out = [...f.push(both.subarray(0, cut)).messages, ...f.push(both.subarray(cut)).messages];
      assert.deepEqual(out.map((m) => m.toString()), [A, B], `cut at ${cut}`);
    }
    const f = new StreamFramer();
    const out: string[] = [];
    for (const byte of both) for (const m of f.push(Buffer.of(byte)).messages) out.push(m.toString());
    assert.deepEqual(out, [A, B]);
    assert.equal(f.buffered, 0);
  });

  test('CRLF keep-alives before and between messages are skipped and counted', () => {
    const f = new StreamFramer();
    const r1 = f.push(Buffer.from('\r\n\r\n'));
    assert.equal(r1.messages.length, 0);
    assert.equal(r1.keepalives, 1);
    const r2 = f.push(Buffer.from(A + '\r\n\r\n' + B));
    assert.deepEqual(r2.messages.map((m) => m.toString()), [A, B]);
    assert.equal(r2.keepalives, 1);
  });

  test('a body that has not arrived yet is waited for', () => {
    const f = new StreamFramer();
    const cut = A.length - 4;
    assert.equal(f.push(Buffer.from(A.slice(0, cut))).messages.length, 0);
    assert.ok(f.buffered > 0);
    assert.deepEqual(f.push(Buffer.from(A.slice(cut))).messages.map((m) => m.toString()), [A]);
  });

  test('missing Content-Length: error with the fields for a 400, connection closes, framer stays failed', () => {
    const f = new StreamFramer();
    const r = f.push(Buffer.from(A + rawRequest().replace('Content-Length: 0\r\n', '') + B));
    assert.deepEqual(r.messages.map((m) => m.toString()), [A]);
    assert.equal(r.error?.code, 'MISSING_CONTENT_LENGTH');
    assert.equal(r.error?.closeConnection, true);
    assert.equal(r.error?.canRespond, true);
    assert.equal(f.push(Buffer.from(B)).error, r.error);
  });

  test('negative or conflicting Content-Length loses sync', () => {
    for (const cl of ['Content-Length: -5', 'Content-Length: 5\r\nContent-Length: 6', 'Content-Length: five']) {
      const r = new StreamFramer().push(Buffer.from(rawRequest().replace('Content-Length: 0', cl)));
      assert.equal(r.error?.code, 'BAD_CONTENT_LENGTH', cl);
      assert.equal(r.error?.closeConnection, true);
    }
  });

  test('oversize: a header block without end, or a Content-Length beyond the limit', () => {
    const endless = new StreamFramer(1000).push(Buffer.from('REGISTER sip:x SIP/2.0\r\n' + 'X: y\r\n'.repeat(300)));
    assert.equal(endless.error?.code, 'MESSAGE_TOO_LARGE');
    const big = new StreamFramer(1000).push(Buffer.from(rawRequest().replace('Content-Length: 0', 'Content-Length: 5000')));
    assert.equal(big.error?.code, 'MESSAGE_TOO_LARGE');
    assert.equal(big.error?.status, 513);
    assert.equal(big.error?.canRespond, true);
  });
});
