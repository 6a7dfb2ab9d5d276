/**
 * Stream framing by the RFC 6733 §3 Message Length: several messages per chunk, a message split at every possible
 * point (inside the 4-octet version/length prefix too), and the out-of-sync cases (bad version, bad length,
 * over-size) that close the connection after an error answer.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decodeMessage, encodeMessage } from '../../lib/diameter/codec.ts';
import { DEFAULT_MAX_MESSAGE_SIZE, DiameterFramer } from '../../lib/diameter/framing.ts';
import { errorAnswerForError } from '../../lib/diameter/message.ts';
import { buildMar } from '../../lib/diameter/cx/index.ts';
import { buildDwr } from '../../lib/diameter/peer-messages.ts';
import { MAR_INPUT } from './fixtures.ts';

const A = encodeMessage(buildMar(MAR_INPUT));
const B = encodeMessage(buildDwr({ originHost: 'a.example', originRealm: 'example' }, { hopByHop: 5, endToEnd: 6 }));
const STREAM = Buffer.concat([A, B]);

test('several messages in one chunk come out whole and in order', () => {
  const f = new DiameterFramer();
  const { messages, error } = f.push(Buffer.concat([A, B, A, B]));
  assert.equal(error, undefined);
  assert.deepEqual(messages, [A, B, A, B]);
  assert.equal(f.buffered, 0);
});

test('every split point of a two-message stream, in two chunks and in three', () => {
  for (let i = 0; i <= STREAM.length; i++) {
    const f = new DiameterFramer();
    const out = [...f.push(STREAM.subarray(0, i)).messages, ...f.push(STREAM.subarray(i)).messages];
    assert.deepEqual(out, [A, B], `split at ${i}`);
  }
  for (let i = 0; i < STREAM.length; i += 3) {
    for (let j = i; j <= STREAM.length; j += 5) {
      const f = new DiameterFramer();
      const out = [STREAM.subarray(0, i), STREAM.subarray(i, j), STREAM.subarray(j)].flatMap((c) => f.push(c).messages);
      assert.deepEqual(out, [A, B], `split at ${i}/${j}`);
    }
  }
});

test('one octet at a time', () => {
  const f = new DiameterFramer();
  const out = [];
  for (let i = 0; i < STREAM.length; i++) out.push(...f.push(STREAM.subarray(i, i + 1)).messages);
  assert.deepEqual(out, [A, B]);
  assert.deepEqual(decodeMessage(out[0] as Buffer), buildMar(MAR_INPUT));
});

test('emitted buffers are not clobbered by later chunks', () => {
  const f = new DiameterFramer();
  const chunk = Buffer.from(STREAM.subarray(0, A.length + 10));
  const [first] = f.push(chunk).messages;
  f.push(Buffer.from(STREAM.subarray(A.length + 10)));
  assert.deepEqual(first, A);
});

test('a bad version closes the stream; messages before it are still delivered; the failure sticks', () => {
  const bad = Buffer.from(B);
  bad.writeUInt8(2, 0);
  const f = new DiameterFramer();
  const r = f.push(Buffer.concat([A, bad]));
  assert.deepEqual(r.messages, [A]);
  assert.equal(r.error?.code, 'UNSUPPORTED_VERSION');
  assert.equal(r.error?.resultCode, 5011);
  assert.equal(r.error?.closeConnection, true);
  assert.equal(r.error?.header?.hopByHop, 5);
  const answer = r.error && errorAnswerForError(r.error, { originHost: 'mms.example', originRealm: 'example' });
  assert.equal(answer?.hopByHop, 5);
  assert.equal(answer?.version, 1);
  assert.deepEqual(f.push(A), { messages: [], error: r.error });
  f.reset();
  assert.deepEqual(f.push(A).messages, [A]);
});

test('a bad length is detected from the 4-octet prefix, before the header is complete', () => {
  for (const length of [0, 19, 22]) {
    const f = new DiameterFramer();
    const prefix = Buffer.from([1, 0, 0, 0]);
    prefix.writeUIntBE(length, 1, 3);
    const r = f.push(prefix);
    assert.equal(r.error?.code, 'INVALID_MESSAGE_LENGTH');
    assert.equal(r.error?.resultCode, 5015);
    assert.equal(r.error?.header, undefined);
  }
});

test('over-size messages are refused (default 1 MiB, configurable)', () => {
  assert.equal(DEFAULT_MAX_MESSAGE_SIZE, 1048576);
  const f = new DiameterFramer({ maxMessageSize: A.length - 4 });
  const r = f.push(A);
  assert.equal(r.error?.code, 'MESSAGE_TOO_LARGE');
  assert.equal(r.error?.closeConnection, true);
  assert.equal(r.error?.header?.commandCode, 303);
  const big = Buffer.alloc(20);
  big.writeUInt8(1, 0);
  big.writeUIntBE(DEFAULT_MAX_MESSAGE_SIZE + 4, 1, 3);
  assert.equal(new DiameterFramer().push(big).error?.code, 'MESSAGE_TOO_LARGE');
});

test('a message with bad AVPs but a sane length is emitted; decoding it fails alone', () => {
  const broken = Buffer.from(B);
  broken.writeUIntBE(0xffffff, 25, 3); // first AVP overruns
  const f = new DiameterFramer();
  const { messages, error } = f.push(Buffer.concat([broken, A]));
  assert.equal(error, undefined);
  assert.equal(messages.length, 2);
  assert.throws(() => decodeMessage(messages[0] as Buffer), { code: 'INVALID_AVP_LENGTH' });
  assert.equal(decodeMessage(messages[1] as Buffer).commandCode, 303);
});
