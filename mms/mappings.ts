/**
 * Identity mappings of the partner MMS (TS 23.280 §10.6.2.2 precondition: "statically configured with the mapping
 * between the SIP identities of the partner MC system and the SIP identities of the primary MC system"), kept in the
 * Store so several MMS processes sharing Redis see one configuration:
 *
 * - `mms:map:impi:<partner IMPI>` → `{ primaryImpi, primaryRealm, impus: [{ partner, primary }] }` (step 4 lookup);
 * - `mms:rev:<primary IMPI>` → `{ partnerImpi }` (step 9, the way back).
 *
 * The translation agent only sees {@link MappingSource}, so dynamic bindings (§10.6.2.3, with expiry) can stand
 * behind the same interface. Writes validate first and check that no primary IMPI becomes ambiguous; a batch that
 * fails half-way is rolled back, so readers never keep a half-loaded file.
 */
import type { Store } from '../lib/store/store.ts';
import { identityProblem } from '../lib/migration/identity.ts';
import { DYNAMIC_PARTNER_IDENTITY_FORM, seedFlowOfPartnerIdentity } from '../lib/seed-steps.ts';
import { MmsError } from './errors.ts';
import type { MmsProblem } from './errors.ts';

/** One public identity pair. */
export interface ImpuPair {
  partner: string;
  primary: string;
}

/** A partner IMPI and what it stands for in the primary system. */
export interface IdentityMapping {
  /** `static` (configuration, §10.6.2.2) or `dynamic` (a migration binding, §10.6.2.3): selects the seed flow. */
  kind: 'static' | 'dynamic';
  partnerImpi: string;
  primaryImpi: string;
  /** Destination-Realm of the primary leg. */
  primaryRealm: string;
  /** At least one; partner and primary sides each unique within the mapping, so both directions are functions. */
  impus: ImpuPair[];
  /** A dynamic binding's end (epoch ms). */
  expiresAt?: number;
}

/** Where the translation agent looks identities up (static configuration, dynamic bindings, or both chained). */
export interface MappingSource {
  /** Step 4: the mapping of a partner IMPI (Cx User-Name received from the partner SIP core). */
  byPartnerImpi(impi: string): Promise<IdentityMapping | undefined>;
  /** Step 9: the mapping whose primary IMPI this is. */
  byPrimaryImpi(impi: string): Promise<IdentityMapping | undefined>;
}

/** What a mapping looks like in the Store. */
interface StoredMapping {
  primaryImpi: string;
  primaryRealm: string;
  impus: ImpuPair[];
}

/** Key prefix of the forward records. */
export const MAP_PREFIX = 'mms:map:impi:';
/** Key prefix of the reverse index. */
export const REV_PREFIX = 'mms:rev:';

/** Store key of a partner IMPI's mapping. */
export function mapKey(partnerImpi: string): string {
  return MAP_PREFIX + partnerImpi;
}

/** Store key of a primary IMPI's reverse entry. */
export function revKey(primaryImpi: string): string {
  return REV_PREFIX + primaryImpi;
}

/**
 * Checks one mapping (as the admin API receives it): identity formats and the uniqueness of each IMPU side.
 * @param line the CSV line to attach to every problem.
 * @returns the problems found; empty when the mapping is usable.
 */
export function mappingProblems(m: Omit<IdentityMapping, 'kind'>, line?: number): MmsProblem[] {
  const out: MmsProblem[] = [];
  problemAt(out, line, 'partnerImpi', identityProblem('impi', m.partnerImpi));
  problemAt(out, line, 'primaryImpi', identityProblem('impi', m.primaryImpi));
  problemAt(out, line, 'primaryRealm', identityProblem('realm', m.primaryRealm));
  if (!Array.isArray(m.impus) || m.impus.length === 0) problemAt(out, line, 'impus', 'needs at least one { partner, primary } pair');
  const seen = { partner: new Set<string>(), primary: new Set<string>() };
  (Array.isArray(m.impus) ? m.impus : []).forEach((pair, i) => {
    for (const side of ['partner', 'primary'] as const) {
      const value = (pair as Partial<ImpuPair> | null)?.[side];
      const bad = identityProblem('impu', value);
      problemAt(out, line, `impus[${i}].${side}`, bad ?? (seen[side].has(value as string) ? `${value as string} appears twice` : undefined));
      if (bad === undefined) seen[side].add(value as string);
    }
  });
  return out;
}

