/**
 * What every Cx handler of the HSS needs, and the one way it answers with a TS 29.229 §6.2 Experimental-Result
 * (vendor 10415): a code from {@link CxExperimentalResultCode}, never a base Result-Code with the same number.
 */
import type { Avp, DiameterMessage } from '../lib/diameter/codec.ts';
import { cxErrorAnswer, experimental } from '../lib/diameter/cx/index.ts';
import type { Logger } from '../lib/log.ts';
import type { ServingRegistry } from './serving.ts';
import type { HssStats } from './stats.ts';
import type { SubscriberRepo } from './subscribers.ts';
import type { VectorIssuer } from './vectors.ts';

/** Most vectors one MAA carries; a larger SIP-Number-Auth-Items is capped, 0 is raised to 1. */
export const DEFAULT_MAX_AUTH_ITEMS = 5;

/** Dependencies and identity of the Cx handlers. */
export interface CxContext {
  /** Origin-Host of every answer (`--origin-host`). */
  originHost: string;
  /** Origin-Realm of every answer and the realm HA1s are computed for (`--realm`). */
  originRealm: string;
  subscribers: SubscriberRepo;
  serving: ServingRegistry;
  vectors: VectorIssuer;
  stats: HssStats;
  logger: Logger;
  /** Cap on SIP-Number-Auth-Items (default {@link DEFAULT_MAX_AUTH_ITEMS}). */
  maxAuthItems?: number;
  /**
   * Diameter identities of the primary MMS (`--mms-host`, default `mms.<realm>`): a request that crossed one of them
   * came by dynamic configuration (hss/partners.ts).
   */
  mmsHosts?: readonly string[];
}

/** The primary MMS identities of `ctx`: its `mmsHosts`, or `mms.<realm>`. */
export function mmsHostsOf(ctx: Pick<CxContext, 'mmsHosts' | 'originRealm'>): readonly string[] {
  return ctx.mmsHosts ?? [`mms.${ctx.originRealm}`];
}

/**
 * A Cx answer with `Experimental-Result { Vendor-Id 10415, Experimental-Result-Code code }`, counted as an error.
 * @param code a {@link CxExperimentalResultCode} value (5001 USER_UNKNOWN, 5002 IDENTITIES_DONT_MATCH, …).
 * @param reason Error-Message text (identities only, never key material).
 */
export function experimentalAnswer(req: DiameterMessage, ctx: CxContext, code: number, reason: string): DiameterMessage {
  ctx.stats.inc('errors');
  return cxErrorAnswer(req, experimental(code), { originHost: ctx.originHost, originRealm: ctx.originRealm, errorMessage: reason });
}

/**
 * A Cx answer with a base Result-Code (RFC 6733 §7.1: 5004 INVALID_AVP_VALUE, 5012 UNABLE_TO_COMPLY, or a 3xxx as an
 * E-bit answer), counted as an error.
 * @param failedAvp the offending AVP for Failed-AVP (RFC 6733 §7.5).
 */
export function baseErrorAnswer(req: DiameterMessage, ctx: CxContext, resultCode: number, reason: string, failedAvp?: Avp): DiameterMessage {
  ctx.stats.inc('errors');
  return cxErrorAnswer(req, { resultCode }, {
    originHost: ctx.originHost, originRealm: ctx.originRealm, errorMessage: reason, ...(failedAvp ? { failedAvp } : {}),
  });
}
