/**
 * Issuing a challenge (TS 24.229 §5.4.1.2.1, DESIGN §2.1; seed steps 3, 10, 11): MAR to the HSS peer → one vector
 * (or SIP Digest HA1s; or, for an identity the HSS refuses, a decoy: decoy.ts) → the challenge stored under its nonce
 * for reg-await-auth → `401 Unauthorized` with `WWW-Authenticate` (and `Security-Server` when answering an RFC 3329
 * exchange). CK and IK stay in the store. At most `maxPendingChallenges` per IMPI are outstanding
 * (pending-challenges.ts); past that the newest is sent again.
 */
import { SipAuthScheme, type MaaData, type SipDigestAuthenticate } from '../lib/diameter/cx/index.ts';
import type { Logger } from '../lib/log.ts';
import { seedStep, type SeedFlow } from '../lib/seed-steps.ts';
import type { SipRequest } from '../lib/sip/message.ts';
import type { ServerTransaction } from '../lib/sip/transaction/server.ts';
import { akaChallenge, digestChallenge, wwwAuthenticate, type ChallengeIdentity, type ChallengeRecord, type ChallengeStore } from './challenges.ts';
import { DIGEST_ALGORITHMS, type AkaAlgorithm, type DigestAlgorithm } from './config.ts';
import type { CxClient } from './cx.ts';
import { decoyChallenge, type DigestShape } from './decoy.ts';
import { RegistrarError, isRegistrarError } from './errors.ts';
import { SECURITY_SERVER } from './extensions.ts';
import type { PendingChallenges } from './pending-challenges.ts';
import type { RegistrarStats } from './stats.ts';

/** What issuing a challenge needs. */
export interface ChallengeContext {
  cx: CxClient;
  challenges: ChallengeStore;
  /** Realm of AKA challenges: the partner home domain. */
  domain: string;
  algorithm: AkaAlgorithm;
  /** SIP Digest algorithms to offer, most preferred first. */
  digestAlgorithms: readonly DigestAlgorithm[];
  seedFlow: SeedFlow;
  log: Logger;
  /** The outstanding-challenge cap per IMPI. */
  pending: PendingChallenges;
  /** What decoys for password users look like (updated from the real SIP Digest challenges). */
  digestShape: DigestShape;
  stats: RegistrarStats;
}

/** How the challenge is issued. */
export interface ChallengeOptions {
  /** The REGISTER carried an unknown, used or expired nonce (or reused one: `nc` above 1). */
  stale: boolean;
  /** Answer an RFC 3329 exchange with Security-Server. */
  secAgree: boolean;
  /** RAND ‖ AUTS of a synchronisation failure (RFC 3310 §3.4): the MAR carries it as SIP-Authorization. */
  resync?: Buffer;
  /** The REGISTER's Authorization asked for AKA: a decoy, if one is needed, is AKA-shaped. */
  akaAsked: boolean;
}

const AKA_SCHEME: Readonly<Record<AkaAlgorithm, string>> = { 'AKAv1-MD5': SipAuthScheme.AKA_V1_MD5, 'AKAv2-MD5': SipAuthScheme.AKA_V2_MD5 };

function digestAlgorithmOf(name: string | undefined): DigestAlgorithm | undefined {
  const n = (name ?? 'MD5').toUpperCase();
  return DIGEST_ALGORITHMS.find((a) => a === n);
}

/**
 * The HA1 of every configured algorithm: the first MAA brought one (MD5 unless the HSS chose otherwise); each other
 * one costs a MAR with scheme `SIP Digest` asking for it. An algorithm the HSS cannot give is simply not offered.
 * @throws RegistrarError when the HSS becomes unavailable, or no configured algorithm is left.
 */
async function digestHa1s(ctx: ChallengeContext, id: ChallengeIdentity, first: SipDigestAuthenticate): Promise<Partial<Record<DigestAlgorithm, string>>> {
  const ha1: Partial<Record<DigestAlgorithm, string>> = {};
  const got = digestAlgorithmOf(first.algorithm);
  if (got) ha1[got] = first.ha1;
  for (const a of ctx.digestAlgorithms) {
    if (ha1[a] !== undefined) continue;
    try {
      const d = (await ctx.cx.mar({ ...id, scheme: SipAuthScheme.SIP_DIGEST, digestAlgorithm: a })).items[0]?.digest;
      if (d && d.realm === first.realm && digestAlgorithmOf(d.algorithm) === a) ha1[a] = d.ha1;
    } catch (err) {
      if (!isRegistrarError(err) || err.code === 'ERR_REGISTRAR_HSS_UNAVAILABLE' || err.code === 'ERR_REGISTRAR_CLOSED') throw err;
      ctx.log.info({ algorithm: a, reason: err.message }, 'SIP Digest algorithm not available from the HSS; not offered');
    }
  }
  const offered = Object.fromEntries(ctx.digestAlgorithms.filter((a) => ha1[a] !== undefined).map((a) => [a, ha1[a]]));
  if (Object.keys(offered).length === 0) throw new RegistrarError('ERR_REGISTRAR_HSS_ERROR', 'the HSS offered no configured SIP Digest algorithm');
  return offered;
}