/** Adds `message` about `field` to `out`, when there is one (a function: every stored mapping read is checked). */
function problemAt(out: MmsProblem[], line: number | undefined, field: string, message: string | undefined): void {
  if (message !== undefined) out.push({ ...(line === undefined ? {} : { line }), field, message });
}

/**
 * The partner identities of a static mapping in the namespace reserved for dynamic bindings (lib/seed-steps.ts): the
 * registrar would label their registrations §10.6.2.3, and the migration API could allocate the same one. Checked on
 * writes only, so a store written before the reservation stays readable.
 */
function reservedProblems(m: Omit<IdentityMapping, 'kind'>, line?: number): MmsProblem[] {
  const partners = (Array.isArray(m.impus) ? m.impus : []).map((p, i): [string, unknown] => [`impus[${i}].partner`, (p as Partial<ImpuPair> | null)?.partner]);
  return ([['partnerImpi', m.partnerImpi], ...partners] as Array<[string, unknown]>)
    .filter(([, v]) => typeof v === 'string' && seedFlowOfPartnerIdentity(v) === 'dynamic')
    .map(([field, v]) => ({ ...(line === undefined ? {} : { line }), field, message: `${String(v)} is in ${DYNAMIC_PARTNER_IDENTITY_FORM}, reserved for dynamic migration bindings (TS 23.280 §10.6.2.3): a static mapping needs another partner identity` }));
}

function fromStored(partnerImpi: string, raw: unknown): IdentityMapping {
  const r = raw as Partial<StoredMapping> | null;
  const mapping = { kind: 'static' as const, partnerImpi, primaryImpi: r?.primaryImpi as string, primaryRealm: r?.primaryRealm as string, impus: r?.impus as ImpuPair[] };
  // Another version or a hand edit may have written the key; answering from half a record would mis-route.
  if (typeof r !== 'object' || r === null || mappingProblems(mapping).length > 0) {
    throw new MmsError('ERR_MMS_INPUT', `stored mapping ${mapKey(partnerImpi)} is malformed`);
  }
  return { ...mapping, impus: mapping.impus.map((p) => ({ partner: p.partner, primary: p.primary })) };
}

function toStored(m: IdentityMapping | Omit<IdentityMapping, 'kind'>): StoredMapping {
  return { primaryImpi: m.primaryImpi, primaryRealm: m.primaryRealm, impus: m.impus.map((p) => ({ partner: p.partner, primary: p.primary })) };
}

/**
 * The stored static mapping of a partner IMPI.
 * @throws MmsError ERR_MMS_INPUT when the stored record is malformed.
 */
export async function getMapping(store: Store, partnerImpi: string): Promise<IdentityMapping | undefined> {
  const raw = await store.get(mapKey(partnerImpi));
  return raw === undefined ? undefined : fromStored(partnerImpi, raw);
}

/** Every stored static mapping, sorted by partner IMPI (SCANs on Redis: for the admin API, not per request). */
export async function listMappings(store: Store): Promise<IdentityMapping[]> {
  const out: IdentityMapping[] = [];
  for (const key of await store.keys(MAP_PREFIX)) {
    const m = await getMapping(store, key.slice(MAP_PREFIX.length));
    if (m) out.push(m);
  }
  return out;
}

/** A mapping to write, with the CSV line it came from (for problem reports). */
export interface MappingInput {
  mapping: Omit<IdentityMapping, 'kind'>;
  line?: number;
}

