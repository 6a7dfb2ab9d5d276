/**
 * Typed builders and readers of the RFC 6733 peer messages the peer state machine exchanges: CER/CEA (§5.3),
 * DWR/DWA (§5.5), DPR/DPA (§5.4). These are not proxiable, use application 0 and carry no Session-Id.
 */
import type { Avp, DiameterMessage } from './codec.ts';
import type { AvpEntry } from './build.ts';
import { buildRequest } from './build.ts';
import { answerFor } from './answer.ts';
import { getValue, getValues, requireValue } from './read.ts';

/** One Vendor-Specific-Application-Id: a vendor and exactly one of the two application ids. */
export interface VendorSpecificApplicationId {
  vendorId: number;
  authApplicationId?: number;
  acctApplicationId?: number;
}

/** What a node advertises in CER/CEA. */
export interface Capabilities {
  originHost: string;
  originRealm: string;
  hostIpAddresses: string[];
  vendorId: number;
  productName: string;
  originStateId?: number;
  supportedVendorIds?: number[];
  authApplicationIds?: number[];
  inbandSecurityIds?: number[];
  acctApplicationIds?: number[];
  vendorSpecificApplicationIds?: VendorSpecificApplicationId[];
  firmwareRevision?: number;
}

/** Result part of a peer answer. */
export interface PeerResult {
  resultCode: number;
  errorMessage?: string;
  failedAvp?: Avp;
}

/** Identifiers to put in a request (the peer layer sets Hop-by-Hop when it sends). */
export interface RequestIds {
  hopByHop?: number;
  endToEnd?: number;
}

function capabilityEntries(c: Capabilities): (AvpEntry | undefined)[] {
  return [
    ['Origin-Host', c.originHost],
    ['Origin-Realm', c.originRealm],
    ...c.hostIpAddresses.map((a) => ['Host-IP-Address', a] as const),
    ['Vendor-Id', c.vendorId],
    ['Product-Name', c.productName],
    c.originStateId === undefined ? undefined : ['Origin-State-Id', c.originStateId],
    ...(c.supportedVendorIds ?? []).map((v) => ['Supported-Vendor-Id', v] as const),
    ...(c.authApplicationIds ?? []).map((v) => ['Auth-Application-Id', v] as const),
    ...(c.inbandSecurityIds ?? []).map((v) => ['Inband-Security-Id', v] as const),
    ...(c.acctApplicationIds ?? []).map((v) => ['Acct-Application-Id', v] as const),
    ...(c.vendorSpecificApplicationIds ?? []).map((v): AvpEntry => ['Vendor-Specific-Application-Id', [
      ['Vendor-Id', v.vendorId],
      v.authApplicationId === undefined ? undefined : ['Auth-Application-Id', v.authApplicationId],
      v.acctApplicationId === undefined ? undefined : ['Acct-Application-Id', v.acctApplicationId],
    ]]),
    c.firmwareRevision === undefined ? undefined : ['Firmware-Revision', c.firmwareRevision],
  ];
}

function readCapabilities(msg: DiameterMessage): Capabilities {
  const out: Capabilities = {
    originHost: requireValue(msg, 'Origin-Host'),
    originRealm: requireValue(msg, 'Origin-Realm'),
    hostIpAddresses: getValues(msg, 'Host-IP-Address'),
    vendorId: requireValue(msg, 'Vendor-Id'),
    productName: requireValue(msg, 'Product-Name'),
    supportedVendorIds: getValues(msg, 'Supported-Vendor-Id'),
    authApplicationIds: getValues(msg, 'Auth-Application-Id'),
    inbandSecurityIds: getValues(msg, 'Inband-Security-Id'),
    acctApplicationIds: getValues(msg, 'Acct-Application-Id'),
    vendorSpecificApplicationIds: getValues(msg, 'Vendor-Specific-Application-Id').map((g) => {
      const v: VendorSpecificApplicationId = { vendorId: requireValue(g, 'Vendor-Id') };
      const auth = getValue(g, 'Auth-Application-Id');
      const acct = getValue(g, 'Acct-Application-Id');
      if (auth !== undefined) v.authApplicationId = auth;
      if (acct !== undefined) v.acctApplicationId = acct;
      return v;
    }),
  };
  const originStateId = getValue(msg, 'Origin-State-Id');
  if (originStateId !== undefined) out.originStateId = originStateId;
  const firmwareRevision = getValue(msg, 'Firmware-Revision');
  if (firmwareRevision !== undefined) out.firmwareRevision = firmwareRevision;
  return out;
}

