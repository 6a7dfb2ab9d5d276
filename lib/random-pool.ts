/**
 * Random octets from a pool refilled by one `randomFillSync` per 4 KiB: a CSPRNG call costs ~3 µs however few octets
 * it returns, and the hot paths take a few octets at a time (SIP tags and branches per response, a RAND per vector).
 * Every octet is handed out once and only as a copy or as text, so the pool itself never leaves this module.
 */
import { randomFillSync } from 'node:crypto';

const POOL = Buffer.alloc(4096);
let offset = POOL.length;

function take(n: number): number {
  if (n > POOL.length) throw new RangeError(`at most ${POOL.length} random octets at a time`);
  if (offset + n > POOL.length) {
    randomFillSync(POOL);
    offset = 0;
  }
  const at = offset;
  offset += n;
  return at;
}

/** `n` fresh random octets, as hex text. */
export function randomHex(n: number): string {
  const at = take(n);
  return POOL.toString('hex', at, at + n);
}

/** `n` fresh random octets, in a Buffer of their own (the signature of `crypto.randomBytes`). */
export function randomOctets(n: number): Buffer {
  const at = take(n);
  return Buffer.from(POOL.subarray(at, at + n));
}
