/**
 * Transaction timers (RFC 3261 §17 and Table 4): T1 (RTT estimate, 500 ms), T2 (maximum retransmit interval for
 * non-INVITE requests, 4 s), T4 (maximum time a message stays in the network, 5 s); E, F, J, K derive from them.
 * All are configurable so tests run in milliseconds.
 *
 * A busy UDP registrar keeps every completed server transaction for Timer J = 64·T1 = 32 s; at 13,000 requests/s
 * that is ~400,000 live timers. Since J is one constant per stack, expiries arrive in insertion order, so one sweep
 * with a single Node timer replaces them all (completed.ts; answer-bound.ts for the TU's 64·T1).
 */
import { SipError } from '../errors.ts';

/** The base timer values in milliseconds. */
export interface TimerValues {
  t1: number;
  t2: number;
  t4: number;
}

/** RFC 3261 defaults. */
export const DEFAULT_TIMERS: Readonly<TimerValues> = { t1: 500, t2: 4000, t4: 5000 };

/**
 * Completes a partial timer configuration with the defaults and checks it.
 * @param partial overrides.
 * @throws SipError INVALID_ARGUMENT for non-positive or inconsistent values (T2 < T1).
 */
export function resolveTimers(partial: Partial<TimerValues> = {}): TimerValues {
  const t = { ...DEFAULT_TIMERS, ...partial };
  if (!(t.t1 > 0 && t.t2 >= t.t1 && t.t4 > 0)) throw new SipError('INVALID_ARGUMENT', `invalid SIP timers ${JSON.stringify(t)}`);
  return t;
}

/**
 * Timer F (non-INVITE client transaction timeout) and the lifetime bound of a server transaction waiting for its
 * TU: 64·T1.
 * @param t timer values.
 */
export function timerF(t: TimerValues): number {
  return 64 * t.t1;
}

/**
 * Timer J (§17.2.2): how long a completed non-INVITE server transaction absorbs retransmissions.
 * @param t timer values.
 * @param reliable true on TCP/TLS, where it is zero.
 */
export function timerJ(t: TimerValues, reliable: boolean): number {
  return reliable ? 0 : 64 * t.t1;
}

/**
 * Timer K (§17.1.2.2): how long a completed non-INVITE client transaction absorbs response retransmissions.
 * @param t timer values.
 * @param reliable true on TCP/TLS, where it is zero.
 */
export function timerK(t: TimerValues, reliable: boolean): number {
  return reliable ? 0 : t.t4;
}
