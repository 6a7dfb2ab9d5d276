/**
 * SIP extensions a REGISTER may require (RFC 3261 §8.2.2.3): `path` (RFC 3327) is supported; `sec-agree` (RFC 3329)
 * only in the form this registrar can honour — over TLS, with `tls` among the client's Security-Client mechanisms (or
 * a Security-Verify, on the REGISTER after the 401) —
 * where the 401 answers with `Security-Server: tls;q=0.1` and the authenticated REGISTER must echo that list in
 * Security-Verify. Every other required option-tag, and sec-agree elsewhere, is answered `420 Bad Extension` listing
 * them in `Unsupported`.
 */
import type { SipRequest } from '../lib/sip/message.ts';
import type { FlowInfo } from '../lib/sip/transport/types.ts';

/** Option-tags a REGISTER may require unconditionally. */
export const SUPPORTED_OPTION_TAGS: readonly string[] = ['path'];
/** The registrar's Security-Server list: TLS is the one mechanism it offers. */
export const SECURITY_SERVER = 'tls;q=0.1';

/** The outcome of {@link checkExtensions}. */
export type ExtensionCheck = { ok: true; secAgree: boolean } | { ok: false; unsupported: string[] };

/** The mechanism names (lower case) of every Security-Client element. */
function clientMechanisms(req: SipRequest): string[] {
  return req.list('security-client').map((el) => (el.split(';')[0] ?? '').trim().toLowerCase());
}

/**
 * Looks at Require and Proxy-Require (the registrar is its own P-CSCF, so it must honour both).
 * @param flow where the request arrived (sec-agree needs TLS).
 */
export function checkExtensions(req: SipRequest, flow: FlowInfo): ExtensionCheck {
  const required = [...new Set([...req.list('require'), ...req.list('proxy-require')].map((t) => t.toLowerCase()))];
  const unsupported = required.filter((t) => t !== 'sec-agree' && !SUPPORTED_OPTION_TAGS.includes(t));
  const wantsSecAgree = required.includes('sec-agree');
  // The request after the 401 may carry only Security-Verify; whether that repeats our list is checked later (494).
  const secAgree = wantsSecAgree && flow.transport === 'TLS' && (clientMechanisms(req).includes('tls') || req.headers.has('security-verify'));
  if (wantsSecAgree && !secAgree) unsupported.push('sec-agree');
  return unsupported.length > 0 ? { ok: false, unsupported } : { ok: true, secAgree };
}

/** A security mechanism list without white space, lower case, for comparison. */
function normalise(list: readonly string[]): string {
  return list.map((el) => el.replace(/\s+/g, '').toLowerCase()).join(',');
}

/**
 * Whether the Security-Verify of the authenticated REGISTER repeats the Security-Server list the 401 sent (RFC 3329
 * §2.3.1: a mismatch is a downgrade attempt).
 */
export function securityVerifyMatches(req: SipRequest): boolean {
  return normalise(req.list('security-verify')) === normalise([SECURITY_SERVER]);
}
