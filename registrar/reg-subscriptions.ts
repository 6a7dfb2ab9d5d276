/**
 * Subscriptions to the reg event package (RFC 3680) as the registrar keeps them: one store record per AOR listing its
 * subscriptions, so that whichever registrar process handles a REGISTER of that AOR (processes may share a Redis
 * store) finds who to notify, and a restarted registrar still knows them. Each subscription holds its dialog (RFC 6665
 * §4.1.2: the notifier's side of it) and the contacts it was last told about, from which the next notification's
 * contact events are found (reg-event-diff.ts).
 */
import type { Store } from '../lib/store/store.ts';
import type { TransportProtocol } from '../lib/sip/transport/types.ts';

/** Store key prefix of the subscription records. */
export const REG_EVENT_PREFIX = 'registrar:reg-event:';

/** At most this many subscriptions per AOR (a UE, its P-CSCF and ASs subscribe: TS 24.229 §5.4.2.1.1). */
export const MAX_SUBSCRIPTIONS_PER_AOR = 8;

/**
 * How long a record outlives its last subscription's expiry in the store: the timer that sends that subscription's
 * last NOTIFY (`reason=timeout`) fires just after it and must still find it.
 */
export const EXPIRED_GRACE_MS = 60_000;

/** A contact as the subscriber was last told it (active). */
export interface NotifiedContact {
  /** Binding key (bindings.ts contactKey). */
  key: string;
  uri: string;
  /** Epoch ms. */
  expiresAt: number;
  callId: string;
  cseq: number;
}

/** Where NOTIFYs go: the flow the SUBSCRIBE came on (reg-event.ts says why). */
export interface NotifyDestination {
  transport: TransportProtocol;
  host: string;
  port: number;
}

/** One subscription (the notifier's half of its dialog, RFC 3261 §12.1.1 / RFC 6665 §4.2.1). */
export interface RegSubscription {
  callId: string;
  /** Our tag (To of the SUBSCRIBE's 200, From of the NOTIFYs). */
  localTag: string;
  /** The subscriber's tag (From of the SUBSCRIBE). */
  remoteTag: string;
  /** The SUBSCRIBE's From as written (name-addr with tag): the NOTIFYs' To. */
  remote: string;
  /** The SUBSCRIBE's To URI: the NOTIFYs' From. */
  local: string;
  /** The SUBSCRIBE's Contact URI: the NOTIFYs' Request-URI (remote target). */
  target: string;
  /** Record-Route of the SUBSCRIBE, in order: the NOTIFYs' Route. */
  routeSet: string[];
  dest: NotifyDestination;
  /** CSeq of the last SUBSCRIBE of the dialog (a refresh must be above it). */
  remoteCseq: number;
  /** CSeq of the last NOTIFY sent. */
  cseq: number;
  /** The version of the next reginfo document (RFC 3680 §5.2: from 0, +1 per NOTIFY). */
  version: number;
  /** Epoch ms. */
  expiresAt: number;
  /** What the last NOTIFY listed as active. */
  contacts: NotifiedContact[];
  /** The public identities of the registration set the last NOTIFY listed (the subscribed AOR first). */
  identities?: string[];
  /** The `id` parameter of the SUBSCRIBE's Event (RFC 6665 §8.2.1), echoed in each NOTIFY. */
  eventId?: string;
}

/** The stored record of one AOR. */
interface RegEventRecord {
  aor: string;
  subscriptions: RegSubscription[];
}

/** Subscription records in the store. */
export class RegSubscriptions {
  readonly #store: Store;

  /** @param store the registrar's store (shared by its processes). */
  constructor(store: Store) {
    this.#store = store;
  }

  /**
   * The subscriptions of `aor`, live or expired less than {@link EXPIRED_GRACE_MS} ago (those still owe their last
   * NOTIFY); empty when none.
   */
  async get(aor: string, now: number): Promise<RegSubscription[]> {
    const rec = await this.#store.get<RegEventRecord>(REG_EVENT_PREFIX + aor);
    return rec && Array.isArray(rec.subscriptions) ? rec.subscriptions.filter((s) => s.expiresAt > now - EXPIRED_GRACE_MS) : [];
  }

  /**
   * Replaces the subscriptions of `aor`; none left removes the record. Relaxed like the bindings: a crash may lose the
   * last few milliseconds, and the subscriber's next refresh (481, then a new SUBSCRIBE) restores it.
   */
  async put(aor: string, subscriptions: readonly RegSubscription[], now: number): Promise<void> {
    const alive = subscriptions.filter((s) => s.expiresAt > now - EXPIRED_GRACE_MS);
    if (alive.length === 0) {
      await this.#store.delete(REG_EVENT_PREFIX + aor, { durability: 'relaxed' });
      return;
    }
    const ttlMs = Math.max(...alive.map((s) => s.expiresAt)) - now + EXPIRED_GRACE_MS;
    const rec: RegEventRecord = { aor, subscriptions: [...alive] };
    await this.#store.set(REG_EVENT_PREFIX + aor, rec, { ttlMs: Math.max(1, Math.ceil(ttlMs)), durability: 'relaxed' });
  }

  /** Every AOR with a subscription record (a scan: at start-up only). */
  async aors(): Promise<string[]> {
    return (await this.#store.keys(REG_EVENT_PREFIX)).map((k) => k.slice(REG_EVENT_PREFIX.length));
  }
}

/**
 * Runs the changes of one AOR's subscriptions one after the other in this process: a SUBSCRIBE, the NOTIFY of a
 * REGISTER and a timer of the same AOR each read, change and write its record across awaits.
 */
export class AorQueue {
  readonly #tails = new Map<string, Promise<unknown>>();

  /** Runs `fn` after every earlier call for `aor` has settled. */
  run<T>(aor: string, fn: () => Promise<T>): Promise<T> {
    const prev = this.#tails.get(aor) ?? Promise.resolve();
    const next = prev.then(fn, fn);
    const tail = next.then(() => undefined, () => undefined);
    this.#tails.set(aor, tail);
    void tail.then(() => {
      if (this.#tails.get(aor) === tail) this.#tails.delete(aor);
    });
    return next;
  }
}
