/**
 * Issuing a challenge (TS 24.229 §5.4.1.2.1, DESIGN §2.1; seed steps 3, 10, 11): MAR to the HSS peer → one vector
 * (or SIP Digest HA1s) → the challenge stored under its nonce for reg-await-auth → `401 Unauthorized` with
 * `WWW-Authenticate` (and `Security-Server` when answering an RFC 3329 exchange). CK and IK stay in the store.
 */
import { SipAuthScheme, type SipDigestAuthenticate } from '../lib/diameter/cx/index.ts';
import type { Logger } from '../lib/log.ts';
import { seedStep, type SeedFlow } from '../lib/seed-steps.ts';
import type { SipRequest } from '../lib/sip/message.ts';
import type { ServerTransaction } from '../lib/sip/transaction/server.ts';
import { akaChallenge, digestChallenge, wwwAuthenticate, type ChallengeIdentity, type ChallengeStore } from './challenges.ts';
import { DIGEST_ALGORITHMS, type AkaAlgorithm, type DigestAlgorithm } from './config.ts';
import type { CxClient } from './cx.ts';
import { RegistrarError, isRegistrarError } from './errors.ts';
import { SECURITY_SERVER } from './extensions.ts';

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
}

/** How the challenge is issued. */
export interface ChallengeOptions {
  /** The REGISTER carried an unknown, used or expired nonce (or reused one: `nc` above 1). */
  stale: boolean;
  /** Answer an RFC 3329 exchange with Security-Server. */
  secAgree: boolean;
  /** RAND ‖ AUTS of a synchronisation failure (RFC 3310 §3.4): the MAR carries it as SIP-Authorization. */
  resync?: Buffer;
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

/**
 * MAR, store, 401.
 * @param id the IMPI and IMPU to ask for.
 * @throws RegistrarError (the caller answers with its status).
 */
export async function issueChallenge(ctx: ChallengeContext, req: SipRequest, tx: ServerTransaction, id: ChallengeIdentity, o: ChallengeOptions): Promise<void> {
  const fields = { impi: id.impi, impu: id.impu, call_id: req.callId() };
  seedStep(ctx.log, ctx.seedFlow, 3, 'registrar', undefined, { ...fields, resync: o.resync !== undefined });
  const scheme = o.resync ? AKA_SCHEME[ctx.algorithm] : SipAuthScheme.UNKNOWN;
  const maa = await ctx.cx.mar({ ...id, scheme, ...(o.resync ? { resync: o.resync } : {}) });
  const item = maa.items[0];
  if (!item) throw new RegistrarError('ERR_REGISTRAR_HSS_ERROR', 'MAA without SIP-Auth-Data-Item');
  seedStep(ctx.log, ctx.seedFlow, 10, 'partner-mms', undefined, { ...fields, scheme: item.scheme });
  const issued = item.digest
    ? digestChallenge(id, item.digest.realm, item.digest.qop.split(',').map((q) => q.trim()).filter(Boolean),
      await digestHa1s(ctx, id, item.digest), o.secAgree)
    : akaChallenge(item, id, ctx.domain, ctx.algorithm, o.secAgree);
  await ctx.challenges.save(issued.nonce, issued.record);
  const headers: Array<[string, string]> = wwwAuthenticate(issued.nonce, issued.record, o.stale, ctx.digestAlgorithms)
    .map((v) => ['WWW-Authenticate', v]);
  if (o.secAgree) headers.push(['Security-Server', SECURITY_SERVER]);
  tx.reply(401, { headers });
  seedStep(ctx.log, ctx.seedFlow, 11, 'registrar', undefined, { ...fields, nonce: issued.nonce, kind: issued.record.kind, stale: o.stale });
}
