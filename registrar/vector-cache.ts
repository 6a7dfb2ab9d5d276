/**
 * Authentication vectors fetched several at a time (TS 29.229 §6.1.7: SIP-Number-Auth-Items) and kept, unused, in
 * this registrar process for a short time (DESIGN §2.8), after Kamailio's ims_auth (`av_request_at_once`,
 * `auth_vector_timeout`, the auth_vector states of authorize.h):
 *
 * | Kamailio | here |
 * |---|---|
 * | AUTH_VECTOR_UNUSED | a vector in this cache, waiting for a challenge, at most `lifetimeMs` |
 * | AUTH_VECTOR_SENT | a pending challenge: its record in the store under the nonce (challenges.ts), counted per IMPI by pending-challenges.ts |
 * | AUTH_VECTOR_USED | the nonce taken from the store by the verified answer (single use: no `max_nonce_reuse`) |
 * | AUTH_VECTOR_USELESS | dropped: expired, a resynchronisation, or a Registration-Termination-Request (rtr.ts) |
 *
 * Only the unused ones live here, in memory, never in the store or a log line: XRES, CK and IK of a vector reach the
 * store only as the challenge record issued with it. A vector is handed out once ({@link take} removes it), in the
 * order of the MAA's SIP-Item-Number, which our HSS gives in SQN order (hss/mar.ts): consecutive SQNs land in
 * consecutive IND slots of the ISIM's SEQ_MS array (TS 33.102 Annex C.1.2, 32 slots), so even vectors used out of
 * order — several registrar processes, each with its own batch — stay fresh as long as fewer than 32 are outstanding
 * for one user (processes × batch size: the batch is capped at 16, and `mcx registrar --workers N` refuses N × batch
 * above 32).
 *
 * A vector is kept for the IMPI *and* IMPU of its MAR, because the HSS checked that pair (5002 otherwise); only
 * AKA vectors are kept (a SIP Digest MAA carries one HA1 set, used at once). Decoys never come from or go into it.
 * Concurrent challenges of one identity share one MAR: a second REGISTER while the first's MAR is out waits for it
 * and takes the next vector of its answer ({@link VectorCache.fetchOnce}). A drop is final for the MARs already on
 * their way: their answers' spare vectors are not kept ({@link VectorCache.generation}).
 */
import { BoundedMap } from '../lib/bounded-map.ts';
import type { SipAuthItem } from '../lib/diameter/cx/index.ts';
import type { ChallengeIdentity } from './challenges.ts';
import type { RegistrarStats } from './stats.ts';

/** Slots of the ISIM's SEQ_MS array (TS 33.102 Annex C.1.2: IND of 5 bits). */
export const IND_SLOTS = 32;
/** Most vectors asked for at once (SIP-Number-Auth-Items): half the ISIM's 32 IND slots, see the module comment. */
export const MAX_AUTH_VECTORS = IND_SLOTS / 2;

interface Cached {
  impu: string;
  item: SipAuthItem;
  expiresAt: number;
}

/** Unused vectors per IMPI. */
export class VectorCache {
  readonly #lifetimeMs: number;
  readonly #maxImpis: number;
  readonly #now: () => number;
  readonly #byImpi = new Map<string, Cached[]>();
  readonly #fetching = new Map<string, Promise<unknown>>();
  /**
   * Per IMPI, how often its vectors were dropped: a MAR on its way during a drop (an RTR, a resync) must not bring
   * vectors back afterwards, so {@link put} takes the value {@link generation} had when its MAR left.
   */
  readonly #generations: BoundedMap<string, number>;
  readonly #sweep: NodeJS.Timeout;
  readonly #stats: RegistrarStats;

  /**
   * @param lifetimeMs how long an unused vector is kept.
   * @param maxImpis identities kept at most (the least recently filled dropped first).
   * @param stats where kept, taken, expired and dropped vectors are counted.
   * @param now epoch milliseconds (tests step it).
   */
  constructor(lifetimeMs: number, maxImpis: number, stats: RegistrarStats, now: () => number = Date.now) {
    this.#stats = stats;
    this.#lifetimeMs = lifetimeMs;
    this.#maxImpis = Math.max(1, maxImpis);
    this.#generations = new BoundedMap(this.#maxImpis);
    this.#now = now;
    // Expired vectors are dropped from memory, not only ignored: they hold XRES, CK and IK.
    this.#sweep = setInterval(() => this.#dropExpired(), Math.max(1000, lifetimeMs)).unref();
  }

