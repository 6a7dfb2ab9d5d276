/**
 * Sending the NOTIFYs of the reg event package (reg-event.ts): one at a time per subscription, each after the previous
 * one's final response, so a subscriber never sees a lower CSeq after a higher one (RFC 3261 §12.2.2 answers that
 * 500); and what an answer means for the subscription (RFC 6665 §4.2.2, RFC 5057 §5.1): no answer (Timer F), a
 * transport error, 481 and the other responses that end a dialog usage end it; a response that concerns only the
 * transaction (500, 503, 491 …) leaves it, and the next change is notified again in full.
 */
import type { Logger } from '../lib/log.ts';
import { createRequest } from '../lib/sip/request.ts';
import type { SipStack } from '../lib/sip/stack.ts';
import type { NotifyDestination, RegSubscription } from './reg-subscriptions.ts';
import { REGINFO_TYPE } from './reginfo.ts';
import type { RegistrarStats } from './stats.ts';

/** RFC 5057 §5.1: responses to a request inside a dialog usage that end the usage, beside 481 (RFC 6665 §4.2.2). */
const ENDS_USAGE: ReadonlySet<number> = new Set([404, 410, 416, 480, 481, 482, 483, 484, 485, 489, 501, 604]);

/** A NOTIFY ready to go, built while the AOR's record was held. */
export interface Outgoing {
  aor: string;
  sub: RegSubscription;
  /** Subscription-State value. */
  state: string;
  body: string;
}

/** The dialog's identity, for the send chain and for removal. */
export function subscriptionKey(aor: string, s: Pick<RegSubscription, 'callId' | 'localTag'>): string {
  return `${aor}\n${s.callId}\n${s.localTag}`;
}

/** What the sender needs. */
export interface NotifySenderOptions {
  stack: SipStack;
  serverName: string;
  stats: RegistrarStats;
  log: Logger;
  /** The subscription ended on this answer (or on none): remove it. */
  ended(o: Outgoing, why: string): void;
}

/** The NOTIFY sender (see the module comment). */
export class NotifySender {
  readonly #o: NotifySenderOptions;
  readonly #chains = new Map<string, Promise<void>>();

  /** @param o stack, identity, counters and the removal callback. */
  constructor(o: NotifySenderOptions) {
    this.#o = o;
  }

  /**
   * Whether this process can reach `dest`: over UDP always (the port is shared); over TCP/TLS only on a connection it
   * holds — a sibling worker holds the others, and a new connection to a UE's source port would only fail.
   */
  reaches(dest: NotifyDestination): boolean {
    if (dest.transport === 'UDP') return true;
    return this.#o.stack.streams.some((t) => t.protocol === dest.transport && t.find(dest.host, dest.port) !== undefined);
  }

  /** Queues `o` after the subscription's NOTIFYs still in flight. */
  send(o: Outgoing): void {
    const key = subscriptionKey(o.aor, o.sub);
    const next = (this.#chains.get(key) ?? Promise.resolve()).then(() => this.#sendNow(o));
    this.#chains.set(key, next);
    void next.then(() => {
      if (this.#chains.get(key) === next) this.#chains.delete(key);
    });
  }

  async #sendNow(o: Outgoing): Promise<void> {
    const { sub } = o;
    const event = sub.eventId === undefined ? 'reg' : `reg;id=${sub.eventId}`;
    const req = createRequest({
      method: 'NOTIFY', uri: sub.target, from: `<${sub.local}>`, fromTag: sub.localTag, to: sub.remote, callId: sub.callId, cseq: sub.cseq,
      contact: `<${this.#o.serverName}>`,
      headers: [...sub.routeSet.map((r): [string, string] => ['Route', r]), ['Event', event], ['Subscription-State', o.state]],
      body: o.body, contentType: REGINFO_TYPE,
    });
    this.#o.stats.inc('reg_notifies');
    try {
      const res = await this.#o.stack.sendRequest(req, sub.dest);
      if (res.status < 300) return;
      this.#o.stats.inc('reg_notify_failures');
      if (ENDS_USAGE.has(res.status)) this.#o.ended(o, `answered ${res.status}`);
      else this.#o.log.debug({ aor: o.aor, call_id: sub.callId, status: res.status }, 'reg event: NOTIFY refused for this transaction only; the subscription stays');
    } catch (err) {
      this.#o.stats.inc('reg_notify_failures');
      this.#o.ended(o, (err as Error).message);
    }
  }
}