/**
 * Adds or replaces mappings as one unit: each given partner IMPI's record is replaced whole. Validates everything and
 * checks that no primary IMPI would then belong to two partner IMPIs before writing anything.
 * @param removeOthers also delete every stored mapping not in `inputs` (loading a file as the whole configuration).
 * @returns how many mappings were written and removed, and the partner IMPIs removed.
 * @throws MmsError ERR_MMS_INPUT / ERR_MMS_CONFLICT listing every problem; nothing is written then. A Store failure
 *   during the writes is rethrown after the previous values were restored (best effort).
 */
export async function putMappings(store: Store, inputs: readonly MappingInput[], removeOthers = false): Promise<{ written: number; removed: number; removedImpis: string[] }> {
  const problems = inputs.flatMap((i) => [...mappingProblems(i.mapping, i.line), ...reservedProblems(i.mapping, i.line)]);
  const problem = (input: MappingInput, field: string, message: string): void => {
    problems.push({ ...(input.line === undefined ? {} : { line: input.line }), field, message });
  };
  const incoming = new Map<string, MappingInput>();
  for (const input of inputs) {
    if (incoming.has(input.mapping.partnerImpi)) problem(input, 'partnerImpi', `${input.mapping.partnerImpi} appears twice`);
    incoming.set(input.mapping.partnerImpi, input);
  }
  if (problems.length) throw new MmsError('ERR_MMS_INPUT', problems);
  // A malformed stored record counts as absent here, so an import can overwrite or remove it.
  const tolerant = (impi: string): Promise<IdentityMapping | undefined> => getMapping(store, impi).catch(() => undefined);
  const stored = removeOthers ? (await store.keys(MAP_PREFIX)).map((k) => k.slice(MAP_PREFIX.length)) : [...incoming.keys()];
  const removed = removeOthers ? stored.filter((impi) => !incoming.has(impi)) : [];
  const previous = new Map<string, IdentityMapping>();
  for (const impi of stored) {
    const m = await tolerant(impi);
    if (m) previous.set(impi, m);
  }
  // The final owner of every primary IMPI must be unique: this batch first, then what stays in the store.
  const owner = new Map<string, MappingInput>();
  for (const input of inputs) {
    const clash = owner.get(input.mapping.primaryImpi);
    if (clash) problem(input, 'primaryImpi', `${input.mapping.primaryImpi} is already mapped from ${clash.mapping.partnerImpi}`);
    owner.set(input.mapping.primaryImpi, input);
  }
  for (const [primary, input] of owner) {
    const other = await revOwner(store, primary);
    if (other === undefined || other === input.mapping.partnerImpi || incoming.has(other) || removed.includes(other)) continue;
    // A reverse entry whose forward record no longer names this primary IMPI is stale, not a conflict.
    if ((await tolerant(other))?.primaryImpi === primary) problem(input, 'primaryImpi', `${primary} is already mapped from ${other}`);
  }
  if (problems.length) throw new MmsError('ERR_MMS_CONFLICT', problems);

  const desired = new Map<string, unknown>();
  for (const [impi, m] of previous) {
    if (!removed.includes(impi) && incoming.get(impi)?.mapping.primaryImpi === m.primaryImpi) continue;
    // Only our own reverse entry goes: one naming another partner IMPI belongs to that mapping.
    if ((await revOwner(store, m.primaryImpi)) === impi) desired.set(revKey(m.primaryImpi), undefined);
  }
  for (const impi of removed) desired.set(mapKey(impi), undefined);
  for (const { mapping } of inputs) {
    desired.set(revKey(mapping.primaryImpi), { partnerImpi: mapping.partnerImpi });
    desired.set(mapKey(mapping.partnerImpi), toStored(mapping));
  }
  await applyAtomically(store, desired);
  return { written: inputs.length, removed: removed.length, removedImpis: removed };
}

/** The partner IMPI a reverse entry names, if any. */
async function revOwner(store: Store, primaryImpi: string): Promise<string | undefined> {
  const rev = await store.get<{ partnerImpi?: unknown }>(revKey(primaryImpi));
  return typeof rev?.partnerImpi === 'string' ? rev.partnerImpi : undefined;
}