/** Sends the 401 of a stored challenge. */
function send401(ctx: ChallengeContext, tx: ServerTransaction, nonce: string, record: ChallengeRecord, o: ChallengeOptions): void {
  const headers: Array<[string, string]> = wwwAuthenticate(nonce, record, o.stale, ctx.digestAlgorithms).map((v) => ['WWW-Authenticate', v]);
  if (o.secAgree) headers.push(['Security-Server', SECURITY_SERVER]);
  tx.reply(401, { headers });
}

/**
 * The challenge the HSS's answer stands for: AKA, SIP Digest, or — when the HSS refuses the identity — a decoy.
 * @throws RegistrarError for every other failure.
 */
async function challengeFromHss(ctx: ChallengeContext, id: ChallengeIdentity, o: ChallengeOptions, fields: Record<string, unknown>): Promise<{ nonce: string; record: ChallengeRecord }> {
  const scheme = o.resync ? AKA_SCHEME[ctx.algorithm] : SipAuthScheme.UNKNOWN;
  let maa: MaaData;
  try {
    maa = await ctx.cx.mar({ ...id, scheme, ...(o.resync ? { resync: o.resync } : {}) });
  } catch (err) {
    if (!isRegistrarError(err, 'ERR_REGISTRAR_USER_UNKNOWN')) throw err;
    ctx.log.info({ ...fields, reason: err.message, shape: o.akaAsked ? 'aka' : 'digest' },
      'the HSS refused the identity → decoy challenge (no user enumeration); its answer gets 403');
    ctx.stats.inc('decoy_challenges');
    return decoyChallenge(id, { aka: o.akaAsked, domain: ctx.domain, algorithm: ctx.algorithm, shape: ctx.digestShape, secAgree: o.secAgree });
  }
  const item = maa.items[0];
  if (!item) throw new RegistrarError('ERR_REGISTRAR_HSS_ERROR', 'MAA without SIP-Auth-Data-Item');
  seedStep(ctx.log, ctx.seedFlow, 10, 'partner-mms', undefined, { ...fields, scheme: item.scheme });
  ctx.stats.inc('challenges_issued');
  if (!item.digest) return akaChallenge(item, id, ctx.domain, ctx.algorithm, o.secAgree);
  const qop = item.digest.qop.split(',').map((q) => q.trim()).filter(Boolean);
  const issued = digestChallenge(id, item.digest.realm, qop, await digestHa1s(ctx, id, item.digest), o.secAgree);
  // Decoys for password users copy what a real password challenge looks like now.
  Object.assign(ctx.digestShape, { realm: issued.record.realm, qop, algorithms: ctx.digestAlgorithms.filter((a) => issued.record.ha1[a] !== undefined) });
  return issued;
}

/**
 * The newest pending challenge of `id.impi` still in the store (one of `id.impu` preferred), sent again.
 * @returns false when none is left (each one found gone is released).
 */
async function reusePending(ctx: ChallengeContext, tx: ServerTransaction, id: ChallengeIdentity, o: ChallengeOptions): Promise<boolean> {
  let chosen: { nonce: string; record: ChallengeRecord } | undefined;
  for (const nonce of await ctx.pending.newest(id.impi)) {
    const record = await ctx.challenges.peek(nonce);
    if (!record || record.impi !== id.impi) {
      ctx.pending.release(id.impi, nonce);
      continue;
    }
    chosen ??= { nonce, record };
    if (record.impu === id.impu) {
      chosen = { nonce, record };
      break;
    }
  }
  if (!chosen) return false;
  ctx.stats.inc('challenges_reused');
  ctx.log.debug({ impi: id.impi, impu: id.impu }, 'pending-challenge cap reached → the newest pending challenge again, no MAR');
  send401(ctx, tx, chosen.nonce, chosen.record, o);
  return true;
}

/**
 * MAR, store, 401 — or, when `maxPendingChallenges` of the IMPI are pending, the newest of them again (a
 * resynchronisation always gets a new one: it answers a challenge the UE refused).
 * @param id the IMPI and IMPU to ask for.
 * @throws RegistrarError (the caller answers with its status).
 */
export async function issueChallenge(ctx: ChallengeContext, req: SipRequest, tx: ServerTransaction, id: ChallengeIdentity, o: ChallengeOptions): Promise<void> {
  // Bounded: each pass either claims a place, reuses a challenge, or releases the pending ones found gone.
  for (let pass = 0; pass < 3; pass++) {
    const slot = ctx.pending.claim(id.impi, o.resync !== undefined);
    if (!slot) {
      if (await reusePending(ctx, tx, id, o)) return;
      continue;
    }
    const fields = { impi: id.impi, impu: id.impu, call_id: req.callId() };
    seedStep(ctx.log, ctx.seedFlow, 3, 'registrar', undefined, { ...fields, resync: o.resync !== undefined });
    let issued: { nonce: string; record: ChallengeRecord };
    try {
      issued = await challengeFromHss(ctx, id, o, fields);
      await ctx.challenges.save(issued.nonce, issued.record);
    } catch (err) {
      slot.failed();
      throw err;
    }
    slot.issued(issued.nonce);
    send401(ctx, tx, issued.nonce, issued.record, o);
    seedStep(ctx.log, ctx.seedFlow, 11, 'registrar', undefined, { ...fields, nonce: issued.nonce, kind: issued.record.kind, stale: o.stale });
    return;
  }
  ctx.log.info({ impi: id.impi }, 'pending challenges kept changing under this REGISTER → 503');
  tx.reply(503, { headers: [['Retry-After', '1']] });
}
