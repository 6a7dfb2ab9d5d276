/**
 * Robustness: 2,000 seeded random mutations of a valid MAR (byte flips, length-field edits, truncation, insertion,
 * AVP splicing). Decoding, framing, validation and the typed reader either succeed or throw a DiameterError — never
 * anything else — and every request-side error yields error answers (generic and Cx) that encode and decode.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decodeMessage, encodeMessage } from '../../lib/diameter/codec.ts';
import { DiameterError } from '../../lib/diameter/errors.ts';
import { DiameterFramer } from '../../lib/diameter/framing.ts';
import { errorAnswerForError, validateMessage } from '../../lib/diameter/message.ts';
import { buildMaa, buildMar, cxErrorAnswerForError, readMaa, readMar } from '../../lib/diameter/cx/index.ts';
import { AUTN, CK, IK, MAR_INPUT, RAND, XRES, prng } from './fixtures.ts';

const ORIGIN = { originHost: 'hss.primary.example', originRealm: 'primary.example' };

function mutate(src: Buffer, rnd: () => number): Buffer {
  const buf = Buffer.from(src);
  const at = (n = buf.length): number => Math.floor(rnd() * n);
  switch (at(6)) {
    case 0: { // flip 1–4 random bytes
      for (let i = 1 + at(4); i > 0; i--) buf[at()] = at(256);
      return buf;
    }
    case 1: { // rewrite a 24-bit length field (message or some AVP) with a nearby or random value
      const off = rnd() < 0.2 ? 1 : 20 + 4 * at((buf.length - 20) / 4) + 1;
      if (off + 3 <= buf.length) buf.writeUIntBE(rnd() < 0.5 ? at(0x1000000) : Math.max(0, buf.readUIntBE(off, 3) + at(9) - 4), off, 3);
      return buf;
    }
    case 2: { // truncate, fixing the Message Length half of the time
      const out = buf.subarray(0, at());
      if (out.length >= 4 && rnd() < 0.5) out.writeUIntBE(out.length, 1, 3);
      return out;
    }
    case 3: { // insert random bytes somewhere after the header
      const ins = Buffer.from(Array.from({ length: 1 + at(8) }, () => at(256)));
      const pos = 20 + at(buf.length - 20);
      const out = Buffer.concat([buf.subarray(0, pos), ins, buf.subarray(pos)]);
      if (rnd() < 0.5) out.writeUIntBE(out.length, 1, 3);
      return out;
    }
    case 4: { // flags of an AVP (V/M/P and reserved bits)
      const off = 20 + 4 * at((buf.length - 20) / 4) + 4;
      if (off < buf.length) buf[off] = at(256);
      return buf;
    }
    default: { // duplicate a slice of the body (repeats AVPs, breaks alignment)
      const from = 20 + at(buf.length - 20);
      const to = from + at(buf.length - from);
      const out = Buffer.concat([buf, buf.subarray(from, to)]);
      out.writeUIntBE(out.length, 1, 3);
      return out;
    }
  }
}

function exercise(input: Buffer, read: (m: ReturnType<typeof decodeMessage>) => unknown): 'ok' | 'error' {
  try {
    const { messages, error } = new DiameterFramer().push(input);
    if (error) throw error;
    for (const m of messages) {
      const msg = decodeMessage(m);
      validateMessage(msg);
      read(msg);
      encodeMessage(msg);
    }
    return 'ok';
  } catch (err) {
    if (!(err instanceof DiameterError)) throw err;
    assert.equal(typeof err.code, 'string');
    const answer = errorAnswerForError(err, ORIGIN);
    if (answer) {
      assert.equal(answer.flags.request, false);
      assert.equal(answer.flags.error, err.protocolError);
      decodeMessage(encodeMessage(answer));
      const cx = cxErrorAnswerForError(err, ORIGIN);
      assert.ok(cx);
      decodeMessage(encodeMessage(cx));
    }
    return 'error';
  }
}

test('2,000 mutations of a valid MAR: success or DiameterError only', () => {
  const rnd = prng(0x6733);
  const valid = encodeMessage(buildMar(MAR_INPUT));
  const tally = { ok: 0, error: 0 };
  for (let i = 0; i < 2000; i++) {
    const input = mutate(valid, rnd);
    tally[exercise(input, readMar)]++;
  }
  assert.ok(tally.error > 1000, `most mutations are caught (${JSON.stringify(tally)})`);
  assert.ok(tally.ok > 0, `some mutations stay valid (${JSON.stringify(tally)})`);
});

test('1,000 mutations of a three-vector MAA: success or DiameterError only', () => {
  const rnd = prng(29229);
  const items = [1, 2, 3].map((n) => ({ itemNumber: n, scheme: 'Digest-AKAv1-MD5', authenticate: Buffer.concat([RAND, AUTN]), authorization: XRES, ck: CK, ik: IK }));
  const valid = encodeMessage(buildMaa(buildMar(MAR_INPUT), { ...ORIGIN, result: { resultCode: 2001 }, items }));
  for (let i = 0; i < 1000; i++) exercise(mutate(valid, rnd), readMaa);
});

test('random garbage of every length up to 256 octets never escapes as another exception', () => {
  const rnd = prng(42);
  for (let n = 0; n <= 256; n++) {
    const buf = Buffer.from(Array.from({ length: n }, () => Math.floor(rnd() * 256)));
    if (n >= 4 && rnd() < 0.5) { buf[0] = 1; buf.writeUIntBE(n, 1, 3); }
    exercise(buf, readMar);
  }
});
