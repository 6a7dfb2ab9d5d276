/**
 * The registration information document of the reg event package (RFC 3680 §5, `application/reginfo+xml`), as an
 * S-CSCF sends it (TS 24.229 §5.4.2.1.2): one `<registration>` per public identity of the registration set (the
 * implicitly registered ones of the profile too), each listing the same contacts. Every document here is
 * `state="full"`: a partial one would have to reproduce what the subscriber last saw, which a NOTIFY lost on UDP
 * breaks; a full one is always right (RFC 3680 §5.2 lets the notifier choose per NOTIFY).
 */
import { createHash } from 'node:crypto';

/** The MIME type of the body (RFC 3680 §5.2). */
export const REGINFO_TYPE = 'application/reginfo+xml';

/**
 * What brought a contact to its state (RFC 3680 §5.3.2, the `event` attribute): `registered`/`created` into active
 * (`refreshed`/`shortened` staying active), `expired`/`deactivated`/`probation`/`unregistered`/`rejected` out of it.
 */
export type ContactEvent = 'registered' | 'created' | 'refreshed' | 'shortened' | 'expired' | 'deactivated' | 'probation' | 'unregistered' | 'rejected';

/** One contact of the document. */
export interface ReginfoContact {
  /**
   * The binding's key (bindings.ts contactKey): the contact's `id` is made of it and the registration's AOR, so it is
   * stable across notifications and unique in the document although the same contact is listed under each identity
   * of the set (RFC 3680 §5.3.2).
   */
  key: string;
  state: 'active' | 'terminated';
  event: ContactEvent;
  uri: string;
  /** Seconds left (active contacts only). */
  expires?: number;
  /** Seconds since the binding was first made, when known. */
  durationRegistered?: number;
  callId?: string;
  cseq?: number;
}

/** The document's content. */
export interface Reginfo {
  /** The notification's version for this subscription: 0 for the first, then +1 each (RFC 3680 §5.2). */
  version: number;
  /** The public identities of the registration set, the subscribed AOR first. */
  aors: readonly string[];
  contacts: readonly ReginfoContact[];
}

const XML_ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&apos;' };

/** Text safe in an XML attribute or element (URIs may carry `&` and `"`). */
export function xmlEscape(s: string): string {
  return s.replace(/[&<>"']/g, (c) => XML_ESCAPES[c] as string);
}

/**
 * A short identifier that stays the same for the same input (RFC 3680 §5.3.1/§5.3.2: `id` of a registration and of
 * a contact "MUST be unique" within the document and stable across notifications).
 * @param parts what identifies the element (AOR; AOR and contact key).
 */
export function stableId(...parts: string[]): string {
  return createHash('sha256').update(parts.join('\n')).digest('hex').slice(0, 16);
}

function contactXml(aor: string, c: ReginfoContact): string {
  const attrs = [
    `id="${stableId(aor, c.key)}"`, `state="${c.state}"`, `event="${c.event}"`,
    ...(c.state === 'active' && c.expires !== undefined ? [`expires="${c.expires}"`] : []),
    ...(c.durationRegistered !== undefined ? [`duration-registered="${c.durationRegistered}"`] : []),
    ...(c.callId !== undefined ? [`callid="${xmlEscape(c.callId)}"`] : []),
    ...(c.cseq !== undefined ? [`cseq="${c.cseq}"`] : []),
  ];
  return `    <contact ${attrs.join(' ')}>\n      <uri>${xmlEscape(c.uri)}</uri>\n    </contact>\n`;
}

/**
 * The document (RFC 3680 §5.4's layout). A registration is `active` while it has an active contact, else
 * `terminated` (§5.3.1: `init` is for a registration with no contact ever, which a subscription here never sees).
 * @param info version, identities and contacts.
 */
export function buildReginfo(info: Reginfo): string {
  const state = info.contacts.some((c) => c.state === 'active') ? 'active' : 'terminated';
  const registrations = info.aors.map((aor) =>
    `  <registration aor="${xmlEscape(aor)}" id="${stableId(aor)}" state="${state}">\n${info.contacts.map((c) => contactXml(aor, c)).join('')}  </registration>\n`).join('');
  return `<?xml version="1.0" encoding="UTF-8"?>\n<reginfo xmlns="urn:ietf:params:xml:ns:reginfo" version="${info.version}" state="full">\n${registrations}</reginfo>\n`;
}
