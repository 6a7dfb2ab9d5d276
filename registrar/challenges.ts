/**
 * Pending challenges (DESIGN §2.1, TS 24.229 §5.4.1.2.1): what a 401 promised, kept in the store under its nonce for
 * the reg-await-auth time, so any registrar process sharing the store can verify the answer. A challenge is consumed
 * with `take` (atomic get-and-delete), so of several REGISTERs carrying one nonce exactly one finds it: a nonce is
 * single-use, whatever its `nc` says (register.ts).
 *
 * What is stored is what verification needs and nothing more: XRES (and CK/IK only for AKAv2, whose password derives
 * from them), RAND for a resynchronisation, SIP Digest HA1s. None of it ever reaches the UE or a log line. What an MAA
 * yields is turned into such a record here ({@link challengeFromMaa}); the MAR itself is the challenge stage's
 * (challenge.ts).
 *
 * A decoy (decoy.ts) is stored like the others — so its answer gets the same 403 and counts toward a ban like a
 * wrong password — but holds no secret at all: nothing can verify against it.
 */
import { randomBytes } from 'node:crypto';
import { z } from 'zod';
import { akaNonce } from '../lib/aka/digest-aka.ts';
import { SipAuthScheme, type SipAuthItem, type SipDigestAuthenticate } from '../lib/diameter/cx/index.ts';
import type { Logger } from '../lib/log.ts';
import { formatChallenge } from '../lib/sip/headers/auth.ts';
import type { Store } from '../lib/store/store.ts';
import { AKA_ALGORITHMS, DIGEST_ALGORITHMS, type AkaAlgorithm, type DigestAlgorithm } from './config.ts';
import type { CxClient } from './cx.ts';
import { RegistrarError, isRegistrarError } from './errors.ts';

/** Store key prefix of pending challenges. */
export const CHALLENGE_PREFIX = 'registrar:challenge:';
/** The qop options of every AKA challenge (DESIGN §2.1). */
export const AKA_QOP = ['auth', 'auth-int'] as const;

const hex = (n?: number) => z.string().regex(n === undefined ? /^([0-9a-f]{2})+$/ : new RegExp(`^[0-9a-f]{${n * 2}}$`));
const common = { impi: z.string().min(1), impu: z.string().min(1), realm: z.string().min(1), secAgree: z.boolean() };

const akaSchema = z.object({
  kind: z.literal('aka'), ...common, algorithm: z.enum(AKA_ALGORITHMS), rand: hex(16), xres: hex(),
  ck: hex(16).optional(), ik: hex(16).optional(),
});
const digestSchema = z.object({
  kind: z.literal('digest'), ...common, qop: z.array(z.string()),
  ha1: z.partialRecord(z.enum(DIGEST_ALGORITHMS), z.string().regex(/^[0-9a-f]+$/)),
});
const decoySchema = z.object({
  kind: z.literal('decoy'), ...common, shape: z.enum(['aka', 'digest']), algorithm: z.enum(AKA_ALGORITHMS),
  algorithms: z.array(z.enum(DIGEST_ALGORITHMS)), qop: z.array(z.string()),
});
const recordSchema = z.discriminatedUnion('kind', [akaSchema, digestSchema, decoySchema]);

/** An AKA challenge: the vector minus AUTN (which is in the nonce). Octets as lowercase hex. */
export type AkaChallenge = z.infer<typeof akaSchema>;
/** A SIP Digest challenge: the HA1 of every algorithm offered, bound to the HSS's realm. */
export type DigestChallenge = z.infer<typeof digestSchema>;
/**
 * The challenge of an identity the HSS refused: shaped like an AKA challenge (`algorithm`) or like the password users'
 * set (`algorithms`, `qop`), with no secret.
 */
export type DecoyChallenge = z.infer<typeof decoySchema>;
/** What a nonce stands for. */
export type ChallengeRecord = z.infer<typeof recordSchema>;

/** Identities a challenge is issued for. */
export interface ChallengeIdentity {
  impi: string;
  impu: string;
}

/**
 * The AKA challenge for the first vector of an MAA.
 * @param item the SIP-Auth-Data-Item (SIP-Authenticate = RAND ‖ AUTN, SIP-Authorization = XRES, CK, IK).
 * @param secAgree whether the 401 answers an RFC 3329 exchange (the next REGISTER must carry Security-Verify).
 * @throws RegistrarError ERR_REGISTRAR_HSS_ERROR when the item does not hold a complete vector.
 */
