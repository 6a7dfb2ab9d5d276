/**
 * The one error type of `certs/`. Callers branch on `code`, never on the message, so the set of codes is closed:
 * adding one is an API change.
 */

/**
 * - `ERR_CERTS_NO_SYSTEM`: no system was given; a PKI needs at least one.
 * - `ERR_CERTS_INVALID_SYSTEM`: a system is not `NAME=REALM`, or its name or realm is malformed.
 * - `ERR_CERTS_DUPLICATE_SYSTEM`: two systems share a name or a realm (their host names would collide).
 * - `ERR_CERTS_EXISTS`: the output would overwrite an earlier PKI and `force` was not given.
 * - `ERR_CERTS_NO_MANIFEST`: the directory holds no `manifest.json` (never initialised, or the wrong path).
 * - `ERR_CERTS_BAD_MANIFEST`: `manifest.json` is unreadable, of another version, or does not describe the asked system.
 * - `ERR_CERTS_OLD_MANIFEST`: `manifest.json` is of an older version (leaves without realm and role): regenerate.
 * - `ERR_CERTS_MISSING_FILE`: a file the manifest names is absent.
 * - `ERR_CERTS_INVALID_LEAF`: `certs issue` was given an unknown role or a name outside the system's realm.
 * - `ERR_CERTS_INVALID_TRUST`: a `--trust a=b` pair names an unknown system, or one system twice.
 */
export type CertsErrorCode =
  | 'ERR_CERTS_NO_SYSTEM'
  | 'ERR_CERTS_INVALID_SYSTEM'
  | 'ERR_CERTS_DUPLICATE_SYSTEM'
  | 'ERR_CERTS_EXISTS'
  | 'ERR_CERTS_NO_MANIFEST'
  | 'ERR_CERTS_BAD_MANIFEST'
  | 'ERR_CERTS_OLD_MANIFEST'
  | 'ERR_CERTS_MISSING_FILE'
  | 'ERR_CERTS_INVALID_LEAF'
  | 'ERR_CERTS_INVALID_TRUST';

/** Codes that describe bad input rather than bad state: the CLI reports them as usage errors (exit 2). */
export const CERTS_INPUT_ERRORS: ReadonlySet<CertsErrorCode> = new Set<CertsErrorCode>([
  'ERR_CERTS_NO_SYSTEM',
  'ERR_CERTS_INVALID_SYSTEM',
  'ERR_CERTS_DUPLICATE_SYSTEM',
  'ERR_CERTS_INVALID_LEAF',
  'ERR_CERTS_INVALID_TRUST',
]);

/** A PKI failure with a machine-readable `code`. */
export class CertsError extends Error {
  readonly code: CertsErrorCode;
  /** The input field at fault (`--system`, `--dir`, `--role`, `--name`), when one is. */
  readonly field: string | undefined;

  /**
   * @param code what went wrong, from the closed set {@link CertsErrorCode}.
   * @param message human-readable detail naming the path or field; never carries key material.
   */
  constructor(code: CertsErrorCode, message: string, options?: { field?: string; cause?: unknown }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'CertsError';
    this.code = code;
    this.field = options?.field;
  }
}

/** True when `err` is a {@link CertsError}, and of `code` when one is given. */
export function isCertsError(err: unknown, code?: CertsErrorCode): err is CertsError {
  return err instanceof CertsError && (code === undefined || err.code === code);
}
