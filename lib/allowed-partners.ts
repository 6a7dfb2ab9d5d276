/**
 * The primary system's per-subscriber migration policy (DESIGN §2.7 [design]): for each partner realm a subscriber
 * may migrate to, by which configuration of TS 23.280 §10.6.2 —
 *
 * | entry | static (§10.6.2.2: partner MMS mapping, through the primary relay) | dynamic (§10.6.2.3: binding, through the primary MMS) |
 * |---|---|---|
 * | `static:REALM` | yes | no |
 * | `dynamic:REALM` | no | yes |
 * | `REALM` | yes | yes |
 *
 * The entries are stored as written (an untyped entry, as every record before this policy had, keeps meaning both).
 * The HSS (Cx) and the primary MMS (binding API) read them; the HSS admin API, its CSV import and `mcx hss
 * subscriber add` validate them with {@link allowedPartnersSchema}.
 */
import { z } from 'zod';
import { BoundedMap } from './bounded-map.ts';
import { isRealm } from './config/address.ts';

/** A migration configuration of TS 23.280 §10.6.2. */
export type MigrationMode = 'static' | 'dynamic';

/** One entry read. */
export interface AllowedPartner {
  /** Lower-case. */
  realm: string;
  static: boolean;
  dynamic: boolean;
}

const ENTRY = /^(?:(static|dynamic):)?(.*)$/;

/**
 * Reads one entry.
 * @returns the entry, or a message saying what is wrong (never echoing more than the entry).
 */
export function parseAllowedPartner(entry: string): AllowedPartner | string {
  const m = ENTRY.exec(entry.trim()) as RegExpExecArray;
  const realm = m[2] as string;
  if (!isRealm(realm)) {
    return `${JSON.stringify(entry)} must be REALM, static:REALM or dynamic:REALM with a DNS name as REALM`;
  }
  const mode = m[1] as MigrationMode | undefined;
  return { realm: realm.toLowerCase(), static: mode !== 'dynamic', dynamic: mode !== 'static' };
}

/** One `allowed_partners` entry. */
export const allowedPartnerSchema = z.string().trim().superRefine((v, ctx) => {
  const r = parseAllowedPartner(v);
  if (typeof r === 'string') ctx.addIssue({ code: 'custom', message: r });
});

/** A subscriber's `allowed_partners`: at most 64 entries, each realm once. */
export const allowedPartnersSchema = z.array(allowedPartnerSchema).max(64, 'at most 64 partner realms').superRefine((list, ctx) => {
  const seen = new Set<string>();
  for (const e of list) {
    const r = parseAllowedPartner(e);
    if (typeof r === 'string') continue;
    if (seen.has(r.realm)) ctx.addIssue({ code: 'custom', message: `${r.realm} is listed twice (give it once; a plain REALM allows both configurations)` });
    seen.add(r.realm);
  }
});

/**
 * Whether `entries` let the subscriber be served toward `realm` by configuration `mode` (`any`: by either).
 * Malformed entries (none pass validation; this is the reader's guard) allow nothing.
 */
export function allowsMigration(entries: readonly string[], realm: string, mode: MigrationMode | 'any'): boolean {
  const r = realm.toLowerCase();
  for (const e of entries) {
    const p = readEntry(e);
    if (typeof p !== 'string' && p.realm === r && (mode === 'any' || p[mode])) return true;
  }
  return false;
}

/**
 * Entries read before: the HSS checks a subscriber's list on every MAR and SAR, and validating each entry's realm
 * again was 2.5 % of its CPU (issue #12). The entries are few and shared by many subscribers; bounded all the same.
 */
const READ = new BoundedMap<string, AllowedPartner | string>(4096);

function readEntry(entry: string): AllowedPartner | string {
  let p = READ.peek(entry);
  if (p === undefined) READ.set(entry, (p = parseAllowedPartner(entry)));
  return p;
}
