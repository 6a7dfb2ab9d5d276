/**
 * Multimedia-Auth-Request handling (TS 29.228 §6.3.1 "Authentication procedure", TS 29.229 §6.1.7/§6.1.8):
 *
 * 1. IMPI (User-Name) and IMPU (Public-Identity) must exist, else Experimental 5001 USER_UNKNOWN; the IMPU must
 *    belong to the IMPI, else 5002 IDENTITIES_DONT_MATCH.
 * 2. The scheme must be one this subscriber can use, else 5006 AUTH_SCHEME_NOT_SUPPORTED: `Digest-AKAv1-MD5` and
 *    `Digest-AKAv2-MD5` need K/OPc, `SIP Digest` needs HA1s, `Unknown` lets the HSS pick (AKAv1, else SIP Digest).
 * 3. A SIP-Authorization in the request is RAND‖AUTS (30 octets, else base 5004 INVALID_AVP_VALUE with Failed-AVP):
 *    resync per 33.102 §6.3.5 before anything is issued.
 * 4. Server-Name is recorded as the pending S-CSCF.
 * 5. SIP-Number-Auth-Items vectors (1..cap) are issued, one SIP-Auth-Data-Item each (SIP-Item-Number, scheme,
 *    SIP-Authenticate = RAND‖AUTN, SIP-Authorization = XRES, Confidentiality-Key, Integrity-Key); SIP Digest gets
 *    one item with SIP-Digest-Authenticate {Digest-Realm, Digest-Algorithm, Digest-QoP auth, Digest-HA1} (MD5
 *    unless SHA-256 is asked for, see {@link requestedDigestAlgorithm}).
 */
import type { Avp, DiameterMessage } from '../lib/diameter/codec.ts';
import { ResultCode } from '../lib/diameter/constants.ts';
import { CxExperimentalResultCode as X, SipAuthScheme, buildMaa, readMar, type SipAuthItem } from '../lib/diameter/cx/index.ts';
import { buildAvp, findAvp, getValue, getValues, requireValue } from '../lib/diameter/message.ts';
import { withFields, type Log } from '../lib/log.ts';
import { migrationFlowAt, seedStep, seedStepText, seedStepsWanted } from '../lib/seed-steps.ts';
import { DEFAULT_MAX_AUTH_ITEMS, baseErrorAnswer, experimentalAnswer, mmsHostsOf, type CxContext } from './cx-context.ts';
import {
  DIGEST_ALGORITHMS, akaCredentials, type AkaCredentials, type DigestAlgorithm, type StoredHa1, type SubscriberRecord,
} from './subscriber-model.ts';
import { mayServe, modeOf, requestOrigin, type CxPeer } from './partners.ts';
import { hex12 } from './subscribers.ts';

/** Octets of RAND‖AUTS in a resync MAR (16 + 14). */
export const RESYNC_AUTHORIZATION_LENGTH = 30;

/** What the HSS will answer with, once the scheme is settled. */
type Plan =
  | { kind: 'aka'; scheme: string; creds: AkaCredentials }
  | { kind: 'digest'; algorithm: DigestAlgorithm; record: SubscriberRecord };

/**
 * The Digest-Algorithm an S-CSCF asks for. 29.229 has no request field for it, so [design] a `Digest-Algorithm` AVP
 * placed directly in the MAR's SIP-Auth-Data-Item (allowed by its `*[AVP]`) selects MD5 or SHA-256.
 * @returns undefined when not asked, null when asked for one the HSS does not have.
 */
function requestedDigestAlgorithm(item: Avp[]): DigestAlgorithm | undefined | null {
  const asked = getValue(item, 'Digest-Algorithm');
  if (asked === undefined) return undefined;
  return (Object.keys(DIGEST_ALGORITHMS) as DigestAlgorithm[]).find((a) => a.toLowerCase() === asked.toLowerCase()) ?? null;
}

/** SIP Digest, when the subscriber has HA1s and the MAR asked for an algorithm we have (null: one we do not). */
function digestPlan(record: SubscriberRecord, asked: DigestAlgorithm | undefined | null): Plan | undefined {
  return record.ha1 && asked !== null ? { kind: 'digest', algorithm: asked ?? 'MD5', record } : undefined;
}

