/**
 * The Registration-Termination-Request at the registrar (TS 29.229 §6.1.9/§6.1.10; TS 29.228 §6.1.3, network
 * initiated de-registration): the partner MMS — the HSS as the partner SIP core sees it — ends the registrations of a
 * private identity when its static mapping or migration binding ends. What this registrar holds for the identity (and
 * for any IMPI of Associated-Identities) goes at once:
 *
 * - its unused vectors (vector-cache.ts);
 * - the challenges of it still pending in this process (pending-challenges.ts), taken from the store: an answer to
 *   one of them gets a fresh 401, never a 200;
 * - the bindings of each Public-Identity of the RTR that belong to one of those IMPIs (the AOR records in the store,
 *   shared by every registrar process), so the identity is no longer registered. No SAR follows: the HSS side ended the registration. An RTR
 *   without Public-Identity means every public identity of the IMPI: the AORs recorded for it are searched (a scan of
 *   the bindings, for that rare form only).
 *
 * In a worker group (`--workers N`, lib/workers) the RTR reaches one worker (the Diameter peer the MMS picked); the
 * others hold vectors and pending challenges of their own, so that worker tells its siblings ({@link RTR_TOPIC}) and
 * each ends the identity's vectors and challenges too ({@link endImpis}); the bindings are in the shared store.
 *
 * Answer: 2001 when anything was held; Experimental-Result 5001 DIAMETER_ERROR_USER_UNKNOWN when nothing was — "a
 * message was received for a user … that is unknown" (TS 29.229 §6.2.2.1) [design: 29.228 names no result for an
 * identity the S-CSCF does not serve; Kamailio answers 2001 whatever it holds].
 */
import { ResultCode } from '../lib/diameter/constants.ts';
import type { DiameterMessage } from '../lib/diameter/codec.ts';
import { CxExperimentalResultCode, buildRta, experimental, readRtr } from '../lib/diameter/cx/index.ts';
import type { Handler } from '../lib/diameter/node.ts';
import type { Logger } from '../lib/log.ts';
import { tellSiblings } from '../lib/workers/messages.ts';
import type { BindingStore } from './bindings.ts';
import type { ChallengeStore } from './challenges.ts';
import type { PendingChallenges } from './pending-challenges.ts';
import type { RegEvent } from './reg-event.ts';
import type { RegistrarStats } from './stats.ts';
import type { VectorCache } from './vector-cache.ts';

/** What ending an identity touches. */
export interface RtrContext {
  originHost: string;
  originRealm: string;
  vectors: VectorCache;
  pending: PendingChallenges;
  challenges: ChallengeStore;
  bindings: BindingStore;
  stats: RegistrarStats;
  log: Logger;
  /** Epoch milliseconds (binding expiry). */
  now: () => number;
  /** Tells the reg event subscribers of each AOR deregistered (reg-event.ts). */
  regEvent?: RegEvent;
}

/** What was ended for one RTR. */
interface Ended {
  vectors: number;
  challenges: number;
  aors: string[];
}

/** The siblings' message of an RTR: `{ impis }`. */
export const RTR_TOPIC = 'registrar:rtr';

async function endImpi(ctx: Pick<RtrContext, 'vectors' | 'pending' | 'challenges'>, impi: string, ended: Ended): Promise<void> {
  ended.vectors += ctx.vectors.drop(impi);
  for (const nonce of ctx.pending.drain(impi)) {
    if (await ctx.challenges.take(nonce)) ended.challenges++;
  }
}

/**
 * Ends what this process holds for `impis` (vectors, pending challenges): a sibling worker handled their RTR.
 * @returns how many vectors and challenges were ended.
 */
export async function endImpis(ctx: Pick<RtrContext, 'vectors' | 'pending' | 'challenges'>, impis: readonly string[]): Promise<{ vectors: number; challenges: number }> {
  const ended: Ended = { vectors: 0, challenges: 0, aors: [] };
  for (const impi of impis) await endImpi(ctx, impi, ended);
  return { vectors: ended.vectors, challenges: ended.challenges };
}

/** The AORs recorded with bindings for `impis` (the RTR named no public identity). */
async function aorsOf(ctx: RtrContext, impis: readonly string[]): Promise<string[]> {
  return (await ctx.bindings.list(ctx.now())).filter((r) => impis.includes(r.impi)).map((r) => r.aor);
}

/**
 * The handler of RTR (command 304) on the registrar's Diameter node.
 * @returns a handler that answers every readable RTR (2001 or 5001); a malformed one is answered by the node.
 */
export function createRtrHandler(ctx: RtrContext): Handler {
  return async (req: DiameterMessage): Promise<DiameterMessage> => {
    const rtr = readRtr(req);
    const impis = [rtr.userName, ...(rtr.associatedIdentities ?? [])];
    const ended: Ended = { vectors: 0, challenges: 0, aors: [] };
    tellSiblings(RTR_TOPIC, { impis });
    for (const impi of impis) await endImpi(ctx, impi, ended);
    const now = ctx.now();
    const aors = rtr.publicIdentities.length > 0 ? rtr.publicIdentities : await aorsOf(ctx, impis);
    for (const aor of aors) {
      if (await ctx.bindings.remove(aor, impis, now)) {
        ended.aors.push(aor);
        ctx.regEvent?.changed(aor, 'rtr');
      }
    }
    ctx.stats.inc('registration_terminations');
    const known = ended.vectors + ended.challenges + ended.aors.length > 0;
    ctx.log.debug({
      impi: rtr.userName, impus: rtr.publicIdentities, reason_code: rtr.reasonCode, reason_info: rtr.reasonInfo, from: rtr.originHost,
      vectors_dropped: ended.vectors, challenges_ended: ended.challenges, deregistered: ended.aors,
    }, `Registration-Termination-Request for ${rtr.userName} → ${known ? 'RTA 2001' : 'RTA 5001 (nothing held)'}`);
    const origin = { originHost: ctx.originHost, originRealm: ctx.originRealm };
    return buildRta(req, { ...origin, result: known ? { resultCode: ResultCode.SUCCESS } : experimental(CxExperimentalResultCode.ERROR_USER_UNKNOWN) });
  };
}
