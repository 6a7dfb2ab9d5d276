/**
 * TS 29.229 Cx/Dx dictionary (application 16777216, vendor 10415): the AVPs of Table 6.3.1 with their flag rules
 * (V MUST everywhere; M MUST for 600–626 and Originating-Request 633, MAY for Supported-Features, MUST NOT otherwise),
 * Grouped contents per §6.3, and the command pairs of §6.1 (UAR/UAA, SAR/SAA, LIR/LIA, MAR/MAA, RTR/RTA). RTR takes
 * Destination-Host as optional: the sources we could read disagree, and a receiver loses nothing by accepting both.
 */
import { defineAvp } from './types.ts';
import type { AvpOptions, CommandSource } from './types.ts';
import type { AvpType } from '../values.ts';

const CX_APP = 16777216;
const V3GPP = 10415;
/** ETSI (TISPAN), the vendor of Line-Identifier. */
const VETSI = 13019;

function tgpp<const N extends string, const T extends AvpType>(name: N, code: number, type: T, options: AvpOptions = {}) {
  return defineAvp(name, code, type, { vendorId: V3GPP, ...options });
}
const NO_M = { m: 'mustNot' } as const;

/** 3GPP Cx AVP definitions. */
export const CX_AVPS = [
  tgpp('Visited-Network-Identifier', 600, 'OctetString'),
  tgpp('Public-Identity', 601, 'UTF8String'),
  tgpp('Server-Name', 602, 'UTF8String'),
  tgpp('Server-Capabilities', 603, 'Grouped', {
    group: '* [ Mandatory-Capability ] * [ Optional-Capability ] * [ Server-Name ] * [ AVP ]',
  }),
  tgpp('Mandatory-Capability', 604, 'Unsigned32'),
  tgpp('Optional-Capability', 605, 'Unsigned32'),
  tgpp('User-Data', 606, 'OctetString'),
  tgpp('SIP-Number-Auth-Items', 607, 'Unsigned32'),
  tgpp('SIP-Authentication-Scheme', 608, 'UTF8String'),
  tgpp('SIP-Authenticate', 609, 'OctetString'),
  tgpp('SIP-Authorization', 610, 'OctetString'),
  tgpp('SIP-Authentication-Context', 611, 'OctetString'),
  tgpp('SIP-Auth-Data-Item', 612, 'Grouped', {
    group: `[ SIP-Item-Number ] [ SIP-Authentication-Scheme ] [ SIP-Authenticate ] [ SIP-Authorization ]
            [ SIP-Authentication-Context ] [ Confidentiality-Key ] [ Integrity-Key ] [ SIP-Digest-Authenticate ]
            [ Framed-IP-Address ] [ Framed-IPv6-Prefix ] [ Framed-Interface-Id ] * [ Line-Identifier ] * [ AVP ]`,
  }),
  tgpp('SIP-Item-Number', 613, 'Unsigned32'),
  tgpp('Server-Assignment-Type', 614, 'Enumerated', {
    values: {
      NO_ASSIGNMENT: 0, REGISTRATION: 1, RE_REGISTRATION: 2, UNREGISTERED_USER: 3, TIMEOUT_DEREGISTRATION: 4,
      USER_DEREGISTRATION: 5, TIMEOUT_DEREGISTRATION_STORE_SERVER_NAME: 6, USER_DEREGISTRATION_STORE_SERVER_NAME: 7,
      ADMINISTRATIVE_DEREGISTRATION: 8, AUTHENTICATION_FAILURE: 9, AUTHENTICATION_TIMEOUT: 10,
      DEREGISTRATION_TOO_MUCH_DATA: 11, AAA_USER_DATA_REQUEST: 12, PGW_UPDATE: 13, RESTORATION: 14,
    },
  }),
  tgpp('Deregistration-Reason', 615, 'Grouped', { group: '{ Reason-Code } [ Reason-Info ] * [ AVP ]' }),
  tgpp('Reason-Code', 616, 'Enumerated', {
    values: { PERMANENT_TERMINATION: 0, NEW_SERVER_ASSIGNED: 1, SERVER_CHANGE: 2, 'REMOVE_S-CSCF': 3 },
  }),
  tgpp('Reason-Info', 617, 'UTF8String'),
  tgpp('Charging-Information', 618, 'Grouped', {
    group: `[ Primary-Event-Charging-Function-Name ] [ Secondary-Event-Charging-Function-Name ]
            [ Primary-Charging-Collection-Function-Name ] [ Secondary-Charging-Collection-Function-Name ] * [ AVP ]`,
  }),
  tgpp('Primary-Event-Charging-Function-Name', 619, 'DiameterURI'),
  tgpp('Secondary-Event-Charging-Function-Name', 620, 'DiameterURI'),
  tgpp('Primary-Charging-Collection-Function-Name', 621, 'DiameterURI'),
  tgpp('Secondary-Charging-Collection-Function-Name', 622, 'DiameterURI'),
  tgpp('User-Authorization-Type', 623, 'Enumerated', {
    values: { REGISTRATION: 0, DE_REGISTRATION: 1, REGISTRATION_AND_CAPABILITIES: 2 },
  }),
  tgpp('User-Data-Already-Available', 624, 'Enumerated', {
    values: { USER_DATA_NOT_AVAILABLE: 0, USER_DATA_ALREADY_AVAILABLE: 1 },
  }),
  tgpp('Confidentiality-Key', 625, 'OctetString'),
  tgpp('Integrity-Key', 626, 'OctetString'),
  tgpp('Supported-Features', 628, 'Grouped', {
    m: 'may', group: '{ Vendor-Id } { Feature-List-ID } { Feature-List } * [ AVP ]',
  }),
  tgpp('Feature-List-ID', 629, 'Unsigned32', NO_M),
  tgpp('Feature-List', 630, 'Unsigned32', NO_M),
  tgpp('Supported-Applications', 631, 'Grouped', {
    m: 'mustNot', group: '* [ Auth-Application-Id ] * [ Acct-Application-Id ] * [ Vendor-Specific-Application-Id ] * [ AVP ]',
  }),
  tgpp('Associated-Identities', 632, 'Grouped', { m: 'mustNot', group: '* [ User-Name ] * [ AVP ]' }),
  tgpp('Originating-Request', 633, 'Enumerated', { values: { ORIGINATING: 0 } }),
  tgpp('Wildcarded-Public-Identity', 634, 'UTF8String', NO_M),
  tgpp('SIP-Digest-Authenticate', 635, 'Grouped', {
    m: 'mustNot', group: '{ Digest-Realm } [ Digest-Algorithm ] { Digest-QoP } { Digest-HA1 } * [ AVP ]',
  }),
  tgpp('UAR-Flags', 637, 'Unsigned32', NO_M),
  tgpp('Loose-Route-Indication', 638, 'Enumerated', {
    m: 'mustNot', values: { LOOSE_ROUTE_NOT_REQUIRED: 0, LOOSE_ROUTE_REQUIRED: 1 },
  }),
  tgpp('SCSCF-Restoration-Info', 639, 'Grouped', { m: 'mustNot', group: '* [ AVP ]' }),
  tgpp('Path', 640, 'OctetString', NO_M),
  tgpp('Contact', 641, 'OctetString', NO_M),
  tgpp('Subscription-Info', 642, 'Grouped', { m: 'mustNot', group: '* [ AVP ]' }),
  tgpp('Call-ID-SIP-Header', 643, 'OctetString', NO_M),
  tgpp('From-SIP-Header', 644, 'OctetString', NO_M),
  tgpp('To-SIP-Header', 645, 'OctetString', NO_M),
  tgpp('Record-Route', 646, 'OctetString', NO_M),
  tgpp('Associated-Registered-Identities', 647, 'Grouped', { m: 'mustNot', group: '* [ User-Name ] * [ AVP ]' }),
  tgpp('Multiple-Registration-Indication', 648, 'Enumerated', {
    m: 'mustNot', values: { NOT_MULTIPLE_REGISTRATION: 0, MULTIPLE_REGISTRATION: 1 },
  }),
  tgpp('Restoration-Info', 649, 'Grouped', { m: 'mustNot', group: '* [ AVP ]' }),
  tgpp('Session-Priority', 650, 'Enumerated', {
    m: 'mustNot', values: { 'PRIORITY-0': 0, 'PRIORITY-1': 1, 'PRIORITY-2': 2, 'PRIORITY-3': 3, 'PRIORITY-4': 4 },
  }),
  tgpp('Identity-with-Emergency-Registration', 651, 'Grouped', { m: 'mustNot', group: '* [ AVP ]' }),
  tgpp('Priviledged-Sender-Indication', 652, 'Enumerated', {
    m: 'mustNot', values: { NOT_PRIVILEDGED_SENDER: 0, PRIVILEDGED_SENDER: 1 },
  }),
  tgpp('LIA-Flags', 653, 'Unsigned32', NO_M),
  tgpp('Initial-CSeq-Sequence-Number', 654, 'Unsigned32', NO_M),
  tgpp('SAR-Flags', 655, 'Unsigned32', NO_M),
  tgpp('Allowed-WAF-WWSF-Identities', 656, 'Grouped', { m: 'mustNot', group: '* [ AVP ]' }),
  tgpp('WebRTC-Authentication-Function-Name', 657, 'UTF8String', NO_M),
  tgpp('WebRTC-Web-Server-Function-Name', 658, 'UTF8String', NO_M),
  tgpp('RTR-Flags', 659, 'Unsigned32', NO_M),
  tgpp('P-CSCF-Subscription-Info', 660, 'Grouped', { m: 'mustNot', group: '* [ AVP ]' }),
  tgpp('Registration-Time-Out', 661, 'Time', NO_M),
  tgpp('Alternate-Digest-Algorithm', 662, 'UTF8String', NO_M),
  tgpp('Alternate-Digest-HA1', 663, 'UTF8String', NO_M),
  tgpp('Failed-PCSCF', 664, 'Grouped', { m: 'mustNot', group: '* [ AVP ]' }),
  tgpp('PCSCF-FQDN', 665, 'DiameterIdentity', NO_M),
  tgpp('PCSCF-IP-Address', 666, 'Address', NO_M),
  // ETSI ES 283 034 reuse inside SIP-Auth-Data-Item; its M rule is not pinned down here, so either is accepted.
  defineAvp('Line-Identifier', 500, 'OctetString', { vendorId: VETSI, m: 'may' }),
] as const;

