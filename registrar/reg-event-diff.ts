/**
 * Which contact events a notification reports (RFC 3680 §5.3.2, TS 24.229 §5.4.2.1.2): the AOR's live bindings now
 * against what the subscriber was last told. A contact new since then was `registered`; one still there whose expiry
 * moved later was `refreshed`, earlier `shortened`; one gone was `expired` when its time ran out, `rejected` when the
 * network ended the registration (a Registration-Termination-Request: the migration or mapping ended, so the UE is
 * not to register again, 24.229 §5.4.1.5), else `unregistered` (the UE removed it).
 */
import type { Binding } from './bindings.ts';
import type { NotifiedContact } from './reg-subscriptions.ts';
import type { ReginfoContact } from './reginfo.ts';

/** Why the notification is sent. */
export type ChangeCause = 'subscribe' | 'register' | 'rtr' | 'expiry';

/** The contacts of a notification and what the subscriber will have been told. */
export interface ContactChanges {
  contacts: ReginfoContact[];
  /** Whether anything changed since the last notification (a SUBSCRIBE always notifies). */
  changed: boolean;
  /** The active contacts as notified now. */
  notified: NotifiedContact[];
}

/**
 * The contacts of the next notification.
 * @param last what the previous notification listed as active (empty for the first).
 * @param live the AOR's live bindings now.
 * @param cause why; `subscribe` lists the live contacts as `registered` and always counts as a change.
 * @param now epoch ms.
 */
export function contactChanges(last: readonly NotifiedContact[], live: readonly Binding[], cause: ChangeCause, now: number): ContactChanges {
  const contacts: ReginfoContact[] = [];
  const notified: NotifiedContact[] = [];
  let changed = cause === 'subscribe';
  const seen = new Set<string>();
  for (const b of live) {
    seen.add(b.key);
    const prev = cause === 'subscribe' ? undefined : last.find((c) => c.key === b.key);
    let event: ReginfoContact['event'] = 'registered';
    if (prev === undefined) changed = true;
    else if (b.expiresAt > prev.expiresAt) event = 'refreshed';
    else if (b.expiresAt < prev.expiresAt) event = 'shortened';
    if (prev !== undefined && (event !== 'registered' || prev.callId !== b.callId || prev.cseq !== b.cseq)) changed = true;
    contacts.push({
      key: b.key, state: 'active', event, uri: b.uri, expires: Math.max(0, Math.ceil((b.expiresAt - now) / 1000)),
      callId: b.callId, cseq: b.cseq,
    });
    notified.push({ key: b.key, uri: b.uri, expiresAt: b.expiresAt, callId: b.callId, cseq: b.cseq });
  }
  if (cause !== 'subscribe') {
    for (const c of last) {
      if (seen.has(c.key)) continue;
      changed = true;
      const event = cause === 'rtr' ? 'rejected' : c.expiresAt <= now ? 'expired' : 'unregistered';
      contacts.push({ key: c.key, state: 'terminated', event, uri: c.uri, callId: c.callId, cseq: c.cseq });
    }
  }
  return { contacts, changed, notified };
}
