/**
 * No secrets in logs (BRIEF "Security is correctness"; issue #12: redaction by top-level paths only). The loggers
 * censor every name of lib/log.ts REDACTED_FIELDS at the top level of a line and of a child's bindings, and a
 * per-request field view ({@link withFields}) goes through the same censor; since nothing below the top level is
 * censored any more, the code must never log a secret-bearing object nested. The end-to-end part runs both systems
 * (`mcx testbed --once --verbose`: every role in one process at debug level, both demo registrations, the dynamic
 * migration) and fails on any line with a field of that list below the top level, any uncensored one at the top, and
 * any of the demo users' keys or passwords anywhere in the output.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { REDACTED_FIELDS, createLogger, withFields } from '../../lib/log.ts';
import { startMcx } from '../helpers/process.ts';

const SECRET_NAMES = new Set<string>(REDACTED_FIELDS);

/** A logger of lib/log.ts writing its lines into an array. */
function capture(level = 'debug'): { lines: Record<string, unknown>[]; log: ReturnType<typeof createLogger> } {
  const lines: Record<string, unknown>[] = [];
  const destination = new Writable({
    write(chunk: Buffer, _enc, cb) {
      for (const l of chunk.toString('utf8').split('\n')) if (l) lines.push(JSON.parse(l) as Record<string, unknown>);
      cb();
    },
  });
  return { lines, log: createLogger('t', { level, destination }) };
}

/** Paths (`a.b.c`) below the top level whose last name is a secret's. */
function nestedSecretPaths(value: unknown, path: string[] = []): string[] {
  if (value === null || typeof value !== 'object') return [];
  const out: string[] = [];
  for (const [k, v] of Object.entries(value as Record<string, unknown>)) {
    const here = [...path, k];
    if (path.length > 0 && SECRET_NAMES.has(k)) out.push(here.join('.'));
    out.push(...nestedSecretPaths(v, here));
  }
  return out;
}

/** Every string under a field named like a secret (k, op, password …) in a JSON document. */
function secretValues(value: unknown): string[] {
  if (value === null || typeof value !== 'object') return [];
  return Object.entries(value as Record<string, unknown>).flatMap(([k, v]) =>
    (SECRET_NAMES.has(k) && typeof v === 'string' && v.length >= 8 ? [v] : secretValues(v)));
}

test('top-level secret fields and child bindings are censored; a field view adds its fields to each line, censored too', () => {
  const { lines, log } = capture();
  log.info({ k: '465b5ce8b199b49faa5f0a2ee238a6bc', password: 'hunter22', impi: 'alice@primary.example' }, 'x');
  log.child({ token: 'eyJhbGciOi' }).info('child');
  const view = withFields(log, { impu: 'sip:alice@partner.example', xres: 'a1b2c3d4' });
  view.info({ ck: '00112233445566778899aabbccddeeff' }, 'view');
  view.info('view, message only');
  view.debug(new Error('boom'), 'view, error');
  assert.deepEqual(lines.map((l) => [l.k, l.password, l.impi]).at(0), ['[redacted]', '[redacted]', 'alice@primary.example']);
  assert.equal(lines[1]?.token, '[redacted]');
  assert.deepEqual([lines[2]?.impu, lines[2]?.xres, lines[2]?.ck, lines[2]?.msg], ['sip:alice@partner.example', '[redacted]', '[redacted]', 'view']);
  assert.deepEqual([lines[3]?.impu, lines[3]?.msg], ['sip:alice@partner.example', 'view, message only']);
  assert.equal((lines[4]?.err as { message?: string } | undefined)?.message, 'boom');
  assert.ok(!JSON.stringify(lines).includes('hunter22') && !JSON.stringify(lines).includes('a1b2c3d4'));
});

test('what redaction does not cover: a secret nested below the top level is written as is — the scan below must catch it', () => {
  const { lines, log } = capture();
  log.info({ subscriber: { k: '465b5ce8b199b49faa5f0a2ee238a6bc' } }, 'nested');
  assert.deepEqual(nestedSecretPaths(lines[0]), ['subscriber.k'], 'the scan names the nested path');
});

test('a field view writes nothing and builds nothing below its level', () => {
  const { lines, log } = capture('warn');
  const view = withFields(log, { impu: 'sip:a@b' });
  view.info({ x: 1 }, 'not written');
  view.debug('not written either');
  assert.equal(view.isLevelEnabled('info'), false);
  assert.equal(lines.length, 0);
});

describe('both systems at debug level (mcx testbed --once --verbose): no secret in any line', () => {
  let dir: string;
  let out = '';
  let code: number | null = null;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'mcx-nosecrets-'));
    const p = startMcx(['testbed', '--once', '--verbose', '--ports', 'auto', '--dir', dir]);
    code = await p.exited;
    out = p.output();
  });
  after(() => rm(dir, { recursive: true, force: true }));

  test('the run registered both demo users and logged at debug level', () => {
    assert.equal(code, 0, out.slice(-4000));
    const lines = out.split('\n').filter((l) => l.startsWith('{'));
    assert.ok(lines.some((l) => /"level":20/.test(l)), 'debug lines are in the output');
    assert.ok(lines.some((l) => /"step":7,"node":"hss"/.test(l)), 'seed steps are in the output');
  });

  test('no field of REDACTED_FIELDS below the top level; every one at the top censored', () => {
    const lines = out.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as Record<string, unknown>);
    assert.ok(lines.length > 100, `only ${lines.length} log lines`);
    const nested = lines.flatMap((l) => nestedSecretPaths(l).map((p) => `${p} in ${String(l.msg)}`));
    assert.deepEqual(nested, []);
    const open = lines.flatMap((l) => REDACTED_FIELDS.filter((f) => f in l && l[f] !== '[redacted]').map((f) => `${f} in ${String(l.msg)}`));
    assert.deepEqual(open, []);
  });

  test('the demo users\' K, OP and passwords appear nowhere in the output', async () => {
    const secrets: string[] = [];
    for (const f of ['alice.json', 'bob.json', 'carol.json']) secrets.push(...secretValues(JSON.parse(await readFile(join(dir, 'ue', f), 'utf8'))));
    assert.ok(secrets.length >= 5, `secrets found in the user files: ${secrets.length}`);
    const text = out.toLowerCase();
    for (const s of secrets) assert.ok(!text.includes(s.toLowerCase()), `a secret of the demo users (${s.length} characters) is in the output`);
  });
});
