/**
 * Subscribers in the shared Store (DESIGN §2.3, §2.5): the record under `hss:sub:<impi>`, indexes `hss:impu:<impu>`
 * and `hss:mcptt:<mcptt_id>` → IMPI, and the SQN counter of 33.102 Annex C under `hss:sqn:<impi>` (store.setSqn).
 *
 * The Store has no transactions, so writes are ordered for readers: counter and indexes first, the record last (a
 * subscriber exists when its record does; an index pointing at no record reads as "unknown"); removal deletes the
 * record first. A bulk import validates every row against the file and the store before its first write.
 */
import type { Logger } from '../lib/log.ts';
import { silentLogger } from '../lib/log.ts';
import type { Store } from '../lib/store/store.ts';
import { servingKey } from './serving.ts';
import {
  SubscriberError, provision, validateSubscriber, viewOf,
  type SubscriberInput, type SubscriberProblem, type SubscriberRecord, type SubscriberView,
} from './subscriber-model.ts';

export * from './subscriber-model.ts';

/** Store key of a subscriber record. */
export const subKey = (impi: string): string => `hss:sub:${impi}`;
/** Store key of the IMPU → IMPI index. */
export const impuKey = (impu: string): string => `hss:impu:${impu}`;
/** Store key of the MC service ID → IMPI index (the primary MMS asks "may this mcptt_id migrate?"). */
export const mcpttKey = (id: string): string => `hss:mcptt:${id}`;
/** SQN counter name of a subscriber (counters are a namespace of their own in the Store). */
export const sqnKey = (impi: string): string => `hss:sqn:${impi}`;

/** One validated row of an import, with where it came from. */
export interface ImportRow {
  line?: number;
  input: SubscriberInput;
}

/** Options of writes. */
export interface PutOptions {
  /** Overwrite an existing IMPI (default: refuse with ERR_HSS_EXISTS). */
  replace?: boolean;
}

/** Subscriber provisioning and lookup over a Store. */
export class SubscriberRepo {
  readonly #store: Store;
  readonly #realm: string;
  readonly #log: Logger;

  /**
   * @param store where records, indexes and counters live.
   * @param options `realm`: the HSS realm HA1s are computed for; `logger` for provisioning lines (never secrets).
   */
  constructor(store: Store, options: { realm: string; logger?: Logger }) {
    this.#store = store;
    this.#realm = options.realm;
    this.#log = options.logger ?? silentLogger;
  }

  /** The record of `impi`, or undefined. */
  get(impi: string): Promise<SubscriberRecord | undefined> {
    return this.#store.get<SubscriberRecord>(subKey(impi));
  }

  /** The IMPI owning `impu`, when its record exists. */
  async impiOfImpu(impu: string): Promise<string | undefined> {
    const impi = await this.#store.get<string>(impuKey(impu));
    if (impi === undefined) return undefined;
    const rec = await this.get(impi);
    return rec?.impus.includes(impu) ? impi : undefined;
  }

  /** The IMPI whose `mcptt_id` this is, when its record exists. */
  async impiOfMcpttId(id: string): Promise<string | undefined> {
    const impi = await this.#store.get<string>(mcpttKey(id));
    if (impi === undefined) return undefined;
    return (await this.get(impi))?.mcptt_id === id ? impi : undefined;
  }

