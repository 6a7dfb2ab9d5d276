/**
 * The challenge stage of the REGISTER state machine (register.ts; TS 24.229 §5.4.1.2.1, DESIGN §2.1; seed steps 3,
 * 10, 11): a place under the IMPI's cap of pending challenges (pending-challenges.ts) or, at the cap, the newest
 * pending one again without a MAR; a vector kept from an earlier MAA (vector-cache.ts), or a MAR to the HSS peer for
 * `authVectors` of them → one vector, SIP Digest HA1s (challenges.ts) or, for an identity the HSS refuses, a decoy
 * (decoy.ts) → the challenge stored under its nonce for reg-await-auth → `401 Unauthorized` with `WWW-Authenticate`
 * (and `Security-Server` when answering an RFC 3329 exchange). CK and IK stay in the store. A resynchronisation drops
 * the IMPI's kept vectors (their SQNs are the ones the ISIM refused) and always asks the HSS.
 */
import { SipAuthScheme, type MaaData, type SipAuthItem } from '../lib/diameter/cx/index.ts';
import { seedStep } from '../lib/seed-steps.ts';
import { akaChallenge, challengeFromMaa, wwwAuthenticate, type ChallengeIdentity, type ChallengeRecord } from './challenges.ts';
import type { AkaAlgorithm } from './config.ts';
import { decoyChallenge } from './decoy.ts';
import { RegistrarError, isRegistrarError } from './errors.ts';
import { SECURITY_SERVER } from './extensions.ts';
import { claimChallenge } from './pending-challenges.ts';
import { challengeSent, registrationOutcome } from './register-log.ts';
import type { Turn } from './turn.ts';

/** How a challenge is issued. */
export interface ChallengeOptions {
  /** The REGISTER carried a nonce of ours that is used or expired (RFC 7616 §3.3 `stale=TRUE`). */
  stale: boolean;
  /** RAND ‖ AUTS of a synchronisation failure (RFC 3310 §3.4): the MAR carries it as SIP-Authorization. */
  resync?: Buffer;
  /** A decoy, if one is needed, is AKA-shaped whatever the REGISTER asked for. */
  aka?: true;
}

const AKA_SCHEME: Readonly<Record<AkaAlgorithm, string>> = { 'AKAv1-MD5': SipAuthScheme.AKA_V1_MD5, 'AKAv2-MD5': SipAuthScheme.AKA_V2_MD5 };

/**
 * Challenge (steps 3, 10, 11): a place under the IMPI's cap (or, at the cap, its newest pending challenge again, no
 * MAR; a resynchronisation always gets a new one), MAR, the challenge stored under its nonce, 401.
 * @throws RegistrarError (answered with its status).
 */
export async function challenge(t: Turn, id: ChallengeIdentity, o: ChallengeOptions): Promise<void> {
  const { ctx } = t;
  const place = await claimChallenge(ctx.pending, ctx.challenges, id, o.resync !== undefined);
  if (place.kind === 'pending') {
    ctx.stats.inc('challenges_reused');
    ctx.log.debug({ impi: id.impi, impu: id.impu }, 'pending-challenge cap reached → the newest pending challenge again, no MAR');
    send401(t, place.nonce, place.record, o);
    challengeSent(t, place.nonce);
    return;
  }
  if (place.kind === 'busy') {
    registrationOutcome(t, 503, { impi: id.impi }, 'pending challenges kept changing under this REGISTER → 503');
    t.tx.reply(503, { headers: [['Retry-After', '1']] });
    return;
  }
  const fields = { impi: id.impi, impu: id.impu, call_id: t.req.callId() };
  let issued: { nonce: string; record: ChallengeRecord };
  try {
    const sent = performance.now();
    try {
      issued = await challengeFromHss(t, id, o, fields);
    } finally {
      t.cxMs += performance.now() - sent;
    }
    await ctx.challenges.save(issued.nonce, issued.record);
  } catch (err) {
    place.slot.failed();
    throw err;
  }
  place.slot.issued(issued.nonce);
  ctx.issued.issued(issued.nonce, id.impi);
  send401(t, issued.nonce, issued.record, o);
  challengeSent(t, issued.nonce);
  // step 11: partner SIP core → UE (the challenge leaves)
  seedStep(ctx.log, t.flow, 11, 'registrar', undefined, { ...fields, nonce: issued.nonce, kind: issued.record.kind, stale: o.stale });
}

/**
 * A vector kept from an earlier MAA of `id`, if one is left or arrives with a MAR of the same identity already on its
 * way; otherwise the MAR this challenge makes itself (run through the cache, so concurrent ones wait for it).
 * @returns the kept vector, or the MAA of this challenge's own MAR.
 */
async function vectorOrMaa(t: Turn, id: ChallengeIdentity, mar: () => Promise<MaaData>): Promise<{ kept: SipAuthItem } | { maa: MaaData }> {
  const { vectors } = t.ctx;
  for (let round = 0; round < 3; round++) {
    const kept = vectors.take(id);
    if (kept) return { kept };
    const fetched = await vectors.fetchOnce(id, mar);
    if (fetched.own) return { maa: fetched.value };
  }
  const kept = vectors.take(id);
  return kept ? { kept } : { maa: await mar() };
}

