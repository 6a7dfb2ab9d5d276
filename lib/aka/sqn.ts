/**
 * Sequence numbers per TS 33.102 Annex C: SQN (48 bits) = SEQ (43 bits) ‖ IND (5 bits), the array size a = 32 and
 * Δ = 2^28 of the C.3.1 numbers, with the HE side as profile 2 (a plain per-subscriber counter, C.3.2). SQNs are
 * `bigint` so the 48-bit arithmetic is exact; {@link bufToSqn}/{@link sqnToBuf} convert at the octet boundary.
 */
import { AkaError, assertBytes } from './errors.ts';

/** Bits of IND, the low-order part of SQN that indexes the USIM's SEQ_MS array (33.102 C.3.1: 5). */
export const IND_BITS = 5n;
/** Number of IND slots a, i.e. SEQ_MS array entries (2^IND_BITS = 32). */
export const IND_SLOTS = 32;
/** Largest SQN (48 bits). */
export const SQN_MAX = (1n << 48n) - 1n;
/** Largest SEQ (43 bits). */
export const SEQ_MAX = (1n << (48n - IND_BITS)) - 1n;
/** Δ of the C.2.1 check: how far a new SEQ may run ahead of the highest accepted one (33.102 C.3.1: 2^28). */
export const DELTA = 2n ** 28n;

function assertSqn(sqn: bigint, name = 'SQN'): void {
  if (typeof sqn !== 'bigint' || sqn < 0n || sqn > SQN_MAX) {
    throw new AkaError('ERR_AKA_INPUT', `${name} must be a bigint in 0..2^48-1`);
  }
}

/** SEQ, the counter part of `sqn` (its 43 high-order bits). */
export function seqOf(sqn: bigint): bigint {
  assertSqn(sqn);
  return sqn >> IND_BITS;
}

/** IND, the array index part of `sqn` (its 5 low-order bits). */
export function indOf(sqn: bigint): number {
  assertSqn(sqn);
  return Number(sqn & BigInt(IND_SLOTS - 1));
}

/**
 * SQN = SEQ ‖ IND.
 * @throws AkaError `ERR_AKA_INPUT` when SEQ exceeds 43 bits or IND is not an integer in 0..31.
 */
export function makeSqn(seq: bigint, ind: number): bigint {
  if (typeof seq !== 'bigint' || seq < 0n || seq > SEQ_MAX) {
    throw new AkaError('ERR_AKA_INPUT', 'SEQ must be a bigint in 0..2^43-1');
  }
  if (!Number.isInteger(ind) || ind < 0 || ind >= IND_SLOTS) {
    throw new AkaError('ERR_AKA_INPUT', `IND must be an integer in 0..${IND_SLOTS - 1}`);
  }
  return (seq << IND_BITS) | BigInt(ind);
}

/**
 * The SQN the HE issues after `lastSqn` (digest §4.3 recipe): SEQ + 1 and IND = (IND + 1) mod 32, so consecutive
 * vectors land in different USIM slots and up to 32 of them may be used out of order.
 * @throws AkaError `ERR_AKA_SQN_EXHAUSTED` when SEQ would pass 2^43-1: wrapping round would replay accepted SQNs.
 */
export function nextSqn(lastSqn: bigint): bigint {
  const seq = seqOf(lastSqn) + 1n;
  if (seq > SEQ_MAX) throw new AkaError('ERR_AKA_SQN_EXHAUSTED', 'SEQ counter exhausted (2^43-1)');
  return makeSqn(seq, (indOf(lastSqn) + 1) % IND_SLOTS);
}

/** The outcome of an HE resynchronisation (33.102 §6.3.5), see {@link resyncDecision}. */
export interface ResyncDecision {
  /** true: the HE counter was still acceptable to the USIM and stays as it is. */
  keep: boolean;
  /** The new "last issued SQN" of the HE; equals the input when `keep`. */
  newLastSqn: bigint;
  /** true when the counter moved down (the HE was more than Δ ahead of the USIM): worth a log line. */
  wentDown: boolean;
}

/**
 * HE side of 33.102 §6.3.5 as DESIGN §2.3 words it: keep SEQ_HE when the next SQN the HE would issue is acceptable to
 * the USIM (its SEQ above SEQ(SQN_MS), at most Δ above it); otherwise set the counter from SQN_MS so the next SQN issued
 * has SEQ = SEQ(SQN_MS) + 1. MAC-S must have been verified by the caller before acting on a reset.
 *
 * "Above SEQ(SQN_MS)" is enough for freshness in every slot because SQN_MS is the highest SQN the USIM accepted,
 * so no SEQ_MS(i) exceeds SEQ(SQN_MS).
 * @param lastIssuedSqn the last SQN this HE put in a vector for the subscriber.
 * @param sqnMs SQN_MS recovered from AUTS.
 */
export function resyncDecision(lastIssuedSqn: bigint, sqnMs: bigint): ResyncDecision {
  assertSqn(sqnMs, 'SQN_MS');
  const seqNext = seqOf(lastIssuedSqn) + 1n;
  const seqMs = seqOf(sqnMs);
  if (seqNext > seqMs && seqNext - seqMs <= DELTA) {
    return { keep: true, newLastSqn: lastIssuedSqn, wentDown: false };
  }
  // SQN_HE := SQN_MS (33.102 §6.3.5 step 4); nextSqn() then yields SEQ(SQN_MS)+1, fresh in every slot.
  return { keep: false, newLastSqn: sqnMs, wentDown: seqMs < seqOf(lastIssuedSqn) };
}

/**
 * Reads a 6-octet SQN (as in AUTN, AUTS and the Milenage inputs) into a bigint.
 * @throws AkaError `ERR_AKA_INPUT` unless `buf` is 6 octets.
 */
