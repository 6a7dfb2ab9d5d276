/**
 * Shared inputs of the Diameter tests: realistic Cx values with binary key material chosen to trip byte-unsafe code
 * (leading/trailing 0x00, 0xff, invalid UTF-8 sequences inside OctetStrings).
 */
import assert from 'node:assert/strict';
import { DiameterError } from '../../lib/diameter/errors.ts';
import type { DiameterErrorCode } from '../../lib/diameter/errors.ts';
import type { MarInput } from '../../lib/diameter/cx/mar.ts';

/** Hex (spaces and newlines allowed) → Buffer. */
export function hex(text: string): Buffer {
  return Buffer.from(text.replace(/\s+/g, ''), 'hex');
}

/** RAND of the digest §6.6 resync example. */
export const RAND = hex('23553cbe 9637a89d 218ae64d ae47bf35');
/** AUTS of the digest §6.6 resync example. */
export const AUTS = hex('451e8bec a47b7c4a dabf45e7 6f4b');
/** AUTN with bytes that are not valid UTF-8. */
export const AUTN = hex('c0c1f5ff 00800000 e2828a00 9f3c0000');
export const XRES = hex('00a5 4211 d5e3 ba50');
export const CK = hex('00000000 b40ba9a3 c58b2a05 bbf0d987');
export const IK = hex('f769bcd7 51044604 12767271 1c6d34ff');

/** Routing of the partner registrar towards the partner MMS. */
export const ROUTING = {
  sessionId: 'scscf.partner.example;1876543210;523;mar',
  originHost: 'scscf.partner.example',
  originRealm: 'partner.example',
  destinationRealm: 'primary.example',
} as const;

/** A resynchronisation MAR. */
export const MAR_INPUT: MarInput = {
  ...ROUTING,
  destinationHost: 'hss.primary.example',
  userName: 'alice@primary.example',
  publicIdentity: 'sip:alice@primary.example',
  serverName: 'sip:scscf.partner.example:5060',
  numberAuthItems: 3,
  scheme: 'Digest-AKAv1-MD5',
  authorization: Buffer.concat([RAND, AUTS]),
  hopByHop: 0x1234abcd,
  endToEnd: 0x5a000001,
};

/**
 * Asserts that `fn` throws a DiameterError with this code and Result-Code, and returns it.
 * @param resultCode undefined for local errors.
 */
export function expectDiameterError(fn: () => unknown, code: DiameterErrorCode, resultCode: number | undefined): DiameterError {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof DiameterError, `expected DiameterError, got ${String(err)}`);
    assert.equal(err.code, code, err.message);
    assert.equal(err.resultCode, resultCode);
    return err;
  }
  assert.fail(`expected DiameterError ${code}`);
}

/** A small seeded PRNG (mulberry32) so fuzz runs are reproducible. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
