/**
 * Location-Info-Request / -Answer (29.229 §6.1.5, §6.1.6), minimal: which S-CSCF serves a public identity.
 */
import type { DiameterMessage } from '../codec.ts';
import { getValue, requireValue } from '../read.ts';
import { cxAnswer, cxRequest, readCxAnswerBase, readCxRequestBase } from './common.ts';
import type { CxAnswerBase, CxAnswerData, CxRequestBase } from './common.ts';
import { readServerCapabilities, serverCapabilitiesEntry } from './uar.ts';
import type { ServerCapabilities } from './uar.ts';

/** What a LIR asks. */
export interface LirInput extends CxRequestBase {
  publicIdentity: string;
  /** Originating-Request = ORIGINATING (0) when set. */
  originatingRequest?: boolean;
  userAuthorizationType?: number;
  sessionPriority?: number;
}

/** A received LIR. */
export type LirData = Omit<LirInput, 'endToEnd' | 'hopByHop'>;

/** What a LIA reports. */
export interface LiaInput extends CxAnswerBase {
  serverName?: string;
  serverCapabilities?: ServerCapabilities;
  wildcardedPublicIdentity?: string;
  liaFlags?: number;
}

/** A received LIA. */
export type LiaData = CxAnswerData & Omit<LiaInput, keyof CxAnswerBase>;

/** Builds a LIR (R+P, Cx application). */
export function buildLir(input: LirInput): DiameterMessage {
  return cxRequest('LIR', input, [
    input.originatingRequest ? ['Originating-Request', 'ORIGINATING'] : undefined,
    ['Public-Identity', input.publicIdentity],
    input.userAuthorizationType === undefined ? undefined : ['User-Authorization-Type', input.userAuthorizationType],
    input.sessionPriority === undefined ? undefined : ['Session-Priority', input.sessionPriority],
  ]);
}

/** Reads a LIR. @throws DiameterError 5005 when a required AVP is absent. */
export function readLir(msg: DiameterMessage): LirData {
  const out: LirData = { ...readCxRequestBase(msg), publicIdentity: requireValue(msg, 'Public-Identity') };
  if (getValue(msg, 'Originating-Request') !== undefined) out.originatingRequest = true;
  const type = getValue(msg, 'User-Authorization-Type');
  if (type !== undefined) out.userAuthorizationType = type;
  const priority = getValue(msg, 'Session-Priority');
  if (priority !== undefined) out.sessionPriority = priority;
  return out;
}

/** Builds the LIA answering `request`. */
export function buildLia(request: DiameterMessage, input: LiaInput): DiameterMessage {
  return cxAnswer(request, input, [
    input.serverName === undefined ? undefined : ['Server-Name', input.serverName],
    input.serverCapabilities === undefined ? undefined : serverCapabilitiesEntry(input.serverCapabilities),
    input.wildcardedPublicIdentity === undefined ? undefined : ['Wildcarded-Public-Identity', input.wildcardedPublicIdentity],
    input.liaFlags === undefined ? undefined : ['LIA-Flags', input.liaFlags],
  ]);
}

/** Reads a LIA. */
export function readLia(msg: DiameterMessage): LiaData {
  const out: LiaData = readCxAnswerBase(msg);
  const serverName = getValue(msg, 'Server-Name');
  if (serverName !== undefined) out.serverName = serverName;
  const caps = getValue(msg, 'Server-Capabilities');
  if (caps !== undefined) out.serverCapabilities = readServerCapabilities(caps);
  const wildcard = getValue(msg, 'Wildcarded-Public-Identity');
  if (wildcard !== undefined) out.wildcardedPublicIdentity = wildcard;
  const flags = getValue(msg, 'LIA-Flags');
  if (flags !== undefined) out.liaFlags = flags;
  return out;
}
