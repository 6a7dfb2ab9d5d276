/**
 * The one CSV reader of the project (RFC 4180, with the few liberties the provisioning files have always taken),
 * for HSS subscribers, MMS static mappings and IdMS users. The rules, the same for all three:
 *
 * - Records end at CRLF, LF or a lone CR; each counts as one line. A UTF-8 byte order mark is ignored.
 * - Fields are separated by commas. White space around a field is not part of it (quoted or not): no value of these
 *   files has meaningful surrounding blanks.
 * - A field whose first non-blank character is `"` is quoted: inside, `""` is one `"`, and commas and line breaks
 *   are content. After the closing quote only blanks may come before the comma or the end of the line ("text after a
 *   closing quote" otherwise). A `"` further into an unquoted field is content.
 * - A line whose first non-blank character is `#` is a comment, and a blank line is skipped (outside quoted fields:
 *   inside one they are content).
 * - Every record carries the line it starts on, counting physical lines (a quoted field spanning lines moves the
 *   count on), so a problem in it can be reported where an editor shows it.
 *
 * Errors name the line and the column (1-based characters) where reading stopped; the roles report them next to
 * their own row problems. Header handling (table.ts) sits on top.
 */

/** One record: its fields, trimmed, and the line it starts on (1-based). */
export interface CsvRecord {
  line: number;
  fields: string[];
}

/**
 * Why a text is not CSV. Closed set.
 * - `ERR_CSV_UNTERMINATED_QUOTE`: the text ends inside a quoted field (the error names where it opened).
 * - `ERR_CSV_TEXT_AFTER_QUOTE`: something other than blanks follows a closing quote.
 */
export type CsvErrorCode = 'ERR_CSV_UNTERMINATED_QUOTE' | 'ERR_CSV_TEXT_AFTER_QUOTE';

/** A text that is not CSV; `message` names neither the file nor the line (the caller does), only what is wrong. */
export class CsvError extends Error {
  override readonly name = 'CsvError';

  /** @param line 1-based line, @param column 1-based character within it, where the problem is. */
  constructor(readonly code: CsvErrorCode, message: string, readonly line: number, readonly column: number) {
    super(message);
  }
}

const BLANK = /^[ \t]*$/;
const EOL = /\r|\n/g;

/**
 * Splits CSV text into records, skipping comments and blank lines.
 * @throws CsvError for an unterminated quoted field or text after a closing quote.
 */
export function readCsv(text: string): CsvRecord[] {
  const src = text.startsWith('\ufeff') ? text.slice(1) : text;
  const out: CsvRecord[] = [];
  let line = 1;
  let lineStart = 0;
  let i = 0;
  /** Steps over the line break at `i` (CRLF, LF or CR), if any; true when there was one. */
  const lineBreak = (): boolean => {
    if (src[i] === '\r') i += src[i + 1] === '\n' ? 2 : 1;
    else if (src[i] === '\n') i += 1;
    else return false;
    line++;
    lineStart = i;
    return true;
  };
  while (i < src.length) {
    EOL.lastIndex = i;
    const rest = src.slice(i, EOL.exec(src)?.index ?? src.length);
    if (BLANK.test(rest) || rest.trimStart().startsWith('#')) {
      i += rest.length;
      lineBreak();
      continue;
    }
    const start = line;
    const fields: string[] = [];
    for (;;) {
      while (src[i] === ' ' || src[i] === '\t') i++;
      let field = '';
      if (src[i] === '"') {
        const opened = { line, column: i - lineStart + 1 };
        i++;
        for (;;) {
          if (i >= src.length) {
            throw new CsvError('ERR_CSV_UNTERMINATED_QUOTE', `unterminated quoted field (opened at column ${opened.column})`, opened.line, opened.column);
          }
          const c = src[i] as string;
          if (c === '"' && src[i + 1] === '"') {
            field += '"';
            i += 2;
          } else if (c === '"') {
            i++;
            break;
          } else if (c === '\r' || c === '\n') {
            const from = i;
            lineBreak();
            field += src.slice(from, i);
          } else {
            field += c;
            i++;
          }
        }
        while (src[i] === ' ' || src[i] === '\t') i++;
        if (i < src.length && !',\r\n'.includes(src[i] as string)) {
          throw new CsvError('ERR_CSV_TEXT_AFTER_QUOTE', `text after a closing quote (column ${i - lineStart + 1})`, line, i - lineStart + 1);
        }
      } else {
        const from = i;
        while (i < src.length && !',\r\n'.includes(src[i] as string)) i++;
        field = src.slice(from, i);
      }
      fields.push(field.trim());
      if (src[i] === ',') {
        i++;
        continue;
      }
      lineBreak();
      break;
    }
    out.push({ line: start, fields });
  }
  return out;
}
