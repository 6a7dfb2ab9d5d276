/**
 * RFC 6733 base protocol dictionary: the §4.5 AVP table (flag rules: M MUST and V MUST NOT unless noted; Error-Message,
 * Error-Reporting-Host, Product-Name and Firmware-Revision MUST NOT carry M), the RADIUS-derived AVPs Cx reuses
 * (RFC 4590/5090 Digest-*, RFC 7155 Framed-*), RFC 7944 DRMP, RFC 7683 overload control containers, and the common
 * commands CER/CEA, DWR/DWA, DPR/DPA (§5.3, §5.4, §5.5).
 */
import { defineAvp as avp } from './types.ts';
import type { CommandSource } from './types.ts';

/** Base (IETF, vendor 0) AVP definitions. */
export const BASE_AVPS = [
  avp('User-Name', 1, 'UTF8String'),
  avp('Framed-IP-Address', 8, 'OctetString'),
  avp('Class', 25, 'OctetString'),
  avp('Session-Timeout', 27, 'Unsigned32'),
  avp('Proxy-State', 33, 'OctetString'),
  avp('Accounting-Session-Id', 44, 'OctetString'),
  avp('Acct-Multi-Session-Id', 50, 'UTF8String'),
  avp('Event-Timestamp', 55, 'Time'),
  avp('Acct-Interim-Interval', 85, 'Unsigned32'),
  avp('Framed-Interface-Id', 96, 'Unsigned64'),
  avp('Framed-IPv6-Prefix', 97, 'OctetString'),
  avp('Digest-Realm', 104, 'UTF8String'),
  avp('Digest-QoP', 110, 'UTF8String'),
  avp('Digest-Algorithm', 111, 'UTF8String'),
  avp('Digest-HA1', 121, 'UTF8String'),
  avp('Host-IP-Address', 257, 'Address'),
  avp('Auth-Application-Id', 258, 'Unsigned32'),
  avp('Acct-Application-Id', 259, 'Unsigned32'),
  avp('Vendor-Specific-Application-Id', 260, 'Grouped', {
    group: '{ Vendor-Id } [ Auth-Application-Id ] [ Acct-Application-Id ]',
  }),
  avp('Redirect-Host-Usage', 261, 'Enumerated', {
    values: {
      DONT_CACHE: 0, ALL_SESSION: 1, ALL_REALM: 2, REALM_AND_APPLICATION: 3, ALL_APPLICATION: 4, ALL_HOST: 5,
      ALL_USER: 6,
    },
  }),
  avp('Redirect-Max-Cache-Time', 262, 'Unsigned32'),
  avp('Session-Id', 263, 'UTF8String'),
  avp('Origin-Host', 264, 'DiameterIdentity'),
  avp('Supported-Vendor-Id', 265, 'Unsigned32'),
  avp('Vendor-Id', 266, 'Unsigned32'),
  avp('Firmware-Revision', 267, 'Unsigned32', { m: 'mustNot' }),
  avp('Result-Code', 268, 'Unsigned32'),
  avp('Product-Name', 269, 'UTF8String', { m: 'mustNot' }),
  avp('Session-Binding', 270, 'Unsigned32'),
  avp('Session-Server-Failover', 271, 'Enumerated', {
    values: { REFUSE_SERVICE: 0, TRY_AGAIN: 1, ALLOW_SERVICE: 2, TRY_AGAIN_ALLOW_SERVICE: 3 },
  }),
  avp('Multi-Round-Time-Out', 272, 'Unsigned32'),
  avp('Disconnect-Cause', 273, 'Enumerated', {
    values: { REBOOTING: 0, BUSY: 1, DO_NOT_WANT_TO_TALK_TO_YOU: 2 },
  }),
  avp('Auth-Request-Type', 274, 'Enumerated', {
    values: { AUTHENTICATE_ONLY: 1, AUTHORIZE_ONLY: 2, AUTHORIZE_AUTHENTICATE: 3 },
  }),
  avp('Auth-Grace-Period', 276, 'Unsigned32'),
  avp('Auth-Session-State', 277, 'Enumerated', { values: { STATE_MAINTAINED: 0, NO_STATE_MAINTAINED: 1 } }),
  avp('Origin-State-Id', 278, 'Unsigned32'),
  avp('Failed-AVP', 279, 'Grouped', { group: '1*{ AVP }', opaque: true }),
  avp('Proxy-Host', 280, 'DiameterIdentity'),
  avp('Error-Message', 281, 'UTF8String', { m: 'mustNot' }),
  avp('Route-Record', 282, 'DiameterIdentity'),
  avp('Destination-Realm', 283, 'DiameterIdentity'),
  avp('Proxy-Info', 284, 'Grouped', { group: '{ Proxy-Host } { Proxy-State } *[ AVP ]' }),
  avp('Re-Auth-Request-Type', 285, 'Enumerated', { values: { AUTHORIZE_ONLY: 0, AUTHORIZE_AUTHENTICATE: 1 } }),
  avp('Accounting-Sub-Session-Id', 287, 'Unsigned64'),
  avp('Authorization-Lifetime', 291, 'Unsigned32'),
  avp('Redirect-Host', 292, 'DiameterURI'),
  avp('Destination-Host', 293, 'DiameterIdentity'),
  avp('Error-Reporting-Host', 294, 'DiameterIdentity', { m: 'mustNot' }),
  avp('Termination-Cause', 295, 'Enumerated', {
    values: {
      DIAMETER_LOGOUT: 1, DIAMETER_SERVICE_NOT_PROVIDED: 2, DIAMETER_BAD_ANSWER: 3, DIAMETER_ADMINISTRATIVE: 4,
      DIAMETER_LINK_BROKEN: 5, DIAMETER_AUTH_EXPIRED: 6, DIAMETER_USER_MOVED: 7, DIAMETER_SESSION_TIMEOUT: 8,
    },
  }),
  avp('Origin-Realm', 296, 'DiameterIdentity'),
  avp('Experimental-Result', 297, 'Grouped', { group: '{ Vendor-Id } { Experimental-Result-Code }' }),
  avp('Experimental-Result-Code', 298, 'Unsigned32'),
  avp('Inband-Security-Id', 299, 'Unsigned32', { values: { NO_INBAND_SECURITY: 0, TLS: 1 } }),
  avp('DRMP', 301, 'Enumerated', { m: 'mustNot' }),
  avp('Accounting-Record-Type', 480, 'Enumerated', {
    values: { EVENT_RECORD: 1, START_RECORD: 2, INTERIM_RECORD: 3, STOP_RECORD: 4 },
  }),
  avp('Accounting-Realtime-Required', 483, 'Enumerated', {
    values: { DELIVER_AND_GRANT: 1, GRANT_AND_STORE: 2, GRANT_AND_LOSE: 3 },
  }),
  avp('Accounting-Record-Number', 485, 'Unsigned32'),
  avp('OC-Supported-Features', 621, 'Grouped', { m: 'mustNot', group: '*[ AVP ]' }),
  avp('OC-OLR', 623, 'Grouped', { m: 'mustNot', group: '*[ AVP ]' }),
] as const;

