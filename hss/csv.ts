/**
 * Bulk provisioning from CSV (DESIGN §2.3): a header row names the columns
 * `impi,impus,k,op,opc,amf,sqn,password,mcptt_id,allowed_partners` (any order; `password`, `mcptt_id` and
 * `allowed_partners` may be absent, as may trailing empty fields of a row), `impus` and `allowed_partners` are
 * space-separated lists (an `allowed_partners` entry is `REALM`, `static:REALM` or `dynamic:REALM`,
 * lib/allowed-partners.ts). The CSV rules (quoting, comments, blank lines, line numbers) are lib/csv's, the same as
 * for MMS mappings and IdMS users. Every row is validated and every problem reported by line number before anything
 * is written.
 */
import { readCsvTable } from '../lib/csv/table.ts';
import type { SubscriberRecord } from './subscriber-model.ts';
import { SubscriberError, validateSubscriber, type SubscriberProblem } from './subscriber-model.ts';
import type { ImportRow, PutOptions, SubscriberRepo } from './subscribers.ts';

/** Columns a file may have. */
export const CSV_COLUMNS = ['impi', 'impus', 'k', 'op', 'opc', 'amf', 'sqn', 'password', 'mcptt_id', 'allowed_partners'] as const;
type Column = (typeof CSV_COLUMNS)[number];
const REQUIRED: readonly Column[] = ['impi', 'impus'];
const LISTS: ReadonlySet<Column> = new Set(['impus', 'allowed_partners']);

/** The result of parsing a file: valid rows, and every problem found. */
export interface ParsedCsv {
  rows: ImportRow[];
  problems: SubscriberProblem[];
}

/**
 * Parses and validates a subscriber CSV without touching any store.
 * @returns rows that validated and one problem per bad field (`line` set); a bad header makes every row moot.
 */
export function parseSubscriberCsv(text: string): ParsedCsv {
  const table = readCsvTable(text, { columns: CSV_COLUMNS, required: REQUIRED });
  const problems: SubscriberProblem[] = table.problems.map((p) => ({ line: p.line, message: p.message }));
  const rows: ImportRow[] = [];
  for (const { line, values } of table.rows) {
    const raw: Record<string, unknown> = {};
    for (const c of CSV_COLUMNS) {
      if (values[c] !== '') raw[c] = LISTS.has(c) ? values[c].split(/\s+/) : values[c];
    }
    const v = validateSubscriber(raw, line);
    if ('problems' in v) problems.push(...v.problems);
    else rows.push({ line, input: v.input });
  }
  if (!rows.length && !problems.length) problems.push({ line: table.headerLine, message: 'no subscriber rows after the header' });
  return { rows, problems: problems.sort((a, b) => (a.line ?? 0) - (b.line ?? 0)) };
}

/**
 * Imports a CSV into `repo`: parse, validate every row, check every row against the store, then write.
 * @throws SubscriberError ERR_HSS_INPUT listing every problem by line; nothing is written then.
 */
export async function importSubscriberCsv(repo: SubscriberRepo, text: string, options: PutOptions = {}): Promise<SubscriberRecord[]> {
  const { rows, problems } = parseSubscriberCsv(text);
  if (problems.length) throw new SubscriberError('ERR_HSS_INPUT', problems);
  try {
    return await repo.importRows(rows, options);
  } catch (e) {
    // Keep the import's own code: a file with conflicts is bad input as a whole.
    if (e instanceof SubscriberError) throw new SubscriberError('ERR_HSS_INPUT', e.problems);
    throw e;
  }
}
