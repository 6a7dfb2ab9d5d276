/**
 * The registrar as notifier of the reg event package (RFC 3680; RFC 6665; TS 24.229 §5.4.2.1): a UE subscribes to
 * the registration state of its public identity after registering (24.229 §5.1.1.3), and learns from NOTIFYs when its
 * contacts change — above all when the network ends its registration: a Registration-Termination-Request (rtr.ts), here
 * what the partner MMS sends when the user's migration or static mapping ends, gives a NOTIFY whose contacts are
 * `terminated` / `rejected` and whose subscription ends (`Subscription-State: terminated;reason=rejected`), so the UE
 * knows at once instead of at its next refresh.
 *
 * SUBSCRIBE, in order: Request-URI scheme (416), required extensions (420), `Event: reg` (400 without, 489 with
 * Allow-Events for another package), Accept (406 unless reginfo+xml), Contact (400 without). An initial SUBSCRIBE is
 * accepted only from a flow a live binding of the Request-URI's AOR was registered from (transport, address and
 * port): that is who 24.229 §5.4.2.1.1 lets subscribe (the registered UE; there is no P-CSCF asserting identities in
 * front of this registrar), and it keeps the contacts of an AOR from anyone else (403). A refresh names its dialog
 * with our tag, which carries the AOR, so any registrar process sharing the store finds it (481 when gone).
 * `Expires` defaults to 3761 s (RFC 3680 §4.2) and is capped at the longest a registration may last (at least 3761 s);
 * 0 ends the subscription with a last NOTIFY (RFC 6665 §4.2.1.4).
 *
 * NOTIFYs go back over the flow the SUBSCRIBE came on — its source address and port, on TCP/TLS its connection while
 * open — as responses do (RFC 3581, RFC 5626 §5.3): no proxy here knows a route to the UE's Contact, which behind a
 * NAT or on a connection-only client cannot be reached directly. Request-URI, Route, From, To and Call-ID follow the
 * dialog (RFC 3261 §12.2.1.1). A NOTIFY answered with an error, or not answered, ends the subscription (RFC 6665
 * §4.2.2). Each AOR with subscriptions has one timer in this process: at a subscription's expiry it sends the last
 * NOTIFY (`reason=timeout`), at a contact's expiry a NOTIFY saying `expired`.
 */
import type { Timer } from '../lib/clock.ts';
import type { Logger } from '../lib/log.ts';
import { addressOfRecord } from '../lib/sip/headers/uri.ts';
import type { SipRequest } from '../lib/sip/message.ts';
import { createRequest } from '../lib/sip/request.ts';
import type { SipStack } from '../lib/sip/stack.ts';
import type { ServerTransaction } from '../lib/sip/transaction/server.ts';
import { newTag } from '../lib/sip/ids.ts';
import type { BindingStore } from './bindings.ts';
import { checkExtensions } from './extensions.ts';
import { contactChanges, type ChangeCause } from './reg-event-diff.ts';
import { AorQueue, EXPIRED_GRACE_MS, MAX_SUBSCRIPTIONS_PER_AOR, type RegSubscription, type RegSubscriptions } from './reg-subscriptions.ts';
import { REGINFO_TYPE, buildReginfo } from './reginfo.ts';
import type { RegistrarStats } from './stats.ts';

/** The package this notifier serves (RFC 3680 §3). */
export const REG_EVENT = 'reg';
/** RFC 3680 §4.2: the default subscription duration. */
export const DEFAULT_REG_SUBSCRIPTION_EXPIRES = 3761;

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

/** A NOTIFY ready to go, built while the AOR's record was held. */
interface Outgoing {
  aor: string;
  sub: RegSubscription;
  state: string;
  body: string;
}

/** Our tag: random, then the AOR (base64url) so a refresh finds its record without an index. */
function localTagFor(aor: string): string {
  return `${newTag()}.${Buffer.from(aor, 'utf8').toString('base64url')}`;
}

function aorOfTag(tag: string): string | undefined {
  const dot = tag.indexOf('.');
  if (dot < 0) return undefined;
  const aor = Buffer.from(tag.slice(dot + 1), 'base64url').toString('utf8');
  return aor.length > 0 && aor.length <= 1024 ? aor : undefined;
}

/** `reg` from an Event value (`reg;id=1`); undefined when absent. */
function eventPackage(req: SipRequest): string | undefined {
  const v = req.headers.get('event');
  return v === undefined ? undefined : (v.split(';')[0] ?? '').trim();
}

/** Whether Accept (absent: yes) takes the reginfo document (RFC 3680 §4.2). */
function acceptsReginfo(req: SipRequest): boolean {
  const values = req.list('accept');
  if (!req.headers.has('accept')) return true;
  return values.some((v) => {
    const t = (v.split(';')[0] ?? '').trim().toLowerCase();
    return t === REGINFO_TYPE || t === 'application/*' || t === '*/*';
  });
}

/** The reg event notifier (see the module comment). */
export class RegEvent {
  readonly #o: RegEventOptions;
  readonly #queue = new AorQueue();
  readonly #timers = new Map<string, Timer>();
  #closed = false;