  /** The drop count of `impi` now: read when a MAR leaves, handed to {@link put} with its answer. */
  generation(impi: string): number {
    return this.#generations.peek(impi) ?? 0;
  }

  /**
   * Keeps the vectors of an MAA (after the one used at once) for `id`, in the order given — unless the IMPI's vectors
   * were dropped since its MAR left.
   * @param items AKA items (SIP-Authenticate and SIP-Authorization set); others are skipped.
   * @param generation {@link generation} of the IMPI when the MAR left.
   */
  put(id: ChallengeIdentity, items: readonly SipAuthItem[], generation: number): void {
    const aka = items.filter((i) => i.digest === undefined && i.authenticate !== undefined && i.authorization !== undefined);
    if (aka.length === 0) return;
    if (this.generation(id.impi) !== generation) {
      this.#stats.inc('vectors_dropped', aka.length);
      return;
    }
    const expiresAt = this.#now() + this.#lifetimeMs;
    const list = this.#byImpi.get(id.impi) ?? [];
    for (const item of aka) list.push({ impu: id.impu, item, expiresAt });
    this.#byImpi.delete(id.impi);
    while (this.#byImpi.size >= this.#maxImpis) {
      const [oldest, vectors] = this.#byImpi.entries().next().value as [string, Cached[]];
      this.#byImpi.delete(oldest);
      this.#stats.inc('vectors_dropped', vectors.length);
    }
    this.#byImpi.set(id.impi, list);
    this.#stats.inc('vectors_kept_total', aka.length);
  }

  /** The next unused, unexpired vector of `id` (its IMPU), removed from the cache; undefined when there is none. */
  take(id: ChallengeIdentity): SipAuthItem | undefined {
    const list = this.#byImpi.get(id.impi);
    if (!list) return undefined;
    const now = this.#now();
    let found: SipAuthItem | undefined;
    const rest = list.filter((c) => {
      if (c.expiresAt <= now) {
        this.#stats.inc('vectors_expired');
        return false;
      }
      if (found === undefined && c.impu === id.impu) {
        found = c.item;
        return false;
      }
      return true;
    });
    if (rest.length === 0) this.#byImpi.delete(id.impi);
    else this.#byImpi.set(id.impi, rest);
    if (found) this.#stats.inc('challenges_from_kept_vectors');
    return found;
  }

  /**
   * Drops every unused vector of `impi` (all its IMPUs): a resynchronisation makes them useless, a
   * Registration-Termination-Request ends the identity here.
   * @returns how many were dropped.
   */
  drop(impi: string): number {
    const n = this.#byImpi.get(impi)?.length ?? 0;
    this.#byImpi.delete(impi);
    this.#generations.set(impi, this.generation(impi) + 1);
    this.#stats.inc('vectors_dropped', n);
    return n;
  }

  /**
   * Runs `fetch` (a MAR whose answer fills the cache) unless one is already running for `id`, in which case that one
   * is awaited instead. Either way the caller then {@link take}s; a failed fetch of another caller is not this
   * caller's failure (it fetches on its own next).
   * @returns true when this call ran `fetch` itself.
   */
  async fetchOnce<T>(id: ChallengeIdentity, fetch: () => Promise<T>): Promise<{ own: true; value: T } | { own: false }> {
    const key = `${id.impi}\n${id.impu}`;
    const running = this.#fetching.get(key);
    if (running) {
      await running.catch(() => undefined);
      return { own: false };
    }
    const p = fetch();
    this.#fetching.set(key, p);
    try {
      return { own: true, value: await p };
    } finally {
      this.#fetching.delete(key);
    }
  }

  /** Unused vectors held. */
  get size(): number {
    let n = 0;
    for (const list of this.#byImpi.values()) n += list.length;
    return n;
  }


  /** Stops the sweep and forgets every vector. */
  close(): void {
    clearInterval(this.#sweep);
    this.#byImpi.clear();
  }

  #dropExpired(): void {
    const now = this.#now();
    for (const [impi, list] of this.#byImpi) {
      const live = list.filter((c) => c.expiresAt > now);
      this.#stats.inc('vectors_expired', list.length - live.length);
      if (live.length === 0) this.#byImpi.delete(impi);
      else if (live.length !== list.length) this.#byImpi.set(impi, live);
    }
  }
}
