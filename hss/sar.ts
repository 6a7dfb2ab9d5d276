/**
 * Server-Assignment-Request handling (TS 29.228 §6.1.2, TS 29.229 §6.1.3/§6.1.4):
 *
 * - the user is named by User-Name, or (UNREGISTERED_USER) by its first Public-Identity; unknown → Experimental
 *   5001 USER_UNKNOWN; a Public-Identity of another IMPI → 5002 IDENTITIES_DONT_MATCH;
 * - REGISTRATION, RE_REGISTRATION, UNREGISTERED_USER and the *_STORE_SERVER_NAME de-registrations record Server-Name
 *   as the serving S-CSCF; the other de-registrations (TIMEOUT, USER, ADMINISTRATIVE, DEREGISTRATION_TOO_MUCH_DATA)
 *   clear it; AUTHENTICATION_FAILURE / _TIMEOUT drop only the pending name of the MAR;
 * - the answer is Result-Code 2001 with User-Name, plus User-Data (IMSSubscription XML) when the S-CSCF needs the
 *   profile: NO_ASSIGNMENT, REGISTRATION, RE_REGISTRATION, UNREGISTERED_USER — except that a REGISTRATION or
 *   RE_REGISTRATION saying User-Data-Already-Available = USER_DATA_ALREADY_AVAILABLE from the S-CSCF already
 *   assigned to the registered user gets none (TS 29.228 §6.1.2: the HSS downloads the profile when the S-CSCF does
 *   not have it; with it, including it is optional — as ETSI's Cx conformance tests read it, "may include");
 * - any other Server-Assignment-Type (12–14 belong to SWx/restoration, not handled here) → 5004 with Failed-AVP.
 */
import type { DiameterMessage } from '../lib/diameter/codec.ts';
import { ResultCode } from '../lib/diameter/constants.ts';
import { withFields } from '../lib/log.ts';
import {
  CxExperimentalResultCode as X, ServerAssignmentType as SAT, UserDataAlreadyAvailable as UDAA, buildSaa, readSar,
} from '../lib/diameter/cx/index.ts';
import { findAvp } from '../lib/diameter/message.ts';
import { baseErrorAnswer, experimentalAnswer, mmsHostsOf, type CxContext } from './cx-context.ts';
import { mayServe, modeOf, requestOrigin, type CxPeer } from './partners.ts';
import { imsSubscriptionXml } from './user-data.ts';

/** What an assignment type does to the serving state, and whether the answer carries the profile. */
interface SarAction {
  name: string;
  serving: 'assign-registered' | 'assign-unregistered' | 'clear' | 'clear-pending' | 'none';
  userData: boolean;
}

/** 29.228 Table 6.3.x behaviour per Server-Assignment-Type. */
export const SAR_ACTIONS: ReadonlyMap<number, SarAction> = new Map<number, SarAction>([
  [SAT.NO_ASSIGNMENT, { name: 'NO_ASSIGNMENT', serving: 'none', userData: true }],
  [SAT.REGISTRATION, { name: 'REGISTRATION', serving: 'assign-registered', userData: true }],
  [SAT.RE_REGISTRATION, { name: 'RE_REGISTRATION', serving: 'assign-registered', userData: true }],
  [SAT.UNREGISTERED_USER, { name: 'UNREGISTERED_USER', serving: 'assign-unregistered', userData: true }],
  [SAT.TIMEOUT_DEREGISTRATION, { name: 'TIMEOUT_DEREGISTRATION', serving: 'clear', userData: false }],
  [SAT.USER_DEREGISTRATION, { name: 'USER_DEREGISTRATION', serving: 'clear', userData: false }],
  [SAT.TIMEOUT_DEREGISTRATION_STORE_SERVER_NAME, { name: 'TIMEOUT_DEREGISTRATION_STORE_SERVER_NAME', serving: 'assign-unregistered', userData: false }],
  [SAT.USER_DEREGISTRATION_STORE_SERVER_NAME, { name: 'USER_DEREGISTRATION_STORE_SERVER_NAME', serving: 'assign-unregistered', userData: false }],
  [SAT.ADMINISTRATIVE_DEREGISTRATION, { name: 'ADMINISTRATIVE_DEREGISTRATION', serving: 'clear', userData: false }],
  [SAT.AUTHENTICATION_FAILURE, { name: 'AUTHENTICATION_FAILURE', serving: 'clear-pending', userData: false }],
  [SAT.AUTHENTICATION_TIMEOUT, { name: 'AUTHENTICATION_TIMEOUT', serving: 'clear-pending', userData: false }],
  [SAT.DEREGISTRATION_TOO_MUCH_DATA, { name: 'DEREGISTRATION_TOO_MUCH_DATA', serving: 'clear', userData: false }],
]);