// Every Cx request/answer opens the same way (29.229 §6.1); only the tails differ.
const REQ_HEAD = `< Session-Id > [ DRMP ] { Vendor-Specific-Application-Id } { Auth-Session-State } { Origin-Host }
  { Origin-Realm }`;
const ANS_HEAD = `< Session-Id > [ DRMP ] { Vendor-Specific-Application-Id } [ Result-Code ] [ Experimental-Result ]
  { Auth-Session-State } { Origin-Host } { Origin-Realm }`;
const REQ_TAIL = '* [ AVP ] * [ Proxy-Info ] * [ Route-Record ]';
const ANS_TAIL = '* [ AVP ] [ Failed-AVP ] * [ Proxy-Info ] * [ Route-Record ]';

function cx(code: number, names: [string, string, string, string], request: string, answer: string): CommandSource {
  return {
    code, applicationId: CX_APP, proxiable: true,
    request: { name: names[0], abbrev: names[1], ccf: `${REQ_HEAD} ${request} ${REQ_TAIL}` },
    answer: { name: names[2], abbrev: names[3], ccf: `${ANS_HEAD} ${answer} ${ANS_TAIL}` },
  };
}

/** TS 29.229 §6.1 command pairs. */
export const CX_COMMANDS: readonly CommandSource[] = [
  cx(300, ['User-Authorization-Request', 'UAR', 'User-Authorization-Answer', 'UAA'],
    `[ Destination-Host ] { Destination-Realm } { User-Name } [ OC-Supported-Features ] * [ Supported-Features ]
     { Public-Identity } { Visited-Network-Identifier } [ User-Authorization-Type ] [ UAR-Flags ]`,
    `[ OC-Supported-Features ] [ OC-OLR ] * [ Supported-Features ] [ Server-Name ] [ Server-Capabilities ]`),
  cx(301, ['Server-Assignment-Request', 'SAR', 'Server-Assignment-Answer', 'SAA'],
    `[ Destination-Host ] { Destination-Realm } [ User-Name ] [ OC-Supported-Features ] * [ Supported-Features ]
     * [ Public-Identity ] [ Wildcarded-Public-Identity ] { Server-Name } { Server-Assignment-Type }
     { User-Data-Already-Available } [ SCSCF-Restoration-Info ] [ Multiple-Registration-Indication ]
     [ Session-Priority ] [ SAR-Flags ] [ Failed-PCSCF ]`,
    `[ User-Name ] [ OC-Supported-Features ] [ OC-OLR ] * [ Supported-Features ] [ User-Data ]
     [ Charging-Information ] [ Associated-Identities ] [ Loose-Route-Indication ] * [ SCSCF-Restoration-Info ]
     [ Associated-Registered-Identities ] [ Server-Name ] [ Wildcarded-Public-Identity ]
     [ Priviledged-Sender-Indication ] [ Allowed-WAF-WWSF-Identities ]`),
  cx(302, ['Location-Info-Request', 'LIR', 'Location-Info-Answer', 'LIA'],
    `[ Destination-Host ] { Destination-Realm } [ Originating-Request ] [ OC-Supported-Features ]
     * [ Supported-Features ] { Public-Identity } [ User-Authorization-Type ] [ Session-Priority ]`,
    `[ OC-Supported-Features ] [ OC-OLR ] * [ Supported-Features ] [ Server-Name ] [ Server-Capabilities ]
     [ Wildcarded-Public-Identity ] [ LIA-Flags ]`),
  cx(303, ['Multimedia-Auth-Request', 'MAR', 'Multimedia-Auth-Answer', 'MAA'],
    `{ Destination-Realm } [ Destination-Host ] { User-Name } [ OC-Supported-Features ] * [ Supported-Features ]
     { Public-Identity } { SIP-Auth-Data-Item } { SIP-Number-Auth-Items } { Server-Name }`,
    `[ User-Name ] [ OC-Supported-Features ] [ OC-OLR ] * [ Supported-Features ] [ Public-Identity ]
     [ SIP-Number-Auth-Items ] * [ SIP-Auth-Data-Item ]`),
  cx(304, ['Registration-Termination-Request', 'RTR', 'Registration-Termination-Answer', 'RTA'],
    `[ Destination-Host ] { Destination-Realm } { User-Name } [ Associated-Identities ] * [ Supported-Features ]
     * [ Public-Identity ] { Deregistration-Reason } [ RTR-Flags ]`,
    '[ Associated-Identities ] * [ Supported-Features ] * [ Identity-with-Emergency-Registration ]'),
];
