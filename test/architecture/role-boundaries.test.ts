/**
 * Roles meet only on the wire or through lib/ (issue #16 acceptance): no role folder (registrar, mms, hss, idms,
 * ue-client, certs) imports another role, deploy/, bin/, test/ or bench/; lib/ imports none of those; bench/ imports
 * nothing from test/; deploy/ and bin/ may import roles. Two checks: the lint rule of eslint.config.js fires on
 * fixtures (static, type-only, re-exported and dynamic imports, from nested folders too) and stays quiet on the
 * allowed directions — run through ESLint's Node API with the project's own configuration; and the tree as it is,
 * every relative import resolved to its top-level folder, independently of the rule's own pattern.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readdir, readFile } from 'node:fs/promises';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ESLint } from 'eslint';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const ROLES = ['registrar', 'mms', 'hss', 'idms', 'ue-client', 'certs'] as const;
const NOT_FOR_ROLES = ['deploy', 'bin', 'test', 'bench'] as const;
const NOT_FOR_LIB = [...ROLES, ...NOT_FOR_ROLES];

/** What each top-level folder may not import. */
const BANNED: Readonly<Record<string, readonly string[]>> = {
  ...Object.fromEntries(ROLES.map((r) => [r, [...ROLES.filter((o) => o !== r), ...NOT_FOR_ROLES]])),
  lib: NOT_FOR_LIB,
  bench: ['test'],
};

const eslint = new ESLint({ cwd: ROOT });

/** The boundary messages ESLint reports for `code` as if it were the file `path` (relative to the checkout). */
async function boundaryMessages(path: string, code: string): Promise<string[]> {
  const [result] = await eslint.lintText(code, { filePath: join(ROOT, path) });
  return (result?.messages ?? [])
    .filter((m) => m.ruleId === 'no-restricted-imports' || m.ruleId === 'no-restricted-syntax')
    .map((m) => `${m.line}: ${m.message}`);
}

describe('the lint rule (eslint.config.js) fires on every forbidden direction', () => {
  test('a role importing another role: import, import type, export … from, import(), from a nested folder', async () => {
    for (const role of ROLES) {
      for (const other of ROLES.filter((o) => o !== role)) {
        const code = [
          `import { a } from '../${other}/x.ts';`,
          `import type { B } from '../${other}/y.ts';`,
          `export { c } from '../${other}/z.ts';`,
          `export const d = (): Promise<unknown> => import('../${other}/w.ts');`,
          `export const e = [a] as B[];`,
        ].join('\n');
        const got = await boundaryMessages(`${role}/fixture.ts`, code);
        assert.deepEqual(got.map((m) => m.split(':')[0]), ['1', '2', '3', '4'], `${role} → ${other}: ${got.join('; ')}`);
        assert.match(got[0] ?? '', new RegExp(`${role}/ must not import .*${other}`));
      }
      const nested = await boundaryMessages(`${role}/sub/fixture.ts`, `export { a } from '../../${ROLES.find((o) => o !== role)}/x.ts';`);
      assert.equal(nested.length, 1, `${role}/sub: ${nested.join('; ')}`);
    }
  });

  test('a role importing deploy/, bin/, test/ or bench/', async () => {
    for (const role of ROLES) {
      for (const folder of NOT_FOR_ROLES) {
        assert.equal((await boundaryMessages(`${role}/fixture.ts`, `export { a } from '../${folder}/x.ts';`)).length, 1, `${role} → ${folder}`);
      }
    }
  });

  test('lib/ importing a role, deploy/, bin/, test/ or bench/', async () => {
    for (const folder of NOT_FOR_LIB) {
      assert.equal((await boundaryMessages('lib/http/fixture.ts', `export { a } from '../../${folder}/x.ts';`)).length, 1, `lib → ${folder}`);
    }
  });

  test('bench/ importing test/', async () => {
    assert.equal((await boundaryMessages('bench/fixture.ts', `export { a } from '../test/helpers/process.ts';`)).length, 1);
  });

  test('the allowed directions stay quiet: role → lib and itself, deploy/bin/test → roles, bench → lib and deploy', async () => {
    const allowed: Array<[string, string]> = [
      ['mms/fixture.ts', `import { a } from '../lib/http/request.ts';\nimport { b } from './binding-client.ts';\nexport const c = (): Promise<unknown> => import('./run.ts');\nexport const d = [a, b];`],
      ['ue-client/idm/fixture.ts', `export { a } from '../../lib/migration/wire.ts';\nexport { b } from '../migrate.ts';`],
      ['deploy/fixture.ts', `export { a } from '../mms/run.ts';\nexport { b } from '../hss/run.ts';`],
      ['bin/fixture.ts', `export { a } from '../registrar/cli.ts';`],
      ['test/mms/fixture.ts', `export { a } from '../../mms/run.ts';\nexport { b } from '../../idms/server.ts';`],
      ['bench/fixture.ts', `export { a } from '../lib/sip/parser.ts';\nexport { b } from '../deploy/roles.ts';`],
    ];
    for (const [path, code] of allowed) assert.deepEqual(await boundaryMessages(path, code), [], path);
  });
});

/** Relative import specifiers of a source file: static imports and re-exports, side-effect imports, import(). */
function specifiers(source: string): string[] {
  const out: string[] = [];
  const patterns = [
    /^\s*(?:import|export)\b[^;'"]*?\bfrom\s*['"]([^'"]+)['"]/gm,
    /^\s*import\s*['"]([^'"]+)['"]/gm,
    /\bimport\s*\(\s*['"]([^'"]+)['"]\s*\)/g,
  ];
  for (const p of patterns) for (const m of source.matchAll(p)) if (m[1]?.startsWith('.')) out.push(m[1]);
  return out;
}

/** `folder`'s imports into folders it may not import, as `file → target`. */
async function crossings(folder: string): Promise<string[]> {
  const banned = BANNED[folder] ?? [];
  const files = (await readdir(join(ROOT, folder), { recursive: true })).filter((f) => f.endsWith('.ts'));
  assert.ok(files.length > 0, `${folder}/ has TypeScript files`);
  const out: string[] = [];
  for (const f of files) {
    const abs = join(ROOT, folder, f);
    for (const spec of specifiers(await readFile(abs, 'utf8'))) {
      const top = relative(ROOT, resolve(dirname(abs), spec)).split(sep)[0] ?? '';
      if (banned.includes(top)) out.push(`${folder}/${f} → ${spec}`);
    }
  }
  return out;
}

describe('the tree as it is', () => {
  test('the import scanner sees static, type-only, re-exported, side-effect and dynamic imports', () => {
    const src = `import a from '../x/a.ts';\nimport type { B } from '../y/b.ts';\nexport * from "../z/c.ts";\nimport '../w/d.ts';\nconst e = await import('../v/e.ts');\nimport {\n  f,\n} from '../u/f.ts';\nimport { g } from 'zod';`;
    assert.deepEqual(specifiers(src).sort(), ['../u/f.ts', '../v/e.ts', '../w/d.ts', '../x/a.ts', '../y/b.ts', '../z/c.ts']);
  });

  for (const folder of [...ROLES, 'lib']) {
    test(`${folder}/ imports nothing it may not`, async () => {
      assert.deepEqual(await crossings(folder), []);
    });
  }

  // Holds once the bench/ rework (moving test/helpers used by benchmarks into deploy/) has landed.
  test('bench/ imports nothing from test/', async () => {
    assert.deepEqual(await crossings('bench'), []);
  });
});
