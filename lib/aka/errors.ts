/**
 * The one error type of `lib/aka` and the software ISIM. Callers branch on `code`, never on the message, so the set of
 * codes is closed: adding one is an API change.
 */

/**
 * - `ERR_AKA_INPUT`: a parameter has the wrong length, range or type (a programming or provisioning error).
 * - `ERR_AKA_MAC_FAILURE`: AUTN's MAC-A does not verify (TS 33.102 §6.3.3: the network is not authentic).
 * - `ERR_AKA_NONCE`: a Digest-AKA nonce is not base64 of at least RAND‖AUTN (RFC 3310 §3.2).
 * - `ERR_AKA_SQN_EXHAUSTED`: the 43-bit SEQ counter would wrap; wrapping would replay old SQNs, so it is refused.
 * - `ERR_AKA_STATE`: persisted AKA state (the ISIM file) is missing, unreadable or holds other credentials.
 */
export type AkaErrorCode =
  | 'ERR_AKA_INPUT'
  | 'ERR_AKA_MAC_FAILURE'
  | 'ERR_AKA_NONCE'
  | 'ERR_AKA_SQN_EXHAUSTED'
  | 'ERR_AKA_STATE';

/** An AKA failure with a machine-readable `code`. */
export class AkaError extends Error {
  readonly code: AkaErrorCode;

  /**
   * @param code what went wrong, from the closed set {@link AkaErrorCode}.
   * @param message human-readable detail; never carries key material.
   */
  constructor(code: AkaErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'AkaError';
    this.code = code;
  }
}

/**
 * Throws `ERR_AKA_INPUT` unless `value` is a byte buffer of exactly `length` octets.
 * @param name the parameter name, so the message says which input was wrong.
 */
export function assertBytes(name: string, value: unknown, length: number): asserts value is Buffer {
  if (!Buffer.isBuffer(value)) {
    throw new AkaError('ERR_AKA_INPUT', `${name} must be a Buffer of ${length} octets`);
  }
  if (value.length !== length) {
    throw new AkaError('ERR_AKA_INPUT', `${name} must be ${length} octets, got ${value.length}`);
  }
}
