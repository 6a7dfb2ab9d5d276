/**
 * Authentication vector generation, HE side (TS 33.102 §6.3.2): AV = RAND ‖ XRES ‖ CK ‖ IK ‖ AUTN.
 */
import { randomBytes } from 'node:crypto';
import { buildAutn } from './autn.ts';
import { assertBytes } from './errors.ts';
import type { Milenage, MilenageKeys } from './milenage.ts';
import { sqnToBuf } from './sqn.ts';

/** One IMS-AKA vector as the HSS hands it to the S-CSCF (SIP-Authenticate = RAND‖AUTN, SIP-Authorization = XRES). */
export interface AuthVector {
  rand: Buffer;
  autn: Buffer;
  xres: Buffer;
  ck: Buffer;
  ik: Buffer;
}

/** Inputs of {@link generateVector}. */
export interface GenerateVectorOptions {
  milenage: Milenage;
  /** The SQN for this vector; allocating it (and making that durable) is the caller's job. */
  sqn: bigint;
  /** AMF, 2 octets (IMS normally uses 0000 or 8000, TS 33.203). */
  amf: Buffer;
  /** RAND, 16 octets; a fresh random value when omitted (tests pass a fixed one). */
  rand?: Buffer;
  /** `milenage.f2345(rand)` when the caller has it already (an HSS that looked at RES before choosing RAND). */
  keys?: MilenageKeys;
}

/**
 * Computes one vector: MAC-A = f1(SQN, RAND, AMF), XRES = f2, CK = f3, IK = f4, AK = f5, AUTN = (SQN⊕AK)‖AMF‖MAC-A.
 * @throws AkaError `ERR_AKA_INPUT` on a wrong length or an SQN out of range.
 */
export function generateVector({ milenage, sqn, amf, rand = randomBytes(16), keys }: GenerateVectorOptions): AuthVector {
  assertBytes('RAND', rand, 16);
  const { macA } = milenage.f1(rand, sqnToBuf(sqn), amf);
  const { res, ck, ik, ak } = keys ?? milenage.f2345(rand);
  return { rand: Buffer.from(rand), autn: buildAutn(sqn, ak, amf, macA), xres: res, ck, ik };
}
