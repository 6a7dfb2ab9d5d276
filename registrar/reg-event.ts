/**
 * The registrar as notifier of the reg event package (RFC 3680; RFC 6665; TS 24.229 §5.4.2.1): a UE subscribes to
 * the registration state of its public identity after registering (24.229 §5.1.1.3), and learns from NOTIFYs when its
 * contacts change — above all when the network ends its registration: a Registration-Termination-Request (rtr.ts), here
 * what the partner MMS sends when the user's migration or static mapping ends, gives a NOTIFY whose contacts are
 * `terminated` / `rejected` and whose subscription ends (`Subscription-State: terminated;reason=rejected`), so the UE
 * knows at once instead of at its next refresh.
 *
 * What a SUBSCRIBE may ask is read in reg-event-request.ts. An initial SUBSCRIBE is accepted only from a flow a live
 * binding of the Request-URI's AOR was registered from (transport, address and port): that is who 24.229 §5.4.2.1.1
 * lets subscribe (the registered UE; no P-CSCF asserts identities in front of this registrar), and it keeps the
 * contacts of an AOR from anyone else (403). A refresh names its dialog with our tag, which carries the AOR, so any
 * registrar process sharing the store finds it (481 when gone).
 *
 * NOTIFYs (reg-event-notify.ts) go back over the flow the SUBSCRIBE came on — its source address and port, on TCP/TLS
 * its connection — as responses do (RFC 3581, RFC 5626 §5.3): no proxy here knows a route to the UE's Contact, which
 * behind a NAT or on a connection-only client cannot be reached directly. In a worker group a TCP/TLS connection is
 * one worker's: a change another worker sees is handed to its siblings ({@link REG_EVENT_TOPIC}), and the worker
 * holding the connection notifies. Each AOR with subscriptions has one timer in this process: at a subscription's
 * expiry it sends the last NOTIFY (`reason=timeout`), at a contact's expiry a NOTIFY saying `expired`.
 */
import type { Timer } from '../lib/clock.ts';
import type { Logger } from '../lib/log.ts';
import type { SipRequest } from '../lib/sip/message.ts';
import type { SipStack } from '../lib/sip/stack.ts';
import type { ServerTransaction } from '../lib/sip/transaction/server.ts';
import { workerSlot } from '../lib/workers/group.ts';
import { tellSiblings } from '../lib/workers/messages.ts';
import type { BindingStore } from './bindings.ts';
import { contactChanges, type ChangeCause } from './reg-event-diff.ts';
import { NotifySender, subscriptionKey, type Outgoing } from './reg-event-notify.ts';
import { localTagFor, readSubscribe, type SubscribeRequest } from './reg-event-request.ts';
import { AorQueue, MAX_SUBSCRIPTIONS_PER_AOR, type RegSubscription, type RegSubscriptions } from './reg-subscriptions.ts';
import { buildReginfo } from './reginfo.ts';
import type { RegistrarStats } from './stats.ts';

export { DEFAULT_REG_SUBSCRIPTION_EXPIRES, REG_EVENT } from './reg-event-request.ts';

/** The siblings' message of a change this worker could not notify itself: `{ aor, cause }`. */
export const REG_EVENT_TOPIC = 'registrar:reg-event';

/** Node's longest timer (2³¹−1 ms, ~24.8 days): a longer one fires at once. */
const MAX_TIMER_MS = 2 ** 31 - 1;

/** What the notifier needs. */
export interface RegEventOptions {
  stack: SipStack;
  subscriptions: RegSubscriptions;
  bindings: BindingStore;
  /** The registrar's SIP URI: Contact of the 200s and NOTIFYs. */
  serverName: string;
  /** The longest registration granted (s): subscriptions are capped at this or 3761 s, whichever is longer. */
  maxExpires: number;
  /** Other registrar processes share the store: a REGISTER handled here may have subscribers another process took. */
  sharedStore: boolean;
  stats: RegistrarStats;
  log: Logger;
  /** Epoch ms (the registrar's clock). */
  now: () => number;
}

/** The AOR's live bindings and the profile's public identities kept with them (bindings.ts). */
type Registered = Awaited<ReturnType<BindingStore['record']>>;