export function akaChallenge(item: SipAuthItem, id: ChallengeIdentity, realm: string, algorithm: AkaAlgorithm, secAgree: boolean): { nonce: string; record: AkaChallenge } {
  const { authenticate: ra, authorization: xres, ck, ik } = item;
  if (!ra || ra.length !== 32 || !xres || xres.length < 4 || xres.length > 16) {
    throw new RegistrarError('ERR_REGISTRAR_HSS_ERROR', 'MAA vector lacks RAND‖AUTN (32 octets) or XRES (4–16 octets)');
  }
  const v2 = algorithm === 'AKAv2-MD5';
  if (v2 && (ck?.length !== 16 || ik?.length !== 16)) {
    throw new RegistrarError('ERR_REGISTRAR_HSS_ERROR', 'AKAv2-MD5 needs CK and IK in the MAA vector');
  }
  const rand = ra.subarray(0, 16);
  return {
    nonce: akaNonce(rand, ra.subarray(16, 32)),
    // Keys in sorted order, as the store writes them (lib/store/codec.ts): no sorted copy is made to encode it.
    record: {
      algorithm, ...(v2 ? { ck: ck?.toString('hex'), ik: ik?.toString('hex') } : {}), impi: id.impi, impu: id.impu, kind: 'aka',
      rand: rand.toString('hex'), realm, secAgree, xres: xres.toString('hex'),
    },
  };
}

/**
 * A SIP Digest challenge with a fresh random nonce (32 octets, base64 like an AKA nonce).
 * @param ha1 HA1 per algorithm, from the MAA(s)' SIP-Digest-Authenticate; at least one.
 * @param realm the Digest-Realm the HA1s were computed for.
 */
export function digestChallenge(id: ChallengeIdentity, realm: string, qop: string[], ha1: Partial<Record<DigestAlgorithm, string>>, secAgree: boolean): { nonce: string; record: DigestChallenge } {
  const lower = Object.fromEntries(Object.entries(ha1).map(([a, h]) => [a, h.toLowerCase()]));
  return { nonce: randomBytes(32).toString('base64'), record: { kind: 'digest', ...id, realm, qop, ha1: lower, secAgree } };
}

/** What building a challenge from an MAA needs. */
export interface MaaChallengeOptions {
  /** For the MARs of the further SIP Digest algorithms. */
  cx: CxClient;
  /** Realm of AKA challenges. */
  domain: string;
  algorithm: AkaAlgorithm;
  /** SIP Digest algorithms to offer, most preferred first. */
  digestAlgorithms: readonly DigestAlgorithm[];
  secAgree: boolean;
  log: Logger;
}

function digestAlgorithmOf(name: string | undefined): DigestAlgorithm | undefined {
  const n = (name ?? 'MD5').toUpperCase();
  return DIGEST_ALGORITHMS.find((a) => a === n);
}

/**
 * The HA1 of every configured algorithm: the first MAA brought one (MD5 unless the HSS chose otherwise); each other
 * one costs a MAR with scheme `SIP Digest` asking for it. An algorithm the HSS cannot give is simply not offered.
 * @throws RegistrarError when the HSS becomes unavailable, or no configured algorithm is left.
 */
async function digestHa1s(o: MaaChallengeOptions, id: ChallengeIdentity, first: SipDigestAuthenticate): Promise<Partial<Record<DigestAlgorithm, string>>> {
  const ha1: Partial<Record<DigestAlgorithm, string>> = {};
  const got = digestAlgorithmOf(first.algorithm);
  if (got) ha1[got] = first.ha1;
  for (const a of o.digestAlgorithms) {
    if (ha1[a] !== undefined) continue;
    try {
      const d = (await o.cx.mar({ ...id, scheme: SipAuthScheme.SIP_DIGEST, digestAlgorithm: a })).items[0]?.digest;
      if (d && d.realm === first.realm && digestAlgorithmOf(d.algorithm) === a) ha1[a] = d.ha1;
    } catch (err) {
      if (!isRegistrarError(err) || err.code === 'ERR_REGISTRAR_HSS_UNAVAILABLE' || err.code === 'ERR_REGISTRAR_CLOSED') throw err;
      o.log.debug({ algorithm: a, reason: err.message }, 'SIP Digest algorithm not available from the HSS; not offered');
    }
  }
  const offered = Object.fromEntries(o.digestAlgorithms.filter((a) => ha1[a] !== undefined).map((a) => [a, ha1[a]]));
  if (Object.keys(offered).length === 0) throw new RegistrarError('ERR_REGISTRAR_HSS_ERROR', 'the HSS offered no configured SIP Digest algorithm');
  return offered;
}

