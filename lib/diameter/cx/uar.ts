/**
 * User-Authorization-Request / -Answer (29.229 §6.1.1, §6.1.2), minimal: the I-CSCF asks whether a user may register
 * and which S-CSCF serves it (Server-Name) or what capabilities one needs (Server-Capabilities).
 */
import type { Avp, DiameterMessage } from '../codec.ts';
import type { AvpEntry } from '../build.ts';
import { getValue, getValues, requireValue } from '../read.ts';
import { cxAnswer, cxRequest, readCxAnswerBase, readCxRequestBase } from './common.ts';
import type { CxAnswerBase, CxAnswerData, CxRequestBase } from './common.ts';

/** Server-Capabilities (29.229 §6.3.4). */
export interface ServerCapabilities {
  mandatory: number[];
  optional: number[];
  serverNames: string[];
}

/** What a UAR asks. */
export interface UarInput extends CxRequestBase {
  userName: string;
  publicIdentity: string;
  /** Visited-Network-Identifier (an OctetString, usually the visited domain name). */
  visitedNetworkIdentifier: Buffer | string;
  /** A {@link UserAuthorizationType} value. */
  userAuthorizationType?: number;
  uarFlags?: number;
}

/** A received UAR (Visited-Network-Identifier as octets). */
export interface UarData extends Omit<UarInput, 'endToEnd' | 'hopByHop' | 'visitedNetworkIdentifier'> {
  visitedNetworkIdentifier: Buffer;
}

/** What a UAA reports. */
export interface UaaInput extends CxAnswerBase {
  serverName?: string;
  serverCapabilities?: ServerCapabilities;
}

/** A received UAA. */
export interface UaaData extends CxAnswerData {
  serverName?: string;
  serverCapabilities?: ServerCapabilities;
}

/** The Server-Capabilities entry. */
export function serverCapabilitiesEntry(c: ServerCapabilities): AvpEntry {
  return ['Server-Capabilities', [
    ...c.mandatory.map((v) => ['Mandatory-Capability', v] as const),
    ...c.optional.map((v) => ['Optional-Capability', v] as const),
    ...c.serverNames.map((v) => ['Server-Name', v] as const),
  ]];
}

/** Reads Server-Capabilities content. */
export function readServerCapabilities(avps: Avp[]): ServerCapabilities {
  return {
    mandatory: getValues(avps, 'Mandatory-Capability'),
    optional: getValues(avps, 'Optional-Capability'),
    serverNames: getValues(avps, 'Server-Name'),
  };
}

/** Builds a UAR (R+P, Cx application). */
export function buildUar(input: UarInput): DiameterMessage {
  return cxRequest('UAR', input, [
    ['User-Name', input.userName],
    ['Public-Identity', input.publicIdentity],
    ['Visited-Network-Identifier', input.visitedNetworkIdentifier],
    input.userAuthorizationType === undefined ? undefined : ['User-Authorization-Type', input.userAuthorizationType],
    input.uarFlags === undefined ? undefined : ['UAR-Flags', input.uarFlags],
  ]);
}

/** Reads a UAR. @throws DiameterError 5005 when a required AVP is absent. */
export function readUar(msg: DiameterMessage): UarData {
  const out: UarData = {
    ...readCxRequestBase(msg),
    userName: requireValue(msg, 'User-Name'),
    publicIdentity: requireValue(msg, 'Public-Identity'),
    visitedNetworkIdentifier: requireValue(msg, 'Visited-Network-Identifier'),
  };
  const type = getValue(msg, 'User-Authorization-Type');
  if (type !== undefined) out.userAuthorizationType = type;
  const flags = getValue(msg, 'UAR-Flags');
  if (flags !== undefined) out.uarFlags = flags;
  return out;
}

/** Builds the UAA answering `request`. */
export function buildUaa(request: DiameterMessage, input: UaaInput): DiameterMessage {
  return cxAnswer(request, input, [
    input.serverName === undefined ? undefined : ['Server-Name', input.serverName],
    input.serverCapabilities === undefined ? undefined : serverCapabilitiesEntry(input.serverCapabilities),
  ]);
}

/** Reads a UAA. */
export function readUaa(msg: DiameterMessage): UaaData {
  const out: UaaData = readCxAnswerBase(msg);
  const serverName = getValue(msg, 'Server-Name');
  if (serverName !== undefined) out.serverName = serverName;
  const caps = getValue(msg, 'Server-Capabilities');
  if (caps !== undefined) out.serverCapabilities = readServerCapabilities(caps);
  return out;
}
