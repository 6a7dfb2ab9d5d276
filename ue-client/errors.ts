/**
 * The one error type of the UE's SIP side (`ua.ts`, `register.ts`, `aka-auth.ts`, the transports, `mcx ue`). Callers
 * branch on `code`, never on the message, so the set is closed: adding a code is an API change. Each code maps to one
 * exit status of `mcx ue`, so scripts can tell "the network is not authentic" from "the registrar is down".
 */
import type { Core } from 'sip.js';
import type { Stall } from './ua.ts';

/**
 * - `UE_MAC_FAILURE`: AUTN's MAC did not verify (TS 33.102 §6.3.3); the UE sent its one REGISTER with an empty
 *   `response` (TS 24.229 §5.1.1.5.3) and gave up: the network is not authentic (wrong K/OP on one side).
 * - `UE_SYNC_FAILURE`: resynchronisation did not converge (the SQN was refused again after `auts`).
 * - `UE_AUTH_REJECTED`: the registrar refused our credentials (403 after an answered challenge, or a challenge loop) —
 *   also a 403 after our MAC-failure report (`detail: 'mac_failure'`): a registrar that does not enumerate users
 *   answers an unknown identity with a challenge no ISIM can verify, so this is "refused", not "network not authentic".
 * - `UE_RSPAUTH_MISMATCH`: `Authentication-Info: rspauth` did not verify (RFC 3310 §3.5): the 200 is not authentic.
 * - `UE_CHALLENGE_UNSUPPORTED`: no offered challenge can be answered with what the UE holds (algorithm, ISIM, password).
 * - `UE_CHALLENGE_INVALID`: the challenge is malformed (no realm/nonce, AKA nonce not base64(RAND‖AUTN)).
 * - `UE_REJECTED`: any other final failure response (404, 423 without Min-Expires, 500, 503, 504, …).
 * - `UE_BINDING`: a 2xx that does not list our Contact with an expiry (RFC 3261 §10.2.4).
 * - `UE_DEREGISTERED`: the network ended a held registration (a reg event NOTIFY with our contact terminated, TS
 *   24.229 §5.1.1.7: the registrar got a Registration-Termination-Request, e.g. the migration ended).
 * - `UE_TIMEOUT`: no final response (Timer F, or the operation's own deadline).
 * - `UE_TRANSPORT`: connection refused or closed, ICMP unreachable, name not resolvable.
 * - `UE_TLS`: the TLS handshake failed (certificate chain or name not verified).
 * - `UE_ISIM`: the ISIM state file is missing, invalid, unwritable or holds other credentials.
 * - `UE_ISIM_LOCKED`: another process has the ISIM state file open (its `<file>.lock`); two would lose each other's
 *   SQN updates, after which a replayed challenge would be accepted.
 * - `UE_INTERRUPTED`: SIGINT/SIGTERM ended the run before it completed (what was outstanding was aborted).
 * - `UE_STATE`: the API was used out of order (register after stop, …).
 */
export type UeErrorCode =
  | 'UE_MAC_FAILURE'
  | 'UE_SYNC_FAILURE'
  | 'UE_AUTH_REJECTED'
  | 'UE_RSPAUTH_MISMATCH'
  | 'UE_CHALLENGE_UNSUPPORTED'
  | 'UE_CHALLENGE_INVALID'
  | 'UE_REJECTED'
  | 'UE_BINDING'
  | 'UE_DEREGISTERED'
  | 'UE_TIMEOUT'
  | 'UE_TRANSPORT'
  | 'UE_TLS'
  | 'UE_ISIM'
  | 'UE_ISIM_LOCKED'
  | 'UE_INTERRUPTED'
  | 'UE_STATE';

/**
 * Exit status of `mcx ue` per code: 3 authentication, 4 refused by the registrar, 5 timeout, 6 transport, 1 local,
 * 130 interrupted (128 + SIGINT, for SIGTERM too).
 */
export const UE_EXIT_STATUS: Readonly<Record<UeErrorCode, number>> = {
  UE_MAC_FAILURE: 3,
  UE_SYNC_FAILURE: 3,
  UE_AUTH_REJECTED: 3,
  UE_RSPAUTH_MISMATCH: 3,
  UE_CHALLENGE_UNSUPPORTED: 3,
  UE_CHALLENGE_INVALID: 3,
  UE_REJECTED: 4,
  UE_BINDING: 4,
  UE_DEREGISTERED: 4,
  UE_TIMEOUT: 5,
  UE_TRANSPORT: 6,
  UE_TLS: 6,
  UE_ISIM: 1,
  UE_ISIM_LOCKED: 1,
  UE_INTERRUPTED: 130,
  UE_STATE: 1,
};

