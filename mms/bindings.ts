/**
 * The partner MMS's dynamic bindings (TS 23.280 §10.6.2.3 precondition: "the partner MMS has been configured with
 * the mapping … as part of the migration configuration procedure"), one per migration configuration, kept in the
 * Store with the configuration's expiry as TTL so several MMS processes sharing Redis see one set:
 *
 * - `mms:mig:cfg:<id>` → the {@link MigrationConfiguration};
 * - `mms:mig:impi:<partner IMPI>` → `{ id }` (step 4), `mms:mig:rev:<primary IMPI>` → `{ id }` (step 9);
 * - `mms:mig:user:<primary iss> <mcptt_id>` → `{ id }`: at most one live configuration per MC service user.
 *
 * The translation agent reads them through {@link BindingMappingSource} (kind `dynamic`), chained before the static
 * mappings. IMPUs pair by position: the n-th partner IMPU stands for the n-th primary IMPU the primary MMS returned.
 */
import { randomUUID } from 'node:crypto';
import type { Store } from '../lib/store/store.ts';
import type { IdentityMapping, MappingSource } from './mappings.ts';

/** The identities of one migration, as both MMSs record them. */
export interface BoundIdentities {
  /** The MC service user's MC service ID. */
  mcpttId: string;
  partnerImpi: string;
  partnerImpus: string[];
  primaryImpi: string;
  primaryImpus: string[];
  primaryRealm: string;
  /** Epoch milliseconds. */
  createdAt: number;
  expiresAt: number;
}

/** One migration configuration as the partner MMS keeps it. */
export interface MigrationConfiguration extends BoundIdentities {
  id: string;
  /** The primary IdMS identity from the partner access token. */
  primaryIss: string;
  primarySub: string;
}

const CFG = 'mms:mig:cfg:';
const IMPI = 'mms:mig:impi:';
const REV = 'mms:mig:rev:';
const USER = 'mms:mig:user:';

const userKey = (c: Pick<MigrationConfiguration, 'primaryIss' | 'mcpttId'>): string => `${USER}${c.primaryIss} ${c.mcpttId}`;
const ttlOf = (c: MigrationConfiguration): { ttlMs: number } => ({ ttlMs: Math.max(1, c.expiresAt - Date.now()) });

function isConfiguration(v: unknown): v is MigrationConfiguration {
  const c = v as Partial<MigrationConfiguration> | null;
  return typeof c === 'object' && c !== null && typeof c.id === 'string' && typeof c.partnerImpi === 'string'
    && typeof c.primaryImpi === 'string' && typeof c.primaryRealm === 'string' && Array.isArray(c.partnerImpus)
    && Array.isArray(c.primaryImpus) && typeof c.expiresAt === 'number';
}

/** The live configuration `id` (undefined when absent, expired or unreadable). */
export async function getConfiguration(store: Store, id: string): Promise<MigrationConfiguration | undefined> {
  const c = await store.get(CFG + id);
  return isConfiguration(c) && c.expiresAt > Date.now() ? c : undefined;
}

async function viaIndex(store: Store, key: string, check: (c: MigrationConfiguration) => boolean): Promise<MigrationConfiguration | undefined> {
  const ref = await store.get<{ id?: unknown }>(key);
  if (typeof ref?.id !== 'string') return undefined;
  const c = await getConfiguration(store, ref.id);
  // An index entry left behind by a configuration that was replaced names another record: absent, not a match.
  return c && check(c) ? c : undefined;
}

/** The user's live configuration, if any. */
export function configurationOfUser(store: Store, user: Pick<MigrationConfiguration, 'primaryIss' | 'mcpttId'>): Promise<MigrationConfiguration | undefined> {
  return viaIndex(store, userKey(user), (c) => c.primaryIss === user.primaryIss && c.mcpttId === user.mcpttId);
}

/** Whether a partner IMPI is taken by a live configuration (allocation must not reuse one). */
export async function partnerImpiInUse(store: Store, partnerImpi: string): Promise<boolean> {
  return (await store.get(IMPI + partnerImpi)) !== undefined;
}

/** How long a user's configuration may take to be created (the primary MMS is asked meanwhile). */
export const RESERVATION_TTL_MS = 30_000;

