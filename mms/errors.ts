/**
 * The one error type of `mms/`. Callers branch on `code`, never on the message, so the set is closed: adding a code
 * is an API change. The translation codes each map to exactly one Cx outcome toward the partner SIP core
 * (`translate-errors.ts`); the provisioning codes map to the admin API's 400/409.
 */

/**
 * - `ERR_MMS_INPUT`: a mapping, CSV file or configuration is malformed; `problems` lists every issue.
 * - `ERR_MMS_CONFLICT`: a mapping would make an identity ambiguous (a primary IMPI already mapped from another partner
 *   IMPI); `problems` names it.
 * - `ERR_MMS_USER_UNKNOWN`: no mapping for the partner IMPI → Experimental-Result 5001 DIAMETER_ERROR_USER_UNKNOWN.
 * - `ERR_MMS_IDENTITIES_DONT_MATCH`: a partner IMPU that the IMPI's mapping does not hold → Experimental-Result 5002.
 * - `ERR_MMS_PRIMARY_UNREACHABLE`: no peer toward the primary, or no answer within the timeout → Result-Code 3002
 *   DIAMETER_UNABLE_TO_DELIVER (E bit).
 * - `ERR_MMS_BAD_ANSWER`: the primary's answer (or its User-Data) cannot be read or safely rewritten → 5012
 *   DIAMETER_UNABLE_TO_COMPLY, because forwarding it unmapped would leak primary identities.
 */
export type MmsErrorCode =
  | 'ERR_MMS_INPUT'
  | 'ERR_MMS_CONFLICT'
  | 'ERR_MMS_USER_UNKNOWN'
  | 'ERR_MMS_IDENTITIES_DONT_MATCH'
  | 'ERR_MMS_PRIMARY_UNREACHABLE'
  | 'ERR_MMS_BAD_ANSWER';

/** One issue of a bad input: where (CSV line, field) and what. */
export interface MmsProblem {
  /** 1-based line of the CSV file. */
  line?: number;
  field?: string;
  message: string;
}

/** `line 3: primary_impu: must be a sip:, sips: or tel: URI`. */
export function formatProblem(p: MmsProblem): string {
  return `${p.line === undefined ? '' : `line ${p.line}: `}${p.field === undefined ? '' : `${p.field}: `}${p.message}`;
}

/** An MMS failure with a machine-readable `code`. */
export class MmsError extends Error {
  override readonly name = 'MmsError';
  readonly code: MmsErrorCode;
  /** Every issue found (all bad rows of an import, not just the first); empty for translation errors. */
  readonly problems: readonly MmsProblem[];

  /**
   * @param code what went wrong, from the closed set {@link MmsErrorCode}.
   * @param message detail naming identities or fields; never key material.
   * @param problems the individual issues of an input error (the message lists them when omitted).
   */
  constructor(code: MmsErrorCode, message: string | readonly MmsProblem[], options?: { cause?: unknown }) {
    const problems = typeof message === 'string' ? [] : message;
    super(typeof message === 'string' ? message : problems.map(formatProblem).join('\n'), options);
    this.code = code;
    this.problems = problems;
  }
}

/**
 * Whether `err` is an {@link MmsError}, and of `code` when one is given.
 * @param err anything caught.
 */
export function isMmsError(err: unknown, code?: MmsErrorCode): err is MmsError {
  return err instanceof MmsError && (code === undefined || err.code === code);
}
