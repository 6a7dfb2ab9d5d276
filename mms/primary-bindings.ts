/**
 * The primary MMS's record of each migration it confirmed (DESIGN §2.4 [design]: "the primary MMS records the
 * partner-assigned identity"), kept in the Store with the binding's expiry as TTL:
 *
 * - `mms:bind:<partner realm> <primary IMPI>` → the {@link PrimaryBinding}: what the Cx gate checks when a MAR or SAR
 *   for that primary IMPI arrives from that partner realm (§10.6.2.3 step 5);
 * - `mms:bind:p:<partner realm> <partner IMPI>` → `{ primaryImpi }`: how the partner's DELETE finds it.
 *
 * One binding per primary IMPI and partner realm: a new one replaces the old (whose partner index is dropped).
 */
import type { Store } from '../lib/store/store.ts';
import type { BoundIdentities } from './bindings.ts';

/** A migration the primary MMS confirmed. */
export interface PrimaryBinding extends BoundIdentities {
  partnerRealm: string;
}

const BIND = 'mms:bind:';
const BY_PARTNER = 'mms:bind:p:';

const bindKey = (partnerRealm: string, primaryImpi: string): string => `${BIND}${partnerRealm.toLowerCase()} ${primaryImpi}`;
const partnerKey = (partnerRealm: string, partnerImpi: string): string => `${BY_PARTNER}${partnerRealm.toLowerCase()} ${partnerImpi}`;

function isBinding(v: unknown): v is PrimaryBinding {
  const b = v as Partial<PrimaryBinding> | null;
  return typeof b === 'object' && b !== null && typeof b.primaryImpi === 'string' && typeof b.partnerImpi === 'string'
    && Array.isArray(b.primaryImpus) && typeof b.expiresAt === 'number';
}

/** How many bindings are live (one partner index entry each; a listing of keys: for metrics, not per request). */
export async function countBindings(store: Store): Promise<number> {
  return (await store.keys(BY_PARTNER)).length;
}

/** The live binding of a primary IMPI toward a partner realm. */
export async function bindingFor(store: Store, partnerRealm: string, primaryImpi: string): Promise<PrimaryBinding | undefined> {
  const b = await store.get(bindKey(partnerRealm, primaryImpi));
  return isBinding(b) && b.expiresAt > Date.now() ? b : undefined;
}

/** Records a binding, replacing the primary IMPI's earlier one toward the same partner realm. */
export async function putBinding(store: Store, b: PrimaryBinding): Promise<void> {
  const ttl = { ttlMs: Math.max(1, b.expiresAt - Date.now()) };
  const old = await bindingFor(store, b.partnerRealm, b.primaryImpi);
  await store.set(partnerKey(b.partnerRealm, b.partnerImpi), { primaryImpi: b.primaryImpi }, ttl);
  await store.set(bindKey(b.partnerRealm, b.primaryImpi), b, ttl);
  if (old && old.partnerImpi !== b.partnerImpi) await store.compareAndDelete(partnerKey(old.partnerRealm, old.partnerImpi), { primaryImpi: old.primaryImpi });
}

/**
 * Removes the binding a partner assigned `partnerImpi` to.
 * @returns the removed binding, or undefined when there was none.
 */
export async function removeBinding(store: Store, partnerRealm: string, partnerImpi: string): Promise<PrimaryBinding | undefined> {
  const ref = await store.take<{ primaryImpi?: unknown }>(partnerKey(partnerRealm, partnerImpi));
  if (typeof ref?.primaryImpi !== 'string') return undefined;
  const b = await bindingFor(store, partnerRealm, ref.primaryImpi);
  // The primary IMPI may have been bound anew under another partner IMPI since: that binding stays.
  if (!b || b.partnerImpi !== partnerImpi) return undefined;
  await store.compareAndDelete(bindKey(partnerRealm, b.primaryImpi), b);
  return b;
}
