/**
 * Multimedia-Auth-Request / -Answer (29.229 §6.1.7, §6.1.8). The MAR asks for SIP-Number-Auth-Items vectors of one
 * scheme; on resynchronisation its SIP-Auth-Data-Item carries SIP-Authorization = RAND ‖ AUTS. The MAA returns one
 * SIP-Auth-Data-Item per vector (SIP-Authenticate = RAND ‖ AUTN, SIP-Authorization = XRES, CK, IK), or, for SIP
 * Digest, SIP-Digest-Authenticate. All key material stays Buffers end to end, byte-exact.
 */
import type { Avp, DiameterMessage } from '../codec.ts';
import type { AvpEntry } from '../build.ts';
import { decodeAvpValue, findAvps, getValue, requireValue } from '../read.ts';
import { cxAnswer, cxRequest, readCxAnswerBase, readCxRequestBase } from './common.ts';
import type { CxAnswerBase, CxAnswerData, CxRequestBase } from './common.ts';

/** What a MAR asks for. */
export interface MarInput extends CxRequestBase {
  /** IMPI. */
  userName: string;
  /** IMPU. */
  publicIdentity: string;
  /** S-CSCF SIP URI. */
  serverName: string;
  numberAuthItems: number;
  /** SIP-Authentication-Scheme, e.g. `Digest-AKAv1-MD5`. */
  scheme: string;
  /** RAND ‖ AUTS (30 octets) on resynchronisation. */
  authorization?: Buffer;
}

/** A received MAR. */
export type MarData = Omit<MarInput, 'endToEnd' | 'hopByHop'>;

/** SIP-Digest-Authenticate content (SIP Digest users). */
export interface SipDigestAuthenticate {
  realm: string;
  algorithm?: string;
  qop: string;
  ha1: string;
}

/** One SIP-Auth-Data-Item of an MAA. */
export interface SipAuthItem {
  itemNumber?: number;
  scheme?: string;
  /** RAND ‖ AUTN. */
  authenticate?: Buffer;
  /** XRES. */
  authorization?: Buffer;
  authenticationContext?: Buffer;
  ck?: Buffer;
  ik?: Buffer;
  digest?: SipDigestAuthenticate;
}

/** What an MAA reports. `items` given ⇒ SIP-Number-Auth-Items = items.length. */
export interface MaaInput extends CxAnswerBase {
  userName?: string;
  publicIdentity?: string;
  items?: SipAuthItem[];
}

/** A received MAA. */
export interface MaaData extends CxAnswerData {
  userName?: string;
  publicIdentity?: string;
  numberAuthItems?: number;
  /** Sorted by SIP-Item-Number (items without one keep their wire order, after numbered ones). */
  items: SipAuthItem[];
}

/** Builds a MAR (R+P, Cx application). */
export function buildMar(input: MarInput): DiameterMessage {
  return cxRequest('MAR', input, [
    ['User-Name', input.userName],
    ['Public-Identity', input.publicIdentity],
    ['SIP-Auth-Data-Item', [
      ['SIP-Authentication-Scheme', input.scheme],
      input.authorization === undefined ? undefined : ['SIP-Authorization', input.authorization],
    ]],
    ['SIP-Number-Auth-Items', input.numberAuthItems],
    ['Server-Name', input.serverName],
  ]);
}

/**
 * Reads a MAR.
 * @throws DiameterError 5005 (with the example AVP) when a required AVP is absent, 5004/5014 on bad values.
 */
export function readMar(msg: DiameterMessage): MarData {
  const item = requireValue(msg, 'SIP-Auth-Data-Item');
  const authorization = getValue(item, 'SIP-Authorization');
  return {
    ...readCxRequestBase(msg),
    userName: requireValue(msg, 'User-Name'),
    publicIdentity: requireValue(msg, 'Public-Identity'),
    serverName: requireValue(msg, 'Server-Name'),
    numberAuthItems: requireValue(msg, 'SIP-Number-Auth-Items'),
    scheme: requireValue(item, 'SIP-Authentication-Scheme'),
    ...(authorization === undefined ? {} : { authorization }),
  };
}

