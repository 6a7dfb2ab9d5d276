/**
 * A CSV file with a header row (reader.ts for the syntax): the header names the columns, in any order, each at most
 * once, each one the file format knows (names trimmed, case ignored), the required ones all present. A row with more
 * fields than the header is a problem; a row with fewer has its missing trailing fields empty (so trailing optional
 * columns may be left off). Everything wrong is collected with its line, so the role can report every problem of a
 * file at once; the role then validates each row's values itself.
 */
import { CsvError, readCsv } from './reader.ts';

/** One problem of a file: its line and, where known, the column (1-based) or the field (column name). */
export interface CsvProblem {
  line: number;
  column?: number;
  field?: string;
  message: string;
}

/** A data row: its line and its value for every known column (empty when absent from the header or the row). */
export interface CsvRow<C extends string> {
  line: number;
  values: Record<C, string>;
}

/** A read file: its rows, and the problems found reading it. */
export interface CsvTable<C extends string> {
  /** The header's line (comments and blank lines may precede it); 1 for an empty file. */
  headerLine: number;
  rows: CsvRow<C>[];
  /** Syntax or header problems (then `rows` is empty), or rows with too many fields (those rows left out). */
  problems: CsvProblem[];
}

/** The columns of a file format. */
export interface CsvColumns<C extends string> {
  /** Every column the format knows. */
  columns: readonly C[];
  /** Those the header must name. */
  required: readonly C[];
}

/**
 * Reads a CSV file with a header row.
 * @returns the rows and every syntax, header and field-count problem (the role adds its own per row).
 */
export function readCsvTable<C extends string>(text: string, format: CsvColumns<C>): CsvTable<C> {
  let records;
  try {
    records = readCsv(text);
  } catch (e) {
    if (e instanceof CsvError) return { headerLine: 1, rows: [], problems: [{ line: e.line, column: e.column, message: e.message }] };
    throw e;
  }
  const header = records.shift();
  if (!header) return { headerLine: 1, rows: [], problems: [{ line: 1, message: `empty file: a header row naming the columns is required (${format.columns.join(',')})` }] };
  const names = header.fields.map((f) => f.toLowerCase());
  const problems: CsvProblem[] = [];
  names.forEach((n, i) => {
    if (!(format.columns as readonly string[]).includes(n)) problems.push({ line: header.line, column: i + 1, message: `unknown column ${JSON.stringify(n)} (column ${i + 1})` });
    else if (names.indexOf(n) !== i) problems.push({ line: header.line, column: i + 1, field: n, message: `column ${n} appears twice` });
  });
  for (const c of format.required) if (!names.includes(c)) problems.push({ line: header.line, message: `missing column ${c}` });
  if (problems.length) return { headerLine: header.line, rows: [], problems };

  const rows: CsvRow<C>[] = [];
  for (const rec of records) {
    if (rec.fields.length > names.length) {
      problems.push({ line: rec.line, message: `${rec.fields.length} fields, the header names ${names.length}` });
      continue;
    }
    const values = Object.fromEntries(format.columns.map((c) => [c, ''])) as Record<C, string>;
    names.forEach((n, i) => {
      values[n as C] = rec.fields[i] ?? '';
    });
    rows.push({ line: rec.line, values });
  }
  return { headerLine: header.line, rows, problems };
}
