/**
 * lib/csv, the one CSV reader of subscribers, mappings and users: RFC 4180 §2 (CRLF/LF records, quoted fields with
 * commas, line breaks and `""`, empty fields), the project's liberties (blanks around fields, comments, blank lines,
 * a BOM, a lone CR), physical line numbers across quoted line breaks, errors naming line and column, and the header
 * rules of a table (any order, case ignored, unknown / duplicate / missing columns, too many fields, trailing ones
 * left off).
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { CsvError, readCsv, type CsvErrorCode } from '../../lib/csv/reader.ts';
import { readCsvTable } from '../../lib/csv/table.ts';

const fields = (text: string): string[][] => readCsv(text).map((r) => r.fields);
const lines = (text: string): number[] => readCsv(text).map((r) => r.line);

function csvError(code: CsvErrorCode, line: number, column: number): (e: unknown) => boolean {
  return (e) => {
    assert.ok(e instanceof CsvError, String(e));
    assert.deepEqual([e.code, e.line, e.column], [code, line, column], e.message);
    return true;
  };
}

describe('RFC 4180 §2 records and fields', () => {
  test('records end at CRLF or LF (rule 1), the last one may have no line break (rule 2)', () => {
    assert.deepEqual(fields('aaa,bbb,ccc\r\nzzz,yyy,xxx\r\n'), [['aaa', 'bbb', 'ccc'], ['zzz', 'yyy', 'xxx']]);
    assert.deepEqual(fields('aaa,bbb\nzzz,yyy'), [['aaa', 'bbb'], ['zzz', 'yyy']]);
    assert.deepEqual(fields('a\rb\r\nc\n'), [['a'], ['b'], ['c']], 'a lone CR ends a record too');
  });

  test('empty fields, trailing and quoted (rule 4)', () => {
    assert.deepEqual(fields('a,,c,\n,"",x\n'), [['a', '', 'c', ''], ['', '', 'x']]);
  });

  test('quoted fields hold commas, line breaks and doubled quotes (rules 5-7)', () => {
    assert.deepEqual(fields('"a,b","line 1\r\nline 2","say ""hi""",plain\n'), [['a,b', 'line 1\r\nline 2', 'say "hi"', 'plain']]);
    assert.deepEqual(fields('"#not a comment",x\n'), [['#not a comment', 'x']]);
    assert.deepEqual(fields('"a\n# inside a quoted field",b\n'), [['a\n# inside a quoted field', 'b']], 'a # line inside quotes is content');
  });

  test('blanks around fields and quotes are not part of the field; a quote inside an unquoted field is content', () => {
    assert.deepEqual(fields('  a ,\t"b, c"  , 5"10 \n'), [['a', 'b, c', '5"10']]);
  });

  test('comments, blank lines and a byte order mark are skipped', () => {
    assert.deepEqual(fields('\ufeff# header comment\n\n   \nh1,h2\n  # indented comment\r\nv1,v2\n\n'), [['h1', 'h2'], ['v1', 'v2']]);
  });
});

describe('line numbers', () => {
  test('each record carries the physical line it starts on; CRLF counts once; a quoted line break moves the count', () => {
    assert.deepEqual(lines('# c\r\nh\r\n\r\n"two\r\nlines",x\r\nnext\n"three\n\nlines"\nlast'), [2, 4, 6, 7, 10]);
  });
});

describe('errors name the line and the column', () => {
  test('an unterminated quoted field: where it opened', () => {
    assert.throws(() => readCsv('h1,h2\n# c\nok,"never\nclosed\n'), csvError('ERR_CSV_UNTERMINATED_QUOTE', 3, 4));
    assert.throws(() => readCsv('"'), csvError('ERR_CSV_UNTERMINATED_QUOTE', 1, 1));
  });

  test('text after a closing quote: where it is, after a multi-line field too', () => {
    assert.throws(() => readCsv('a,"b"c\n'), csvError('ERR_CSV_TEXT_AFTER_QUOTE', 1, 6));
    assert.throws(() => readCsv('x\n"multi\nline" tail,y\n'), csvError('ERR_CSV_TEXT_AFTER_QUOTE', 3, 7));
    assert.match(String(readCsvTable('a,"b"c\n', { columns: ['a'], required: [] }).problems[0]?.message), /^text after a closing quote \(column 6\)$/);
  });
});

describe('tables: a header row, then rows', () => {
  const format = { columns: ['impi', 'impus', 'k', 'note'] as const, required: ['impi', 'impus'] as const };

  test('columns in any order and any case; values by column; trailing fields may be left off; unnamed columns are empty', () => {
    const t = readCsvTable('# subscribers\nIMPUS, Impi ,k\nsip:a@x,a@x,00\n"sip:b@x",b@x\n', format);
    assert.deepEqual(t.problems, []);
    assert.equal(t.headerLine, 2);
    assert.deepEqual(t.rows, [
      { line: 3, values: { impi: 'a@x', impus: 'sip:a@x', k: '00', note: '' } },
      { line: 4, values: { impi: 'b@x', impus: 'sip:b@x', k: '', note: '' } },
    ]);
  });

  test('unknown, duplicate and missing columns are header problems (with the column), and then no row is read', () => {
    const t = readCsvTable('impi,ki,impi\na,b,c\n', format);
    assert.deepEqual(t.rows, []);
    assert.deepEqual(t.problems, [
      { line: 1, column: 2, message: 'unknown column "ki" (column 2)' },
      { line: 1, column: 3, field: 'impi', message: 'column impi appears twice' },
      { line: 1, message: 'missing column impus' },
    ]);
  });

  test('a row with more fields than the header is a problem of its line; the other rows are read', () => {
    const t = readCsvTable('impi,impus\na@x,sip:a@x,extra\nb@x,sip:b@x\n', format);
    assert.deepEqual(t.problems, [{ line: 2, message: '3 fields, the header names 2' }]);
    assert.deepEqual(t.rows.map((r) => r.line), [3]);
  });

  test('an empty file, or one of comments only, names the columns it needs', () => {
    for (const text of ['', '# nothing\n\n']) {
      assert.deepEqual(readCsvTable(text, format).problems, [{ line: 1, message: 'empty file: a header row naming the columns is required (impi,impus,k,note)' }]);
    }
  });

  test('a syntax error is the one problem, with line and column', () => {
    assert.deepEqual(readCsvTable('impi,impus\n"a@x,sip:a@x\n', format), {
      headerLine: 1, rows: [], problems: [{ line: 2, column: 1, message: 'unterminated quoted field (opened at column 1)' }],
    });
  });
});
