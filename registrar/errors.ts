/**
 * The one error type of the registrar. Each code maps to exactly one SIP status (DESIGN §2.1), so the REGISTER state
 * machine answers every failure through {@link sipStatusOf} and never invents a status ad hoc. The set of codes is
 * closed: adding one is an API change.
 */

/**
 * - `ERR_REGISTRAR_CONFIG`: the configuration cannot be used (a file, a combination of options).
 * - `ERR_REGISTRAR_HSS_UNAVAILABLE`: no answer in time, no open peer, or Result-Code 3002/3004 → `504`.
 * - `ERR_REGISTRAR_USER_UNKNOWN`: Experimental-Result 5001/5002 (or another Cx refusal of the user) → `403`; for a MAR
 *   challenge.ts answers it with a decoy challenge instead (no user enumeration), so only a SAR's reaches a 403.
 * - `ERR_REGISTRAR_HSS_ERROR`: any other failure answer, or an answer without a usable vector → `500`.
 * - `ERR_REGISTRAR_CLOSED`: the registrar is stopping → `503`.
 */
export type RegistrarErrorCode =
  | 'ERR_REGISTRAR_CONFIG'
  | 'ERR_REGISTRAR_HSS_UNAVAILABLE'
  | 'ERR_REGISTRAR_USER_UNKNOWN'
  | 'ERR_REGISTRAR_HSS_ERROR'
  | 'ERR_REGISTRAR_CLOSED';

const STATUS: Readonly<Record<RegistrarErrorCode, number>> = {
  ERR_REGISTRAR_CONFIG: 500,
  ERR_REGISTRAR_HSS_UNAVAILABLE: 504,
  ERR_REGISTRAR_USER_UNKNOWN: 403,
  ERR_REGISTRAR_HSS_ERROR: 500,
  ERR_REGISTRAR_CLOSED: 503,
};

/** A registrar failure with a machine-readable `code`. */
export class RegistrarError extends Error {
  override readonly name = 'RegistrarError';
  readonly code: RegistrarErrorCode;

  /**
   * @param code what went wrong, from the closed set {@link RegistrarErrorCode}.
   * @param message detail naming identities and result codes; never key material.
   */
  constructor(code: RegistrarErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
  }
}

/**
 * The SIP status a failure is answered with.
 * @param code the error's code.
 */
export function sipStatusOf(code: RegistrarErrorCode): number {
  return STATUS[code];
}

/**
 * Whether `err` is a {@link RegistrarError}, of `code` when one is given.
 * @param err anything caught.
 * @param code the code to match.
 */
export function isRegistrarError(err: unknown, code?: RegistrarErrorCode): err is RegistrarError {
  return err instanceof RegistrarError && (code === undefined || err.code === code);
}
