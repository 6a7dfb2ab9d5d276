/**
 * The outstanding-challenge cap (issue #11, after the "one auth vector per pending registration" rule of IMS
 * S-CSCFs): per IMPI, at most `max` challenges issued and not yet answered or expired. A REGISTER that finds the cap
 * reached is answered with the newest pending challenge again (same nonce) instead of a MAR, so a flood of
 * unauthenticated REGISTERs for one identity cannot burn SQNs at the HSS or records in the store without bound.
 *
 * A challenge counts from the moment its MAR is sent (so concurrent REGISTERs see it) until its nonce is taken
 * (verified or failed: {@link PendingChallenges.release}), its issuing fails, or reg-await-auth passes. The table is
 * per process and holds no secrets, only nonces: the challenges themselves are in the store, which the caller reads
 * to check that a nonce is still live (another process sharing a Redis store may have taken it). So N registrar
 * processes allow N·max pending challenges per IMPI. At most `maxImpis` identities are tracked, least recently seen
 * forgotten first. {@link claimChallenge} is what the challenge stage asks: a place, or the pending challenge to send
 * again.
 */
import { BoundedMap } from '../lib/bounded-map.ts';
import type { ChallengeIdentity, ChallengeRecord, ChallengeStore } from './challenges.ts';

interface Entry {
  /** Set once the challenge is stored. */
  nonce: string | undefined;
  /** Resolves when the issuing ended (stored or failed). */
  ready: Promise<void>;
  expiresAt: number;
}

/** A claimed place for one challenge being issued. */
export interface PendingSlot {
  /** The challenge is stored under `nonce`: it is now pending. */
  issued(nonce: string): void;
  /** Issuing failed: the place is free again. */
  failed(): void;
}

/** Pending challenges per IMPI. */
export class PendingChallenges {
  readonly #max: number;
  readonly #ttlMs: number;
  readonly #now: () => number;
  readonly #m: BoundedMap<string, Entry[]>;

  /**
   * @param max challenges pending per IMPI (≥ 1).
   * @param ttlMs reg-await-auth: how long a challenge stays pending unanswered.
   * @param maxImpis identities tracked.
   */
  constructor(max: number, ttlMs: number, maxImpis: number, now: () => number = Date.now) {
    this.#max = max;
    this.#ttlMs = ttlMs;
    this.#now = now;
    this.#m = new BoundedMap(maxImpis);
  }

  #live(impi: string): Entry[] {
    const now = this.#now();
    const list = (this.#m.get(impi) ?? []).filter((e) => e.expiresAt > now);
    if (list.length === 0) this.#m.delete(impi);
    else this.#m.set(impi, list);
    return list;
  }

  /**
   * A place for a new challenge of `impi`, or undefined when `max` are pending (or being issued).
   * @param force take a place even at the cap (a resynchronisation: its challenge replaces one the UE refused).
   */
  claim(impi: string, force = false): PendingSlot | undefined {
    const list = this.#live(impi);
    if (list.length >= this.#max && !force) return undefined;
    const slot = new Slot(this, impi, this.#now() + this.#ttlMs);
    list.push(slot.entry);
    this.#m.set(impi, list);
    return slot;
  }

  /** The slot's challenge is stored: pending for reg-await-auth from now. */
  settled(slot: Slot, nonce: string | undefined): void {
    if (nonce === undefined) this.#remove(slot.impi, (e) => e === slot.entry);
    else {
      slot.entry.nonce = nonce;
      slot.entry.expiresAt = this.#now() + this.#ttlMs;
    }
  }

  /** The nonces pending for `impi`, newest first; waits for challenges still being issued. */
  async newest(impi: string): Promise<string[]> {
    const list = this.#live(impi);
    await Promise.all(list.map((e) => e.ready));
    return list.filter((e) => e.nonce !== undefined && e.expiresAt > this.#now()).map((e) => e.nonce as string).reverse();
  }

  /** `nonce` of `impi` is no longer pending (taken from the store, or found gone). */
  release(impi: string, nonce: string): void {
    this.#remove(impi, (e) => e.nonce === nonce);
  }

  /**
   * Forgets every challenge of `impi` (a Registration-Termination-Request ends the identity here).
   * @returns the nonces that were pending, for the caller to take from the store.
   */
  drain(impi: string): string[] {
    const list = this.#m.peek(impi) ?? [];
    this.#m.delete(impi);
    return list.flatMap((e) => (e.nonce === undefined ? [] : [e.nonce]));
  }

  #remove(impi: string, match: (e: Entry) => boolean): void {
    const list = this.#m.peek(impi);
    if (!list) return;
    const rest = list.filter((e) => !match(e));
    if (rest.length === 0) this.#m.delete(impi);
    else if (rest.length !== list.length) this.#m.set(impi, rest);
  }
}

/**
 * A claimed place: a class rather than closures per claim (the roles run through tsx, which names every closure
 * assigned to a variable or property with a call per creation).
 */
class Slot implements PendingSlot {
  readonly entry: Entry;
  #settle: () => void = noop;

  constructor(readonly owner: PendingChallenges, readonly impi: string, expiresAt: number) {
    this.entry = { nonce: undefined, ready: new Promise<void>((r) => { this.#settle = r; }), expiresAt };
  }

  issued(nonce: string): void {
    this.owner.settled(this, nonce);
    this.#settle();
  }

  failed(): void {
    this.owner.settled(this, undefined);
    this.#settle();
  }
}

function noop(): void {
  // nothing to settle yet
}

/** Where a new challenge of an IMPI stands: a place for it, a pending one to send again, or neither for now. */
export type ChallengePlace =
  | { kind: 'claimed'; slot: PendingSlot }
  | { kind: 'pending'; nonce: string; record: ChallengeRecord }
  | { kind: 'busy' };

/**
 * A place for a new challenge of `id.impi` or, at the cap, the newest pending challenge still in the store (one of
 * `id.impu` preferred); each one found gone is released and the claim tried again, at most three times.
 * @param force claim even at the cap (a resynchronisation: its challenge replaces one the UE refused).
 */
export async function claimChallenge(pending: PendingChallenges, challenges: ChallengeStore, id: ChallengeIdentity, force: boolean): Promise<ChallengePlace> {
  for (let pass = 0; pass < 3; pass++) {
    const slot = pending.claim(id.impi, force);
    if (slot) return { kind: 'claimed', slot };
    let chosen: { nonce: string; record: ChallengeRecord } | undefined;
    for (const nonce of await pending.newest(id.impi)) {
      const record = await challenges.peek(nonce);
      if (!record || record.impi !== id.impi) {
        pending.release(id.impi, nonce);
        continue;
      }
      chosen ??= { nonce, record };
      if (record.impu === id.impu) {
        chosen = { nonce, record };
        break;
      }
    }
    if (chosen) return { kind: 'pending', ...chosen };
  }
  return { kind: 'busy' };
}
