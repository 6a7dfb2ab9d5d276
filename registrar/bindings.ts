/**
 * Location bindings (RFC 3261 §10.3 steps 6–8): per address-of-record, the registered contacts with their expiry,
 * in the store under `registrar:aor:<AOR>` (one record per AOR, living as long as its longest binding), so registrar
 * processes sharing a store share them.
 *
 * Two phases, because a request that will be refused must not cost a vector: {@link planContacts} reads the
 * request alone (wildcard rules, `423 Interval Too Brief`) before anything is asked of the HSS; {@link applyPlan}
 * merges the plan into the stored bindings (Call-ID/CSeq ordering) once the REGISTER is authenticated.
 *
 * Concurrent REGISTERs for one AOR on two processes may lose one update (read-modify-write without a lock): a UE
 * never sends them concurrently, and the next refresh repairs the binding.
 */
import type { SipRequest } from '../lib/sip/message.ts';
import type { Contact } from '../lib/sip/headers/name-addr.ts';
import type { Store } from '../lib/store/store.ts';

/** Store key prefix of AOR records. */
export const AOR_PREFIX = 'registrar:aor:';

/** One stored binding. */
export interface Binding {
  /** The Contact URI as the UA wrote it. */
  uri: string;
  /** Its comparison key ({@link contactKey}). */
  key: string;
  /** Contact header parameters except `expires`, as written (`;+sip.instance="<urn:…>";reg-id=1`). */
  params: string;
  /** Epoch ms. */
  expiresAt: number;
  callId: string;
  cseq: number;
  /** Path header values of the REGISTER (RFC 3327). */
  path: string[];
  /** Where the REGISTER came from, e.g. `UDP 192.0.2.1:5060`. */
  source: string;
  /**
   * The nonce the REGISTER that made or refreshed the binding answered (not secret: it travelled in the clear). A UA
   * resends it with its next refresh, maybe to another registrar process sharing the store: that process knows the
   * nonce is one of ours and used, so stale=TRUE (issued-nonces.ts).
   */
  nonce?: string;
}

/** The bindings of one AOR. */
export interface AorRecord {
  aor: string;
  impi: string;
  bindings: Binding[];
  /**
   * The public identities of the profile the last SAA carried (User-Data, user-data.ts), kept with the bindings so a
   * re-registration can say User-Data-Already-Available and still list them in P-Associated-URI. Absent: no
   * profile yet (the next SAR asks for it).
   */
  associated?: string[];
}

/** A contact the REGISTER asks for, with its granted expiry (0 = remove). */
export interface RequestedContact {
  uri: string;
  params: string;
  key: string;
  expires: number;
}

/** What the REGISTER asks for. */
export type ContactPlan =
  | { kind: 'query' }
  | { kind: 'wildcard' }
  | { kind: 'update'; contacts: RequestedContact[] };

/** A refusal found while planning: status, reason and extra header fields. */
export interface PlanError {
  status: number;
  reason?: string;
  headers?: Array<[string, string]>;
}

/** Expiry limits (seconds). */
export interface ExpiryLimits {
  defaultExpires: number;
  minExpires: number;
  maxExpires: number;
}

/**
 * The comparison key of a contact URI (RFC 3261 §19.1.4, simplified): scheme, user, host (case-insensitive), port
 * and transport; other parameters do not distinguish bindings.
 */
export function contactKey(c: Contact): string {
  const u = c.uri;
  if (u.kind !== 'sip') return u.raw;
  const transport = u.params.get('transport');
  return `${u.scheme}:${u.user ?? ''}@${u.host.toLowerCase()}:${u.port ?? ''};${typeof transport === 'string' ? transport.toLowerCase() : ''}`;
}

/**
 * Reads the Contact fields and expiries of a REGISTER (§10.3 steps 6–7) without touching any state.
 * @throws SipParseError for a malformed Contact (answered 400 by the stack).
 */
export function planContacts(req: SipRequest, limits: ExpiryLimits): ContactPlan | PlanError {
  const contacts = req.contacts();
  const headerExpires = req.expires();
  if (contacts === '*') {
    if (headerExpires !== 0) return { status: 400, reason: 'Contact * Requires Expires: 0' };
    return { kind: 'wildcard' };
  }
  if (contacts.length === 0) return { kind: 'query' };
  const out: RequestedContact[] = [];
  for (const c of contacts) {
    let expires = c.expires ?? headerExpires ?? limits.defaultExpires;
    if (expires > 0 && expires < limits.minExpires) {
      return { status: 423, headers: [['Min-Expires', String(limits.minExpires)]] };
    }
    expires = Math.min(expires, limits.maxExpires);
    const params = c.params.clone();
    params.delete('expires');
    out.push({ uri: c.uri.raw, params: params.toString(), key: contactKey(c), expires });
  }
  return { kind: 'update', contacts: out };
}

/** The request facts a binding records. */
export interface BindingMeta {
  callId: string;
  cseq: number;
  path: string[];
  source: string;
  now: number;
  /** The nonce of the REGISTER's credentials ({@link Binding.nonce}). */
  nonce?: string;
}

/** Live bindings only. */
function live(bindings: readonly Binding[], now: number): Binding[] {
  return bindings.filter((b) => b.expiresAt > now);
}

