/**
 * The store's own copy of the TS 33.102 Annex C counter arithmetic (profile 2, SQN = SEQ‖IND with a 5-bit IND).
 * `lib/aka/sqn.ts` has the protocol-facing version; the store keeps this private copy so it does not depend on a
 * sibling library, and `lua/sqn-*.lua` mirror it line for line on the Redis side. The tests pin both to the same
 * exact values.
 */
import { StoreError } from './errors.ts';

/** Bits of IND (33.102 C.3.1: 5, so the USIM's SEQ_MS array has 32 slots). */
export const IND_BITS = 5n;
const IND_MASK = (1n << IND_BITS) - 1n;
/** Largest SQN (48 bits). */
export const SQN_MAX = (1n << 48n) - 1n;
/** Largest SEQ (43 bits). */
export const SEQ_MAX = SQN_MAX >> IND_BITS;
/** Δ of 33.102 C.2.1 / C.3.1: how far a SEQ may run ahead of the USIM's highest accepted one. */
export const DEFAULT_DELTA = 1n << 28n;
/** Most SQNs one {@link allocateAfter} call hands out (SIP-Number-Auth-Items is small; this bounds a Lua reply). */
export const MAX_SQN_BATCH = 1024;

/** The result of an HE resynchronisation (33.102 §6.3.5) as the store applied it. */
export interface SqnResync {
  /** The last-issued SQN before the resync. */
  previous: bigint;
  /** The last-issued SQN after it (equals `previous` unless `reset`). */
  current: bigint;
  /** true when the counter was moved (the next SQN the HE would issue was not acceptable to the USIM). */
  reset: boolean;
  /** true when the reset lowered the counter: the HE was more than Δ ahead, which is worth a log line. */
  wentDown: boolean;
}

/** SEQ, the 43 high-order bits of `sqn`. */
export function seqOf(sqn: bigint): bigint {
  return sqn >> IND_BITS;
}

/** IND, the 5 low-order bits of `sqn`. */
export function indOf(sqn: bigint): bigint {
  return sqn & IND_MASK;
}

/** SQN = SEQ‖IND (no range check: callers keep SEQ ≤ {@link SEQ_MAX}). */
export function makeSqn(seq: bigint, ind: bigint): bigint {
  return (seq << IND_BITS) | (ind & IND_MASK);
}

/**
 * Throws `ERR_STORE_INPUT` unless `sqn` is a bigint in 0..2^48-1.
 * @param name how the message names the argument.
 */
export function assertSqn(sqn: unknown, name: string): asserts sqn is bigint {
  if (typeof sqn !== 'bigint' || sqn < 0n || sqn > SQN_MAX) {
    throw new StoreError('ERR_STORE_INPUT', `${name} must be a bigint in 0..2^48-1`);
  }
}

/** Throws `ERR_STORE_INPUT` unless `n` is an integer in 1..{@link MAX_SQN_BATCH}. */
export function assertBatch(n: unknown): asserts n is number {
  if (typeof n !== 'number' || !Number.isInteger(n) || n < 1 || n > MAX_SQN_BATCH) {
    throw new StoreError('ERR_STORE_INPUT', `SQN count must be an integer in 1..${MAX_SQN_BATCH}`);
  }
}

/** Throws `ERR_STORE_INPUT` unless `delta` is a bigint in 1..2^43-1. */
export function assertDelta(delta: unknown): asserts delta is bigint {
  if (typeof delta !== 'bigint' || delta < 1n || delta > SEQ_MAX) {
    throw new StoreError('ERR_STORE_INPUT', 'delta must be a bigint in 1..2^43-1');
  }
}

/**
 * The `n` SQNs that follow the last issued one, `last`: each has SEQ one above the previous and IND one above it
 * mod 32, so consecutive vectors land in different USIM slots (33.102 Annex C, profile 2).
 * @throws StoreError `ERR_STORE_SQN_EXHAUSTED` when SEQ would pass 2^43-1 (nothing is returned, nothing changes).
 */
export function allocateAfter(last: bigint, n: number): bigint[] {
  let seq = seqOf(last);
  let ind = indOf(last);
  if (seq + BigInt(n) > SEQ_MAX) {
    throw new StoreError('ERR_STORE_SQN_EXHAUSTED', 'SEQ counter exhausted (2^43-1); wrapping would reissue old SQNs');
  }
  const out: bigint[] = [];
  for (let i = 0; i < n; i++) {
    seq += 1n;
    ind = (ind + 1n) & IND_MASK;
    out.push(makeSqn(seq, ind));
  }
  return out;
}

/**
 * 33.102 §6.3.5 on the HE counter: keep it when the next SQN it would issue is acceptable to the USIM (its SEQ above
 * SEQ(SQN_MS) by at most Δ); otherwise move it so that the next SEQ is SEQ(SQN_MS)+1. The HE's own IND is kept, so
 * its round-robin over the slots continues; any SEQ above SEQ(SQN_MS) is fresh in every slot, since SQN_MS is the
 * highest SQN the USIM accepted.
 */
export function resyncFrom(last: bigint, sqnMs: bigint, delta: bigint): SqnResync {
  const seqNext = seqOf(last) + 1n;
  const seqMs = seqOf(sqnMs);
  if (seqNext > seqMs && seqNext - seqMs <= delta) {
    return { previous: last, current: last, reset: false, wentDown: false };
  }
  const current = makeSqn(seqMs, indOf(last));
  return { previous: last, current, reset: true, wentDown: current < last };
}

/**
 * Parses a stored counter (a decimal string).
 * @param where names the key or file line for the error message.
 * @throws StoreError `ERR_STORE_CORRUPT` unless it is a decimal SQN in 0..2^48-1.
 */
export function parseSqn(text: unknown, where: string): bigint {
  if (typeof text === 'string' && /^[0-9]{1,15}$/.test(text)) {
    const v = BigInt(text);
    if (v <= SQN_MAX) return v;
  }
  throw new StoreError('ERR_STORE_CORRUPT', `${where}: SQN counter is not a decimal in 0..2^48-1`);
}
