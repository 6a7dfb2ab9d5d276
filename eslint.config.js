// Lint without type information: fast enough to run on every test command.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

// Roles meet only on the wire or through lib/ (issue #16): a role folder imports no other role, nor deploy/, bin/,
// test/ or bench/; lib/ imports none of those; bench/ imports nothing from test/. deploy/ and bin/ may import roles.
// Imports here are relative, so "another folder at the top" is one or more `../` and its name. Checked for static
// imports and re-exports (no-restricted-imports, type-only ones included) and for dynamic import() of a literal.
const ROLES = ['registrar', 'mms', 'hss', 'idms', 'ue-client', 'certs'];
const OUTSIDE_LIB = [...ROLES, 'deploy', 'bin', 'test', 'bench'];

/** The rules that keep files under `folder` from importing the top-level folders `banned`. */
function boundary(folder, banned, why) {
  const source = `^(\\.\\./)+(${banned.join('|')})(/|$)`;
  const message = `${folder}/ must not import ${banned.join(', ')}: ${why}`;
  return {
    files: [`${folder}/**/*.ts`],
    rules: {
      'no-restricted-imports': ['error', { patterns: [{ regex: source, message }] }],
      'no-restricted-syntax': ['error', {
        // esquery reads a `/` as the end of the regex: \x2f stands for it.
        selector: `ImportExpression[source.value=/${source.replaceAll('/', '\\x2f')}/]`,
        message,
      }],
    },
  };
}

export default tseslint.config(
  { ignores: ['node_modules/**', '.state/**', '.testbed/**', '.netns/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { globals: { process: 'readonly', console: 'readonly', Buffer: 'readonly', setTimeout: 'readonly', clearTimeout: 'readonly', setInterval: 'readonly', clearInterval: 'readonly', setImmediate: 'readonly', URL: 'readonly' } },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/consistent-type-imports': 'error',
      'no-constant-condition': ['error', { checkLoops: false }],
      eqeqeq: ['error', 'always'],
    },
  },
  {
    // The status page's script runs in the browser (deploy/status/assets: served as it is, no build step).
    files: ['deploy/status/assets/**/*.js'],
    languageOptions: { sourceType: 'module', globals: { document: 'readonly', location: 'readonly', WebSocket: 'readonly', CSS: 'readonly', Node: 'readonly' } },
  },
  ...ROLES.map((role) => boundary(role, [...ROLES.filter((r) => r !== role), 'deploy', 'bin', 'test', 'bench'],
    'roles meet only on the wire or through lib/')),
  boundary('lib', OUTSIDE_LIB, 'lib/ is shared by every role and imports none'),
  boundary('bench', ['test'], 'benchmarks stand on deploy/ and lib/, not on test helpers'),
);
