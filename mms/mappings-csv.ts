/**
 * Static mappings from CSV: a header row naming the columns `partner_impi,partner_impu,primary_impi,primary_impu,
 * primary_realm` (any order), then one row per public identity pair; a partner IMPI with several IMPUs has several
 * rows, which must agree on primary_impi and primary_realm. RFC 4180 quoting is understood; blank lines and lines
 * starting with `#` are skipped. Every row is checked and every problem reported by line number before anything is
 * written, so a bad file changes nothing.
 */
import type { Store } from '../lib/store/store.ts';
import { MmsError } from './errors.ts';
import type { MmsProblem } from './errors.ts';
import { identityProblem } from '../lib/migration/identity.ts';
import { putMappings } from './mappings.ts';
import type { IdentityMapping, MappingInput } from './mappings.ts';

/** The columns of a mapping file. */
export const MAPPING_COLUMNS = ['partner_impi', 'partner_impu', 'primary_impi', 'primary_impu', 'primary_realm'] as const;
type Column = (typeof MAPPING_COLUMNS)[number];
const KIND: Readonly<Record<Column, 'impi' | 'impu' | 'realm'>> = {
  partner_impi: 'impi', partner_impu: 'impu', primary_impi: 'impi', primary_impu: 'impu', primary_realm: 'realm',
};

/** One CSV record and the line it starts on (1-based). */
export interface CsvRecord {
  line: number;
  fields: string[];
}

/**
 * Splits CSV text into records (RFC 4180: `"` quotes, `""` inside quotes, CRLF or LF, a quoted field may span lines).
 * Blank lines and `#` comment lines yield nothing.
 * @throws MmsError ERR_MMS_INPUT for an unterminated quote or text after a closing quote, naming the line.
 */
export function splitCsv(text: string): CsvRecord[] {
  const out: CsvRecord[] = [];
  const src = text.startsWith('\ufeff') ? text.slice(1) : text;
  let line = 1;
  let i = 0;
  while (i < src.length) {
    const start = line;
    const rest = src.slice(i, src.indexOf('\n', i) === -1 ? src.length : src.indexOf('\n', i));
    if (rest.trim() === '' || rest.startsWith('#')) {
      i += rest.length + 1;
      line++;
      continue;
    }
    const fields: string[] = [];
    for (;;) {
      let field = '';
      if (src[i] === '"') {
        i++;
        for (;;) {
          if (i >= src.length) throw new MmsError('ERR_MMS_INPUT', [{ line: start, message: 'unterminated quoted field' }]);
          const c = src[i] as string;
          if (c === '"' && src[i + 1] === '"') { field += '"'; i += 2; continue; }
          if (c === '"') { i++; break; }
          if (c === '\n') line++;
          field += c;
          i++;
        }
        if (i < src.length && !',\r\n'.includes(src[i] as string)) {
          throw new MmsError('ERR_MMS_INPUT', [{ line, message: 'text after a closing quote' }]);
        }
      } else {
        while (i < src.length && !',\r\n'.includes(src[i] as string)) field += src[i++];
      }
      fields.push(field);
      if (src[i] === ',') { i++; continue; }
      if (src[i] === '\r') i++;
      if (src[i] === '\n') { i++; line++; }
      break;
    }
    out.push({ line: start, fields });
  }
  return out;
}

/**
 * Parses a mapping file into one mapping per partner IMPI (rows grouped in file order).
 * @throws MmsError ERR_MMS_INPUT listing every problem by line: missing or unknown columns, wrong field counts, bad
 *   identities, rows of one partner IMPI that disagree, an IMPU or primary IMPI used twice.
 */
export function parseMappingsCsv(text: string): MappingInput[] {
  const records = splitCsv(text);
  const header = records.shift();
  if (!header) throw new MmsError('ERR_MMS_INPUT', [{ line: 1, message: `empty file: expected a header row ${MAPPING_COLUMNS.join(',')}` }]);
  const problems: MmsProblem[] = [];
  const names = header.fields.map((f) => f.trim().toLowerCase());
  const index = new Map<Column, number>();
  names.forEach((n, i) => {
    if (!(MAPPING_COLUMNS as readonly string[]).includes(n)) problems.push({ line: header.line, message: `unknown column ${JSON.stringify(n)}` });
    else if (index.has(n as Column)) problems.push({ line: header.line, message: `column ${n} appears twice` });
    else index.set(n as Column, i);
  });
  for (const c of MAPPING_COLUMNS) if (!index.has(c)) problems.push({ line: header.line, message: `missing column ${c}` });
  if (problems.length) throw new MmsError('ERR_MMS_INPUT', problems);

  const groups = new Map<string, { line: number; mapping: Omit<IdentityMapping, 'kind'> }>();
  const impuOwner = new Map<string, string>();
  for (const rec of records) {
    if (rec.fields.length !== names.length) {
      problems.push({ line: rec.line, message: `has ${rec.fields.length} fields, the header has ${names.length}` });
      continue;
    }
    const row = Object.fromEntries(MAPPING_COLUMNS.map((c) => [c, (rec.fields[index.get(c) as number] as string).trim()])) as Record<Column, string>;
    const bad = MAPPING_COLUMNS.flatMap((c) => {
      const message = identityProblem(KIND[c], row[c]);
      return message === undefined ? [] : [{ line: rec.line, field: c, message }];
    });
    if (bad.length) {
      problems.push(...bad);
      continue;
    }
    const group = groups.get(row.partner_impi);
    if (!group) {
      groups.set(row.partner_impi, {
        line: rec.line,
        mapping: { partnerImpi: row.partner_impi, primaryImpi: row.primary_impi, primaryRealm: row.primary_realm, impus: [] },
      });
    } else {
      for (const [field, key] of [['primary_impi', 'primaryImpi'], ['primary_realm', 'primaryRealm']] as const) {
        if (group.mapping[key] !== row[field]) {
          problems.push({ line: rec.line, field, message: `${row[field]} differs from ${group.mapping[key]} on line ${group.line} for ${row.partner_impi}` });
        }
      }
    }
    const mapping = (groups.get(row.partner_impi) as { mapping: Omit<IdentityMapping, 'kind'> }).mapping;
    const owner = impuOwner.get(row.partner_impu);
    if (owner !== undefined) {
      problems.push({ line: rec.line, field: 'partner_impu', message: `${row.partner_impu} is already listed${owner === row.partner_impi ? '' : ` for ${owner}`}` });
      continue;
    }
    if (mapping.impus.some((p) => p.primary === row.primary_impu)) {
      problems.push({ line: rec.line, field: 'primary_impu', message: `${row.primary_impu} is already mapped for ${row.partner_impi}` });
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
 * @returns how many partner IMPIs (and IMPU pairs) were loaded and how many stored mappings were removed.
 * @throws MmsError ERR_MMS_INPUT / ERR_MMS_CONFLICT with every problem by line number; the store is unchanged.
 */
export async function importMappingsCsv(store: Store, text: string, replaceAll = false): Promise<{ mappings: number; impus: number; removed: number }> {
  const inputs = parseMappingsCsv(text);
  const { written, removed } = await putMappings(store, inputs, replaceAll);
  return { mappings: written, impus: inputs.reduce((n, i) => n + i.mapping.impus.length, 0), removed };
}
