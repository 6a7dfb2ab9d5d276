/**
 * What a SUBSCRIBE to the reg event package asks for, refused where it cannot be served before any state is read
 * (RFC 6665 §4.2.1; RFC 3680 §4.2; RFC 3261 §8.2): Request-URI scheme (416), required extensions (420), `Event: reg`
 * (400 without, 489 with Allow-Events for another package), Accept (406 unless reginfo+xml), one SIP Contact and a
 * From tag (400), an in-dialog To tag that names no AOR (481). `Expires` defaults to 3761 s (RFC 3680 §4.2) and is
 * capped at the longest a registration may last, or 3761 s if longer (24.229 §5.4.2.1.1: not below the longest
 * registration).
 */
import { addressOfRecord } from '../lib/sip/headers/uri.ts';
import { newTag } from '../lib/sip/ids.ts';
import type { SipRequest } from '../lib/sip/message.ts';
import type { ServerTransaction } from '../lib/sip/transaction/server.ts';
import { checkExtensions } from './extensions.ts';
import { REGINFO_TYPE } from './reginfo.ts';

/** The package this notifier serves (RFC 3680 §3). */
export const REG_EVENT = 'reg';
/** RFC 3680 §4.2: the default subscription duration. */
export const DEFAULT_REG_SUBSCRIPTION_EXPIRES = 3761;

/** A SUBSCRIBE that can be served. */
export interface SubscribeRequest {
  aor: string;
  /** Our tag when in a dialog (a refresh or an unsubscribe). */
  toTag: string | undefined;
  /** Seconds granted (0: end it). */
  granted: number;
  /** The Contact URI (the remote target). */
  target: string;
  /** The `id` parameter of Event (RFC 6665 §8.2.1), echoed in the NOTIFYs. */
  eventId: string | undefined;
}

/** Our tag: random, then the AOR (base64url) so a refresh finds its record without an index. */
export function localTagFor(aor: string): string {
  return `${newTag()}.${Buffer.from(aor, 'utf8').toString('base64url')}`;
}

function aorOfTag(tag: string): string | undefined {
  const dot = tag.indexOf('.');
  if (dot < 0) return undefined;
  const aor = Buffer.from(tag.slice(dot + 1), 'base64url').toString('utf8');
  return aor.length > 0 && aor.length <= 1024 ? aor : undefined;
}

/** Package and `id` of the Event value (`reg;id=1`); undefined when absent. */
function eventOf(req: SipRequest): { pkg: string; id: string | undefined } | undefined {
  const v = req.headers.get('event');
  if (v === undefined) return undefined;
  const [pkg = '', ...params] = v.split(';').map((p) => p.trim());
  const id = params.find((p) => /^id=/i.test(p))?.slice(3);
  return { pkg, id };
}

/** Whether Accept (absent: yes) takes the reginfo document (RFC 3680 §4.2). */
function acceptsReginfo(req: SipRequest): boolean {
  if (!req.headers.has('accept')) return true;
  return req.list('accept').some((v) => {
    const t = (v.split(';')[0] ?? '').trim().toLowerCase();
    return t === REGINFO_TYPE || t === 'application/*' || t === '*/*';
  });
}

/**
 * Reads a SUBSCRIBE; answers and returns undefined when it cannot be served.
 * @param maxExpires the longest registration granted (s).
 * @throws SipParseError for malformed fields (answered 400 by the stack).
 */
export function readSubscribe(req: SipRequest, tx: ServerTransaction, maxExpires: number): SubscribeRequest | undefined {
  if (req.requestUri().kind !== 'sip') return void tx.reply(416, { reason: 'Unsupported URI Scheme' });
  const ext = checkExtensions(req, tx.flow);
  if (!ext.ok) return void tx.reply(420, { headers: [['Unsupported', ext.unsupported.join(', ')]] });
  const event = eventOf(req);
  if (event === undefined || event.pkg === '') return void tx.reply(400, { reason: 'Bad Request (Missing Event)' });
  if (event.pkg !== REG_EVENT) return void tx.reply(489, { headers: [['Allow-Events', REG_EVENT]] });
  if (!acceptsReginfo(req)) return void tx.reply(406, { headers: [['Accept', REGINFO_TYPE]] });
  const contacts = req.contacts();
  const contact = contacts === '*' || contacts.length !== 1 ? undefined : contacts[0];
  if (contact?.uri.kind !== 'sip') return void tx.reply(400, { reason: 'Bad Request (SUBSCRIBE needs one SIP Contact)' });
  if (req.from().tag === undefined) return void tx.reply(400, { reason: 'Bad Request (From without tag)' });
  const requested = req.expires() ?? DEFAULT_REG_SUBSCRIPTION_EXPIRES;
  const granted = Math.min(requested, Math.max(maxExpires, DEFAULT_REG_SUBSCRIPTION_EXPIRES));
  const toTag = req.to().tag;
  const aor = toTag === undefined ? addressOfRecord(req.requestUri()) : aorOfTag(toTag);
  if (aor === undefined) return void tx.reply(481, { reason: 'Subscription Does Not Exist' });
  return { aor, toTag, granted, target: contact.uri.raw, eventId: event.id };
}
