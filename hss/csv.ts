/**
 * Bulk provisioning from CSV (DESIGN §2.3): a header row names the columns
 * `impi,impus,k,op,opc,amf,sqn,password,mcptt_id,allowed_partners` (any order; `password`, `mcptt_id` and
 * `allowed_partners` may be absent, as may trailing empty fields of a row), `impus` and `allowed_partners` are
 * space-separated lists (an `allowed_partners` entry is `REALM`, `static:REALM` or `dynamic:REALM`,
 * lib/allowed-partners.ts), RFC 4180 quoting is understood, blank lines and lines starting with `#` are skipped.
 * Every row is validated and every problem reported by line number before anything is written.
 */
import type { SubscriberRecord } from './subscriber-model.ts';
import { SubscriberError, validateSubscriber, type SubscriberProblem } from './subscriber-model.ts';
import type { ImportRow, PutOptions, SubscriberRepo } from './subscribers.ts';

/** Columns a file may have. */
export const CSV_COLUMNS = ['impi', 'impus', 'k', 'op', 'opc', 'amf', 'sqn', 'password', 'mcptt_id', 'allowed_partners'] as const;
type Column = (typeof CSV_COLUMNS)[number];
const REQUIRED: readonly Column[] = ['impi', 'impus'];
const LISTS: ReadonlySet<Column> = new Set(['impus', 'allowed_partners']);

/** One CSV record: its fields and the line it starts on (1-based). */
interface CsvRecord {
  line: number;
  fields: string[];
}

/**
 * Splits CSV text into records (RFC 4180: `"` quotes, `""` inside quotes, CRLF or LF; a quoted field may span lines).
 * @throws SubscriberError ERR_HSS_INPUT for an unterminated quote or text after a closing quote.
 */
export function splitCsv(text: string): CsvRecord[] {
  const out: CsvRecord[] = [];
  let line = 1;
  let start = 1;
  let fields: string[] = [];
  let field = '';
  let quoted = false;
  let afterQuote = false;
  const endRecord = () => {
    fields.push(field);
    out.push({ line: start, fields });
    fields = [];
    field = '';
    afterQuote = false;
  };
  const src = text.startsWith('\ufeff') ? text.slice(1) : text;
  for (let i = 0; i < src.length; i++) {
    const c = src[i] as string;
    if (c === '#' && !quoted && fields.length === 0 && field === '') {
      // A comment line: skip it, its newline included.
      while (i + 1 < src.length && src[i + 1] !== '\n') i++;
      i++;
      line++;
      start = line;
      continue;
    }
    if (quoted) {
      if (c === '"' && src[i + 1] === '"') { field += '"'; i++; } else if (c === '"') { quoted = false; afterQuote = true; } else {
        if (c === '\n') line++;
        field += c;
      }
    } else if (c === '"' && field.trim() === '' && !afterQuote) {
      quoted = true;
      field = '';
    } else if (c === ',') {
      fields.push(field);
      field = '';
      afterQuote = false;
    } else if (c === '\n' || c === '\r') {
      if (c === '\r' && src[i + 1] === '\n') i++;
      endRecord();
      line++;
      start = line;
    } else if (afterQuote && c.trim() !== '') {
      throw new SubscriberError('ERR_HSS_INPUT', [{ line, message: 'text after a closing quote' }]);
    } else field += c;
  }
  if (quoted) throw new SubscriberError('ERR_HSS_INPUT', [{ line: start, message: 'unterminated quoted field' }]);
  if (field !== '' || fields.length) endRecord();
  return out.filter((r) => !(r.fields.length === 1 && r.fields[0]?.trim() === ''));
}

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
  const records = splitCsv(text);
  const header = records.shift();
  if (!header) return { rows: [], problems: [{ line: 1, message: 'empty file: a header row naming the columns is required' }] };
  const cols = header.fields.map((f) => f.trim().toLowerCase());
  const problems: SubscriberProblem[] = [];
  cols.forEach((c, i) => {
    if (!(CSV_COLUMNS as readonly string[]).includes(c)) problems.push({ line: header.line, message: `unknown column ${JSON.stringify(c)} (column ${i + 1})` });
    else if (cols.indexOf(c) !== i) problems.push({ line: header.line, message: `column ${c} appears twice` });
  });
  for (const r of REQUIRED) if (!cols.includes(r)) problems.push({ line: header.line, message: `missing column ${r}` });
  if (problems.length) return { rows: [], problems };

  const rows: ImportRow[] = [];
  for (const rec of records) {
    if (rec.fields.length > cols.length) {
      problems.push({ line: rec.line, message: `${rec.fields.length} fields, the header names ${cols.length}` });
      continue;
    }
    const raw: Record<string, unknown> = {};
    cols.forEach((c, i) => {
      const value = (rec.fields[i] ?? '').trim();
      if (value === '') return;
      raw[c] = LISTS.has(c as Column) ? value.split(/\s+/) : value;
    });
    const v = validateSubscriber(raw, rec.line);
    if ('problems' in v) problems.push(...v.problems);
    else rows.push({ line: rec.line, input: v.input });
  }
  if (!rows.length && !problems.length) problems.push({ line: header.line, message: 'no subscriber rows after the header' });
  return { rows, problems };
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
