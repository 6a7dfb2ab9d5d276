/**
 * TS 29.229 numbers. Experimental-Result-Code values (vendor 10415, §6.2) are a separate space from the base
 * Result-Code (`ResultCode` in `../constants.ts`): Experimental 5001 is USER_UNKNOWN, base 5001 is AVP_UNSUPPORTED;
 * Experimental 2001 is FIRST_REGISTRATION, base 2001 is SUCCESS. {@link CxResult} keeps them apart by shape.
 */
import { ApplicationId, VENDOR_3GPP } from '../constants.ts';

/** Cx/Dx Application-Id. */
export const CX_APPLICATION_ID = ApplicationId.CX;
/** 3GPP Vendor-Id. */
export const CX_VENDOR_ID = VENDOR_3GPP;

/** Cx command codes (29.229 Table 6.1.1). */
export const CxCommand = { UAR: 300, SAR: 301, LIR: 302, MAR: 303, RTR: 304, PPR: 305 } as const;

/** Experimental-Result-Code values with Vendor-Id 10415 (29.229 §6.2). */
export const CxExperimentalResultCode = {
  FIRST_REGISTRATION: 2001,
  SUBSEQUENT_REGISTRATION: 2002,
  UNREGISTERED_SERVICE: 2003,
  SUCCESS_SERVER_NAME_NOT_STORED: 2004,
  ERROR_USER_UNKNOWN: 5001,
  ERROR_IDENTITIES_DONT_MATCH: 5002,
  ERROR_IDENTITY_NOT_REGISTERED: 5003,
  ERROR_ROAMING_NOT_ALLOWED: 5004,
  ERROR_IDENTITY_ALREADY_REGISTERED: 5005,
  ERROR_AUTH_SCHEME_NOT_SUPPORTED: 5006,
  ERROR_IN_ASSIGNMENT_TYPE: 5007,
  ERROR_TOO_MUCH_DATA: 5008,
  ERROR_NOT_SUPPORTED_USER_DATA: 5009,
  ERROR_FEATURE_UNSUPPORTED: 5011,
  ERROR_SERVING_NODE_FEATURE_UNSUPPORTED: 5012,
} as const;

/** SIP-Authentication-Scheme strings (29.229 §6.3.9, 29.228 Table 6.3.1). */
export const SipAuthScheme = {
  AKA_V1_MD5: 'Digest-AKAv1-MD5',
  AKA_V2_MD5: 'Digest-AKAv2-MD5',
  SIP_DIGEST: 'SIP Digest',
  NASS_BUNDLED: 'NASS-Bundled',
  EARLY_IMS: 'Early-IMS-Security',
  /** MAR only: let the HSS choose. */
  UNKNOWN: 'Unknown',
} as const;

/** Server-Assignment-Type values (29.229 §6.3.15). */
export const ServerAssignmentType = {
  NO_ASSIGNMENT: 0,
  REGISTRATION: 1,
  RE_REGISTRATION: 2,
  UNREGISTERED_USER: 3,
  TIMEOUT_DEREGISTRATION: 4,
  USER_DEREGISTRATION: 5,
  TIMEOUT_DEREGISTRATION_STORE_SERVER_NAME: 6,
  USER_DEREGISTRATION_STORE_SERVER_NAME: 7,
  ADMINISTRATIVE_DEREGISTRATION: 8,
  AUTHENTICATION_FAILURE: 9,
  AUTHENTICATION_TIMEOUT: 10,
  DEREGISTRATION_TOO_MUCH_DATA: 11,
  AAA_USER_DATA_REQUEST: 12,
  PGW_UPDATE: 13,
  RESTORATION: 14,
} as const;

/** User-Data-Already-Available values (29.229 §6.3.26). */
export const UserDataAlreadyAvailable = { USER_DATA_NOT_AVAILABLE: 0, USER_DATA_ALREADY_AVAILABLE: 1 } as const;
/** User-Authorization-Type values (29.229 §6.3.24). */
export const UserAuthorizationType = { REGISTRATION: 0, DE_REGISTRATION: 1, REGISTRATION_AND_CAPABILITIES: 2 } as const;
/** Deregistration Reason-Code values (29.229 §6.3.17). */
export const ReasonCode = { PERMANENT_TERMINATION: 0, NEW_SERVER_ASSIGNED: 1, SERVER_CHANGE: 2, REMOVE_S_CSCF: 3 } as const;

/** An Experimental-Result: a vendor and that vendor's code. */
export interface ExperimentalResult {
  vendorId: number;
  code: number;
}

/** The outcome of a Cx answer: exactly one of a base Result-Code or an Experimental-Result. */
export type CxResult =
  | { resultCode: number; experimentalResult?: undefined }
  | { resultCode?: undefined; experimentalResult: ExperimentalResult };

/**
 * A 3GPP Experimental-Result outcome.
 * @param code a {@link CxExperimentalResultCode} value.
 */
export function experimental(code: number): CxResult {
  return { experimentalResult: { vendorId: CX_VENDOR_ID, code } };
}

/**
 * Whether the answer reports success: base 2xxx, or a 2xxx Experimental-Result-Code (FIRST_REGISTRATION, …).
 * @param result the outcome read from an answer.
 */
export function isCxSuccess(result: CxResult): boolean {
  const code = result.resultCode ?? result.experimentalResult?.code ?? 0;
  return code >= 2000 && code < 3000;
}
