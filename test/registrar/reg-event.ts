/**
 * The subscriber's side of the reg event package for the registrar tests (RFC 3680, RFC 6665): SUBSCRIBE bytes as a
 * TS 24.229 UE writes them, the UE's answer to a NOTIFY, and the reginfo document read back.
 */
import { randomBytes } from 'node:crypto';
import { headerLines, type Incoming, type Ue } from './ue.ts';

/** A SUBSCRIBE as a 24.229 UE writes it (§5.1.1.3). */
export function subscribeBytes(ue: Ue, impu: string, o: { callId: string; cseq: number; fromTag: string; toTag?: string; expires?: number; extra?: string[]; event?: string | null; uri?: string }): string {
  return [
    `SUBSCRIBE ${o.uri ?? impu} SIP/2.0`,
    `Via: SIP/2.0/${ue.transport} ${ue.localAddress}:${ue.localPort};branch=z9hG4bK${randomBytes(8).toString('hex')};rport`,
    'Max-Forwards: 70',
    `From: <${impu}>;tag=${o.fromTag}`,
    `To: <${impu}>${o.toTag ? `;tag=${o.toTag}` : ''}`,
    `Call-ID: ${o.callId}`,
    `CSeq: ${o.cseq} SUBSCRIBE`,
    `Contact: <sip:ue@${ue.localAddress}:${ue.localPort};transport=${ue.transport.toLowerCase()}>`,
    ...(o.event === null ? [] : [`Event: ${o.event ?? 'reg'}`]),
    ...(o.extra ?? ['Accept: application/reginfo+xml']),
    `Expires: ${o.expires ?? 600000}`,
    'Content-Length: 0', '', '',
  ].join('\r\n');
}

/** The UE's answer to a NOTIFY: its Via, From, To, Call-ID and CSeq copied (RFC 3261 §8.2.6). */
export function answer(ue: Ue, n: Incoming, status = 200, reason = 'OK'): void {
  const copy = ['Via', 'From', 'To', 'Call-ID', 'CSeq'].flatMap((h) => headerLines(n.text, h).map((v) => `${h}: ${v}`));
  ue.transmit([`SIP/2.0 ${status} ${reason}`, ...copy, 'Content-Length: 0', '', ''].join('\r\n'));
}

/** The next NOTIFY, answered 200, with what a test reads of it. */
export async function notified(ue: Ue, status = 200): Promise<{ n: Incoming; state: string; body: string; cseq: number }> {
  const n = await ue.nextRequest();
  answer(ue, n, status, status === 200 ? 'OK' : 'Call/Transaction Does Not Exist');
  return { n, state: headerLines(n.text, 'Subscription-State')[0] ?? '', body: n.msg.body.toString('utf8'), cseq: n.msg.cseq().seq };
}

const attrsOf = (s: string): Record<string, string> => Object.fromEntries([...s.matchAll(/([a-z-]+)="([^"]*)"/g)].map((a) => [a[1], a[2]]));

/** Each `<registration>` of a reginfo body: its attributes and its contacts' attributes with their URI. */
export function registrationsOf(body: string): Array<{ aor?: string; id?: string; state?: string; contacts: Array<Record<string, string>> }> {
  return [...body.matchAll(/<registration ([^>]*)>([\s\S]*?)<\/registration>/g)].map((r) => ({
    aor: attrsOf(r[1] as string).aor, id: attrsOf(r[1] as string).id, state: attrsOf(r[1] as string).state,
    contacts: [...(r[2] as string).matchAll(/<contact ([^>]*)>\s*<uri>([^<]*)<\/uri>/g)].map((m) => ({ ...attrsOf(m[1] as string), uri: m[2] as string })),
  }));
}

/** The contacts of the first `<registration>` (the subscribed AOR's). */
export function contactsOf(body: string): Array<Record<string, string>> {
  return registrationsOf(body)[0]?.contacts ?? [];
}