/**
 * The MAR of a challenge, sent when called (through the vector cache, or at once for a resynchronisation); `asked`
 * records the cache generation it was sent in. Made by a function rather than as a named closure in the caller,
 * which tsx would name with a call per challenge.
 */
function marOf(t: Turn, id: ChallengeIdentity, o: ChallengeOptions, fields: Record<string, unknown>, asked: MarAsked): () => Promise<MaaData> {
  const { ctx } = t;
  return () => {
    asked.generation = ctx.vectors.generation(id.impi);
    const sessionId = ctx.cx.nextSessionId();
    asked.sessionId = sessionId;
    // step 3: partner SIP core → partner MMS (the MAR)
    seedStep(ctx.log, t.flow, 3, 'registrar', undefined, { ...fields, session_id: sessionId, resync: o.resync !== undefined });
    return ctx.cx.mar({
      ...id, scheme: o.resync ? AKA_SCHEME[ctx.algorithm] : SipAuthScheme.UNKNOWN, count: ctx.authVectors, sessionId, ...(o.resync ? { resync: o.resync } : {}),
    });
  };
}

/**
 * What a challenge's MAR was sent with: the vector cache's generation, and its Session-Id, which steps 3 and 10 carry so
 * the Diameter side's steps (keyed by it, lib/seed-steps.ts) join this REGISTER's Call-ID (the status page, deploy/status).
 */
interface MarAsked {
  generation: number;
  sessionId: string | undefined;
}

/**
 * The vector and what it stands for (step 10: the partner MMS's answer to the MAR): AKA from a kept vector or a new
 * MAA, SIP Digest, or — when the HSS refuses the identity — a decoy, so the 401 does not tell known identities apart.
 * @throws RegistrarError for every other failure.
 */
async function challengeFromHss(t: Turn, id: ChallengeIdentity, o: ChallengeOptions, fields: Record<string, unknown>): Promise<{ nonce: string; record: ChallengeRecord }> {
  const { ctx } = t;
  const aka = o.aka ?? t.akaAsked;
  const asked: MarAsked = { generation: 0, sessionId: undefined };
  const mar = marOf(t, id, o, fields, asked);
  let maa: MaaData;
  try {
    if (o.resync) {
      const dropped = ctx.vectors.drop(id.impi);
      if (dropped > 0) ctx.log.debug({ impi: id.impi, dropped }, 'resynchronisation: kept vectors dropped before the resync MAR');
      ctx.metrics?.resync();
      maa = await mar();
    } else {
      const got = await vectorOrMaa(t, id, mar);
      if ('kept' in got) {
        ctx.stats.inc('challenges_issued');
        ctx.log.debug({ impi: id.impi, impu: id.impu }, 'challenge with a kept vector (no MAR)');
        return akaChallenge(got.kept, id, ctx.domain, ctx.algorithm, t.secAgree);
      }
      maa = got.maa;
    }
  } catch (err) {
    if (!isRegistrarError(err, 'ERR_REGISTRAR_USER_UNKNOWN')) throw err;
    ctx.log.debug({ ...fields, reason: err.message, shape: aka ? 'aka' : 'digest' },
      'the HSS refused the identity → decoy challenge (no user enumeration); its answer gets 403');
    ctx.stats.inc('decoy_challenges');
    return decoyChallenge(id, { aka, domain: ctx.domain, algorithm: ctx.algorithm, shape: ctx.digestShape, secAgree: t.secAgree });
  }
  const [item, ...spare] = maa.items;
  if (!item) throw new RegistrarError('ERR_REGISTRAR_HSS_ERROR', 'MAA without SIP-Auth-Data-Item');
  ctx.vectors.put(id, spare, asked.generation);
  // step 10: partner MMS → partner SIP core (the MAA)
  seedStep(ctx.log, t.flow, 10, 'partner-mms', undefined, { ...fields, session_id: asked.sessionId, scheme: item.scheme });
  ctx.stats.inc('challenges_issued');
  const issued = await challengeFromMaa(item, id, { ...ctx, secAgree: t.secAgree });
  if (issued.record.kind === 'digest') {
    // Decoys for password users copy what a real password challenge looks like now.
    const r = issued.record;
    Object.assign(ctx.digestShape, { realm: r.realm, qop: r.qop, algorithms: ctx.digestAlgorithms.filter((a) => r.ha1[a] !== undefined) });
  }
  return issued;
}

/** The 401 of a stored challenge (step 11 when newly issued). */
function send401(t: Turn, nonce: string, record: ChallengeRecord, o: ChallengeOptions): void {
  const headers: Array<[string, string]> = wwwAuthenticate(nonce, record, o.stale, t.ctx.digestAlgorithms).map((v) => ['WWW-Authenticate', v]);
  if (t.secAgree) headers.push(['Security-Server', SECURITY_SERVER]);
  t.tx.reply(401, { headers });
}
