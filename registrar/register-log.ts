/**
 * The registrar's one info line per registration (issue #12): at the final answer of a REGISTER — the 200, or the
 * refusal that ends the attempt (403, 420, 494, 5xx …) — with the outcome, the partner identities (the turn's
 * {@link withFields} view adds IMPU, Call-ID and transport), the seed flow and the timings. Everything on the way (the
 * 401, stale nonces, resynchronisation) is at debug level, and the seed steps are debug lines and events
 * (lib/seed-steps.ts).
 *
 * Timings: `ms` is this REGISTER from receipt to answer, `cx_ms` its Cx round trips (the SAR); `total_ms` runs from
 * receipt of the REGISTER that got the 401 and `mar_ms` is that REGISTER's MAR — known when this process issued
 * that 401 (the start is kept per nonce, for at most {@link TRACKED} nonces, oldest forgotten first).
 *
 * The same moment feeds the registration metrics (metrics.ts), whatever the log level: the outcome and the time since
 * the first REGISTER of the attempt.
 */
import { BoundedMap } from '../lib/bounded-map.ts';
import type { Turn } from './turn.ts';

/** Nonces whose 401 start is remembered: beyond it a registration's `total_ms` is simply not logged. */
const TRACKED = 10_000;

export interface FirstRegister {
  /** `performance.now()` at receipt of the REGISTER that got the 401. */
  started: number;
  /** Its Cx round trips (the MAR and, for SIP Digest, those of further algorithms). */
  cxMs: number;
}

const challenged = new BoundedMap<string, FirstRegister>(TRACKED);

const ms = (v: number): number => Math.round(v * 100) / 100;

/** Remembers when the REGISTER now answered with a 401 for `nonce` began, for the line of its answer. */
export function challengeSent(t: Turn, nonce: string): void {
  if (t.ctx.metrics || t.log.isLevelEnabled('info')) challenged.set(nonce, { started: t.started, cxMs: t.cxMs });
}

/**
 * Forgets what {@link challengeSent} kept for `nonce` (taken from the store: whatever the answer, it is the last).
 * @returns the timings of the registration's first REGISTER, if this process sent its 401.
 */
export function challengeAnswered(nonce: string): FirstRegister | undefined {
  const first = challenged.peek(nonce);
  if (first) challenged.delete(nonce);
  return first;
}

/**
 * The registration's info line: `REGISTER → <status>` (or `msg`) with `fields`, the flow and the timings.
 * @param first what {@link challengeAnswered} returned for the nonce this REGISTER answered, if any.
 */
export function registrationOutcome(t: Turn, status: number, fields: Record<string, unknown>, msg = `REGISTER → ${status}`, first?: FirstRegister): void {
  const now = performance.now();
  t.ctx.metrics?.outcome(status, typeof fields.bindings === 'number' ? fields.bindings : undefined, (now - (first ?? t.first ?? t).started) / 1000);
  if (!t.log.isLevelEnabled('info')) return;
  t.log.info({
    status, flow: t.flow, ...fields, ms: ms(now - t.started), cx_ms: ms(t.cxMs),
    ...(first ? { total_ms: ms(now - first.started), mar_ms: ms(first.cxMs) } : {}),
  }, msg);
}
