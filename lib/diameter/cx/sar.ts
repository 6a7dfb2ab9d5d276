/**
 * Server-Assignment-Request / -Answer (29.229 §6.1.3, §6.1.4). The SAA's User-Data is the IMS subscription XML
 * (29.228 Annex E) as octets; Kamailio's S-CSCF needs it to complete a registration.
 */
import type { DiameterMessage } from '../codec.ts';
import { getValue, getValues, requireValue } from '../read.ts';
import { cxAnswer, cxRequest, readCxAnswerBase, readCxRequestBase } from './common.ts';
import type { CxAnswerBase, CxAnswerData, CxRequestBase } from './common.ts';

/** What a SAR asks for. */
export interface SarInput extends CxRequestBase {
  userName?: string;
  publicIdentities: string[];
  wildcardedPublicIdentity?: string;
  serverName: string;
  /** A {@link ServerAssignmentType} value. */
  serverAssignmentType: number;
  /** A {@link UserDataAlreadyAvailable} value. */
  userDataAlreadyAvailable: number;
  multipleRegistrationIndication?: number;
  sarFlags?: number;
}

/** A received SAR. */
export type SarData = Omit<SarInput, 'endToEnd' | 'hopByHop'>;

/** Charging-Information (29.229 §6.3.19): DiameterURIs of the charging functions. */
export interface ChargingInformation {
  primaryEventChargingFunctionName?: string;
  secondaryEventChargingFunctionName?: string;
  primaryChargingCollectionFunctionName?: string;
  secondaryChargingCollectionFunctionName?: string;
}

/** What an SAA reports. */
export interface SaaInput extends CxAnswerBase {
  userName?: string;
  /** IMS subscription XML; a string is sent as UTF-8. */
  userData?: Buffer | string;
  chargingInformation?: ChargingInformation;
  /** IMPIs of Associated-Identities. */
  associatedIdentities?: string[];
  serverName?: string;
  wildcardedPublicIdentity?: string;
}

/** A received SAA. */
export interface SaaData extends CxAnswerData {
  userName?: string;
  userData?: Buffer;
  chargingInformation?: ChargingInformation;
  associatedIdentities?: string[];
  serverName?: string;
  wildcardedPublicIdentity?: string;
}

const CHARGING = [
  ['primaryEventChargingFunctionName', 'Primary-Event-Charging-Function-Name'],
  ['secondaryEventChargingFunctionName', 'Secondary-Event-Charging-Function-Name'],
  ['primaryChargingCollectionFunctionName', 'Primary-Charging-Collection-Function-Name'],
  ['secondaryChargingCollectionFunctionName', 'Secondary-Charging-Collection-Function-Name'],
] as const;

/** Builds a SAR (R+P, Cx application). */
export function buildSar(input: SarInput): DiameterMessage {
  return cxRequest('SAR', input, [
    input.userName === undefined ? undefined : ['User-Name', input.userName],
    ...input.publicIdentities.map((p) => ['Public-Identity', p] as const),
    input.wildcardedPublicIdentity === undefined ? undefined : ['Wildcarded-Public-Identity', input.wildcardedPublicIdentity],
    ['Server-Name', input.serverName],
    ['Server-Assignment-Type', input.serverAssignmentType],
    ['User-Data-Already-Available', input.userDataAlreadyAvailable],
    input.multipleRegistrationIndication === undefined ? undefined : ['Multiple-Registration-Indication', input.multipleRegistrationIndication],
    input.sarFlags === undefined ? undefined : ['SAR-Flags', input.sarFlags],
  ]);
}

/**
 * Reads a SAR.
 * @throws DiameterError 5005 when a required AVP is absent, 5004/5014 on bad values.
 */
export function readSar(msg: DiameterMessage): SarData {
  const out: SarData = {
    ...readCxRequestBase(msg),
    publicIdentities: getValues(msg, 'Public-Identity'),
    serverName: requireValue(msg, 'Server-Name'),
    serverAssignmentType: requireValue(msg, 'Server-Assignment-Type'),
    userDataAlreadyAvailable: requireValue(msg, 'User-Data-Already-Available'),
  };
  const userName = getValue(msg, 'User-Name');
  if (userName !== undefined) out.userName = userName;
  const wildcard = getValue(msg, 'Wildcarded-Public-Identity');
  if (wildcard !== undefined) out.wildcardedPublicIdentity = wildcard;
  const mri = getValue(msg, 'Multiple-Registration-Indication');
  if (mri !== undefined) out.multipleRegistrationIndication = mri;
  const flags = getValue(msg, 'SAR-Flags');
  if (flags !== undefined) out.sarFlags = flags;
  return out;
}

/** Builds the SAA answering `request`. */
export function buildSaa(request: DiameterMessage, input: SaaInput): DiameterMessage {
  const ci = input.chargingInformation;
  return cxAnswer(request, input, [
    input.userName === undefined ? undefined : ['User-Name', input.userName],
    input.userData === undefined ? undefined : ['User-Data', input.userData],
    ci === undefined ? undefined : ['Charging-Information', CHARGING.map(([k, name]) => {
      const v = ci[k];
      return v === undefined ? undefined : ([name, v] as const);
    })],
    input.associatedIdentities === undefined ? undefined
      : ['Associated-Identities', input.associatedIdentities.map((u) => ['User-Name', u] as const)],
    input.serverName === undefined ? undefined : ['Server-Name', input.serverName],
    input.wildcardedPublicIdentity === undefined ? undefined : ['Wildcarded-Public-Identity', input.wildcardedPublicIdentity],
  ]);
}

/**
 * Reads an SAA.
 * @throws DiameterError when the result is missing or contradictory, or a value is malformed.
 */
export function readSaa(msg: DiameterMessage): SaaData {
  const out: SaaData = readCxAnswerBase(msg);
  const userName = getValue(msg, 'User-Name');
  if (userName !== undefined) out.userName = userName;
  const userData = getValue(msg, 'User-Data');
  if (userData !== undefined) out.userData = userData;
  const ci = getValue(msg, 'Charging-Information');
  if (ci !== undefined) {
    const info: ChargingInformation = {};
    for (const [k, name] of CHARGING) {
      const v = getValue(ci, name);
      if (v !== undefined) info[k] = v;
    }
    out.chargingInformation = info;
  }
  const ai = getValue(msg, 'Associated-Identities');
  if (ai !== undefined) out.associatedIdentities = getValues(ai, 'User-Name');
  const serverName = getValue(msg, 'Server-Name');
  if (serverName !== undefined) out.serverName = serverName;
  const wildcard = getValue(msg, 'Wildcarded-Public-Identity');
  if (wildcard !== undefined) out.wildcardedPublicIdentity = wildcard;
  return out;
}