function resultEntries(r: PeerResult): (AvpEntry | undefined)[] {
  return [
    r.errorMessage === undefined ? undefined : ['Error-Message', r.errorMessage],
    r.failedAvp === undefined ? undefined : ['Failed-AVP', [r.failedAvp]],
  ];
}

function readResult(msg: DiameterMessage): PeerResult {
  const out: PeerResult = { resultCode: requireValue(msg, 'Result-Code') };
  const errorMessage = getValue(msg, 'Error-Message');
  if (errorMessage !== undefined) out.errorMessage = errorMessage;
  const failed = getValue(msg, 'Failed-AVP');
  if (failed?.[0] !== undefined) out.failedAvp = failed[0];
  return out;
}

/** Builds a CER. */
export function buildCer(c: Capabilities, ids: RequestIds = {}): DiameterMessage {
  return buildRequest('CER', capabilityEntries(c), ids);
}

/** Reads a CER. @throws DiameterError 5005 when a required AVP is absent. */
export function readCer(msg: DiameterMessage): Capabilities {
  return readCapabilities(msg);
}

/** Builds the CEA answering `request`: Result-Code first, then our capabilities. */
export function buildCea(request: DiameterMessage, result: PeerResult, c: Capabilities): DiameterMessage {
  const [originHost, originRealm, ...rest] = capabilityEntries(c);
  return answerFor(request, [['Result-Code', result.resultCode], originHost, originRealm, ...rest, ...resultEntries(result)]);
}

/** Reads a CEA. */
export function readCea(msg: DiameterMessage): Capabilities & PeerResult {
  return { ...readCapabilities(msg), ...readResult(msg) };
}

/** Who a DWR/DWA/DPR/DPA comes from. */
export interface PeerOrigin {
  originHost: string;
  originRealm: string;
  originStateId?: number;
}

function originEntries(o: PeerOrigin): (AvpEntry | undefined)[] {
  return [
    ['Origin-Host', o.originHost],
    ['Origin-Realm', o.originRealm],
    o.originStateId === undefined ? undefined : ['Origin-State-Id', o.originStateId],
  ];
}

function readOrigin(msg: DiameterMessage): PeerOrigin {
  const out: PeerOrigin = { originHost: requireValue(msg, 'Origin-Host'), originRealm: requireValue(msg, 'Origin-Realm') };
  const originStateId = getValue(msg, 'Origin-State-Id');
  if (originStateId !== undefined) out.originStateId = originStateId;
  return out;
}

/** Builds a DWR. */
export function buildDwr(o: PeerOrigin, ids: RequestIds = {}): DiameterMessage {
  return buildRequest('DWR', originEntries(o), ids);
}

/** Reads a DWR. */
export function readDwr(msg: DiameterMessage): PeerOrigin {
  return readOrigin(msg);
}

/** Builds the DWA answering `request`. */
export function buildDwa(request: DiameterMessage, result: PeerResult, o: PeerOrigin): DiameterMessage {
  return answerFor(request, [['Result-Code', result.resultCode], ...originEntries(o), ...resultEntries(result)]);
}

/** Reads a DWA. */
export function readDwa(msg: DiameterMessage): PeerOrigin & PeerResult {
  return { ...readOrigin(msg), ...readResult(msg) };
}

/** Builds a DPR with a {@link DisconnectCause} value. */
export function buildDpr(o: PeerOrigin, disconnectCause: number, ids: RequestIds = {}): DiameterMessage {
  return buildRequest('DPR', [...originEntries(o), ['Disconnect-Cause', disconnectCause]], ids);
}

/** Reads a DPR. */
export function readDpr(msg: DiameterMessage): PeerOrigin & { disconnectCause: number } {
  return { ...readOrigin(msg), disconnectCause: requireValue(msg, 'Disconnect-Cause') };
}

/** Builds the DPA answering `request`. */
export function buildDpa(request: DiameterMessage, result: PeerResult, o: PeerOrigin): DiameterMessage {
  return answerFor(request, [['Result-Code', result.resultCode], ...originEntries(o), ...resultEntries(result)]);
}

/** Reads a DPA. */
export function readDpa(msg: DiameterMessage): PeerOrigin & PeerResult {
  return { ...readOrigin(msg), ...readResult(msg) };
}
