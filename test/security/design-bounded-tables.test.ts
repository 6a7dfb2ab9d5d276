/**
 * The bounded tables behind the registrar's ban, rate, challenge and nonce bookkeeping (lib/bounded-map.ts): never
 * more than their cap, forgetting the least recently touched entry first, so an attacker rotating addresses or
 * identities pushes out only what went quiet. Touching the newest entry again (every request of a load from one
 * address) leaves the order as it is instead of re-inserting it.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { BoundedMap } from '../../lib/bounded-map.ts';

const keys = <K, V>(m: BoundedMap<K, V>): K[] => [...m.entries()].map(([k]) => k);

describe('bounded tables: least recently touched out first', () => {
  test('the cap holds; the oldest untouched entry goes first and is counted', () => {
    const m = new BoundedMap<string, number>(3);
    for (const k of ['a', 'b', 'c', 'd']) m.set(k, 1);
    assert.deepEqual(keys(m), ['b', 'c', 'd']);
    assert.equal(m.size, 3);
    assert.equal(m.evicted, 1);
  });

  test('get of an older entry makes it the newest; of the newest changes nothing; peek never touches', () => {
    const m = new BoundedMap<string, number>(3);
    for (const k of ['a', 'b', 'c']) m.set(k, 1);
    assert.equal(m.get('a'), 1);
    assert.deepEqual(keys(m), ['b', 'c', 'a']);
    for (let i = 0; i < 5; i++) m.get('a');
    assert.deepEqual(keys(m), ['b', 'c', 'a']);
    m.peek('b');
    m.set('d', 1);
    assert.deepEqual(keys(m), ['c', 'a', 'd'], 'b, only peeked, was the least recent');
  });

  test('set of the newest replaces its value in place; set of an older one moves it last', () => {
    const m = new BoundedMap<string, number>(3);
    for (const k of ['a', 'b', 'c']) m.set(k, 1);
    m.set('c', 2);
    assert.deepEqual([...m.entries()], [['a', 1], ['b', 1], ['c', 2]]);
    m.set('a', 3);
    assert.deepEqual([...m.entries()], [['b', 1], ['c', 2], ['a', 3]]);
    assert.equal(m.evicted, 0);
  });

  test('the newest deleted, then set again: a new entry at the end, under the cap', () => {
    const m = new BoundedMap<string, number>(2);
    m.set('a', 1);
    m.set('b', 1);
    assert.equal(m.delete('b'), true);
    assert.equal(m.get('b'), undefined);
    m.set('b', 2);
    m.set('c', 3);
    assert.deepEqual([...m.entries()], [['b', 2], ['c', 3]]);
    assert.equal(m.evicted, 1);
  });

  test('keys compare as a Map compares them: NaN is one key, 0 and -0 are one key', () => {
    const m = new BoundedMap<number, string>(4);
    m.set(Number.NaN, 'nan');
    m.set(Number.NaN, 'nan again');
    m.set(0, 'zero');
    m.set(-0, 'minus zero');
    assert.deepEqual([...m.entries()], [[Number.NaN, 'nan again'], [0, 'minus zero']]);
    assert.equal(m.get(Number.NaN), 'nan again');
    assert.deepEqual(keys(m), [0, Number.NaN]);
  });

  test('a cap of one: each new key replaces the last', () => {
    const m = new BoundedMap<string, number>(1);
    m.set('a', 1);
    m.set('a', 2);
    m.set('b', 3);
    assert.deepEqual([...m.entries()], [['b', 3]]);
    assert.equal(m.evicted, 1);
  });
});
