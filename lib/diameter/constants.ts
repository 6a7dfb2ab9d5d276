/**
 * RFC 6733 numbers shared by the codec, the dictionaries and (later) the peer layer. Base Result-Code values live here;
 * vendor (3GPP) Experimental-Result-Code values live in `cx/constants.ts` so the two spaces never mix.
 */

/** Diameter version carried in octet 0 of every header (RFC 6733 §3). */
export const DIAMETER_VERSION = 1;
/** Octets in a Diameter header. */
export const HEADER_LENGTH = 20;
/** Octets in an AVP header without / with the Vendor-ID field. */
export const AVP_HEADER_LENGTH = 8;
export const VENDOR_AVP_HEADER_LENGTH = 12;
/** Largest value a 24-bit length field can carry. */
export const MAX_24BIT = 0xffffff;

/** Command flag bits (octet 4 of the header). */
export const CommandFlag = { REQUEST: 0x80, PROXIABLE: 0x40, ERROR: 0x20, RETRANSMIT: 0x10, RESERVED: 0x0f } as const;
/** AVP flag bits. */
export const AvpFlag = { VENDOR: 0x80, MANDATORY: 0x40, PROTECTED: 0x20, RESERVED: 0x1f } as const;

/** Application-Id values used here (RFC 6733 §2.4, TS 29.229 §6). */
export const ApplicationId = { COMMON: 0, CX: 16777216, RELAY: 0xffffffff } as const;

/** IANA enterprise number of 3GPP, the Vendor-Id of every Cx AVP. */
export const VENDOR_3GPP = 10415;

/** Base command codes (RFC 6733 §3.1). */
export const BaseCommand = {
  CAPABILITIES_EXCHANGE: 257,
  DEVICE_WATCHDOG: 280,
  DISCONNECT_PEER: 282,
} as const;

/** RFC 6733 §7.1 Result-Code values (base protocol space; never compare these with Experimental-Result-Code). */
export const ResultCode = {
  MULTI_ROUND_AUTH: 1001,
  SUCCESS: 2001,
  LIMITED_SUCCESS: 2002,
  COMMAND_UNSUPPORTED: 3001,
  UNABLE_TO_DELIVER: 3002,
  REALM_NOT_SERVED: 3003,
  TOO_BUSY: 3004,
  LOOP_DETECTED: 3005,
  REDIRECT_INDICATION: 3006,
  APPLICATION_UNSUPPORTED: 3007,
  INVALID_HDR_BITS: 3008,
  INVALID_AVP_BITS: 3009,
  UNKNOWN_PEER: 3010,
  AUTHENTICATION_REJECTED: 4001,
  OUT_OF_SPACE: 4002,
  ELECTION_LOST: 4003,
  AVP_UNSUPPORTED: 5001,
  UNKNOWN_SESSION_ID: 5002,
  AUTHORIZATION_REJECTED: 5003,
  INVALID_AVP_VALUE: 5004,
  MISSING_AVP: 5005,
  RESOURCES_EXCEEDED: 5006,
  CONTRADICTING_AVPS: 5007,
  AVP_NOT_ALLOWED: 5008,
  AVP_OCCURS_TOO_MANY_TIMES: 5009,
  NO_COMMON_APPLICATION: 5010,
  UNSUPPORTED_VERSION: 5011,
  UNABLE_TO_COMPLY: 5012,
  INVALID_BIT_IN_HEADER: 5013,
  INVALID_AVP_LENGTH: 5014,
  INVALID_MESSAGE_LENGTH: 5015,
  INVALID_AVP_BIT_COMBO: 5016,
  NO_COMMON_SECURITY: 5017,
} as const;

/**
 * True for 3xxx protocol errors, which travel in answers with the E bit set (RFC 6733 §7.1.3, §7.2).
 * @param resultCode a base Result-Code value.
 */
export function isProtocolError(resultCode: number): boolean {
  return resultCode >= 3000 && resultCode < 4000;
}

/** Disconnect-Cause values (RFC 6733 §5.4.3). */
export const DisconnectCause = { REBOOTING: 0, BUSY: 1, DO_NOT_WANT_TO_TALK_TO_YOU: 2 } as const;
/** Auth-Session-State values (RFC 6733 §8.11). */
export const AuthSessionState = { STATE_MAINTAINED: 0, NO_STATE_MAINTAINED: 1 } as const;
/** Inband-Security-Id values (RFC 6733 §6.10). */
export const InbandSecurityId = { NO_INBAND_SECURITY: 0, TLS: 1 } as const;
