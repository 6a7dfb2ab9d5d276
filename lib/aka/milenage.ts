/**
 * Milenage, the 3GPP example AKA algorithm set f1, f1*, f2, f3, f4, f5, f5* (TS 35.206 §4), on `node:crypto`
 * AES-128 as the kernel E_K. Bit 0 is the most significant bit of octet 0 (TS 35.206 §3.3), so "bits 0..63" are the
 * first eight octets and every rotation constant r1..r5 is a whole number of octets.
 */
import { createCipheriv, type Cipher } from 'node:crypto';
import { assertBytes } from './errors.ts';

/** Octet lengths of the Milenage inputs and outputs (TS 35.206 §2). */
export const MILENAGE_LENGTHS = {
  k: 16, op: 16, opc: 16, rand: 16, sqn: 6, amf: 2,
  macA: 8, macS: 8, res: 8, ck: 16, ik: 16, ak: 6, akStar: 6,
} as const;

// TS 35.206 §4.1 default rotation amounts (bits) and constants c1..c5 (only the last octet is non-zero).
const R = [64, 0, 32, 64, 96] as const;
const C_LAST_OCTET = { 1: 0x00, 2: 0x01, 3: 0x02, 4: 0x04, 5: 0x08 } as const;

/** MAC-A (f1) and MAC-S (f1*) of one (RAND, SQN, AMF). */
export interface MilenageMacs {
  macA: Buffer;
  macS: Buffer;
}

/** The RAND-only functions: RES (f2), CK (f3), IK (f4), AK (f5). */
export interface MilenageKeys {
  res: Buffer;
  ck: Buffer;
  ik: Buffer;
  ak: Buffer;
}

function xor(a: Buffer, b: Buffer): Buffer {
  const out = Buffer.allocUnsafe(a.length);
  for (let i = 0; i < a.length; i++) out[i] = (a[i] as number) ^ (b[i] as number);
  return out;
}

/** rot(x, r) of TS 35.206 §4.1: cyclic shift towards the most significant bit, `r` a multiple of 8. */
function rot(x: Buffer, bits: number): Buffer {
  const n = (bits / 8) % x.length;
  return n === 0 ? x : Buffer.concat([x.subarray(n), x.subarray(0, n)]);
}

/** One AES-128 block encryptor for key K; ECB without padding maps each 16-octet update to 16 octets at once. */
function blockEncryptor(k: Buffer): (block: Buffer) => Buffer {
  const cipher: Cipher = createCipheriv('aes-128-ecb', k, null);
  cipher.setAutoPadding(false);
  // Reusing the cipher is sound because ECB carries no state between blocks and `final()` is never called.
  return (block) => cipher.update(block);
}

/**
 * Derives OPc = OP ⊕ E_K(OP) (TS 35.206 §4.1), the form an HSS or USIM should store instead of OP.
 * @throws AkaError `ERR_AKA_INPUT` unless K and OP are 16 octets each.
 */
export function computeOpc(k: Buffer, op: Buffer): Buffer {
  assertBytes('K', k, MILENAGE_LENGTHS.k);
  assertBytes('OP', op, MILENAGE_LENGTHS.op);
  return xor(op, blockEncryptor(k)(op));
}

/**
 * Milenage for one subscriber key. Holds K (inside the AES key schedule only) and OPc; the cipher object is built once
 * per instance, so an HSS keeps one instance per subscriber it is serving rather than one per vector.
 */
export class Milenage {
  readonly #encrypt: (block: Buffer) => Buffer;
  readonly #opc: Buffer;

  /**
   * @param k the subscriber key K, 16 octets.
   * @param opc the operator variant OPc, 16 octets (use {@link Milenage.fromOp} when only OP is known).
   * @throws AkaError `ERR_AKA_INPUT` on a wrong length.
   */
  constructor(k: Buffer, opc: Buffer) {
    assertBytes('K', k, MILENAGE_LENGTHS.k);
    assertBytes('OPc', opc, MILENAGE_LENGTHS.opc);
    this.#encrypt = blockEncryptor(k);
    this.#opc = Buffer.from(opc);
  }

  /**
   * Builds an instance from K and OP, deriving OPc once.
   * @throws AkaError `ERR_AKA_INPUT` on a wrong length.
   */
  static fromOp(k: Buffer, op: Buffer): Milenage {
    return new Milenage(k, computeOpc(k, op));
  }

  /** A copy of OPc, e.g. to store it at provisioning time instead of OP. */
  get opc(): Buffer {
    return Buffer.from(this.#opc);
  }

  /**
   * f1 and f1*: MAC-A = OUT1[0..63], MAC-S = OUT1[64..127] (TS 35.206 §4.1).
   * For resynchronisation MAC-S is computed with AMF = 0000 (TS 33.102 §6.3.3); passing that AMF is the caller's job.
   * @throws AkaError `ERR_AKA_INPUT` unless RAND is 16, SQN 6 and AMF 2 octets.
   */
  f1(rand: Buffer, sqn: Buffer, amf: Buffer): MilenageMacs {
    assertBytes('SQN', sqn, MILENAGE_LENGTHS.sqn);
    assertBytes('AMF', amf, MILENAGE_LENGTHS.amf);
    const temp = this.#temp(rand);
    const in1 = Buffer.concat([sqn, amf, sqn, amf]);
    const out1 = this.#out(1, xor(temp, rot(xor(in1, this.#opc), R[0])));
    return { macA: out1.subarray(0, 8), macS: out1.subarray(8, 16) };
  }

  /**
   * f2, f3, f4, f5: RES = OUT2[64..127], CK = OUT3, IK = OUT4, AK = OUT2[0..47] (TS 35.206 §4.1).
   * @throws AkaError `ERR_AKA_INPUT` unless RAND is 16 octets.
   */
  f2345(rand: Buffer): MilenageKeys {
    const tempOpc = xor(this.#temp(rand), this.#opc);
    const out2 = this.#out(2, rot(tempOpc, R[1]));
    return {
      res: out2.subarray(8, 16),
      ck: this.#out(3, rot(tempOpc, R[2])),
      ik: this.#out(4, rot(tempOpc, R[3])),
      ak: out2.subarray(0, 6),
    };
  }

  /**
   * f5*: AK* = OUT5[0..47], the anonymity key that conceals SQN_MS in AUTS (TS 35.206 §4.1).
   * @throws AkaError `ERR_AKA_INPUT` unless RAND is 16 octets.
   */
  f5star(rand: Buffer): Buffer {
    const tempOpc = xor(this.#temp(rand), this.#opc);
    return this.#out(5, rot(tempOpc, R[4])).subarray(0, 6);
  }

  /** TEMP = E_K(RAND ⊕ OPc). */
  #temp(rand: Buffer): Buffer {
    assertBytes('RAND', rand, MILENAGE_LENGTHS.rand);
    return this.#encrypt(xor(rand, this.#opc));
  }

  /** OUTi = E_K(x ⊕ ci) ⊕ OPc, where `x` already holds the rotated input of function i. */
  #out(i: 1 | 2 | 3 | 4 | 5, x: Buffer): Buffer {
    const block = Buffer.from(x);
    block[15] = (block[15] as number) ^ C_LAST_OCTET[i];
    return xor(this.#encrypt(block), this.#opc);
  }
}
