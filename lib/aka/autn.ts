/**
 * The AKA tokens of TS 33.102 §6.3: AUTN (network → USIM, §6.3.2) and AUTS (USIM → network on synchronisation failure,
 * §6.3.3), and the checks each side makes on the other's token.
 */
import { timingSafeEqual } from 'node:crypto';
import { assertBytes } from './errors.ts';
import type { Milenage } from './milenage.ts';
import { bufToSqn, sqnToBuf } from './sqn.ts';

/** AUTN = (SQN ⊕ AK) ‖ AMF ‖ MAC-A: 6 + 2 + 8 octets. */
export const AUTN_LENGTH = 16;
/** AUTS = (SQN_MS ⊕ AK*) ‖ MAC-S: 6 + 8 octets. */
export const AUTS_LENGTH = 14;
/** AMF* of resynchronisation: MAC-S is computed over a dummy all-zero AMF (33.102 §6.3.3). */
const AMF_RESYNC_HEX = '0000';

function xor(a: Buffer, b: Buffer): Buffer {
  const out = Buffer.allocUnsafe(a.length);
  for (let i = 0; i < a.length; i++) out[i] = (a[i] as number) ^ (b[i] as number);
  return out;
}

/** Constant-time equality of two MACs; unequal lengths are simply unequal (the length is not secret). */
export function macEqual(a: Buffer, b: Buffer): boolean {
  return a.length === b.length && timingSafeEqual(a, b);
}

/**
 * AUTN = (SQN ⊕ AK) ‖ AMF ‖ MAC-A.
 * @throws AkaError `ERR_AKA_INPUT` on a wrong length or an SQN out of 48-bit range.
 */
export function buildAutn(sqn: bigint, ak: Buffer, amf: Buffer, macA: Buffer): Buffer {
  assertBytes('AK', ak, 6);
  assertBytes('AMF', amf, 2);
  assertBytes('MAC-A', macA, 8);
  return Buffer.concat([xor(sqnToBuf(sqn), ak), amf, macA]);
}

/** The three fields of an AUTN, as octets (copies). */
export interface ParsedAutn {
  sqnXorAk: Buffer;
  amf: Buffer;
  macA: Buffer;
}

/**
 * Splits AUTN into SQN ⊕ AK, AMF and MAC-A.
 * @throws AkaError `ERR_AKA_INPUT` unless AUTN is 16 octets.
 */
export function parseAutn(autn: Buffer): ParsedAutn {
  assertBytes('AUTN', autn, AUTN_LENGTH);
  return {
    sqnXorAk: Buffer.from(autn.subarray(0, 6)),
    amf: Buffer.from(autn.subarray(6, 8)),
    macA: Buffer.from(autn.subarray(8, 16)),
  };
}

/** What the USIM learns from AUTN before any SQN check: see {@link openAutn}. */
export interface OpenedAutn {
  /** SQN = (SQN ⊕ AK) ⊕ AK. */
  sqn: bigint;
  /** AMF as sent (the USIM takes it from AUTN, it has no AMF of its own). */
  amf: Buffer;
  /** XMAC-A = MAC-A; false means the network is not authentic (MAC failure). */
  macValid: boolean;
}

/**
 * USIM side of 33.102 §6.3.3 up to the MAC check: AK = f5(RAND), recover SQN, XMAC = f1(SQN, RAND, AMF) compared with
 * MAC-A in constant time. The SQN freshness check is the caller's ({@link SeqMsArray}).
 * @throws AkaError `ERR_AKA_INPUT` unless RAND and AUTN are 16 octets each.
 */
export function openAutn(milenage: Milenage, rand: Buffer, autn: Buffer): OpenedAutn {
  const { sqnXorAk, amf, macA } = parseAutn(autn);
  const sqnBuf = xor(sqnXorAk, milenage.f2345(rand).ak);
  const xmac = milenage.f1(rand, sqnBuf, amf).macA;
  return { sqn: bufToSqn(sqnBuf), amf, macValid: macEqual(xmac, macA) };
}

/**
 * USIM side of resynchronisation (33.102 §6.3.3): AUTS = (SQN_MS ⊕ AK*) ‖ MAC-S, where AK* = f5*(RAND) and
 * MAC-S = f1*(SQN_MS, RAND, AMF* = 0000).
 * @param sqnMs the highest SQN the USIM has accepted ({@link SeqMsArray.highestSqn}).
 * @throws AkaError `ERR_AKA_INPUT` on a wrong RAND length or an SQN out of range.
 */
export function buildAuts(milenage: Milenage, rand: Buffer, sqnMs: bigint): Buffer {
  const sqnBuf = sqnToBuf(sqnMs);
  const { macS } = milenage.f1(rand, sqnBuf, Buffer.from(AMF_RESYNC_HEX, 'hex'));
  return Buffer.concat([xor(sqnBuf, milenage.f5star(rand)), macS]);
}

/** What the HE learns from AUTS: see {@link decodeAuts}. */
export interface DecodedAuts {
  sqnMs: bigint;
  /** MAC-S verified; when false the HE must not reset its counter (33.102 §6.3.5). */
  macValid: boolean;
}

/**
 * HE side of 33.102 §6.3.5 steps 1 and 3: SQN_MS = AUTS[0..5] ⊕ f5*(RAND), then MAC-S checked (constant time) against
 * f1*(SQN_MS, RAND, AMF* = 0000).
 * @param rand the RAND of the challenge the USIM answered with AUTS (from the resync request, not a new one).
 * @throws AkaError `ERR_AKA_INPUT` unless RAND is 16 and AUTS 14 octets.
 */
export function decodeAuts(milenage: Milenage, rand: Buffer, auts: Buffer): DecodedAuts {
  assertBytes('AUTS', auts, AUTS_LENGTH);
  const sqnBuf = xor(auts.subarray(0, 6), milenage.f5star(rand));
  const { macS } = milenage.f1(rand, sqnBuf, Buffer.from(AMF_RESYNC_HEX, 'hex'));
  return { sqnMs: bufToSqn(sqnBuf), macValid: macEqual(macS, auts.subarray(6, 14)) };
}
