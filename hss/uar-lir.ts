/**
 * Minimal User-Authorization (TS 29.228 §6.1.1) and Location-Info (§6.1.4) handling, for an I-CSCF in front of
 * the HSS. No S-CSCF selection data is provisioned, so a first registration gets no Server-Capabilities (an empty
 * grouped AVP would be flagged by Wireshark; the I-CSCF then picks from its own S-CSCF list).
 *
 * UAR: identities checked as in MAR (5001/5002); Visited-Network-Identifier must be the HSS realm or one of the
 * subscriber's `allowed_partners`, else 5004 ROAMING_NOT_ALLOWED; then by User-Authorization-Type: REGISTRATION /
 * REGISTRATION_AND_CAPABILITIES → Experimental 2002 SUBSEQUENT_REGISTRATION + Server-Name when an S-CSCF is
 * stored, else 2001 FIRST_REGISTRATION; DE_REGISTRATION → Result-Code 2001 + Server-Name, or
 * 5003 IDENTITY_NOT_REGISTERED.
 * LIR: IMPU unknown → 5001; registered → 2001 + Server-Name; unregistered with a stored S-CSCF → Experimental 2003
 * UNREGISTERED_SERVICE + Server-Name; otherwise 5003 IDENTITY_NOT_REGISTERED.
 */
import type { DiameterMessage } from '../lib/diameter/codec.ts';
import { ResultCode } from '../lib/diameter/constants.ts';
import { withFields } from '../lib/log.ts';
import {
  CxExperimentalResultCode as X, UserAuthorizationType, buildLia, buildUaa, experimental, readLir, readUar,
} from '../lib/diameter/cx/index.ts';
import { experimentalAnswer, type CxContext } from './cx-context.ts';
import { mayServe } from './partners.ts';

/** Answers one UAR. */
export async function handleUar(req: DiameterMessage, ctx: CxContext): Promise<DiameterMessage> {
  const uar = readUar(req);
  ctx.stats.inc('uar');
  const log = withFields(ctx.logger, { clause: '29.228 §6.1.1', impi: uar.userName, impu: uar.publicIdentity });
  const base = { originHost: ctx.originHost, originRealm: ctx.originRealm };
  const record = await ctx.subscribers.get(uar.userName);
  const owner = record?.impus.includes(uar.publicIdentity) ? record.impi : await ctx.subscribers.impiOfImpu(uar.publicIdentity);
  if (!record || owner === undefined) {
    log.info('UAR: user unknown → 5001');
    return experimentalAnswer(req, ctx, X.ERROR_USER_UNKNOWN, 'unknown user');
  }
  if (owner !== record.impi) {
    log.info('UAR: identities do not match → 5002');
    return experimentalAnswer(req, ctx, X.ERROR_IDENTITIES_DONT_MATCH, 'public identity does not belong to the private identity');
  }
  const visited = uar.visitedNetworkIdentifier.toString('utf8');
  if (!mayServe(record, visited, ctx.originRealm, 'any')) {
    log.info({ visited }, 'UAR: visited network not allowed → 5004 DIAMETER_ERROR_ROAMING_NOT_ALLOWED');
    return experimentalAnswer(req, ctx, X.ERROR_ROAMING_NOT_ALLOWED, 'visited network not allowed for this user');
  }
  const serving = await ctx.serving.get(record.impi);
  if (uar.userAuthorizationType === UserAuthorizationType.DE_REGISTRATION) {
    if (serving.server_name === undefined) {
      log.info('UAR de-registration: not registered → 5003');
      return experimentalAnswer(req, ctx, X.ERROR_IDENTITY_NOT_REGISTERED, 'identity not registered');
    }
    return buildUaa(req, { ...base, result: { resultCode: ResultCode.SUCCESS }, serverName: serving.server_name });
  }
  if (serving.server_name !== undefined) {
    log.debug({ server_name: serving.server_name }, 'UAR → 2002 SUBSEQUENT_REGISTRATION');
    return buildUaa(req, { ...base, result: experimental(X.SUBSEQUENT_REGISTRATION), serverName: serving.server_name });
  }
  log.debug('UAR → 2001 FIRST_REGISTRATION');
  return buildUaa(req, { ...base, result: experimental(X.FIRST_REGISTRATION) });
}

/** Answers one LIR. */
export async function handleLir(req: DiameterMessage, ctx: CxContext): Promise<DiameterMessage> {
  const lir = readLir(req);
  ctx.stats.inc('lir');
  const log = withFields(ctx.logger, { clause: '29.228 §6.1.4', impu: lir.publicIdentity });
  const impi = await ctx.subscribers.impiOfImpu(lir.publicIdentity);
  if (impi === undefined) {
    log.info('LIR: IMPU unknown → 5001');
    return experimentalAnswer(req, ctx, X.ERROR_USER_UNKNOWN, 'unknown public identity');
  }
  const serving = await ctx.serving.get(impi);
  const base = { originHost: ctx.originHost, originRealm: ctx.originRealm };
  if (serving.state === 'registered' && serving.server_name !== undefined) {
    return buildLia(req, { ...base, result: { resultCode: ResultCode.SUCCESS }, serverName: serving.server_name });
  }
  if (serving.server_name !== undefined) {
    return buildLia(req, { ...base, result: experimental(X.UNREGISTERED_SERVICE), serverName: serving.server_name });
  }
  log.info('LIR: not registered → 5003');
  return experimentalAnswer(req, ctx, X.ERROR_IDENTITY_NOT_REGISTERED, 'identity not registered');
}
