/**
 * `mcx milenage`: the command module in process (every vector set, option validation) and the real CLI as a child
 * process (JSON on stdout, exit 0; a missing or malformed field exits 2 naming it).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { Command } from 'commander';
import { UsageError } from '../../lib/cli.ts';
import { milenageCommand, runMilenage } from '../../lib/aka/cli.ts';
import { loadMilenageVectors, set1, type MilenageVector } from './vectors.ts';

const root = fileURLToPath(new URL('../../', import.meta.url));

function expected(v: MilenageVector): Record<string, string> {
  const sqnXorAk = (BigInt(`0x${v.SQN}`) ^ BigInt(`0x${v.f5}`)).toString(16).padStart(12, '0');
  return {
    opc: v.OPc, mac_a: v.f1, mac_s: v.f1star, res: v.f2, ck: v.f3, ik: v.f4, ak: v.f5, ak_star: v.f5star,
    autn: `${sqnXorAk}${v.AMF}${v.f1}`,
  };
}

const args = (v: MilenageVector, key: 'op' | 'opc' = 'op'): Record<string, string> =>
  ({ k: v.K, [key]: key === 'op' ? v.OP : v.OPc, rand: v.RAND, sqn: v.SQN, amf: v.AMF });

test('mcx milenage (in process): every vector set, with --op and with --opc', () => {
  for (const v of loadMilenageVectors()) {
    assert.deepEqual(runMilenage(args(v, 'op')), expected(v), v.set);
    assert.deepEqual(runMilenage(args(v, 'opc')), expected(v), v.set);
  }
  assert.equal(expected(set1()).autn, '55f328b43577b9b94a9ffac354dfafb3');
});

test('mcx milenage (in process): usage errors name the field', () => {
  const v = set1();
  const names = (field: string) => (e: unknown): boolean => e instanceof UsageError && e.exitCode === 2 && e.message.includes(field);
  for (const field of ['k', 'rand', 'sqn', 'amf']) {
    const missing = { ...args(v) };
    delete missing[field];
    assert.throws(() => runMilenage(missing), names(`--${field}`), `missing ${field}`);
    assert.throws(() => runMilenage({ ...args(v), [field]: 'zz' }), names(`--${field}`), `malformed ${field}`);
    assert.throws(() => runMilenage({ ...args(v), [field]: `${args(v)[field]}00` }), names(`--${field}`), `long ${field}`);
  }
  assert.throws(() => runMilenage({ ...args(v), op: 'xyz' }), names('--op'));
  assert.throws(() => runMilenage({ ...args(v), opc: v.OPc }), names('--opc'));
  const { op: _op, ...neither } = args(v);
  assert.throws(() => runMilenage(neither), names('--op'));
  // 0x prefixes and upper case are accepted.
  assert.deepEqual(runMilenage({ ...args(v), k: `0x${v.K.toUpperCase()}` }), expected(v));
});

test('mcx milenage (in process): commander wiring prints one JSON line', async (t) => {
  const v = set1();
  const out: string[] = [];
  t.mock.method(process.stdout, 'write', (chunk: string | Uint8Array) => {
    out.push(String(chunk));
    return true;
  });
  const program = new Command('mcx').exitOverride();
  milenageCommand(program);
  await program.parseAsync(['milenage', ...Object.entries(args(v)).flatMap(([k, x]) => [`--${k}`, x])], { from: 'user' });
  t.mock.restoreAll();
  assert.equal(out.length, 1);
  assert.deepEqual(JSON.parse(out[0]!), expected(v));
});

function mcx(argv: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(`${root}node_modules/.bin/node`, ['bin/mcx.mjs', ...argv], { cwd: root, timeout: 60_000 }, (err, stdout, stderr) => {
      const code = err ? (typeof err.code === 'number' ? err.code : -1) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}

const cliArgs = (a: Record<string, string>): string[] => Object.entries(a).flatMap(([k, x]) => [`--${k}`, x]);

test('mcx milenage (spawned): set 1 prints the JSON object and exits 0', async () => {
  const v = set1();
  const r = await mcx(['milenage', ...cliArgs(args(v))]);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout.trim().split('\n').length, 1);
  assert.deepEqual(JSON.parse(r.stdout), expected(v));
});

test('mcx milenage (spawned): a missing and a malformed field exit 2 naming the field', async () => {
  const v = set1();
  const { rand: _rand, ...noRand } = args(v);
  const missing = await mcx(['milenage', ...cliArgs(noRand)]);
  assert.equal(missing.code, 2, missing.stderr);
  assert.match(missing.stderr, /--rand/);
  assert.equal(missing.stdout, '');
  const malformed = await mcx(['milenage', ...cliArgs({ ...args(v), sqn: 'ff9bb4d0b6' })]);
  assert.equal(malformed.code, 2, malformed.stderr);
  assert.match(malformed.stderr, /--sqn/);
  const both = await mcx(['milenage', ...cliArgs({ ...args(v), opc: v.OPc })]);
  assert.equal(both.code, 2, both.stderr);
  assert.match(both.stderr, /--op/);
});