/** A change of a registration the notifier hears of. */
export type RegChange = Extract<ChangeCause, 'register' | 'rtr' | 'expiry'>;

/** The reg event notifier (see the module comment). */
export class RegEvent {
  readonly #o: RegEventOptions;
  readonly #queue = new AorQueue();
  readonly #timers = new Map<string, Timer>();
  /** AORs with subscriptions in the store as this process last wrote or read them. */
  readonly #held = new Set<string>();
  readonly #sender: NotifySender;
  #closed = false;

  /** @param o stack, stores, identity and limits. */
  constructor(o: RegEventOptions) {
    this.#o = o;
    this.#sender = new NotifySender({
      stack: o.stack, serverName: o.serverName, stats: o.stats, log: o.log, ended: (out, why) => this.#ended(out, why),
    });
  }

  /** Arms the timers of the subscriptions already in the store (a restart keeps its subscribers). */
  async start(): Promise<void> {
    for (const aor of await this.#o.subscriptions.aors()) await this.#queue.run(aor, () => this.#arm(aor));
  }

  /** Stops the timers (no NOTIFY is sent on shutdown: the subscriptions stay in the store). */
  close(): void {
    this.#closed = true;
    for (const t of this.#timers.values()) t.cancel();
    this.#timers.clear();
  }

  /**
   * Answers a SUBSCRIBE (initial or in-dialog) and sends the NOTIFY that follows its 200.
   * @throws SipParseError for malformed fields (answered 400 by the stack).
   */
  async subscribe(req: SipRequest, tx: ServerTransaction): Promise<void> {
    const s = readSubscribe(req, tx, this.#o.maxExpires);
    if (!s) return;
    const out = await this.#queue.run(s.aor, () => (s.toTag === undefined ? this.#initial(req, tx, s) : this.#refresh(req, tx, s, s.toTag)));
    if (out) this.#sender.send(out);
  }

  /**
   * The registration of `aor` changed (a REGISTER answered, an RTR handled, a sibling worker's change): its
   * subscribers are notified. Cheap when nobody subscribed: without a shared store, only an AOR this process holds
   * subscriptions of is looked at.
   * @param fromSibling a sibling handed it over: notify what this worker reaches, hand nothing back.
   */
  changed(aor: string, cause: RegChange, fromSibling = false): void {
    if (this.#closed || (!this.#o.sharedStore && !this.#held.has(aor))) return;
    this.#queue.run(aor, () => this.#notifyAll(aor, cause, fromSibling)).then((outs) => {
      for (const o of outs) this.#sender.send(o);
    }, (err: unknown) => this.#o.log.warn({ aor, err: (err as Error).message }, 'reg event: could not notify the subscribers'));
  }

  async #initial(req: SipRequest, tx: ServerTransaction, s: SubscribeRequest): Promise<Outgoing | undefined> {
    const now = this.#o.now();
    const flow = tx.flow;
    const rec = await this.#o.bindings.record(s.aor, now);
    if (!rec.bindings.some((b) => b.source === `${flow.transport} ${flow.remoteAddress}:${flow.remotePort}`)) {
      tx.reply(403, { reason: 'Forbidden (Not From a Registered Contact of the AOR)' });
      return undefined;
    }
    const subs = await this.#o.subscriptions.get(s.aor, now);
    if (s.granted > 0 && subs.filter((x) => x.expiresAt > now).length >= MAX_SUBSCRIPTIONS_PER_AOR) {
      tx.reply(403, { reason: `Forbidden (${MAX_SUBSCRIPTIONS_PER_AOR} Subscriptions to This AOR Already)` });
      return undefined;
    }
    const from = req.from();
    const sub: RegSubscription = {
      callId: req.callId(), localTag: localTagFor(s.aor), remoteTag: from.tag as string, remote: `<${from.uri.raw}>${from.params.toString()}`,
      local: req.to().uri.raw, target: s.target, routeSet: req.headers.getAll('record-route'),
      dest: { transport: flow.transport, host: flow.remoteAddress, port: flow.remotePort },
      remoteCseq: req.cseq().seq, cseq: 0, version: 0, expiresAt: now + s.granted * 1000, contacts: [],
      ...(s.eventId === undefined ? {} : { eventId: s.eventId }),
    };
    // The first NOTIFY advances the record (CSeq, version, contacts notified): it is built before the record is stored.
    const out = this.#outgoing(s.aor, sub, rec, 'subscribe', now, s.granted === 0 ? 'timeout' : undefined);
    if (s.granted > 0) {
      await this.#put(s.aor, [...subs, sub], now);
      this.#o.stats.inc('reg_subscriptions');
    }
    // RFC 3261 §12.1.1: the response that makes the dialog copies Record-Route, so both ends hold one route set.
    const rr = sub.routeSet.map((v): [string, string] => ['Record-Route', v]);
    tx.reply(200, { toTag: sub.localTag, headers: [...rr, ['Expires', String(s.granted)], ['Contact', `<${this.#o.serverName}>`]] });
    if (s.granted > 0) await this.#arm(s.aor);
    return out;
  }

  async #refresh(req: SipRequest, tx: ServerTransaction, s: SubscribeRequest, toTag: string): Promise<Outgoing | undefined> {
    const now = this.#o.now();
    const subs = await this.#o.subscriptions.get(s.aor, now);
    const sub = subs.find((x) => x.expiresAt > now && x.callId === req.callId() && x.localTag === toTag && x.remoteTag === req.from().tag && x.eventId === s.eventId);
    if (!sub) {
      tx.reply(481, { reason: 'Subscription Does Not Exist' });
      return undefined;
    }
    const flow = tx.flow;
    if (flow.transport !== sub.dest.transport || flow.remoteAddress !== sub.dest.host) {
      tx.reply(403, { reason: 'Forbidden (Not the Subscriber)' });
      return undefined;
    }
    const cseq = req.cseq().seq;
    if (cseq <= sub.remoteCseq) {
      tx.reply(500, { reason: 'Out Of Order SUBSCRIBE' });
      return undefined;
    }
    sub.remoteCseq = cseq;
    sub.expiresAt = now + s.granted * 1000;
    // A UE that reconnected (TCP/TLS from a new port) is reached on its new connection.
    sub.dest = { transport: flow.transport, host: flow.remoteAddress, port: flow.remotePort };
    const out = this.#outgoing(s.aor, sub, await this.#o.bindings.record(s.aor, now), 'subscribe', now, s.granted === 0 ? 'timeout' : undefined);
    // A NOTIFY that says terminated (Expires: 0, or no contact left) ends the subscription here too.
    await this.#put(s.aor, subs.filter((x) => x !== sub || !out?.state.startsWith('terminated')), now);
    tx.reply(200, { headers: [['Expires', String(s.granted)], ['Contact', `<${this.#o.serverName}>`]] });
    await this.#arm(s.aor);
    return out;
  }

  /**
   * Every subscription of `aor` this process reaches told what changed (an expired one its last NOTIFY); ended ones
   * removed. In a worker group, those on another worker's connection are handed to the siblings. Runs in the AOR's
   * queue.
   */
  async #notifyAll(aor: string, cause: RegChange, fromSibling: boolean): Promise<Outgoing[]> {
    const now = this.#o.now();
    const subs = await this.#o.subscriptions.get(aor, now);
    if (subs.length === 0) {
      this.#held.delete(aor);
      this.#disarm(aor);
      return [];
    }
    const rec = await this.#o.bindings.record(aor, now);
    const grouped = (workerSlot()?.count ?? 1) > 1;
    const outs: Outgoing[] = [];
    const ended = new Set<RegSubscription>();
    let elsewhere = false;
    for (const sub of subs) {
      if (!this.#sender.reaches(sub.dest)) {
        // Alone, an unreachable TCP/TLS flow is a closed connection: the subscription ends with it (RFC 5626 §4.4.1).
        if (grouped) elsewhere = true;
        else ended.add(sub);
        continue;
      }
      const out = this.#outgoing(aor, sub, rec, cause, now, sub.expiresAt <= now ? 'timeout' : undefined);
      if (!out) continue;
      outs.push(out);
      if (out.state.startsWith('terminated')) ended.add(sub);
    }
    await this.#put(aor, subs.filter((s) => !ended.has(s)), now);
    if (elsewhere && !fromSibling) tellSiblings(REG_EVENT_TOPIC, { aor, cause });
    await this.#arm(aor);
    return outs;
  }

  /**
   * The NOTIFY a subscription gets now, with its CSeq, version and notified contacts advanced; undefined when nothing
   * changed for it. A registration without an active contact ends the subscription (24.229 §5.4.2.1.2):
   * `reason=rejected` after an RTR (RFC 6665 §4.1.3: the authorization changed), else `noresource`.
   * @param end a reason to end the subscription anyway (its expiry, or `Expires: 0`).
   */
  #outgoing(aor: string, sub: RegSubscription, rec: Registered, cause: ChangeCause, now: number, end: string | undefined): Outgoing | undefined {
    const ch = contactChanges(sub.contacts, rec.bindings, cause, now);
    // 24.229 §5.4.2.1.2: a <registration> per public identity of the set, the implicitly registered ones too; once the
    // registration has ended (no profile kept with the bindings) the set last notified.
    if (rec.associated) sub.identities = [aor, ...rec.associated.filter((a) => a !== aor)];
    if (!ch.changed && end === undefined) return undefined;
    const over = end ?? (ch.notified.length === 0 ? (cause === 'rtr' ? 'rejected' : 'noresource') : undefined);
    const state = over === undefined ? `active;expires=${Math.max(1, Math.ceil((sub.expiresAt - now) / 1000))}` : `terminated;reason=${over}`;
    const body = buildReginfo({ version: sub.version, aors: sub.identities ?? [aor], contacts: ch.contacts });
    sub.cseq += 1;
    sub.version += 1;
    sub.contacts = over === undefined ? ch.notified : [];
    return { aor, sub: { ...sub, contacts: [...sub.contacts] }, state, body };
  }

  /** The subscription's NOTIFY failed in a way that ends it (RFC 6665 §4.2.2): removed, unless this process is stopping. */
  #ended(o: Outgoing, why: string): void {
    if (this.#closed) return;
    this.#o.log.debug({ aor: o.aor, call_id: o.sub.callId, why }, 'reg event: NOTIFY failed → subscription removed (RFC 6665 §4.2.2)');
    if (o.state.startsWith('terminated')) return;
    const key = subscriptionKey(o.aor, o.sub);
    void this.#queue.run(o.aor, async () => {
      const now = this.#o.now();
      const subs = await this.#o.subscriptions.get(o.aor, now);
      await this.#put(o.aor, subs.filter((s) => subscriptionKey(o.aor, s) !== key), now);
      await this.#arm(o.aor);
    }).catch((err: unknown) => this.#o.log.warn({ aor: o.aor, err: (err as Error).message }, 'reg event: could not remove a failed subscription'));
  }

  async #put(aor: string, subs: readonly RegSubscription[], now: number): Promise<void> {
    await this.#o.subscriptions.put(aor, subs, now);
    if (subs.length > 0) this.#held.add(aor);
    else this.#held.delete(aor);
  }

  /** The AOR's timer at its next subscription or notified-contact expiry (none without subscriptions). */
  async #arm(aor: string): Promise<void> {
    this.#disarm(aor);
    if (this.#closed) return;
    const now = this.#o.now();
    const subs = await this.#o.subscriptions.get(aor, now);
    if (this.#closed) return;
    if (subs.length === 0) {
      this.#held.delete(aor);
      return;
    }
    this.#held.add(aor);
    // Only what this process notifies: a subscription on a sibling's connection is that sibling's to time.
    const mine = subs.filter((s) => this.#sender.reaches(s.dest));
    if (mine.length === 0) return;
    const due = Math.min(...mine.flatMap((s) => [s.expiresAt, ...s.contacts.map((c) => c.expiresAt)]));
    const timer = this.#o.stack.clock.setTimer(() => {
      if (this.#timers.get(aor) === timer) this.#timers.delete(aor);
      this.changed(aor, 'expiry');
    }, Math.min(MAX_TIMER_MS, Math.max(0, due - now) + 5), true);
    this.#timers.set(aor, timer);
  }

  #disarm(aor: string): void {
    this.#timers.get(aor)?.cancel();
    this.#timers.delete(aor);
  }
}
