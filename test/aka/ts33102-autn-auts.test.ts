/**
 * TS 33.102 §6.3.2–6.3.5 tokens: AUTN, AUTS, the USIM's MAC check and the HE's AUTS decoding, against the digest §4.2
 * derived example (test set 1 inputs, SQN_MS = 000000000040).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  AkaError, Milenage, buildAutn, buildAuts, bufToSqn, decodeAuts, generateVector, openAutn, parseAutn,
} from '../../lib/aka/index.ts';
import { hex, set1 } from './vectors.ts';

const v = set1();
const m = new Milenage(hex(v.K), hex(v.OPc));
const rand = hex(v.RAND);
const sqn = bufToSqn(hex(v.SQN));
const EXAMPLE = {
  autn: '55f328b43577b9b94a9ffac354dfafb3',
  sqnMs: 0x000000000040n,
  auts: '451e8beca47b7c4adabf45e76f4b',
  autsBase64: 'RR6L7KR7fErav0Xnb0s=',
  randAuts: '23553cbe9637a89d218ae64dae47bf35451e8beca47b7c4adabf45e76f4b',
};

test('ts33102 §6.3.2: AUTN = (SQN⊕AK) ‖ AMF ‖ MAC-A reproduces the digest §4.2 example', () => {
  const { macA } = m.f1(rand, hex(v.SQN), hex(v.AMF));
  const autn = buildAutn(sqn, m.f2345(rand).ak, hex(v.AMF), macA);
  assert.equal(autn.toString('hex'), EXAMPLE.autn);
  assert.deepEqual(parseAutn(autn), {
    sqnXorAk: hex('55f328b43577'), amf: hex(v.AMF), macA: hex(v.f1),
  });
});

test('ts33102 §6.3.2: generateVector gives RAND, AUTN, XRES, CK, IK of set 1', () => {
  const av = generateVector({ milenage: m, sqn, amf: hex(v.AMF), rand });
  assert.equal(av.rand.toString('hex'), v.RAND);
  assert.equal(av.autn.toString('hex'), EXAMPLE.autn);
  assert.equal(av.xres.toString('hex'), v.f2);
  assert.equal(av.ck.toString('hex'), v.f3);
  assert.equal(av.ik.toString('hex'), v.f4);
  const random = generateVector({ milenage: m, sqn, amf: hex(v.AMF) });
  assert.equal(random.rand.length, 16);
  assert.notEqual(random.rand.toString('hex'), v.RAND);
  assert.equal(openAutn(m, random.rand, random.autn).sqn, sqn);
});

test('ts33102 §6.3.3: the USIM recovers SQN and AMF and verifies MAC-A; any flipped bit fails the MAC', () => {
  const autn = hex(EXAMPLE.autn);
  assert.deepEqual(openAutn(m, rand, autn), { sqn, amf: hex(v.AMF), macValid: true });
  for (const bit of [0, 47, 48, 63, 64, 127]) {
    const bad = Buffer.from(autn);
    bad[bit >> 3] = (bad[bit >> 3] as number) ^ (0x80 >> (bit & 7));
    assert.equal(openAutn(m, rand, bad).macValid, false, `bit ${bit}`);
  }
  const otherKey = new Milenage(Buffer.alloc(16, 1), hex(v.OPc));
  assert.equal(openAutn(otherKey, rand, autn).macValid, false);
});

test('ts33102 §6.3.3: AUTS = (SQN_MS⊕AK*) ‖ MAC-S(AMF*=0000) reproduces the digest §4.2 example', () => {
  const auts = buildAuts(m, rand, EXAMPLE.sqnMs);
  assert.equal(auts.toString('hex'), EXAMPLE.auts);
  assert.equal(auts.toString('base64'), EXAMPLE.autsBase64);
  assert.equal(Buffer.concat([rand, auts]).toString('hex'), EXAMPLE.randAuts);
  // MAC-S is f1* over AMF 0000, not the vector's AMF.
  assert.equal(auts.subarray(6).toString('hex'), m.f1(rand, hex('000000000040'), hex('0000')).macS.toString('hex'));
});

test('ts33102 §6.3.5: the HE decodes AUTS back to SQN_MS and verifies MAC-S', () => {
  assert.deepEqual(decodeAuts(m, rand, hex(EXAMPLE.auts)), { sqnMs: EXAMPLE.sqnMs, macValid: true });
  const tampered = hex(EXAMPLE.auts);
  tampered[13] = (tampered[13] as number) ^ 1;
  assert.equal(decodeAuts(m, rand, tampered).macValid, false);
  // The wrong RAND (e.g. a newer challenge's) must not validate.
  assert.equal(decodeAuts(m, Buffer.alloc(16), hex(EXAMPLE.auts)).macValid, false);
  for (const sqnMs of [0n, 1n, 0xffffffffffffn, sqn]) {
    assert.deepEqual(decodeAuts(m, rand, buildAuts(m, rand, sqnMs)), { sqnMs, macValid: true });
  }
});

test('ts33102 §6.3: token lengths are enforced', () => {
  const isInput = (e: unknown): boolean => e instanceof AkaError && e.code === 'ERR_AKA_INPUT';
  assert.throws(() => parseAutn(Buffer.alloc(15)), isInput);
  assert.throws(() => openAutn(m, rand, Buffer.alloc(17)), isInput);
  assert.throws(() => decodeAuts(m, rand, Buffer.alloc(16)), isInput);
  assert.throws(() => buildAuts(m, rand, 1n << 48n), isInput);
  assert.throws(() => buildAutn(sqn, Buffer.alloc(6), Buffer.alloc(2), Buffer.alloc(7)), isInput);
  assert.throws(() => generateVector({ milenage: m, sqn, amf: hex(v.AMF), rand: Buffer.alloc(15) }), isInput);
});