  /** @param o stack, stores, identity and limits. */
  constructor(o: RegEventOptions) {
    this.#o = o;
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
    if (req.requestUri().kind !== 'sip') return void tx.reply(416, { reason: 'Unsupported URI Scheme' });
    const ext = checkExtensions(req, tx.flow);
    if (!ext.ok) return void tx.reply(420, { headers: [['Unsupported', ext.unsupported.join(', ')]] });
    const pkg = eventPackage(req);
    if (pkg === undefined || pkg === '') return void tx.reply(400, { reason: 'Bad Request (Missing Event)' });
    if (pkg !== REG_EVENT) return void tx.reply(489, { headers: [['Allow-Events', REG_EVENT]] });
    if (!acceptsReginfo(req)) return void tx.reply(406, { headers: [['Accept', REGINFO_TYPE]] });
    const contacts = req.contacts();
    const contact = contacts === '*' || contacts.length !== 1 ? undefined : contacts[0];
    if (contact?.uri.kind !== 'sip') return void tx.reply(400, { reason: 'Bad Request (SUBSCRIBE needs one SIP Contact)' });
    const from = req.from();
    if (from.tag === undefined) return void tx.reply(400, { reason: 'Bad Request (From without tag)' });
    const requested = req.expires() ?? DEFAULT_REG_SUBSCRIPTION_EXPIRES;
    const granted = Math.min(requested, Math.max(this.#o.maxExpires, DEFAULT_REG_SUBSCRIPTION_EXPIRES));
    const toTag = req.to().tag;
    const aor = toTag === undefined ? addressOfRecord(req.requestUri()) : aorOfTag(toTag);
    if (aor === undefined) return void tx.reply(481, { reason: 'Subscription Does Not Exist' });
    const out = await this.#queue.run(aor, () => toTag === undefined
      ? this.#initial(req, tx, aor, granted, contact.uri.raw)
      : this.#refresh(req, tx, aor, toTag, granted));
    if (out) this.#send(out);
  }

  /**
   * The registration of `aor` changed (a REGISTER answered, an RTR handled): its subscribers are notified. Cheap when
   * nobody subscribed: without a shared store, only an AOR this process holds subscriptions of is looked at.
   */
  changed(aor: string, cause: Extract<ChangeCause, 'register' | 'rtr'>): void {
    if (this.#closed || (!this.#o.sharedStore && !this.#timers.has(aor))) return;
    this.#queue.run(aor, () => this.#notifyAll(aor, cause)).then((outs) => {
      for (const o of outs) this.#send(o);
    }, (err: unknown) => this.#o.log.warn({ aor, err: (err as Error).message }, 'reg event: could not notify the subscribers'));
  }

  async #initial(req: SipRequest, tx: ServerTransaction, aor: string, granted: number, target: string): Promise<Outgoing | undefined> {
    const now = this.#o.now();
    const flow = tx.flow;
    const rec = await this.#o.bindings.record(aor, now);
    const { bindings } = rec;
    if (!bindings.some((b) => b.source === `${flow.transport} ${flow.remoteAddress}:${flow.remotePort}`)) {
      tx.reply(403, { reason: 'Forbidden (Not From a Registered Contact of the AOR)' });
      return undefined;
    }
    const subs = await this.#o.subscriptions.get(aor, now);
    if (granted > 0 && subs.length >= MAX_SUBSCRIPTIONS_PER_AOR) {
      tx.reply(403, { reason: `Forbidden (${MAX_SUBSCRIPTIONS_PER_AOR} Subscriptions to This AOR Already)` });
      return undefined;
    }
    const from = req.from();
    const sub: RegSubscription = {
      callId: req.callId(), localTag: localTagFor(aor), remoteTag: from.tag as string, remote: `<${from.uri.raw}>${from.params.toString()}`,
      local: req.to().uri.raw, target, routeSet: req.headers.getAll('record-route'),
      dest: { transport: flow.transport, host: flow.remoteAddress, port: flow.remotePort },
      remoteCseq: req.cseq().seq, cseq: 0, version: 0, expiresAt: now + granted * 1000, contacts: [],
    };
    // The first NOTIFY advances the record (CSeq, version, contacts notified): it is built before the record is stored.
    const out = this.#outgoing(aor, sub, rec, 'subscribe', now, granted === 0 ? 'timeout' : undefined);
    if (granted > 0) {
      await this.#o.subscriptions.put(aor, [...subs, sub], now);
      this.#o.stats.inc('reg_subscriptions');
    }
    tx.reply(200, { toTag: sub.localTag, headers: [['Expires', String(granted)], ['Contact', `<${this.#o.serverName}>`]] });
    if (granted > 0) await this.#arm(aor);
    return out;
  }

  async #refresh(req: SipRequest, tx: ServerTransaction, aor: string, toTag: string, granted: number): Promise<Outgoing | undefined> {
    const now = this.#o.now();
    const subs = await this.#o.subscriptions.get(aor, now);
    const sub = subs.find((s) => s.callId === req.callId() && s.localTag === toTag && s.remoteTag === req.from().tag);
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
    sub.expiresAt = now + granted * 1000;
    // A UE that reconnected (TCP/TLS from a new port) is reached on its new connection.
    sub.dest = { transport: flow.transport, host: flow.remoteAddress, port: flow.remotePort };
    const out = this.#outgoing(aor, sub, await this.#o.bindings.record(aor, now), 'subscribe', now, granted === 0 ? 'timeout' : undefined);
    await this.#o.subscriptions.put(aor, subs.filter((s) => s !== sub || granted > 0), now);
    tx.reply(200, { headers: [['Expires', String(granted)], ['Contact', `<${this.#o.serverName}>`]] });
    await this.#arm(aor);
    return out;
  }

