/**
 * Shared inputs of the MMS tests: one migrating user with three public identities (one the partner has no
 * counterpart for on the primary side), the partner MMS's identity, partner-side requests as the partner SIP core
 * sends them, and a fake primary HSS answering with byte-unsafe key material.
 */
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import type { Avp, DiameterMessage } from '../../lib/diameter/codec.ts';
import { decodeMessage, encodeAvp, encodeMessage } from '../../lib/diameter/codec.ts';
import { buildAvp, findAvps, validateMessage } from '../../lib/diameter/message.ts';
import { buildMaa, buildMar, buildSar, ServerAssignmentType, UserDataAlreadyAvailable } from '../../lib/diameter/cx/index.ts';
import type { SipAuthItem } from '../../lib/diameter/cx/index.ts';
import { createLogger } from '../../lib/log.ts';
import type { Logger } from '../../lib/log.ts';
import type { IdentityMapping } from '../../mms/mappings.ts';
import type { AgentIdentity } from '../../mms/translate.ts';
import { AUTN, AUTS, CK, IK, RAND, XRES, hex } from '../diameter/fixtures.ts';

export { AUTN, AUTS, CK, IK, RAND, XRES, hex };

export const MAPPING: IdentityMapping = {
  kind: 'static',
  partnerImpi: 'alice.mig@partner.example',
  primaryImpi: 'alice@primary.example',
  primaryRealm: 'primary.example',
  impus: [
    { partner: 'sip:alice.mig@partner.example', primary: 'sip:alice@primary.example' },
    { partner: 'tel:+4930111', primary: 'tel:+4989222' },
  ],
};

export const SELF: AgentIdentity = {
  originHost: 'mms.partner.example',
  originRealm: 'partner.example',
  sipUri: 'sip:mms.partner.example',
  topologyHiding: false,
};

/** Routing of the partner SIP core toward the partner MMS. */
const PARTNER_ROUTING = {
  sessionId: 'scscf.partner.example;1876543210;77;mar',
  originHost: 'scscf.partner.example',
  originRealm: 'partner.example',
  destinationRealm: 'partner.example',
  destinationHost: 'mms.partner.example',
  hopByHop: 0x0badcafe,
  endToEnd: 0x51000042,
} as const;

/** Supported-Features the S-CSCF may send; copied across. */
export const SUPPORTED_FEATURES: Avp = buildAvp(['Supported-Features', [['Vendor-Id', 10415], ['Feature-List-ID', 1], ['Feature-List', 3]]]);
/** Proxy-Info of a proxy between the SIP core and the MMS: belongs to the partner leg. */
export const PROXY_INFO: Avp = buildAvp(['Proxy-Info', [['Proxy-Host', 'dra.partner.example'], ['Proxy-State', Buffer.from([0, 1, 2, 0xff])]]]);
/** Route-Record of that proxy. */
export const ROUTE_RECORD: Avp = buildAvp(['Route-Record', 'scscf.partner.example']);
/** An AVP no dictionary knows, without M: must not cross (it could name partner topology). */
export const UNKNOWN_AVP: Avp = { code: 99999, vendorId: 12345, flags: { mandatory: false, protected: false }, data: Buffer.from('partner-internal') };

/** Appends AVPs to a message (after its own, as a proxy would). */
export function withAvps(msg: DiameterMessage, ...avps: Avp[]): DiameterMessage {
  return { ...msg, avps: [...msg.avps, ...avps] };
}

/**
 * A partner MAR as the partner SIP core sends it.
 * @param resync carry SIP-Authorization = RAND‖AUTS (digest §6.6).
 */
export function partnerMar(opts: { resync?: boolean; impu?: string; impi?: string; n?: number } = {}): DiameterMessage {
  const mar = buildMar({
    ...PARTNER_ROUTING,
    userName: opts.impi ?? MAPPING.partnerImpi,
    publicIdentity: opts.impu ?? 'sip:alice.mig@partner.example',
    serverName: 'sip:scscf.partner.example:5060',
    numberAuthItems: opts.n ?? 3,
    scheme: 'Digest-AKAv1-MD5',
    ...(opts.resync ? { authorization: Buffer.concat([RAND, AUTS]) } : {}),
  });
  return withAvps(mar, SUPPORTED_FEATURES, UNKNOWN_AVP, PROXY_INFO, ROUTE_RECORD);
}

/** A partner SAR (REGISTRATION) naming both mapped IMPUs. */
export function partnerSar(impus: string[] = ['sip:alice.mig@partner.example', 'tel:+4930111']): DiameterMessage {
  const sar = buildSar({
    ...PARTNER_ROUTING,
    sessionId: 'scscf.partner.example;1876543210;78;sar',
    userName: MAPPING.partnerImpi,
    publicIdentities: impus,
    serverName: 'sip:scscf.partner.example:5060',
    serverAssignmentType: ServerAssignmentType.REGISTRATION,
    userDataAlreadyAvailable: UserDataAlreadyAvailable.USER_DATA_NOT_AVAILABLE,
    multipleRegistrationIndication: 0,
  });
  return withAvps(sar, SUPPORTED_FEATURES, PROXY_INFO, ROUTE_RECORD);
}

/** Vector `n` of the fake HSS: key material with 0x00 / 0xff edges and invalid UTF-8. */
export function vector(n: number): SipAuthItem {
  const bump = (b: Buffer): Buffer => Buffer.from(b.map((x, i) => (i === b.length - 1 ? (x + n) & 0xff : x)));
  return { itemNumber: n, scheme: 'Digest-AKAv1-MD5', authenticate: Buffer.concat([RAND, bump(AUTN)]), authorization: bump(XRES), ck: bump(CK), ik: bump(IK) };
}

/** The primary HSS, as seen through the relay. */
export const PRIMARY = { originHost: 'hss.primary.example', originRealm: 'primary.example' };

/** The fake primary HSS's MAA to a (translated) MAR: `count` vectors, identities echoed. */
export function primaryMaa(primaryMar: DiameterMessage, count = 3): DiameterMessage {
  return buildMaa(primaryMar, {
    ...PRIMARY, result: { resultCode: 2001 }, userName: MAPPING.primaryImpi, publicIdentity: 'sip:alice@primary.example',
    items: Array.from({ length: count }, (_, i) => vector(i + 1)),
  });
}

/** Validates, encodes and decodes a message; the decoded copy must equal it and re-encode to the same bytes. */
export function wire(msg: DiameterMessage): DiameterMessage {
  validateMessage(msg);
  const bytes = encodeMessage(msg);
  const back = decodeMessage(bytes);
  assert.deepEqual(encodeMessage(back), bytes);
  return back;
}

/** Encoded bytes of every AVP with this name, hex. */
export function avpHex(msg: DiameterMessage, name: Parameters<typeof findAvps>[1]): string[] {
  return findAvps(msg, name).map((a) => encodeAvp(a).toString('hex'));
}

/** A logger whose JSON lines are collected in `lines`. */
export function captureLogger(): { logger: Logger; lines: Record<string, unknown>[] } {
  const lines: Record<string, unknown>[] = [];
  const destination = new Writable({
    write(chunk: Buffer, _enc, cb) {
      for (const l of chunk.toString('utf8').split('\n')) if (l.trim()) lines.push(JSON.parse(l) as Record<string, unknown>);
      cb();
    },
  });
  return { logger: createLogger('mms', { level: 'debug', destination }), lines };
}
