/**
 * The partner MMS as a back-to-back translation agent (DESIGN §2.2, digest §6.8): a partner-side MAR or SAR becomes a
 * new primary-side request of the MMS's own (new Session-Id, Origin = the MMS, Destination-Realm = the primary realm,
 * no Destination-Host), with User-Name / Public-Identity mapped partner → primary (§10.6.2.2 step 4 → step 5); the
 * primary's answer becomes the answer to the partner request (its hop-by-hop, end-to-end, Session-Id, Proxy-Info),
 * with the identities mapped back (step 9 → step 10).
 *
 * What crosses unchanged is what does not depend on identity or topology: SIP-Auth-Data-Item (copied as the received
 * AVP, so RAND‖AUTS, RAND‖AUTN, XRES, CK, IK stay byte-identical), SIP-Number-Auth-Items, Server-Assignment-Type,
 * User-Data-Already-Available, Supported-Features, DRMP and the outcome. Everything else that names a host or an
 * identity the other side must not learn is mapped or dropped — never forwarded unmapped: Route-Record and Proxy-Info
 * belong to their own leg; Wildcarded-Public-Identity, SCSCF-Restoration-Info, Failed-PCSCF, Charging-Information and
 * unknown AVPs are dropped.
 */
import type { Avp, DiameterMessage } from '../lib/diameter/codec.ts';
import type { AvpEntry } from '../lib/diameter/build.ts';
import { isProtocolError } from '../lib/diameter/constants.ts';
import { DiameterError } from '../lib/diameter/errors.ts';
import { CxCommand, cxAnswer, cxRequest, readCxResult } from '../lib/diameter/cx/index.ts';
import type { CxResult } from '../lib/diameter/cx/index.ts';
import { decodeAvpValue, errorAnswerFor, findAvp, findAvps, getValue, getValues, requireValue } from '../lib/diameter/message.ts';
import { MmsError } from './errors.ts';
import { partnerImpuOf, primaryImpuOf } from './mappings.ts';
import type { IdentityMapping } from './mappings.ts';
import { rewriteUserData } from './user-data.ts';

/** Who the MMS is on both legs. */
export interface AgentIdentity {
  /** Origin-Host of the primary-side requests and of the answers to the partner. */
  originHost: string;
  originRealm: string;
  /** The MMS's own SIP URI: the Server-Name toward the primary when `topologyHiding` is on. */
  sipUri: string;
  /** Hide partner topology from the primary (Server-Name) and primary topology from the partner (error hosts). */
  topologyHiding: boolean;
}

/** A translated request and what its answer's translation needs. */
export interface PrimaryLeg {
  command: 'MAR' | 'SAR';
  mapping: IdentityMapping;
  /** The request for the primary side (hop-by-hop and end-to-end 0: the node assigns them). */
  request: DiameterMessage;
  partnerImpus: string[];
  primaryImpus: string[];
  /** Server-Name as the partner sent it, and as the primary received it. */
  partnerServerName: string;
  sentServerName: string;
  /** MAR: SIP-Number-Auth-Items asked for. */
  requestedItems?: number;
}

/** A translated answer. */
export interface AnswerTranslation {
  answer: DiameterMessage;
  result: CxResult;
  /** SIP-Auth-Data-Items forwarded (MAA). */
  items: number;
  /** Primary IMPUs left out of the answer because they have no partner IMPU (User-Data, Public-Identity). */
  removedImpus: string[];
}

const copy = (src: DiameterMessage, ...names: Parameters<typeof findAvps>[1][]): Avp[] => names.flatMap((n) => findAvps(src, n));

function mapImpus(mapping: IdentityMapping, partnerImpus: readonly string[]): string[] {
  return partnerImpus.map((impu) => {
    const primary = primaryImpuOf(mapping, impu);
    if (primary === undefined) {
      throw new MmsError('ERR_MMS_IDENTITIES_DONT_MATCH', `public identity ${impu} is not mapped for ${mapping.partnerImpi}`);
    }
    return primary;
  });
}

function checkUser(mapping: IdentityMapping, userName: string | undefined): void {
  // The caller looked the mapping up by this User-Name; a mismatch means the wrong mapping was passed in.
  if (userName !== mapping.partnerImpi) throw new MmsError('ERR_MMS_USER_UNKNOWN', `no mapping for partner IMPI ${userName ?? '(none)'}`);
}

/**
 * Step 4 → 5 for a MAR: the primary-side MAR.
 * @param sessionId a fresh Session-Id of the MMS (SessionIdGenerator).
 * @throws DiameterError 5005 when a required AVP is missing; MmsError ERR_MMS_USER_UNKNOWN when `mapping` is not the
 *   User-Name's, ERR_MMS_IDENTITIES_DONT_MATCH when the Public-Identity is not in it.
 */