/** Application-Id of the common messages. */
const COMMON = 0;

/** RFC 6733 §5 peer commands: not proxiable, application 0. */
export const BASE_COMMANDS: readonly CommandSource[] = [
  {
    code: 257, applicationId: COMMON, proxiable: false,
    request: {
      name: 'Capabilities-Exchange-Request', abbrev: 'CER',
      ccf: `{ Origin-Host } { Origin-Realm } 1* { Host-IP-Address } { Vendor-Id } { Product-Name }
            [ Origin-State-Id ] * [ Supported-Vendor-Id ] * [ Auth-Application-Id ] * [ Inband-Security-Id ]
            * [ Acct-Application-Id ] * [ Vendor-Specific-Application-Id ] [ Firmware-Revision ] * [ AVP ]`,
    },
    answer: {
      name: 'Capabilities-Exchange-Answer', abbrev: 'CEA',
      ccf: `{ Result-Code } { Origin-Host } { Origin-Realm } 1* { Host-IP-Address } { Vendor-Id } { Product-Name }
            [ Origin-State-Id ] [ Error-Message ] [ Failed-AVP ] * [ Supported-Vendor-Id ]
            * [ Auth-Application-Id ] * [ Inband-Security-Id ] * [ Acct-Application-Id ]
            * [ Vendor-Specific-Application-Id ] [ Firmware-Revision ] * [ AVP ]`,
    },
  },
  {
    code: 280, applicationId: COMMON, proxiable: false,
    request: {
      name: 'Device-Watchdog-Request', abbrev: 'DWR',
      ccf: '{ Origin-Host } { Origin-Realm } [ Origin-State-Id ] * [ AVP ]',
    },
    answer: {
      name: 'Device-Watchdog-Answer', abbrev: 'DWA',
      ccf: `{ Result-Code } { Origin-Host } { Origin-Realm } [ Error-Message ] [ Failed-AVP ] [ Origin-State-Id ]
            * [ AVP ]`,
    },
  },
  {
    code: 282, applicationId: COMMON, proxiable: false,
    request: {
      name: 'Disconnect-Peer-Request', abbrev: 'DPR',
      ccf: '{ Origin-Host } { Origin-Realm } { Disconnect-Cause } * [ AVP ]',
    },
    answer: {
      name: 'Disconnect-Peer-Answer', abbrev: 'DPA',
      ccf: '{ Result-Code } { Origin-Host } { Origin-Realm } [ Error-Message ] [ Failed-AVP ] * [ AVP ]',
    },
  },
];

/** RFC 6733 §7.2 CCF of every answer with the E bit, whatever its command. */
export const ERROR_ANSWER_CCF = `0*1< Session-Id > { Origin-Host } { Origin-Realm } { Result-Code } [ Origin-State-Id ]
  [ Error-Message ] [ Error-Reporting-Host ] [ Failed-AVP ] [ Experimental-Result ] * [ Proxy-Info ] * [ AVP ]`;