export function bufToSqn(buf: Buffer): bigint {
  assertBytes('SQN', buf, 6);
  return BigInt(`0x${buf.toString('hex')}`);
}

/**
 * Writes an SQN as 6 octets, big-endian.
 * @throws AkaError `ERR_AKA_INPUT` unless 0 ≤ sqn < 2^48.
 */
export function sqnToBuf(sqn: bigint): Buffer {
  assertSqn(sqn);
  return Buffer.from(sqn.toString(16).padStart(12, '0'), 'hex');
}

/** Why {@link SeqMsArray.check} refuses an SQN; both lead to a synchronisation failure (AUTS). */
export type SqnVerdict = 'fresh' | 'delta' | 'replay';

/** JSON form of {@link SeqMsArray}: SEQ_MS(0..31) as decimal strings (JSON has no 48-bit-safe integer). */
export interface SeqMsArrayJson {
  indBits: number;
  seqMs: string[];
}

/**
 * The USIM's SEQ_MS(0..a−1) array of 33.102 Annex C.2, a = 32, all entries 0 at the start. An SQN is accepted when
 * SEQ − max SEQ_MS ≤ Δ (C.2.1) and SEQ > SEQ_MS(IND) (C.2.2). The age limit L (C.2.3) is not enforced: it only
 * makes sense with time-based SEQs, and profile 2 is a counter. SEQ 0 is never fresh, since every slot starts at 0.
 */
export class SeqMsArray {
  readonly #seq: bigint[];

  /** @param seqMs 32 SEQ values, index = IND; defaults to all zero (a new USIM). */
  constructor(seqMs?: readonly bigint[]) {
    if (seqMs === undefined) {
      this.#seq = new Array<bigint>(IND_SLOTS).fill(0n);
      return;
    }
    if (seqMs.length !== IND_SLOTS || seqMs.some((s) => typeof s !== 'bigint' || s < 0n || s > SEQ_MAX)) {
      throw new AkaError('ERR_AKA_INPUT', `SEQ_MS array must hold ${IND_SLOTS} SEQ values in 0..2^43-1`);
    }
    this.#seq = [...seqMs];
  }

  /** SEQ_MS(ind). */
  seqAt(ind: number): bigint {
    const v = this.#seq[ind];
    if (v === undefined) throw new AkaError('ERR_AKA_INPUT', `IND must be an integer in 0..${IND_SLOTS - 1}`);
    return v;
  }

  /** The highest SEQ accepted so far in any slot (0 when none). */
  highestSeq(): bigint {
    return this.#seq.reduce((m, s) => (s > m ? s : m), 0n);
  }

  /**
   * SQN_MS for AUTS: the highest previously accepted SQN, i.e. the highest SEQ with the IND of its slot
   * (33.102 C.2: SQN_MS = SEQ_MS ‖ IND_MS). 0 when nothing was accepted yet.
   */
  highestSqn(): bigint {
    let best = 0n;
    this.#seq.forEach((seq, ind) => {
      // A zero slot was never written (SEQ 0 is never fresh), so it holds no accepted SQN.
      if (seq === 0n) return;
      const sqn = makeSqn(seq, ind);
      if (sqn > best) best = sqn;
    });
    return best;
  }

  /** Classifies `sqn` without changing the array: `fresh`, `delta` (C.2.1 failed) or `replay` (C.2.2 failed). */
  check(sqn: bigint): SqnVerdict {
    const seq = seqOf(sqn);
    if (seq - this.highestSeq() > DELTA) return 'delta';
    if (seq <= this.seqAt(indOf(sqn))) return 'replay';
    return 'fresh';
  }

  /**
   * Records `sqn` as accepted: SEQ_MS(IND) := SEQ.
   * @throws AkaError `ERR_AKA_INPUT` unless `check(sqn)` is `fresh`, so a caller cannot move a slot backwards.
   */
  accept(sqn: bigint): void {
    const verdict = this.check(sqn);
    if (verdict !== 'fresh') throw new AkaError('ERR_AKA_INPUT', `SQN is not fresh (${verdict})`);
    this.#seq[indOf(sqn)] = seqOf(sqn);
  }

  /** A copy of SEQ_MS(0..31). */
  entries(): bigint[] {
    return [...this.#seq];
  }

  /** An independent copy, so a caller can stage a change and commit it only once it is persisted. */
  clone(): SeqMsArray {
    return new SeqMsArray(this.#seq);
  }

  /** Zeroes every slot (a factory-fresh USIM). */
  reset(): void {
    this.#seq.fill(0n);
  }

  /** JSON form for persistence and display. */
  toJSON(): SeqMsArrayJson {
    return { indBits: Number(IND_BITS), seqMs: this.#seq.map((s) => s.toString(10)) };
  }

  /**
   * Restores an array from {@link SeqMsArray.toJSON} output.
   * @throws AkaError `ERR_AKA_INPUT` when the shape, IND size or any value is wrong.
   */
  static fromJSON(json: unknown): SeqMsArray {
    const j = json as Partial<SeqMsArrayJson> | null;
    if (
      typeof j !== 'object' || j === null || j.indBits !== Number(IND_BITS) || !Array.isArray(j.seqMs) ||
      !j.seqMs.every((s) => typeof s === 'string' && /^[0-9]{1,20}$/.test(s))
    ) {
      throw new AkaError('ERR_AKA_INPUT', `SEQ_MS JSON must be {indBits: ${IND_BITS}, seqMs: [${IND_SLOTS} decimal strings]}`);
    }
    return new SeqMsArray(j.seqMs.map((s) => BigInt(s)));
  }
}
