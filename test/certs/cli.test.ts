/**
 * `mcx certs init|show`: the command module in a commander program of our own, then the real `bin/mcx.mjs`.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { Command } from 'commander';
import { UsageError } from '../../lib/cli.ts';
import { certsCommand, parseSystemOption, type PkiReport } from '../../certs/cli.ts';
import { isCertsError } from '../../certs/errors.ts';
import { ROLES, readManifest, trustedSigningCertPath } from '../../certs/layout.ts';
import { ROOT } from '../helpers/process.ts';

const execFileAsync = promisify(execFile);
const SYSTEM_ARGS = ['--system', 'primary=ims.primary.example', '--system', 'partner=ims.partner.example'];

let root: string;

/** Runs `mcx <args>` in-process; returns what the command wrote to stdout. */
async function mcx(args: string[]): Promise<string> {
  const program = new Command('mcx').exitOverride();
  certsCommand(program);
  let out = '';
  const write = process.stdout.write.bind(process.stdout);
  process.stdout.write = ((chunk: string | Uint8Array): boolean => {
    out += String(chunk);
    return true;
  }) as typeof process.stdout.write;
  try {
    await program.parseAsync(['node', 'mcx', ...args]);
  } finally {
    process.stdout.write = write;
  }
  return out;
}

/** Runs the real CLI; resolves with the exit code and output, never rejects on a non-zero exit. */
async function spawnMcx(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const node = existsSync(join(ROOT, 'node_modules/.bin/node')) ? join(ROOT, 'node_modules/.bin/node') : process.execPath;
  try {
    const r = await execFileAsync(node, ['bin/mcx.mjs', ...args], { cwd: ROOT });
    return { code: 0, stdout: r.stdout, stderr: r.stderr };
  } catch (err) {
    const e = err as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof e.code === 'number' ? e.code : -1, stdout: e.stdout ?? '', stderr: e.stderr ?? '' };
  }
}

before(async () => {
  root = await mkdtemp(join(tmpdir(), 'mcx-certs-cli-'));
});

after(async () => {
  await rm(root, { recursive: true, force: true });
});

describe('certs command module', () => {
  test('init writes the PKI and lists it; show prints subject, SAN and expiry per certificate', async () => {
    const dir = join(root, 'a');
    const out = await mcx(['certs', 'init', '--dir', dir, ...SYSTEM_ARGS]);
    assert.match(out, /wrote PKI to/);
    assert.match(out, /partner\/trust\/primary-idms-signing\.pem/);
    const m = await readManifest(dir);
    assert.deepEqual(m.systems.map((s) => s.realm), ['ims.primary.example', 'ims.partner.example']);

    const text = await mcx(['certs', 'show', '--dir', dir]);
    for (const role of ROLES) assert.match(text, new RegExp(`subject  CN=${role}\\.ims\\.partner\\.example,`));
    assert.match(text, /SAN {6}DNS:registrar\.ims\.partner\.example, DNS:localhost, IP Address:127\.0\.0\.1/);
    assert.match(text, /expires {2}20\d\d-/);
    assert.doesNotMatch(text, /DOES NOT/);

    const report = JSON.parse(await mcx(['certs', 'show', '--dir', dir, '--json'])) as PkiReport;
    assert.equal(report.systems.length, 2);
    assert.ok(report.systems.every((s) => s.certs.every((c) => c.verified)));
  });

  test('malformed or missing input is a UsageError naming the field', async () => {
    const dir = join(root, 'bad');
    const cases: [string[], RegExp][] = [
      [['--system', 'primary'], /^--system: expected NAME=REALM/],
      [['--system', '=ims.example'], /^--system: expected NAME=REALM/],
      [['--system', 'primary=ims example'], /^--system primary: realm "ims example" must be a DNS name/],
      [['--system', 'Primary=ims.example'], /^--system: name "Primary"/],
      [['--system', 'a=x.example', '--system', 'a=y.example'], /^--system a=y\.example: name given twice/],
      [[], /^--system: at least one NAME=REALM is required/],
    ];
    for (const [args, message] of cases) {
      await assert.rejects(mcx(['certs', 'init', '--dir', dir, ...args]), (err: unknown) => {
        assert.ok(err instanceof UsageError, String(err));
        assert.match(err.message, message);
        assert.equal(err.exitCode, 2);
        return true;
      });
    }
    await assert.rejects(mcx(['certs', 'init', ...SYSTEM_ARGS]), (err: unknown) => err instanceof UsageError && /^--dir/.test(err.message));
    await assert.rejects(mcx(['certs', 'show']), (err: unknown) => err instanceof UsageError && /^--dir/.test(err.message));
    assert.equal(existsSync(dir), false);
  });

  test('init over an existing PKI is refused without --force and redone with it', async () => {
    const dir = join(root, 'a');
    const bundle = await readFile(trustedSigningCertPath(dir, 'partner'), 'utf8');
    await assert.rejects(mcx(['certs', 'init', '--dir', dir, ...SYSTEM_ARGS]), (err: unknown) => {
      assert.ok(isCertsError(err, 'ERR_CERTS_EXISTS'));
      assert.ok(!(err instanceof UsageError));
      assert.ok(err.message.includes(dir));
      return true;
    });
    assert.equal(await readFile(trustedSigningCertPath(dir, 'partner'), 'utf8'), bundle);
    await mcx(['certs', 'init', '--dir', dir, ...SYSTEM_ARGS, '--force']);
    assert.notEqual(await readFile(trustedSigningCertPath(dir, 'partner'), 'utf8'), bundle);
  });

  test('parseSystemOption splits at the first "="', () => {
    assert.deepEqual(parseSystemOption('partner=ims.partner.example'), { name: 'partner', realm: 'ims.partner.example' });
    assert.throws(() => parseSystemOption('partner'), (err: unknown) => isCertsError(err, 'ERR_CERTS_INVALID_SYSTEM'));
  });
});

describe('bin/mcx.mjs certs', () => {
  test('init, refusal without --force (exit 1), usage error (exit 2), show', async () => {
    const dir = join(root, 'spawned');
    const ok = await spawnMcx(['certs', 'init', '--dir', dir, ...SYSTEM_ARGS]);
    assert.equal(ok.code, 0, ok.stderr);
    assert.match(ok.stdout, /wrote PKI to/);

    const again = await spawnMcx(['certs', 'init', '--dir', dir, ...SYSTEM_ARGS]);
    assert.equal(again.code, 1);
    assert.match(again.stderr, new RegExp(`^mcx: ${dir.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} already holds a PKI`));

    const usage = await spawnMcx(['certs', 'init', '--dir', join(root, 'x'), '--system', 'primary']);
    assert.equal(usage.code, 2);
    assert.match(usage.stderr, /^mcx: --system: expected NAME=REALM/);

    const show = await spawnMcx(['certs', 'show', '--dir', dir]);
    assert.equal(show.code, 0, show.stderr);
    assert.match(show.stdout, /subject {2}CN=idms\.ims\.primary\.example token signing/);
  });
});