/** Step 2: the scheme and credentials to answer with, or undefined for 5006. */
function plan(scheme: string, record: SubscriberRecord, asked: DigestAlgorithm | undefined | null): Plan | undefined {
  const creds = akaCredentials(record);
  switch (scheme) {
    case SipAuthScheme.AKA_V1_MD5:
    case SipAuthScheme.AKA_V2_MD5:
      return creds ? { kind: 'aka', scheme, creds } : undefined;
    case SipAuthScheme.SIP_DIGEST:
      return digestPlan(record, asked);
    case SipAuthScheme.UNKNOWN:
      return creds ? { kind: 'aka', scheme: SipAuthScheme.AKA_V1_MD5, creds } : digestPlan(record, asked);
    default:
      return undefined;
  }
}

/**
 * Answers one MAR. Lookup failures and unsupported schemes become Experimental-Result answers; malformed AVPs
 * throw DiameterError for the caller's generic error answer, except a bad RAND‖AUTS length (5004 here).
 * @param peer the connection the MAR came on (its authenticated identity), see hss/partners.ts.
 */
export async function handleMar(req: DiameterMessage, ctx: CxContext, peer?: CxPeer): Promise<DiameterMessage> {
  const mar = readMar(req);
  const item = requireValue(req, 'SIP-Auth-Data-Item');
  const log = withFields(ctx.logger, { clause: '29.228 §6.3.1', impi: mar.userName, impu: mar.publicIdentity });
  ctx.stats.inc('mar');
  // A migrating user's MAR (from another realm) is steps 6 and 7 of TS 23.280 §10.6.2 as the SIP database sees them;
  // read only when someone logs or listens to seed steps (issue #12).
  const flow = seedStepsWanted(log) ? migrationFlowAt(getValue(req, 'Origin-Realm'), getValues(req, 'Route-Record'), ctx.originRealm) : undefined;
  const ids = `primary IMPI ${mar.userName}, IMPU ${mar.publicIdentity}`;
  const stepFields = flow ? { sessionId: getValue(req, 'Session-Id') } : {};
  if (flow) seedStep(log, flow, 6, flow === 'static' ? 'relay' : 'primary-mms', seedStepText(flow, 6, ids), stepFields);

  // Step 1: identities.
  const record = await ctx.subscribers.get(mar.userName);
  if (!record) {
    log.info('MAR: IMPI unknown → Experimental-Result 5001 DIAMETER_ERROR_USER_UNKNOWN');
    return experimentalAnswer(req, ctx, X.ERROR_USER_UNKNOWN, 'unknown private identity');
  }
  if (!record.impus.includes(mar.publicIdentity)) {
    const owner = await ctx.subscribers.impiOfImpu(mar.publicIdentity);
    if (owner === undefined) {
      log.info('MAR: IMPU unknown → Experimental-Result 5001 DIAMETER_ERROR_USER_UNKNOWN');
      return experimentalAnswer(req, ctx, X.ERROR_USER_UNKNOWN, 'unknown public identity');
    }
    log.info('MAR: IMPU belongs to another IMPI → Experimental-Result 5002 DIAMETER_ERROR_IDENTITIES_DONT_MATCH');
    return experimentalAnswer(req, ctx, X.ERROR_IDENTITIES_DONT_MATCH, 'public identity does not belong to the private identity');
  }

  // The visited network must be the home realm or one the subscription allows by this path (TS 29.228 §6.1.1's
  // roaming check; static or dynamic configuration, DESIGN §2.7).
  const origin = requestOrigin(req, peer, { originRealm: ctx.originRealm, mmsHosts: mmsHostsOf(ctx) });
  if (!mayServe(record, origin.realm, ctx.originRealm, modeOf(origin))) {
    log.info({ visited: origin.realm, path: modeOf(origin) }, 'MAR: realm not allowed for this subscriber by this path → Experimental-Result 5004 DIAMETER_ERROR_ROAMING_NOT_ALLOWED');
    return experimentalAnswer(req, ctx, X.ERROR_ROAMING_NOT_ALLOWED, 'not allowed from this network');
  }

  // Step 2: scheme.
  const p = plan(mar.scheme, record, requestedDigestAlgorithm(item));
  if (!p) {
    log.info({ scheme: mar.scheme }, 'MAR: scheme not available for this subscriber → Experimental-Result 5006 DIAMETER_ERROR_AUTH_SCHEME_NOT_SUPPORTED');
    return experimentalAnswer(req, ctx, X.ERROR_AUTH_SCHEME_NOT_SUPPORTED, `authentication scheme ${mar.scheme} not supported for this user`);
  }

  // Step 3: resync (AKA only; a SIP Digest MAR has no AUTS to carry).
  if (p.kind === 'aka' && mar.authorization !== undefined) {
    if (mar.authorization.length !== RESYNC_AUTHORIZATION_LENGTH) {
      const raw = findAvp(item, 'SIP-Authorization');
      log.info({ octets: mar.authorization.length }, 'MAR: SIP-Authorization is not RAND‖AUTS (30 octets) → 5004 DIAMETER_INVALID_AVP_VALUE');
      return baseErrorAnswer(req, ctx, ResultCode.INVALID_AVP_VALUE, 'SIP-Authorization must be RAND(16)‖AUTS(14)',
        raw === undefined ? undefined : buildAvp(['SIP-Auth-Data-Item', [raw]]));
    }
    await resync(ctx, p.creds, mar.authorization, log);
  }

  // Step 4: pending S-CSCF.
  await ctx.serving.markPending(record.impi, mar.serverName);

  // Step 5: the answer.
  const base = { originHost: ctx.originHost, originRealm: ctx.originRealm, result: { resultCode: ResultCode.SUCCESS } };
  if (p.kind === 'digest') {
    ctx.stats.inc('digest_answers');
    log.debug({ algorithm: p.algorithm, server_name: mar.serverName }, 'MAR: SIP Digest → MAA with SIP-Digest-Authenticate');
    const ha1 = p.record.ha1 as StoredHa1;
    const digest = { realm: ha1.realm, algorithm: p.algorithm, qop: 'auth', ha1: p.algorithm === 'MD5' ? ha1.md5 : ha1.sha256 };
    return buildMaa(req, { ...base, userName: record.impi, publicIdentity: mar.publicIdentity, items: [{ itemNumber: 1, scheme: SipAuthScheme.SIP_DIGEST, digest }] });
  }
  const n = Math.min(Math.max(mar.numberAuthItems, 1), ctx.maxAuthItems ?? DEFAULT_MAX_AUTH_ITEMS);
  const vectors = await ctx.vectors.issue(p.creds, n);
  const items: SipAuthItem[] = vectors.map((v, i) => ({
    itemNumber: i + 1, scheme: p.scheme, authenticate: Buffer.concat([v.rand, v.autn]), authorization: v.xres, ck: v.ck, ik: v.ik,
  }));
  if (log.isLevelEnabled('debug')) {
    log.debug({ scheme: p.scheme, requested: mar.numberAuthItems, vectors: n, sqns: vectors.map((v) => hex12(v.sqn)), server_name: mar.serverName },
      'MAR: vectors issued (33.102 §6.3.2) → MAA');
  }
  if (flow) seedStep(log, flow, 7, 'hss', seedStepText(flow, 7, `${ids}, ${n} vector(s)`), stepFields);
  return buildMaa(req, { ...base, userName: record.impi, publicIdentity: mar.publicIdentity, items });
}

async function resync(ctx: CxContext, creds: AkaCredentials, authorization: Buffer, log: Log): Promise<void> {
  const rand = authorization.subarray(0, 16);
  const auts = authorization.subarray(16, RESYNC_AUTHORIZATION_LENGTH);
  const r = await ctx.vectors.resync(creds, rand, auts);
  const fields = { clause: '33.102 §6.3.5', sqn_ms: hex12(r.sqnMs) };
  if (!r.macValid) {
    log.warn(fields, 'resync: MAC-S does not verify (wrong key, wrong RAND or forged AUTS); SEQ_HE not reset, answering with fresh vectors');
  } else if (r.applied?.wentDown) {
    log.warn({ ...fields, previous: hex12(r.applied.previous), current: hex12(r.applied.current) },
      'resync: SEQ_HE went down to SEQ(SQN_MS): the HSS was more than Δ ahead of the USIM');
  } else if (r.applied?.reset) {
    log.info({ ...fields, previous: hex12(r.applied.previous), current: hex12(r.applied.current) }, 'resync: SEQ_HE set from SQN_MS');
  } else {
    log.info(fields, 'resync: SEQ_HE kept, its next SQN is acceptable to the USIM');
  }
}