async function applyAtomically(store: Store, desired: Map<string, unknown>): Promise<void> {
  // Reverse entries go first and forward records last, so a reader resolving step 4 never finds a mapping whose way
  // back is missing; byPrimaryImpi checks the forward record, so an early reverse entry is harmless.
  const order = [...desired.keys()].sort((a, b) => rank(a, desired.get(a)) - rank(b, desired.get(b)));
  const before = new Map<string, unknown>();
  for (const key of order) before.set(key, await store.get(key));
  const done: string[] = [];
  try {
    for (const key of order) {
      const value = desired.get(key);
      if (value === undefined) await store.delete(key);
      else await store.set(key, value);
      done.push(key);
    }
  } catch (err) {
    for (const key of done.reverse()) {
      const value = before.get(key);
      await (value === undefined ? store.delete(key) : store.set(key, value)).catch(() => undefined);
    }
    throw err;
  }
}

function rank(key: string, value: unknown): number {
  const forward = key.startsWith(MAP_PREFIX);
  if (value !== undefined) return forward ? 1 : 0;
  return forward ? 2 : 3;
}

/**
 * Adds or replaces one mapping (admin API `PUT`).
 * @throws MmsError ERR_MMS_INPUT (bad field, named) or ERR_MMS_CONFLICT (primary IMPI mapped from another IMPI).
 */
export async function addMapping(store: Store, mapping: Omit<IdentityMapping, 'kind'>): Promise<void> {
  await putMappings(store, [{ mapping }]);
}

/**
 * Removes a partner IMPI's mapping and its reverse entry (admin API `DELETE`).
 * @returns true when a mapping was removed.
 */
export async function removeMapping(store: Store, partnerImpi: string): Promise<boolean> {
  const m = await getMapping(store, partnerImpi).catch(() => undefined);
  const removed = await store.delete(mapKey(partnerImpi));
  if (m) await store.compareAndDelete(revKey(m.primaryImpi), { partnerImpi });
  return removed;
}

/** The static mappings of a Store as a {@link MappingSource}. */
export class StoreMappingSource implements MappingSource {
  /** @param store where `mms:map:` / `mms:rev:` records live. */
  constructor(private readonly store: Store) {}

  /** Step 4 lookup. @throws MmsError ERR_MMS_INPUT when the record is malformed. */
  byPartnerImpi(impi: string): Promise<IdentityMapping | undefined> {
    return getMapping(this.store, impi);
  }

  /** Step 9 lookup; a stale reverse entry (its forward record names another primary IMPI) counts as absent. */
  async byPrimaryImpi(impi: string): Promise<IdentityMapping | undefined> {
    const partnerImpi = await revOwner(this.store, impi);
    const m = partnerImpi === undefined ? undefined : await getMapping(this.store, partnerImpi);
    return m?.primaryImpi === impi ? m : undefined;
  }
}

/**
 * Several sources as one, first match wins: e.g. dynamic bindings before static configuration.
 * @param sources in order of precedence.
 */
export function chainMappingSources(...sources: MappingSource[]): MappingSource {
  const first = async (f: (s: MappingSource) => Promise<IdentityMapping | undefined>): Promise<IdentityMapping | undefined> => {
    for (const s of sources) {
      const m = await f(s);
      if (m) return m;
    }
    return undefined;
  };
  return { byPartnerImpi: (impi) => first((s) => s.byPartnerImpi(impi)), byPrimaryImpi: (impi) => first((s) => s.byPrimaryImpi(impi)) };
}

/** Step 4 for one IMPU: the primary IMPU a partner IMPU stands for. */
export function primaryImpuOf(m: IdentityMapping, partnerImpu: string): string | undefined {
  return m.impus.find((p) => p.partner === partnerImpu)?.primary;
}

/** Step 9 for one IMPU: the partner IMPU a primary IMPU is known as. */
export function partnerImpuOf(m: IdentityMapping, primaryImpu: string): string | undefined {
  return m.impus.find((p) => p.primary === primaryImpu)?.partner;
}
