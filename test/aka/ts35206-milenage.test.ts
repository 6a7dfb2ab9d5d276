/**
 * TS 35.206 §4.1 Milenage against every set of TS 35.208 / 35.207 in the shared vectors, field by field.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { AkaError, computeOpc, Milenage } from '../../lib/aka/index.ts';
import { hex, loadMilenageVectors } from './vectors.ts';

const vectors = loadMilenageVectors();

test('ts35206: the vector file holds the 13 expected sets', () => {
  assert.equal(vectors.length, 13);
});

for (const v of vectors) {
  test(`ts35206 §4.1: ${v.set} — OPc, f1, f1*, f2, f3, f4, f5, f5*`, () => {
    assert.equal(computeOpc(hex(v.K), hex(v.OP)).toString('hex'), v.OPc, 'OPc');
    for (const [label, m] of [['from OPc', new Milenage(hex(v.K), hex(v.OPc))], ['from OP', Milenage.fromOp(hex(v.K), hex(v.OP))]] as const) {
      assert.equal(m.opc.toString('hex'), v.OPc, `${label}: opc`);
      const { macA, macS } = m.f1(hex(v.RAND), hex(v.SQN), hex(v.AMF));
      assert.equal(macA.toString('hex'), v.f1, `${label}: f1`);
      assert.equal(macS.toString('hex'), v.f1star, `${label}: f1*`);
      const { res, ck, ik, ak } = m.f2345(hex(v.RAND));
      assert.equal(res.toString('hex'), v.f2, `${label}: f2`);
      assert.equal(ck.toString('hex'), v.f3, `${label}: f3`);
      assert.equal(ik.toString('hex'), v.f4, `${label}: f4`);
      assert.equal(ak.toString('hex'), v.f5, `${label}: f5`);
      assert.equal(m.f5star(hex(v.RAND)).toString('hex'), v.f5star, `${label}: f5*`);
    }
  });
}

test('ts35206: one instance reused across many calls gives the same answers (the cipher carries no state)', () => {
  const v = vectors[0]!;
  const m = new Milenage(hex(v.K), hex(v.OPc));
  for (let i = 0; i < 50; i++) {
    m.f2345(Buffer.alloc(16, i));
    assert.equal(m.f1(hex(v.RAND), hex(v.SQN), hex(v.AMF)).macA.toString('hex'), v.f1);
    assert.equal(m.f5star(hex(v.RAND)).toString('hex'), v.f5star);
  }
});

test('ts35206: outputs are independent copies of internal state', () => {
  const v = vectors[0]!;
  const m = new Milenage(hex(v.K), hex(v.OPc));
  m.opc.fill(0);
  assert.equal(m.f2345(hex(v.RAND)).res.toString('hex'), v.f2);
});

test('ts35206 §2: wrong input lengths throw AkaError ERR_AKA_INPUT', () => {
  const v = vectors[0]!;
  const isInput = (e: unknown): boolean => e instanceof AkaError && e.code === 'ERR_AKA_INPUT';
  assert.throws(() => new Milenage(Buffer.alloc(15), hex(v.OPc)), isInput);
  assert.throws(() => new Milenage(hex(v.K), Buffer.alloc(17)), isInput);
  assert.throws(() => computeOpc(hex(v.K), Buffer.alloc(0)), isInput);
  const m = new Milenage(hex(v.K), hex(v.OPc));
  assert.throws(() => m.f1(Buffer.alloc(16), Buffer.alloc(5), Buffer.alloc(2)), isInput);
  assert.throws(() => m.f1(Buffer.alloc(16), Buffer.alloc(6), Buffer.alloc(3)), isInput);
  assert.throws(() => m.f2345(Buffer.alloc(8)), isInput);
  assert.throws(() => m.f5star(Buffer.alloc(32)), isInput);
  assert.throws(() => m.f2345('00'.repeat(16) as unknown as Buffer), isInput);
});