  /** How many subscribers are provisioned (a listing of keys: for metrics, not per request). */
  async count(): Promise<number> {
    return (await this.#store.keys('hss:sub:')).length;
  }

  /** Every record, sorted by IMPI. */
  async list(): Promise<SubscriberRecord[]> {
    const keys = await this.#store.keys('hss:sub:');
    const recs = await Promise.all(keys.map((k) => this.#store.get<SubscriberRecord>(k)));
    return recs.filter((r): r is SubscriberRecord => r !== undefined);
  }

  /** The public view (no secrets) of a record, with its last issued SQN. */
  async view(record: SubscriberRecord): Promise<SubscriberView> {
    return viewOf(record, await this.#store.getSqn(sqnKey(record.impi)));
  }

  /**
   * Validates and provisions one subscriber.
   * @throws SubscriberError ERR_HSS_INPUT (bad fields), ERR_HSS_EXISTS (IMPI known, no `replace`), ERR_HSS_CONFLICT
   *   (an IMPU or mcptt_id belongs to another IMPI).
   */
  async put(raw: unknown, options: PutOptions = {}): Promise<SubscriberRecord> {
    const v = validateSubscriber(raw);
    if ('problems' in v) throw new SubscriberError('ERR_HSS_INPUT', v.problems);
    const [record] = await this.importRows([{ input: v.input }], options);
    return record as SubscriberRecord;
  }

  /**
   * Provisions validated rows all-or-nothing as far as validation goes: every conflict (duplicates inside the rows,
   * identities owned by IMPIs outside them, existing IMPIs without `replace`) is found before the first write.
   * @throws SubscriberError with one problem per offending row.
   */
  async importRows(rows: readonly ImportRow[], options: PutOptions = {}): Promise<SubscriberRecord[]> {
    const problems = await this.#conflicts(rows, options);
    if (problems.length) {
      const code = problems.every((p) => p.message.includes('already provisioned')) ? 'ERR_HSS_EXISTS' : 'ERR_HSS_CONFLICT';
      throw new SubscriberError(rows.length === 1 ? code : 'ERR_HSS_INPUT', problems);
    }
    const out: SubscriberRecord[] = [];
    for (const row of rows) out.push(await this.#write(row.input));
    return out;
  }

  /**
   * Removes a subscriber and its indexes and serving state. Its SQN counter stays (the Store never deletes counters),
   * so a later re-provisioning continues above every SQN already issued.
   * @returns false when the IMPI was unknown.
   */
  async remove(impi: string): Promise<boolean> {
    const rec = await this.get(impi);
    if (!rec) return false;
    await this.#store.delete(subKey(impi));
    await this.#dropIndexes(rec, { impus: [] });
    await this.#store.delete(servingKey(impi));
    this.#log.info({ impi }, 'subscriber removed');
    return true;
  }

  async #conflicts(rows: readonly ImportRow[], options: PutOptions): Promise<SubscriberProblem[]> {
    const problems: SubscriberProblem[] = [];
    const at = (row: ImportRow, field: string, message: string) =>
      problems.push({ ...(row.line === undefined ? {} : { line: row.line }), field, message });
    const inFile = new Map(rows.map((r) => [r.input.impi, r]));
    const impuOwner = new Map<string, string>();
    const mcpttOwner = new Map<string, string>();
    const seenImpi = new Set<string>();
    for (const row of rows) {
      const { impi, impus, mcptt_id } = row.input;
      if (seenImpi.has(impi)) at(row, 'impi', `${impi} appears on an earlier row`);
      seenImpi.add(impi);
      if (!options.replace && (await this.get(impi)) !== undefined) at(row, 'impi', `${impi} is already provisioned`);
      for (const impu of impus) {
        const other = impuOwner.get(impu);
        if (other !== undefined && other !== impi) at(row, 'impus', `${impu} is also given to ${other}`);
        impuOwner.set(impu, impi);
        const owner = await this.impiOfImpu(impu);
        // An owner that is re-provisioned in these same rows without this IMPU gives it up.
        const released = owner !== undefined && inFile.has(owner) && !inFile.get(owner)?.input.impus.includes(impu);
        if (owner !== undefined && owner !== impi && !(options.replace && released)) at(row, 'impus', `${impu} belongs to ${owner}`);
      }
      if (mcptt_id !== undefined) {
        const other = mcpttOwner.get(mcptt_id);
        if (other !== undefined && other !== impi) at(row, 'mcptt_id', `${mcptt_id} is also given to ${other}`);
        mcpttOwner.set(mcptt_id, impi);
        const owner = await this.impiOfMcpttId(mcptt_id);
        const released = owner !== undefined && inFile.has(owner) && inFile.get(owner)?.input.mcptt_id !== mcptt_id;
        if (owner !== undefined && owner !== impi && !(options.replace && released)) at(row, 'mcptt_id', `${mcptt_id} belongs to ${owner}`);
      }
    }
    return problems;
  }

  async #write(input: SubscriberInput): Promise<SubscriberRecord> {
    const { record, sqn } = provision(input, this.#realm);
    const old = await this.get(record.impi);
    const key = sqnKey(record.impi);
    const current = await this.#store.getSqn(key);
    // The counter never goes down at provisioning: a lower SQN would reissue SQNs already handed out.
    if (current === undefined || sqn > current) await this.#store.setSqn(key, sqn);
    else if (sqn < current) {
      this.#log.info({ impi: record.impi, sqn: hex12(current) }, 'provisioning: keeping the higher SQN counter already issued');
    }
    for (const impu of record.impus) await this.#store.set(impuKey(impu), record.impi);
    if (record.mcptt_id !== undefined) await this.#store.set(mcpttKey(record.mcptt_id), record.impi);
    await this.#store.set(subKey(record.impi), record);
    if (old) await this.#dropIndexes(old, record);
    this.#log.info({ impi: record.impi, impus: record.impus, aka: record.k !== undefined, digest: record.ha1 !== undefined },
      old ? 'subscriber replaced' : 'subscriber provisioned');
    return record;
  }

  /** Deletes the indexes `old` had and `now` no longer has, only where they still point at this IMPI. */
  async #dropIndexes(old: SubscriberRecord, now: Pick<SubscriberRecord, 'impus' | 'mcptt_id'>): Promise<void> {
    for (const impu of old.impus) {
      if (!now.impus.includes(impu)) await this.#store.compareAndDelete(impuKey(impu), old.impi);
    }
    if (old.mcptt_id !== undefined && old.mcptt_id !== now.mcptt_id) {
      await this.#store.compareAndDelete(mcpttKey(old.mcptt_id), old.impi);
    }
  }
}

/** 12 hex digits of an SQN, for log lines. */
export function hex12(sqn: bigint): string {
  return sqn.toString(16).padStart(12, '0');
}
