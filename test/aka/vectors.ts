/**
 * Loads the shared Milenage test vectors (`../shared/vectors/milenage.json`, beside the checkout) for the AKA tests.
 */
import { readFileSync } from 'node:fs';

/** One test set as stored: lowercase hex strings. */
export interface MilenageVector {
  set: string;
  K: string;
  RAND: string;
  SQN: string;
  AMF: string;
  OP: string;
  OPc: string;
  f1: string;
  f1star: string;
  f2: string;
  f3: string;
  f4: string;
  f5: string;
  f5star: string;
}

const FIELDS = ['K', 'RAND', 'SQN', 'AMF', 'OP', 'OPc', 'f1', 'f1star', 'f2', 'f3', 'f4', 'f5', 'f5star'] as const;

/** Reads and shape-checks every set, so a malformed file fails loudly instead of testing nothing. */
export function loadMilenageVectors(): MilenageVector[] {
  const raw: unknown = JSON.parse(readFileSync(new URL('../../../shared/vectors/milenage.json', import.meta.url), 'utf8'));
  if (!Array.isArray(raw) || raw.length === 0) throw new Error('milenage.json: expected a non-empty array');
  for (const v of raw as Record<string, unknown>[]) {
    for (const f of ['set', ...FIELDS]) {
      if (typeof v[f] !== 'string') throw new Error(`milenage.json: set ${String(v.set)} lacks ${f}`);
    }
  }
  return raw as MilenageVector[];
}

/** Hex to Buffer. */
export const hex = (s: string): Buffer => Buffer.from(s, 'hex');

/** TS 35.208 test set 1, the inputs of the digest §4.2 derived example. */
export function set1(): MilenageVector {
  const v = loadMilenageVectors().find((s) => /set 1$/.test(s.set));
  if (!v) throw new Error('milenage.json: no test set 1');
  return v;
}
