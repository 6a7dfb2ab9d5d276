/**
 * Test hook of the UDP transport: a seeded pattern that drops a fraction of the UE's datagrams, both directions, so a
 * lossy radio link can be replayed exactly (same seed → same decisions for the same sequence of datagrams).
 */
import { createHash } from 'node:crypto';

/** Which datagrams to drop. */
export interface DropPattern {
  /** Share of datagrams dropped, 0 ≤ fraction < 1. */
  fraction: number;
  /** Any text; the same seed gives the same sequence of decisions. */
  seed: string;
}

/** A running drop pattern: one decision per datagram, and what it decided so far. */
export interface Dropper {
  /** True when this datagram is to be dropped. */
  drop(direction: 'out' | 'in'): boolean;
  readonly counts: { out: { seen: number; dropped: number }; in: { seen: number; dropped: number } };
}

/**
 * Builds the decision sequence: mulberry32 over a 32-bit state taken from SHA-256(seed), one draw per datagram in
 * either direction (so the pattern depends on arrival order, which is what a lossy link does too).
 * @throws RangeError when the fraction is outside [0, 1).
 */
export function createDropper(pattern: DropPattern): Dropper {
  if (!(pattern.fraction >= 0 && pattern.fraction < 1)) throw new RangeError(`drop fraction must be in [0, 1), got ${pattern.fraction}`);
  let state = createHash('sha256').update(pattern.seed, 'utf8').digest().readUInt32BE(0);
  const next = (): number => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const counts = { out: { seen: 0, dropped: 0 }, in: { seen: 0, dropped: 0 } };
  return {
    counts,
    drop(direction) {
      const c = counts[direction];
      c.seen++;
      const dropped = next() < pattern.fraction;
      if (dropped) c.dropped++;
      return dropped;
    },
  };
}