/**
 * Reserves the user's slot for a new configuration, so two requests of one user cannot both create one.
 * @returns a release function, or undefined when the slot is taken (a live configuration, or one being created). An
 *   index entry that names a configuration no longer stored is stale and taken over.
 */
export async function reserveUser(store: Store, user: Pick<MigrationConfiguration, 'primaryIss' | 'mcpttId'>): Promise<(() => Promise<void>) | undefined> {
  const key = userKey(user);
  const mine = { pending: randomUUID() };
  for (let attempt = 0; attempt < 2; attempt++) {
    if (await store.setIfAbsent(key, mine, { ttlMs: RESERVATION_TTL_MS })) return async () => void (await store.compareAndDelete(key, mine));
    const held = await store.get<{ id?: unknown; pending?: unknown }>(key);
    if (held === undefined) continue; // expired between the two calls
    if (typeof held.id !== 'string' || (await getConfiguration(store, held.id)) !== undefined) return undefined;
    await store.compareAndDelete(key, held);
  }
  return undefined;
}

/**
 * Stores a configuration and its indexes; the caller holds the user's reservation ({@link reserveUser}), which the
 * user index replaces. The partner IMPI is claimed first (`setIfAbsent`), the record last: every lookup goes through
 * the record, so until it is written nothing of the configuration is visible, and a crash in between leaves only
 * index entries that name nothing (and expire with the configuration's TTL).
 * @returns false when the partner IMPI was taken meanwhile (nothing of this configuration is stored then).
 */
export async function saveConfiguration(store: Store, c: MigrationConfiguration): Promise<boolean> {
  const ttl = ttlOf(c);
  if (!(await store.setIfAbsent(IMPI + c.partnerImpi, { id: c.id }, ttl))) return false;
  await store.set(REV + c.primaryImpi, { id: c.id }, ttl);
  await store.set(userKey(c), { id: c.id }, ttl);
  await store.set(CFG + c.id, c, ttl);
  return true;
}

/** Removes a configuration and those of its indexes that still name it. */
export async function removeConfiguration(store: Store, c: MigrationConfiguration): Promise<void> {
  // The record first: from here on no lookup (step 4, the user's) finds the configuration, whatever follows.
  await store.delete(CFG + c.id);
  await store.compareAndDelete(IMPI + c.partnerImpi, { id: c.id });
  await store.compareAndDelete(REV + c.primaryImpi, { id: c.id });
  await store.compareAndDelete(userKey(c), { id: c.id });
}

/** How many configurations are live (SCANs on Redis: for metrics, not per request). */
export async function countConfigurations(store: Store): Promise<number> {
  return (await store.keys(CFG)).length;
}

/** Every live configuration (SCANs on Redis: for listings, not per request). */
export async function listConfigurations(store: Store): Promise<MigrationConfiguration[]> {
  const out: MigrationConfiguration[] = [];
  for (const key of await store.keys(CFG)) {
    const c = await getConfiguration(store, key.slice(CFG.length));
    if (c) out.push(c);
  }
  return out;
}

/** The identity mapping a configuration stands for. */
export function mappingOf(c: MigrationConfiguration): IdentityMapping {
  const n = Math.min(c.partnerImpus.length, c.primaryImpus.length);
  const impus = Array.from({ length: n }, (_, i) => ({ partner: c.partnerImpus[i] as string, primary: c.primaryImpus[i] as string }));
  return { kind: 'dynamic', partnerImpi: c.partnerImpi, primaryImpi: c.primaryImpi, primaryRealm: c.primaryRealm, impus, expiresAt: c.expiresAt };
}

/** The dynamic bindings of a Store as a {@link MappingSource}. */
export class BindingMappingSource implements MappingSource {
  /** @param store where `mms:mig:` records live. */
  constructor(private readonly store: Store) {}

  /** Step 4 lookup. */
  async byPartnerImpi(impi: string): Promise<IdentityMapping | undefined> {
    const c = await viaIndex(this.store, IMPI + impi, (x) => x.partnerImpi === impi);
    return c && mappingOf(c);
  }

  /** Step 9 lookup. */
  async byPrimaryImpi(impi: string): Promise<IdentityMapping | undefined> {
    const c = await viaIndex(this.store, REV + impi, (x) => x.primaryImpi === impi);
    return c && mappingOf(c);
  }
}
