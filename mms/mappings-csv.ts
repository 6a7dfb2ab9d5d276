/**
 * Static mappings from CSV: a header row naming the columns `partner_impi,partner_impu,primary_impi,primary_impu,
 * primary_realm` (any order), then one row per public identity pair; a partner IMPI with several IMPUs has several
 * rows, which must agree on primary_impi and primary_realm. The CSV rules (quoting, comments, blank lines, line
 * numbers) are lib/csv's, the same as for HSS subscribers and IdMS users. Every row is checked and every problem
 * reported by line number before anything is written, so a bad file changes nothing.
 */
import { readCsvTable } from '../lib/csv/table.ts';
import { identityProblem } from '../lib/migration/identity.ts';
import type { Store } from '../lib/store/store.ts';
import { MmsError } from './errors.ts';
import type { MmsProblem } from './errors.ts';
import { putMappings } from './mappings.ts';
import type { IdentityMapping, MappingInput } from './mappings.ts';

/** The columns of a mapping file. */
export const MAPPING_COLUMNS = ['partner_impi', 'partner_impu', 'primary_impi', 'primary_impu', 'primary_realm'] as const;
type Column = (typeof MAPPING_COLUMNS)[number];
const KIND: Readonly<Record<Column, 'impi' | 'impu' | 'realm'>> = {
  partner_impi: 'impi', partner_impu: 'impu', primary_impi: 'impi', primary_impu: 'impu', primary_realm: 'realm',
};

/**
 * Parses a mapping file into one mapping per partner IMPI (rows grouped in file order).
 * @throws MmsError ERR_MMS_INPUT listing every problem by line: CSV syntax, missing or unknown columns, too many fields, bad
 *   identities, rows of one partner IMPI that disagree, an IMPU or primary IMPI used twice.
 */
export function parseMappingsCsv(text: string): MappingInput[] {
  const table = readCsvTable(text, { columns: MAPPING_COLUMNS, required: MAPPING_COLUMNS });
  const problems: MmsProblem[] = table.problems.map((p) => ({ line: p.line, message: p.message }));

  const groups = new Map<string, { line: number; mapping: Omit<IdentityMapping, 'kind'> }>();
  const impuOwner = new Map<string, string>();
  for (const { line, values: row } of table.rows) {
    const bad = MAPPING_COLUMNS.flatMap((c) => {
      const message = identityProblem(KIND[c], row[c]);
      return message === undefined ? [] : [{ line, field: c, message }];
    });
    if (bad.length) {
      problems.push(...bad);
      continue;
    }
    const group = groups.get(row.partner_impi);
    if (!group) {
      groups.set(row.partner_impi, {
        line,
        mapping: { partnerImpi: row.partner_impi, primaryImpi: row.primary_impi, primaryRealm: row.primary_realm, impus: [] },
      });
    } else {
      for (const [field, key] of [['primary_impi', 'primaryImpi'], ['primary_realm', 'primaryRealm']] as const) {
        if (group.mapping[key] !== row[field]) {
          problems.push({ line, field, message: `${row[field]} differs from ${group.mapping[key]} on line ${group.line} for ${row.partner_impi}` });
        }
      }
    }
    const mapping = (groups.get(row.partner_impi) as { mapping: Omit<IdentityMapping, 'kind'> }).mapping;
    const owner = impuOwner.get(row.partner_impu);
    if (owner !== undefined) {
      problems.push({ line, field: 'partner_impu', message: `${row.partner_impu} is already listed${owner === row.partner_impi ? '' : ` for ${owner}`}` });
      continue;
    }
    if (mapping.impus.some((p) => p.primary === row.primary_impu)) {
      problems.push({ line, field: 'primary_impu', message: `${row.primary_impu} is already mapped for ${row.partner_impi}` });
      continue;
    }
    impuOwner.set(row.partner_impu, row.partner_impi);
    mapping.impus.push({ partner: row.partner_impu, primary: row.primary_impu });
  }
  const primaries = new Map<string, string>();
  for (const { line, mapping } of groups.values()) {
    const other = primaries.get(mapping.primaryImpi);
    if (other !== undefined) problems.push({ line, field: 'primary_impi', message: `${mapping.primaryImpi} is already mapped from ${other}` });
    primaries.set(mapping.primaryImpi, mapping.partnerImpi);
  }
  if (problems.length) throw new MmsError('ERR_MMS_INPUT', problems.sort((a, b) => (a.line ?? 0) - (b.line ?? 0)));
  return [...groups.values()].map(({ line, mapping }) => ({ line, mapping }));
}

/**
 * Loads a mapping file into the store: all of it or, on any problem, none of it.
 * @param replaceAll the file is the whole static configuration: stored mappings absent from it are removed.
 * @returns how many partner IMPIs (and IMPU pairs) were loaded, how many stored mappings were removed and their partner IMPIs.
 * @throws MmsError ERR_MMS_INPUT / ERR_MMS_CONFLICT with every problem by line number; the store is unchanged.
 */
export async function importMappingsCsv(store: Store, text: string, replaceAll = false): Promise<{ mappings: number; impus: number; removed: number; removedImpis: string[] }> {
  const inputs = parseMappingsCsv(text);
  const { written, removed, removedImpis } = await putMappings(store, inputs, replaceAll);
  return { mappings: written, impus: inputs.reduce((n, i) => n + i.mapping.impus.length, 0), removed, removedImpis };
}