export function translateMarRequest(partnerMar: DiameterMessage, mapping: IdentityMapping, self: AgentIdentity, sessionId: string): PrimaryLeg {
  const userName = requireValue(partnerMar, 'User-Name');
  const partnerImpu = requireValue(partnerMar, 'Public-Identity');
  const partnerServerName = requireValue(partnerMar, 'Server-Name');
  const requestedItems = requireValue(partnerMar, 'SIP-Number-Auth-Items');
  requireValue(partnerMar, 'SIP-Auth-Data-Item');
  checkUser(mapping, userName);
  const [primaryImpu] = mapImpus(mapping, [partnerImpu]) as [string];
  const sentServerName = self.topologyHiding ? self.sipUri : partnerServerName;
  const request = cxRequest('MAR', { sessionId, originHost: self.originHost, originRealm: self.originRealm, destinationRealm: mapping.primaryRealm }, [
    ...copy(partnerMar, 'DRMP'),
    ['User-Name', mapping.primaryImpi],
    ...copy(partnerMar, 'Supported-Features'),
    ['Public-Identity', primaryImpu],
    ...copy(partnerMar, 'SIP-Auth-Data-Item', 'SIP-Number-Auth-Items'),
    ['Server-Name', sentServerName],
  ]);
  return { command: 'MAR', mapping, request, partnerImpus: [partnerImpu], primaryImpus: [primaryImpu], partnerServerName, sentServerName, requestedItems };
}

/**
 * The primary-side SAR. Every Public-Identity must be mapped. A SAR without User-Name (UNREGISTERED_USER naming the
 * user by IMPU only) cannot be looked up here and is refused as USER_UNKNOWN.
 * @throws DiameterError 5005 when a required AVP is missing; MmsError as {@link translateMarRequest}.
 */
export function translateSarRequest(partnerSar: DiameterMessage, mapping: IdentityMapping, self: AgentIdentity, sessionId: string): PrimaryLeg {
  const partnerServerName = requireValue(partnerSar, 'Server-Name');
  requireValue(partnerSar, 'Server-Assignment-Type');
  requireValue(partnerSar, 'User-Data-Already-Available');
  checkUser(mapping, getValue(partnerSar, 'User-Name'));
  const partnerImpus = getValues(partnerSar, 'Public-Identity');
  const primaryImpus = mapImpus(mapping, partnerImpus);
  const sentServerName = self.topologyHiding ? self.sipUri : partnerServerName;
  const request = cxRequest('SAR', { sessionId, originHost: self.originHost, originRealm: self.originRealm, destinationRealm: mapping.primaryRealm }, [
    ...copy(partnerSar, 'DRMP'),
    ['User-Name', mapping.primaryImpi],
    ...copy(partnerSar, 'Supported-Features'),
    ...primaryImpus.map((p) => ['Public-Identity', p] as const),
    ['Server-Name', sentServerName],
    ...copy(partnerSar, 'Server-Assignment-Type', 'User-Data-Already-Available', 'Multiple-Registration-Indication', 'Session-Priority', 'SAR-Flags'),
  ]);
  return { command: 'SAR', mapping, request, partnerImpus, primaryImpus, partnerServerName, sentServerName };
}

/**
 * The primary-side request for a partner MAR or SAR.
 * @throws MmsError / DiameterError as the command's translator; DiameterError COMMAND_UNSUPPORTED (3001) for any
 *   other command.
 */
export function translateRequest(partnerRequest: DiameterMessage, mapping: IdentityMapping, self: AgentIdentity, sessionId: string): PrimaryLeg {
  if (partnerRequest.commandCode === CxCommand.MAR) return translateMarRequest(partnerRequest, mapping, self, sessionId);
  if (partnerRequest.commandCode === CxCommand.SAR) return translateSarRequest(partnerRequest, mapping, self, sessionId);
  throw new DiameterError('COMMAND_UNSUPPORTED', `command ${partnerRequest.commandCode} is not translated by the MMS`);
}

/** Maps identity AVPs back inside Failed-AVP; ones without a partner counterpart are left out, as is an empty group. */
function failedAvpBack(answer: DiameterMessage, leg: PrimaryLeg): AvpEntry | undefined {
  const failed = findAvp(answer, 'Failed-AVP');
  if (!failed) return undefined;
  const inner = (decodeAvpValue(failed, 'Grouped') as Avp[]).flatMap((avp): AvpEntry[] => {
    if (findAvp([avp], 'User-Name')) return getValue([avp], 'User-Name') === leg.mapping.primaryImpi ? [['User-Name', leg.mapping.partnerImpi]] : [];
    if (findAvp([avp], 'Public-Identity')) {
      const partner = partnerImpuOf(leg.mapping, getValue([avp], 'Public-Identity') as string);
      return partner === undefined ? [] : [['Public-Identity', partner]];
    }
    if (findAvp([avp], 'Server-Name')) return getValue([avp], 'Server-Name') === leg.sentServerName ? [['Server-Name', leg.partnerServerName]] : [];
    return [avp];
  });
  return inner.length ? ['Failed-AVP', inner] : undefined;
}

function unreadable(err: unknown): MmsError {
  return new MmsError('ERR_MMS_BAD_ANSWER', `primary answer unreadable: ${(err as Error).message}`, { cause: err });
}