function itemEntry(item: SipAuthItem): AvpEntry {
  const d = item.digest;
  return ['SIP-Auth-Data-Item', [
    item.itemNumber === undefined ? undefined : ['SIP-Item-Number', item.itemNumber],
    item.scheme === undefined ? undefined : ['SIP-Authentication-Scheme', item.scheme],
    item.authenticate === undefined ? undefined : ['SIP-Authenticate', item.authenticate],
    item.authorization === undefined ? undefined : ['SIP-Authorization', item.authorization],
    item.authenticationContext === undefined ? undefined : ['SIP-Authentication-Context', item.authenticationContext],
    item.ck === undefined ? undefined : ['Confidentiality-Key', item.ck],
    item.ik === undefined ? undefined : ['Integrity-Key', item.ik],
    d === undefined ? undefined : ['SIP-Digest-Authenticate', [
      ['Digest-Realm', d.realm],
      d.algorithm === undefined ? undefined : ['Digest-Algorithm', d.algorithm],
      ['Digest-QoP', d.qop],
      ['Digest-HA1', d.ha1],
    ]],
  ]];
}

/** Builds the MAA answering `request`. */
export function buildMaa(request: DiameterMessage, input: MaaInput): DiameterMessage {
  return cxAnswer(request, input, [
    input.userName === undefined ? undefined : ['User-Name', input.userName],
    input.publicIdentity === undefined ? undefined : ['Public-Identity', input.publicIdentity],
    input.items === undefined ? undefined : ['SIP-Number-Auth-Items', input.items.length],
    ...(input.items ?? []).map(itemEntry),
  ]);
}

function setIfDefined<K extends keyof SipAuthItem>(item: SipAuthItem, k: K, v: SipAuthItem[K] | undefined): void {
  if (v !== undefined) item[k] = v;
}

function readItem(avps: Avp[]): SipAuthItem {
  const item: SipAuthItem = {};
  setIfDefined(item, 'itemNumber', getValue(avps, 'SIP-Item-Number'));
  setIfDefined(item, 'scheme', getValue(avps, 'SIP-Authentication-Scheme'));
  setIfDefined(item, 'authenticate', getValue(avps, 'SIP-Authenticate'));
  setIfDefined(item, 'authorization', getValue(avps, 'SIP-Authorization'));
  setIfDefined(item, 'authenticationContext', getValue(avps, 'SIP-Authentication-Context'));
  setIfDefined(item, 'ck', getValue(avps, 'Confidentiality-Key'));
  setIfDefined(item, 'ik', getValue(avps, 'Integrity-Key'));
  const digest = getValue(avps, 'SIP-Digest-Authenticate');
  if (digest !== undefined) {
    const algorithm = getValue(digest, 'Digest-Algorithm');
    item.digest = {
      realm: requireValue(digest, 'Digest-Realm'),
      ...(algorithm === undefined ? {} : { algorithm }),
      qop: requireValue(digest, 'Digest-QoP'),
      ha1: requireValue(digest, 'Digest-HA1'),
    };
  }
  return item;
}

function itemOrder(i: SipAuthItem): number {
  return i.itemNumber ?? Infinity;
}

/**
 * Reads an MAA.
 * @throws DiameterError when the result is missing or contradictory, or a value is malformed.
 */
export function readMaa(msg: DiameterMessage): MaaData {
  const userName = getValue(msg, 'User-Name');
  const publicIdentity = getValue(msg, 'Public-Identity');
  const numberAuthItems = getValue(msg, 'SIP-Number-Auth-Items');
  const items = findAvps(msg, 'SIP-Auth-Data-Item').map((a) => readItem(decodeAvpValue(a, 'Grouped') as Avp[]));
  return {
    ...readCxAnswerBase(msg),
    ...(userName === undefined ? {} : { userName }),
    ...(publicIdentity === undefined ? {} : { publicIdentity }),
    ...(numberAuthItems === undefined ? {} : { numberAuthItems }),
    items: items.map((item, i) => ({ item, i })).sort((a, b) => itemOrder(a.item) - itemOrder(b.item) || a.i - b.i).map((x) => x.item),
  };
}
