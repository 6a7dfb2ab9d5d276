/**
 * Authentication vectors for one subscriber (TS 33.102 §6.3.2) and the HE side of resynchronisation (§6.3.5).
 *
 * Order matters: the SQNs are allocated in the store first (atomic across HSS processes, durable before the call
 * returns), then one vector is computed per SQN, so no answer can ever carry an SQN that a crash would hand out again.
 *
 * RAND policy: `uniform` draws 16 random octets. `sipp361` draws again while RES = f2(K, RAND) holds a 0x00 octet,
 * because SIPp 3.6.1 (Debian's `sip-tester`) hashes RES with strlen() and so fails ~3 % of random vectors (DESIGN §4);
 * every redraw is counted (`sipp361_redraws`) and logged at debug level.
 */
import { Milenage, decodeAuts, generateVector, type AuthVector, type MilenageKeys } from '../lib/aka/index.ts';
import { randomOctets } from '../lib/random-pool.ts';
import type { Logger } from '../lib/log.ts';
import { silentLogger } from '../lib/log.ts';
import type { Store, SqnResync } from '../lib/store/store.ts';
import type { AkaCredentials } from './subscriber-model.ts';
import { HssStats } from './stats.ts';
import { hex12, sqnKey } from './subscribers.ts';

/** How RAND is chosen. */
export type RandPolicy = 'uniform' | 'sipp361';
/** The policies, for option validation. */
export const RAND_POLICIES = ['uniform', 'sipp361'] as const;
/** Redraws after which `sipp361` gives up: 0x00-free RES fails with p ≈ 0.03 per draw, so 64 failures mean a broken RNG. */
export const MAX_SIPP361_REDRAWS = 64;

/** A vector and the SQN it carries (the SQN is not secret; logs and tests use it). */
export interface IssuedVector extends AuthVector {
  sqn: bigint;
}

/** What a resync did. */
export interface ResyncOutcome {
  /** SQN_MS recovered from AUTS. */
  sqnMs: bigint;
  /** MAC-S verified; when false nothing was changed (33.102 §6.3.5). */
  macValid: boolean;
  /** The store's decision, when MAC-S verified. */
  applied?: SqnResync;
}

/** Options of {@link VectorIssuer}. */
export interface VectorIssuerOptions {
  store: Store;
  randPolicy?: RandPolicy;
  /** Source of RANDs (16 octets per call); tests pass a deterministic one. */
  random?: (octets: number) => Buffer;
  stats?: HssStats;
  logger?: Logger;
  /** Hears how long each {@link VectorIssuer.issue} took, SQN allocation included (seconds): the metrics' histogram. */
  timing?: { observe(seconds: number): void };
}

/**
 * Draws a RAND under `policy`.
 * @param onRedraw called once per rejected RAND (sipp361 only).
 * @returns RAND, and f2345 of it when the policy computed them (the vector reuses them).
 * @throws Error after {@link MAX_SIPP361_REDRAWS} rejected draws.
 */
export function drawRand(milenage: Milenage, policy: RandPolicy, random: (octets: number) => Buffer, onRedraw: () => void): { rand: Buffer; keys?: MilenageKeys } {
  for (let redraws = 0; ; redraws++) {
    const rand = random(16);
    if (policy === 'uniform') return { rand };
    const keys = milenage.f2345(rand);
    if (!keys.res.includes(0)) return { rand, keys };
    if (redraws === MAX_SIPP361_REDRAWS) throw new Error(`sipp361: ${redraws} RANDs in a row gave RES with 0x00; RNG broken?`);
    onRedraw();
  }
}

/** Issues vectors and applies resyncs for subscribers kept in a Store. */
export class VectorIssuer {
  readonly #store: Store;
  readonly #policy: RandPolicy;
  readonly #random: (octets: number) => Buffer;
  readonly #log: Logger;
  readonly #timing: { observe(seconds: number): void } | undefined;
  /** Counters shared with the rest of the HSS. */
  readonly stats: HssStats;

  /** @param options store, RAND policy (default `uniform`), RAND source, counters, logger. */
  constructor(options: VectorIssuerOptions) {
    this.#store = options.store;
    this.#policy = options.randPolicy ?? 'uniform';
    this.#random = options.random ?? randomOctets;
    this.stats = options.stats ?? new HssStats();
    this.#log = options.logger ?? silentLogger;
    this.#timing = options.timing;
  }

  /** The RAND policy in force. */
  get randPolicy(): RandPolicy {
    return this.#policy;
  }

  /**
   * 33.102 §6.3.2: `n` vectors, SQNs allocated first (store.allocateSqn: atomic, durable), then Milenage per SQN.
   * @throws StoreError (e.g. `ERR_STORE_SQN_EXHAUSTED`, `ERR_STORE_CONNECT`); no vector leaves without its SQN stored.
   */
  async issue(sub: AkaCredentials, n: number): Promise<IssuedVector[]> {
    const started = this.#timing ? performance.now() : 0;
    const sqns = await this.#store.allocateSqn(sqnKey(sub.impi), n);
    const milenage = new Milenage(sub.k, sub.opc);
    let redraws = 0;
    const out = sqns.map((sqn) => {
      const drawn = drawRand(milenage, this.#policy, this.#random, () => redraws++);
      return { ...generateVector({ milenage, sqn, amf: sub.amf, ...drawn }), sqn };
    });
    this.stats.inc('vectors_issued', out.length);
    this.#timing?.observe((performance.now() - started) / 1000);
    if (redraws) {
      this.stats.inc('sipp361_redraws', redraws);
      this.#log.debug({ impi: sub.impi, redraws }, 'sipp361: RAND drawn again for RES without 0x00 octets');
    }
    return out;
  }

  /**
   * 33.102 §6.3.5 on RAND‖AUTS: recover SQN_MS (step 1) and verify MAC-S with AMF* = 0000 (step 4); only a verified
   * AUTS may move the counter, and then the store applies steps 2–5 atomically (keep SEQ_HE when the USIM would
   * still accept its next SQN, else continue from SQN_MS). An unverified AUTS changes nothing: per step 6 the HE
   * still answers with fresh vectors, which fail again at a USIM that is truly out of sync (logged by the caller).
   * @param rand the RAND of the challenge the USIM answered (first 16 octets of SIP-Authorization).
   * @param auts the 14 octets after it.
   */
  async resync(sub: AkaCredentials, rand: Buffer, auts: Buffer): Promise<ResyncOutcome> {
    const { sqnMs, macValid } = decodeAuts(new Milenage(sub.k, sub.opc), rand, auts);
    this.stats.inc('resyncs');
    if (!macValid) {
      this.stats.inc('resync_mac_failures');
      return { sqnMs, macValid };
    }
    const applied = await this.#store.resyncSqn(sqnKey(sub.impi), sqnMs);
    if (applied.reset) this.stats.inc('resync_resets');
    if (applied.wentDown) this.stats.inc('resync_seq_went_down');
    this.#log.debug({ impi: sub.impi, sqn_ms: hex12(sqnMs), previous: hex12(applied.previous), current: hex12(applied.current) },
      'resync applied by the store');
    return { sqnMs, macValid, applied };
  }
}
