/**
 * Registration-Termination-Request / -Answer (TS 29.229 §6.1.9, §6.1.10; TS 29.228 §6.1.3): the HSS side — here the
 * partner MMS, which stands for the primary HSS toward the partner SIP core — tells the S-CSCF that the identities
 * of a private identity are de-registered, with a Deregistration-Reason (Reason-Code, and Reason-Info text for the
 * user). 29.229 makes Destination-Host mandatory in the RTR (the S-CSCF is known): {@link buildRtr} always sets it.
 */
import type { DiameterMessage } from '../codec.ts';
import { getValue, getValues, requireValue } from '../read.ts';
import { cxAnswer, cxRequest, readCxAnswerBase, readCxRequestBase } from './common.ts';
import type { CxAnswerBase, CxAnswerData, CxRequestBase } from './common.ts';

/** What an RTR says. */
export interface RtrInput extends CxRequestBase {
  /** The S-CSCF (29.229: `{ Destination-Host }`). */
  destinationHost: string;
  /** The private identity whose registrations end. */
  userName: string;
  /** Other private identities of the same user that end too (Associated-Identities). */
  associatedIdentities?: string[];
  /** The public identities that end; none: every one of the private identity (29.228 §6.1.3). */
  publicIdentities: string[];
  /** A {@link ReasonCode} value. */
  reasonCode: number;
  /** Text the S-CSCF may pass to the user. */
  reasonInfo?: string;
  rtrFlags?: number;
}

/** A received RTR (Destination-Host optional on receipt, see the Cx dictionary). */
export type RtrData = Omit<RtrInput, 'endToEnd' | 'hopByHop' | 'destinationHost'> & { destinationHost?: string };

/** Builds an RTR (R+P, Cx application). */
export function buildRtr(input: RtrInput): DiameterMessage {
  return cxRequest('RTR', input, [
    ['User-Name', input.userName],
    input.associatedIdentities === undefined ? undefined : ['Associated-Identities', input.associatedIdentities.map((u) => ['User-Name', u] as const)],
    ...input.publicIdentities.map((p) => ['Public-Identity', p] as const),
    ['Deregistration-Reason', [
      ['Reason-Code', input.reasonCode],
      input.reasonInfo === undefined ? undefined : ['Reason-Info', input.reasonInfo],
    ]],
    input.rtrFlags === undefined ? undefined : ['RTR-Flags', input.rtrFlags],
  ]);
}

/**
 * Reads an RTR.
 * @throws DiameterError 5005 when a required AVP is absent, 5004/5014 on bad values.
 */
export function readRtr(msg: DiameterMessage): RtrData {
  const reason = requireValue(msg, 'Deregistration-Reason');
  const out: RtrData = {
    ...readCxRequestBase(msg),
    userName: requireValue(msg, 'User-Name'),
    publicIdentities: getValues(msg, 'Public-Identity'),
    reasonCode: requireValue(reason, 'Reason-Code'),
  };
  const info = getValue(reason, 'Reason-Info');
  if (info !== undefined) out.reasonInfo = info;
  const associated = getValue(msg, 'Associated-Identities');
  if (associated !== undefined) out.associatedIdentities = getValues(associated, 'User-Name');
  const flags = getValue(msg, 'RTR-Flags');
  if (flags !== undefined) out.rtrFlags = flags;
  return out;
}

/** Builds the RTA answering `request`. */
export function buildRta(request: DiameterMessage, input: CxAnswerBase): DiameterMessage {
  return cxAnswer(request, input, []);
}

/** Reads an RTA. */
export function readRta(msg: DiameterMessage): CxAnswerData {
  return readCxAnswerBase(msg);
}