/** The command-specific part of an answer, with the identities it dropped. */
interface AnswerBody {
  entries: (AvpEntry | undefined)[];
  items: number;
  removedImpus: string[];
}

function maaBody(answer: DiameterMessage, leg: PrimaryLeg): AnswerBody {
  const removedImpus: string[] = [];
  const impu = getValue(answer, 'Public-Identity');
  const partnerImpu = impu === undefined ? undefined : partnerImpuOf(leg.mapping, impu);
  if (impu !== undefined && partnerImpu === undefined) removedImpus.push(impu);
  const all = findAvps(answer, 'SIP-Auth-Data-Item');
  // Never more vectors than the partner asked for: extra ones would only be wasted SQNs at the partner.
  const items = leg.requestedItems !== undefined && leg.requestedItems > 0 ? all.slice(0, leg.requestedItems) : all;
  const count = getValue(answer, 'SIP-Number-Auth-Items');
  return {
    entries: [
      partnerImpu === undefined ? undefined : ['Public-Identity', partnerImpu],
      count === undefined && items.length === 0 ? undefined : ['SIP-Number-Auth-Items', items.length],
      ...items,
    ],
    items: items.length,
    removedImpus,
  };
}

function saaBody(answer: DiameterMessage, leg: PrimaryLeg): AnswerBody {
  const data = getValue(answer, 'User-Data');
  const rewrite = data === undefined ? undefined
    : rewriteUserData(data, { privateId: leg.mapping.partnerImpi, impu: (primary) => partnerImpuOf(leg.mapping, primary) });
  const associated = getValue(answer, 'Associated-Identities');
  const ownImpi = associated !== undefined && getValues(associated, 'User-Name').includes(leg.mapping.primaryImpi);
  const serverName = getValue(answer, 'Server-Name');
  return {
    entries: [
      rewrite === undefined ? undefined : ['User-Data', rewrite.data],
      ownImpi ? ['Associated-Identities', [['User-Name', leg.mapping.partnerImpi]]] : undefined,
      ...copy(answer, 'Loose-Route-Indication'),
      serverName === leg.sentServerName ? ['Server-Name', leg.partnerServerName] : undefined,
      ...copy(answer, 'Priviledged-Sender-Indication'),
    ],
    items: 0,
    removedImpus: rewrite?.removed ?? [],
  };
}

/**
 * Step 9 → 10: the answer to the partner request from the primary's answer. Result-Code / Experimental-Result are
 * the primary's; a 3xxx goes back as an E-bit answer naming the primary as Error-Reporting-Host (unless topology is
 * hidden). User-Name, Public-Identity and User-Data are mapped back; what has no mapping is left out.
 * @param partnerRequest the request the partner sent (its identifiers, Session-Id and Proxy-Info are answered).
 * @throws MmsError ERR_MMS_BAD_ANSWER when the primary answer has no readable outcome or its User-Data cannot be
 *   rewritten.
 */
export function translateAnswer(partnerRequest: DiameterMessage, primaryAnswer: DiameterMessage, leg: PrimaryLeg, self: AgentIdentity): AnswerTranslation {
  try {
    return answerBack(partnerRequest, primaryAnswer, leg, self);
  } catch (err) {
    throw err instanceof MmsError ? err : unreadable(err);
  }
}

function answerBack(partnerRequest: DiameterMessage, primaryAnswer: DiameterMessage, leg: PrimaryLeg, self: AgentIdentity): AnswerTranslation {
  const result = readCxResult(primaryAnswer);
  const origin = { originHost: self.originHost, originRealm: self.originRealm };
  const errorMessage = self.topologyHiding ? undefined : getValue(primaryAnswer, 'Error-Message');
  if (result.resultCode !== undefined && isProtocolError(result.resultCode)) {
    const reporter = getValue(primaryAnswer, 'Error-Reporting-Host') ?? getValue(primaryAnswer, 'Origin-Host');
    const answer = errorAnswerFor(partnerRequest, result.resultCode, {
      ...origin,
      ...(errorMessage === undefined ? {} : { errorMessage }),
      ...(self.topologyHiding || reporter === undefined ? {} : { errorReportingHost: reporter }),
    });
    return { answer, result, items: 0, removedImpus: [] };
  }
  const body = leg.command === 'MAR' ? maaBody(primaryAnswer, leg) : saaBody(primaryAnswer, leg);
  const userName = getValue(primaryAnswer, 'User-Name');
  const answer = cxAnswer(partnerRequest, { ...origin, result }, [
    ...copy(primaryAnswer, 'DRMP'),
    userName === leg.mapping.primaryImpi ? ['User-Name', leg.mapping.partnerImpi] : undefined,
    ...copy(primaryAnswer, 'Supported-Features'),
    ...body.entries,
    errorMessage === undefined ? undefined : ['Error-Message', errorMessage],
    failedAvpBack(primaryAnswer, leg),
  ]);
  return { answer, result, items: body.items, removedImpus: body.removedImpus };
}
