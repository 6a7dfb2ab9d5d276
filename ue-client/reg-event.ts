/**
 * The UE's subscription to its own registration state (TS 24.229 §5.1.1.3; RFC 3680) while it holds a registration:
 * SIP.js's `Subscriber` sends the SUBSCRIBE (`Event: reg`, `Accept: application/reginfo+xml`, Expires 600 000 s as
 * 24.229 asks) over the registration's own flow, answers the NOTIFYs and refreshes the subscription; this file reads
 * each NOTIFY's reginfo document for the state of the UE's own contact. When the network ends the registration — the
 * contact `terminated` (`rejected`: the partner MMS ended the migration; `deactivated`: register again; `expired`,
 * `unregistered`) — a held UE knows at once instead of at its next refresh (24.229 §5.1.1.7).
 *
 * A registrar without the package (405, 489) only costs the note that the UE will not hear of a network
 * de-registration; the registration goes on.
 */
import { Subscriber, SubscriptionState, UserAgent, type Notification } from 'sip.js';
import { parseUri } from '../lib/sip/index.ts';
import { responseKey } from './transports/index.ts';
import type { UeAgent } from './ua.ts';

/** 24.229 §5.1.1.3: the UE asks for 600 000 s; the registrar shortens it. */
export const REG_SUBSCRIPTION_EXPIRES = 600_000;

/** What a NOTIFY said. */
export interface RegState {
  /** `active` while the AOR has an active contact (RFC 3680 §5.3.1). */
  registration: string;
  /** Our contact's `state` and `event`; undefined when the document does not list it. */
  contact: { state: string; event: string } | undefined;
  /** The NOTIFY's Subscription-State value. */
  subscriptionState: string;
  /** The reginfo `version`. */
  version: number | undefined;
}

/** What the watch reports. */
export interface RegEventListener {
  /** Each NOTIFY. */
  onState(s: RegState): void;
  /** The SUBSCRIBE was refused (status, 0 for no answer): no network de-registration will be heard of. */
  onRefused(status: number): void;
  /** The subscription ended while our contact was still active (its refresh refused, the registrar lost it). */
  onLost(): void;
}

const attr = (s: string, name: string): string | undefined => new RegExp(`\\b${name}="([^"]*)"`).exec(s)?.[1];

/**
 * The state of the contact `ours` in a reginfo document (RFC 3680 §5.4): contacts compared by user, host and port.
 * @param body the document.
 * @param ours the UE's Contact URI.
 * @param subscriptionState the NOTIFY's Subscription-State value, passed through.
 */
export function readRegState(body: string, ours: string, subscriptionState: string): RegState {
  const head = /<reginfo\b[^>]*>/.exec(body)?.[0] ?? '';
  const registration = attr(/<registration\b[^>]*>/.exec(body)?.[0] ?? '', 'state') ?? 'unknown';
  const same = (a: string, b: string): boolean => {
    try {
      const x = parseUri(a);
      const y = parseUri(b);
      return x.kind === 'sip' && y.kind === 'sip' && x.user === y.user && x.host.toLowerCase() === y.host.toLowerCase() && (x.port ?? 5060) === (y.port ?? 5060);
    } catch {
      return false;
    }
  };
  let contact: RegState['contact'];
  for (const m of body.matchAll(/<contact\b([^>]*)>\s*<uri>([^<]*)<\/uri>/g)) {
    const uri = (m[2] ?? '').replace(/&amp;/g, '&');
    if (!same(uri, ours)) continue;
    const c = { state: attr(m[1] ?? '', 'state') ?? 'unknown', event: attr(m[1] ?? '', 'event') ?? 'unknown' };
    // The registrar may list an older binding of the same address (another transport) as terminated: an active one wins.
    if (contact?.state !== 'active') contact = c;
  }
  const v = attr(head, 'version');
  return { registration, contact, subscriptionState, version: v === undefined ? undefined : Number(v) };
}

/** A running subscription to the UE's registration state. */
export class RegEventWatch {
  readonly #subscriber: Subscriber;
  #ended = false;

  private constructor(subscriber: Subscriber) {
    this.#subscriber = subscriber;
  }

  /**
   * Subscribes to the reg event package of the UE's IMPU.
   * @param ue the registered UE (its flow is the one the registrar lets subscribe).
   * @param listener told of each NOTIFY, or of the refusal.
   */
  static async start(ue: UeAgent, listener: RegEventListener): Promise<RegEventWatch> {
    const target = UserAgent.makeURI(ue.options.impu);
    if (!target) throw new Error(`not a URI: ${ue.options.impu}`);
    const subscriber = new Subscriber(ue.userAgent, target, 'reg', {
      expires: REG_SUBSCRIPTION_EXPIRES, extraHeaders: ['Accept: application/reginfo+xml'],
    });
    const watch = new RegEventWatch(subscriber);
    let notified = false;
    let refusal = 0;
    let contactEnded = false;
    ue.transport.addTap((e) => {
      const k = e.direction === 'in' && !e.dropped ? responseKey(e.raw) : undefined;
      if (k?.method === 'SUBSCRIBE' && k.status >= 300) refusal = k.status;
    });
    subscriber.delegate = {
      onNotify: (n: Notification) => {
        notified = true;
        void n.accept();
        const state = n.request.getHeader('subscription-state') ?? '';
        const r = readRegState(n.request.body, ue.userAgent.contact.uri.toString(), state);
        if (r.contact?.state === 'terminated' || (r.contact === undefined && r.registration === 'terminated')) contactEnded = true;
        listener.onState(r);
      },
    };
    subscriber.stateChange.addListener((s) => {
      if (s !== SubscriptionState.Terminated || watch.#ended) return;
      watch.#ended = true;
      if (!notified) listener.onRefused(refusal);
      else if (!contactEnded) listener.onLost();
    });
    await subscriber.subscribe();
    return watch;
  }

  /**
   * Ends the subscription (`Expires: 0`) without waiting for the registrar's last NOTIFY: SIP.js's `dispose()` of a
   * subscribed `Subscriber` waits for its dialog to end, which a final NOTIFY it already answered never signals.
   */
  async stop(): Promise<void> {
    this.#ended = true;
    await this.#subscriber.unsubscribe().catch(() => undefined);
    await this.#subscriber.dispose().catch(() => undefined);
  }
}