/** A UE failure with a machine-readable `code` and, when a response caused it, its status. */
export class UeError extends Error {
  readonly code: UeErrorCode;
  /** Status code of the SIP response behind the failure, when there was one. */
  readonly status: number | undefined;
  /** What else is known, machine-readable (`mac_failure`: the ISIM found AUTN's MAC wrong on the way). */
  readonly detail: string | undefined;

  /**
   * @param code what went wrong, from the closed set {@link UeErrorCode}.
   * @param message human-readable detail; never carries key material or passwords.
   */
  constructor(code: UeErrorCode, message: string, options?: { cause?: unknown; status?: number; detail?: string }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'UeError';
    this.code = code;
    this.status = options?.status;
    this.detail = options?.detail;
  }

  /** The exit status `mcx ue` uses for this error. */
  get exitStatus(): number {
    return UE_EXIT_STATUS[this.code];
  }
}

/** Narrows `e` to a {@link UeError}, optionally of one code. */
export function isUeError(e: unknown, code?: UeErrorCode): e is UeError {
  return e instanceof UeError && (code === undefined || e.code === code);
}

/**
 * The UE sent its MAC-failure REGISTER (TS 24.229 §5.1.1.5.3); `status` is what the registrar answered to it. A 403
 * is the partner refusing the identity (our registrar's decoy challenge for an identity its HSS does not know, or
 * keys that differ between ISIM and HSS): `UE_AUTH_REJECTED` with detail `mac_failure`; anything else (a new 401 from
 * an S-CSCF such as Kamailio) leaves the MAC failure as the reason.
 */
export function macFailureError(status: number): UeError {
  if (status === 403) {
    return new UeError('UE_AUTH_REJECTED', 'the partner system refused the identity, or its challenge did not authenticate (unknown identity, or keys that differ): ' +
      'AUTN did not verify at the ISIM (MAC failure), reported with an empty response; registrar answered 403', { status, detail: 'mac_failure' });
  }
  return new UeError('UE_MAC_FAILURE', `network authentication failed (MAC): AUTN did not verify, reported with an empty response; registrar answered ${status}`, { status });
}

/** The error of a final failure response handed to the Registerer's delegate. */
export function rejectionError(m: Core.IncomingResponseMessage): UeError {
  const status = m.statusCode ?? 0;
  const reason = m.reasonPhrase ?? '';
  // SIP.js makes these two up for Timer F and transport errors: they carry no headers.
  const synthetic = !m.hasHeader('call-id');
  if (synthetic && status === 408) return new UeError('UE_TIMEOUT', 'no final response from the registrar (Timer F, 32 s)', { status });
  if (synthetic && status === 503) return new UeError('UE_TRANSPORT', 'transport error while sending REGISTER', { status });
  if (status === 403) return new UeError('UE_AUTH_REJECTED', `registrar refused the credentials: 403 ${reason}`.trim(), { status });
  if (status === 504) return new UeError('UE_REJECTED', `registrar could not reach the HSS in time: 504 ${reason}`.trim(), { status });
  return new UeError('UE_REJECTED', `registrar answered ${status} ${reason}`.trim(), { status });
}

/** The error of a final response SIP.js swallowed (see ua.ts); `viaHost` is the sent-by the UE put in its Via. */
export function stallError(s: Stall, viaHost: string): UeError {
  if (s.status === 0) return new UeError('UE_STATE', s.reason);
  const sentBy = /^(?:Via|v)[ \t]*:[ \t]*SIP[ \t]*\/[ \t]*2\.0[ \t]*\/[ \t]*\S+[ \t]+([^;\s,]+)/im.exec(s.raw)?.[1];
  if (sentBy !== undefined && sentBy.toLowerCase() !== viaHost.toLowerCase()) {
    // SIP.js 0.21 drops a response unless its top Via's sent-by is exactly the bare `viaHost` it sent.
    return new UeError('UE_REJECTED', `${s.status} ${s.reason} discarded: its top Via sent-by ${sentBy} is not the ${viaHost} the UE sent`, { status: s.status });
  }
  if (s.status >= 200 && s.status < 300) return new UeError('UE_BINDING', `${s.status} ${s.reason} does not list our Contact with an expiry (RFC 3261 §10.2.4)`, { status: s.status });
  return new UeError('UE_REJECTED', `${s.status} ${s.reason} was not usable (e.g. 423 without Min-Expires)`, { status: s.status });
}

/** The `error` member of a `--json` report: code, message, and the status and detail when known. */
export function errorReport(e: { code: string; message: string; status?: number | undefined; detail?: string | undefined }): { code: string; message: string; status?: number; detail?: string } {
  return { code: e.code, message: e.message, ...(e.status === undefined ? {} : { status: e.status }), ...(e.detail === undefined ? {} : { detail: e.detail }) };
}