/**
 * Merges a plan into the current bindings (§10.3 steps 6–7): a binding with the request's Call-ID may only be
 * changed by a higher CSeq; otherwise the whole update is refused.
 * @param current the AOR's live bindings.
 * @returns the new binding list, or undefined when the request is out of order.
 */
export function applyPlan(current: readonly Binding[], plan: ContactPlan, meta: BindingMeta): Binding[] | undefined {
  if (plan.kind === 'query') return [...current];
  if (plan.kind === 'wildcard') return current.some((b) => stale(b, meta)) ? undefined : [];
  const next = [...current];
  for (const c of plan.contacts) {
    const i = next.findIndex((b) => b.key === c.key);
    const found = i >= 0 ? next[i] : undefined;
    if (found && stale(found, meta)) return undefined;
    if (i >= 0) next.splice(i, 1);
    if (c.expires > 0) {
      // Keys in sorted order: the store's canonical JSON then takes the object as it is (lib/store/codec.ts).
      next.push({
        callId: meta.callId, cseq: meta.cseq, expiresAt: meta.now + c.expires * 1000, key: c.key,
        ...(meta.nonce === undefined ? {} : { nonce: meta.nonce }), params: c.params, path: meta.path, source: meta.source, uri: c.uri,
      });
    }
  }
  return next;
}

/** A binding the REGISTER may not change: same Call-ID, CSeq not above it (RFC 3261 §10.3 step 7). */
function stale(b: Binding, meta: BindingMeta): boolean {
  return b.callId === meta.callId && meta.cseq <= b.cseq;
}

/**
 * The Contact value a 200 lists for a binding: `<uri>;params;expires=<remaining seconds>`.
 * @param now epoch ms.
 */
export function contactValue(b: Binding, now: number): string {
  return `<${b.uri}>${b.params};expires=${Math.max(0, Math.ceil((b.expiresAt - now) / 1000))}`;
}

/** AOR records in the store. */
export class BindingStore {
  readonly #store: Store;

  /** @param store shared by every registrar process of the deployment. */
  constructor(store: Store) {
    this.#store = store;
  }

  /** The live bindings of `aor` (empty when none). */
  async get(aor: string, now = Date.now()): Promise<Binding[]> {
    return (await this.record(aor, now)).bindings;
  }

  /** The live bindings of `aor` and the profile's identities kept with them (none without live bindings). */
  async record(aor: string, now = Date.now()): Promise<Pick<AorRecord, 'bindings' | 'associated'>> {
    const rec = await this.#store.get<AorRecord>(AOR_PREFIX + aor);
    const bindings = rec ? live(rec.bindings, now) : [];
    return bindings.length > 0 && Array.isArray(rec?.associated) ? { bindings, associated: rec.associated } : { bindings };
  }

  /**
   * Whether `nonce` is the one a live binding of `aor`, registered by `impi`, was last made or refreshed with: a nonce
   * of this deployment, used (another registrar process may have issued it).
   */
  async madeWithNonce(aor: string, impi: string, nonce: string, now = Date.now()): Promise<boolean> {
    const rec = await this.#store.get<AorRecord>(AOR_PREFIX + aor);
    return rec !== undefined && rec.impi === impi && Array.isArray(rec.bindings) && live(rec.bindings, now).some((b) => b.nonce === nonce);
  }

  /**
   * Replaces the bindings of `aor`; an empty list removes the record. Relaxed (lib/store): the 200 does not wait for an
   * fsync; a crash may lose the last few milliseconds of bindings, which the UEs' next REGISTER restores.
   * @param associated the profile's public identities to keep with them (see {@link AorRecord.associated}).
   */
  async put(aor: string, impi: string, bindings: readonly Binding[], now = Date.now(), associated?: readonly string[]): Promise<void> {
    const alive = live(bindings, now);
    if (alive.length === 0) {
      await this.#store.delete(AOR_PREFIX + aor, { durability: 'relaxed' });
      return;
    }
    const ttlMs = Math.max(...alive.map((b) => b.expiresAt)) - now;
    // Keys in sorted order, as the store writes them (lib/store/codec.ts): no sorted copy is made to encode it.
    const rec: AorRecord = { aor, ...(associated ? { associated: [...associated] } : {}), bindings: alive, impi };
    await this.#store.set(AOR_PREFIX + aor, rec, { ttlMs: Math.max(1, Math.ceil(ttlMs)), durability: 'relaxed' });
  }

  /**
   * Removes the bindings of `aor` when they belong to one of `impis` (a Registration-Termination-Request, rtr.ts).
   * @returns whether live bindings were removed.
   */
  async remove(aor: string, impis: readonly string[], now = Date.now()): Promise<boolean> {
    const rec = await this.#store.get<AorRecord>(AOR_PREFIX + aor);
    if (!rec || !impis.includes(rec.impi)) return false;
    await this.#store.delete(AOR_PREFIX + aor);
    return live(rec.bindings, now).length > 0;
  }

  /** Every AOR with live bindings, sorted by AOR (SCANs on Redis: for listings only). */
  async list(now = Date.now()): Promise<AorRecord[]> {
    const out: AorRecord[] = [];
    for (const key of await this.#store.keys(AOR_PREFIX)) {
      const rec = await this.#store.get<AorRecord>(key);
      const bindings = rec ? live(rec.bindings, now) : [];
      if (rec && bindings.length > 0) out.push({ ...rec, bindings });
    }
    return out;
  }
}