  /** Every subscription of `aor` told what changed; ended ones removed. Runs in the AOR's queue. */
  async #notifyAll(aor: string, cause: ChangeCause): Promise<Outgoing[]> {
    const now = this.#o.now();
    const subs = await this.#o.subscriptions.get(aor, now);
    if (subs.length === 0) {
      this.#disarm(aor);
      return [];
    }
    const rec = await this.#o.bindings.record(aor, now);
    const outs: Outgoing[] = [];
    for (const sub of subs) {
      const out = this.#outgoing(aor, sub, rec, cause, now, undefined);
      if (out) outs.push(out);
    }
    await this.#o.subscriptions.put(aor, subs.filter((s) => s.contacts.length > 0), now);
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

  /** Sends one NOTIFY; an error answer or none ends the subscription (RFC 6665 §4.2.2). */
  #send(o: Outgoing): void {
    const { sub } = o;
    const req = createRequest({
      method: 'NOTIFY', uri: sub.target, from: `<${sub.local}>`, fromTag: sub.localTag, to: sub.remote, callId: sub.callId, cseq: sub.cseq,
      contact: `<${this.#o.serverName}>`,
      headers: [...sub.routeSet.map((r): [string, string] => ['Route', r]), ['Event', REG_EVENT], ['Subscription-State', o.state]],
      body: o.body, contentType: REGINFO_TYPE,
    });
    this.#o.stats.inc('reg_notifies');
    this.#o.stack.sendRequest(req, sub.dest).then((res) => {
      if (res.status < 300) return;
      this.#failed(o, `answered ${res.status}`);
    }, (err: unknown) => this.#failed(o, (err as Error).message));
  }

  #failed(o: Outgoing, why: string): void {
    // The stack stopping ends the NOTIFYs in flight: that says nothing of the subscriber, and the store keeps it.
    if (this.#closed) return;
    this.#o.stats.inc('reg_notify_failures');
    this.#o.log.debug({ aor: o.aor, call_id: o.sub.callId, why }, 'reg event: NOTIFY failed → subscription removed (RFC 6665 §4.2.2)');
    if (o.state.startsWith('terminated')) return;
    void this.#queue.run(o.aor, async () => {
      const now = this.#o.now();
      const subs = await this.#o.subscriptions.get(o.aor, now);
      await this.#o.subscriptions.put(o.aor, subs.filter((s) => !(s.callId === o.sub.callId && s.localTag === o.sub.localTag)), now);
      await this.#arm(o.aor);
    }).catch((err: unknown) => this.#o.log.warn({ aor: o.aor, err: (err as Error).message }, 'reg event: could not remove a failed subscription'));
  }

  /** The AOR's timer at its next subscription or notified-contact expiry (none without subscriptions). */
  async #arm(aor: string): Promise<void> {
    this.#disarm(aor);
    if (this.#closed) return;
    const now = this.#o.now();
    const subs = await this.#o.subscriptions.get(aor, now);
    if (subs.length === 0) return;
    const due = Math.min(...subs.flatMap((s) => [s.expiresAt, ...s.contacts.map((c) => c.expiresAt)]));
    const timer = this.#o.stack.clock.setTimer(() => {
      if (this.#timers.get(aor) === timer) this.#timers.delete(aor);
      this.#queue.run(aor, () => this.#tick(aor)).then((outs) => {
        for (const o of outs) this.#send(o);
      }, (err: unknown) => this.#o.log.warn({ aor, err: (err as Error).message }, 'reg event: timer failed'));
    }, Math.max(0, due - now) + 5, true);
    this.#timers.set(aor, timer);
  }

  #disarm(aor: string): void {
    this.#timers.get(aor)?.cancel();
    this.#timers.delete(aor);
  }

  /** A timer: expired subscriptions get their last NOTIFY, the others hear of expired contacts. */
  async #tick(aor: string): Promise<Outgoing[]> {
    const now = this.#o.now();
    const rec = await this.#o.subscriptions.get(aor, now - EXPIRED_GRACE_MS);
    const reg = await this.#o.bindings.record(aor, now);
    const outs: Outgoing[] = [];
    for (const sub of rec) {
      const out = this.#outgoing(aor, sub, reg, 'expiry', now, sub.expiresAt <= now ? 'timeout' : undefined);
      if (out) outs.push(out);
    }
    await this.#o.subscriptions.put(aor, rec.filter((s) => s.expiresAt > now && s.contacts.length > 0), now);
    await this.#arm(aor);
    return outs;
  }
}