/**
 * Answers one SAR. Malformed AVPs throw DiameterError for the caller's generic error answer.
 * @param peer the connection the SAR came on (its authenticated identity), see hss/partners.ts.
 */
export async function handleSar(req: DiameterMessage, ctx: CxContext, peer?: CxPeer): Promise<DiameterMessage> {
  const sar = readSar(req);
  ctx.stats.inc('sar');
  const log = withFields(ctx.logger, { clause: '29.228 §6.1.2', impi: sar.userName, impus: sar.publicIdentities, type: sar.serverAssignmentType });

  const action = SAR_ACTIONS.get(sar.serverAssignmentType);
  if (!action) {
    log.info('SAR: unsupported Server-Assignment-Type → 5004 DIAMETER_INVALID_AVP_VALUE');
    return baseErrorAnswer(req, ctx, ResultCode.INVALID_AVP_VALUE, `Server-Assignment-Type ${sar.serverAssignmentType} not supported`,
      findAvp(req, 'Server-Assignment-Type'));
  }

  const first = sar.publicIdentities[0];
  const impi = sar.userName ?? (first === undefined ? undefined : await ctx.subscribers.impiOfImpu(first));
  const record = impi === undefined ? undefined : await ctx.subscribers.get(impi);
  if (!record) {
    log.info('SAR: user unknown → Experimental-Result 5001 DIAMETER_ERROR_USER_UNKNOWN');
    return experimentalAnswer(req, ctx, X.ERROR_USER_UNKNOWN, 'unknown user');
  }
  for (const impu of sar.publicIdentities) {
    if (record.impus.includes(impu)) continue;
    const owner = await ctx.subscribers.impiOfImpu(impu);
    log.info({ impu }, `SAR: IMPU ${owner === undefined ? 'unknown → 5001' : 'of another IMPI → 5002'}`);
    return owner === undefined
      ? experimentalAnswer(req, ctx, X.ERROR_USER_UNKNOWN, 'unknown public identity')
      : experimentalAnswer(req, ctx, X.ERROR_IDENTITIES_DONT_MATCH, 'public identity does not belong to the private identity');
  }

  // Registering or handing out the profile needs the visited network allowed by this path; a de-registration only
  // clears state.
  const origin = requestOrigin(req, peer, { originRealm: ctx.originRealm, mmsHosts: mmsHostsOf(ctx) });
  if ((action.userData || action.serving.startsWith('assign')) && !mayServe(record, origin.realm, ctx.originRealm, modeOf(origin))) {
    log.info({ visited: origin.realm, path: modeOf(origin) }, 'SAR: realm not allowed for this subscriber by this path → Experimental-Result 5004 DIAMETER_ERROR_ROAMING_NOT_ALLOWED');
    return experimentalAnswer(req, ctx, X.ERROR_ROAMING_NOT_ALLOWED, 'not allowed from this network');
  }

  let before: Awaited<ReturnType<typeof ctx.serving.assign>> | undefined;
  switch (action.serving) {
    case 'assign-registered': before = await ctx.serving.assign(record.impi, sar.serverName, 'registered'); break;
    case 'assign-unregistered': await ctx.serving.assign(record.impi, sar.serverName, 'unregistered'); break;
    case 'clear': await ctx.serving.clear(record.impi); break;
    case 'clear-pending': await ctx.serving.clearPending(record.impi); break;
    case 'none': break;
  }
  // The S-CSCF that holds the profile of this registration already (it says so, and it is the assigned one).
  const hasProfile = sar.userDataAlreadyAvailable === UDAA.USER_DATA_ALREADY_AVAILABLE && before?.state === 'registered' && before.server_name === sar.serverName;
  const userData = action.userData && !hasProfile;
  log.debug({ server_name: sar.serverName, serving: action.serving, user_data: userData }, `SAR ${action.name} → SAA 2001`);
  return buildSaa(req, {
    originHost: ctx.originHost, originRealm: ctx.originRealm, result: { resultCode: ResultCode.SUCCESS }, userName: record.impi,
    ...(userData ? { userData: imsSubscriptionXml(record.impi, record.impus) } : {}),
  });
}