/**
 * The challenge of the first SIP-Auth-Data-Item of an MAA: AKA from its vector, or SIP Digest with the HA1 of every
 * configured algorithm the HSS can give.
 * @throws RegistrarError ERR_REGISTRAR_HSS_ERROR for an incomplete vector or no usable HA1; what a further MAR throws.
 */
export async function challengeFromMaa(item: SipAuthItem, id: ChallengeIdentity, o: MaaChallengeOptions): Promise<{ nonce: string; record: AkaChallenge | DigestChallenge }> {
  if (!item.digest) return akaChallenge(item, id, o.domain, o.algorithm, o.secAgree);
  const qop = item.digest.qop.split(',').map((q) => q.trim()).filter(Boolean);
  return digestChallenge(id, item.digest.realm, qop, await digestHa1s(o, id, item.digest), o.secAgree);
}

/**
 * The WWW-Authenticate values of a 401: one for AKA; one per offered algorithm for SIP Digest, most preferred first
 * (RFC 8760 §2.4), all with the same nonce.
 * @param order the preference order of Digest algorithms.
 * @param stale the previous nonce was one of ours, used or expired (RFC 7616 §3.3).
 */
export function wwwAuthenticate(nonce: string, r: ChallengeRecord, stale: boolean, order: readonly DigestAlgorithm[]): string[] {
  if (r.kind === 'aka' || (r.kind === 'decoy' && r.shape === 'aka')) {
    return [formatChallenge({ realm: r.realm, nonce, algorithm: r.algorithm, qop: AKA_QOP, stale })];
  }
  const offered = (a: DigestAlgorithm): boolean => (r.kind === 'digest' ? r.ha1[a] !== undefined : r.algorithms.includes(a));
  return order.filter(offered).map((algorithm) => formatChallenge({ realm: r.realm, nonce, algorithm, qop: r.qop, stale }));
}

/** Challenges in the store, keyed by nonce, living `ttlMs`. */
export class ChallengeStore {
  readonly #store: Store;
  readonly #ttlMs: number;

  /**
   * @param store shared by every registrar process of the deployment.
   * @param ttlMs the reg-await-auth time.
   */
  constructor(store: Store, ttlMs: number) {
    this.#store = store;
    this.#ttlMs = ttlMs;
  }

  /**
   * Keeps `record` under `nonce` for reg-await-auth: volatile (lib/store: in memory only, or stamped with the Redis
   * server's run), since a challenge lost in a crash costs a new 401 while one restored after its take would be a replay.
   */
  async save(nonce: string, record: ChallengeRecord): Promise<void> {
    await this.#store.set(CHALLENGE_PREFIX + nonce, record, { ttlMs: this.#ttlMs, durability: 'volatile' });
  }

  /** The challenge of `nonce` if it is still pending (not taken, not expired), left in place. */
  async peek(nonce: string): Promise<ChallengeRecord | undefined> {
    const raw = await this.#store.get(CHALLENGE_PREFIX + nonce);
    if (raw === undefined) return undefined;
    const parsed = recordSchema.safeParse(raw);
    return parsed.success ? parsed.data : undefined;
  }

  /**
   * Removes and returns the challenge of `nonce`: undefined when it is unknown, used, expired, or not readable
   * (a record written by something else is treated as no record rather than trusted).
   */
  async take(nonce: string): Promise<ChallengeRecord | undefined> {
    if (nonce.length === 0 || nonce.length > 256) return undefined;
    const raw = await this.#store.take(CHALLENGE_PREFIX + nonce);
    if (raw === undefined) return undefined;
    const parsed = recordSchema.safeParse(raw);
    return parsed.success ? parsed.data : undefined;
  }
}
