/**
 * The systemd unit templates of deploy/systemd (README "Multi-host deployment"): `systemd-analyze verify` accepts
 * each instance without a warning, `systemd-analyze security` rates each exposure OK, every option ExecStart= passes
 * (with the values of the rehearsal's env files, plan.ts) is one the role's CLI lists, every variable it names is set,
 * private keys come only through LoadCredential= and the state directory is the unit's own. The netns test runs them.
 * And deploy/systemd/unit.ts, which the rehearsal resolves them with, reads units as systemd.syntax, systemd.exec and
 * systemd.service say (continuation lines, Environment=/EnvironmentFile= order, `$VAR` vs `${VAR}`), refusing what it
 * would resolve otherwise.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SYSTEMD_DIR } from '../../deploy/netns/launch.ts';
import { ROLES, envOf, unitName, type RoleKey } from '../../deploy/netns/plan.ts';
import { UnitError, commandLine, instantiate, parseEnvironmentFile, parseUnit, setting, settings, type UnitFile } from '../../deploy/systemd/unit.ts';
import { ROOT, start, startMcx } from '../helpers/process.ts';

const KEYS = Object.keys(ROLES) as RoleKey[];
const INSTALL = '/opt/mcx-migrate';

async function unitOf(key: RoleKey): Promise<{ text: string; unit: UnitFile }> {
  const text = await readFile(join(SYSTEMD_DIR, ROLES[key].template), 'utf8');
  return { text, unit: parseUnit(text) };
}

/** The unit resolved with the env file the rehearsal writes for it (paths as on a real host). */
function resolved(unit: UnitFile, key: RoleKey) {
  const env = Object.entries(envOf(key, 'memory')).map(([k, v]) => `${k}=${v}`).join('\n');
  return instantiate(unit, { specifiers: { i: ROLES[key].host, d: '/run/credentials/u', S: '/var/lib' }, readFile: () => env });
}

/** `--flags` a CLI's help lists. */
async function helpFlags(args: string[]): Promise<Set<string>> {
  const p = startMcx([...args, '--help']);
  assert.equal(await p.exited, 0, p.output());
  return new Set([...p.output().matchAll(/^\s+(?:-\w, )?(--[a-z][a-z0-9-]*)/gm)].map((m) => m[1] as string));
}

async function run(cmd: string, args: string[]): Promise<{ code: number | null; out: string }> {
  const p = start(cmd, args);
  const code = await p.exited;
  return { code, out: p.output() };
}

describe('deploy/systemd: a unit template per role', () => {
  let copies: string;

  before(async () => {
    // The templates as installed: /opt/mcx-migrate is this checkout (verify checks that ExecStart='s program exists).
    copies = await mkdtemp(join(tmpdir(), 'mcx-units-'));
    for (const key of KEYS) {
      const text = (await unitOf(key)).text.replaceAll(INSTALL, ROOT.replace(/\/$/, ''));
      await writeFile(join(copies, unitName(ROLES[key])), text);
    }
  });
  after(() => rm(copies, { recursive: true, force: true }));

  test('every template in deploy/systemd is a role of the deployment plan', async () => {
    const files = (await readdir(SYSTEMD_DIR)).filter((f) => f.endsWith('.service')).sort();
    assert.deepEqual(files, KEYS.map((k) => ROLES[k].template).sort());
  });

  test('systemd-analyze verify accepts every instance, without a warning', async () => {
    for (const key of KEYS) {
      const r = await run('systemd-analyze', ['verify', '--man=no', join(copies, unitName(ROLES[key]))]);
      assert.equal(r.code, 0, `${unitName(ROLES[key])}: ${r.out}`);
      assert.equal(r.out.trim(), '', `${unitName(ROLES[key])}: ${r.out}`);
    }
  });

  test('systemd-analyze security rates every unit\'s exposure OK (below 2.0)', async () => {
    for (const key of KEYS) {
      const r = await run('systemd-analyze', ['security', '--offline=true', '--no-pager', join(copies, unitName(ROLES[key]))]);
      const m = /Overall exposure level for \S+: (\d+\.\d+) (\w+)/.exec(r.out);
      assert.ok(m, r.out);
      assert.ok(Number(m[1]) < 2, `${unitName(ROLES[key])}: ${m[0]}`);
    }
  });

  test('hardening: an unprivileged user, no capabilities, no new privileges, a read-only system but the unit\'s state directory', async () => {
    for (const key of KEYS) {
      const { unit } = await unitOf(key);
      const want: Record<string, string> = {
        User: 'mcx', NoNewPrivileges: 'yes', CapabilityBoundingSet: '', ProtectSystem: 'strict', ProtectHome: 'yes', PrivateTmp: 'yes',
        PrivateDevices: 'yes', RestrictSUIDSGID: 'yes', UMask: '0077', EnvironmentFile: `/etc/mcx/%i/${ROLES[key].role}.env`,
      };
      for (const [k, v] of Object.entries(want)) assert.equal(setting(unit, 'Service', k), v, `${ROLES[key].template} ${k}=`);
      const exec = setting(unit, 'Service', 'ExecStart') ?? '';
      assert.ok(exec.startsWith(`${INSTALL}/bin/mcx.mjs `), exec);
      const stateDir = / --state-dir (\S+)/.exec(exec)?.[1];
      if (key === 'relay') assert.equal(stateDir, undefined);
      else assert.equal(stateDir, `%S/${setting(unit, 'Service', 'StateDirectory')}`, `${ROLES[key].template}: --state-dir is its StateDirectory=`);
    }
  });

  test('private keys only through LoadCredential=, and every credential is used', async () => {
    for (const key of KEYS) {
      const { unit } = await unitOf(key);
      const exec = setting(unit, 'Service', 'ExecStart') ?? '';
      const ids = settings(unit, 'Service', 'LoadCredential').map((v) => v.slice(0, v.indexOf(':')));
      const used = [...exec.matchAll(/%d\/([\w.-]+)/g)].map((m) => m[1] as string);
      assert.deepEqual([...new Set(used)].sort(), [...ids].sort(), `${ROLES[key].template}: %d/… in ExecStart= and LoadCredential= ids`);
      for (const m of exec.matchAll(/--(tls-key|signing-key|admin-token-file|hss-admin-token-file) (\S+)/g)) assert.match(m[2] as string, /^%d\//, `${m[1]} comes from %d`);
      assert.doesNotMatch(exec.replace(/%d\/\S+/g, ''), /\.key\b/, 'no key file path on the command line but the credentials\'');
    }
  });

  test('every option ExecStart= passes, with the rehearsal\'s env file, is one the role\'s CLI takes, and every variable is set', async () => {
    const help = new Map<string, Set<string>>();
    for (const key of KEYS) {
      const { argv } = resolved((await unitOf(key)).unit, key);
      const sub = argv.slice(1, argv[1] === 'relay' ? 2 : 3);
      const flags = help.get(sub.join(' ')) ?? await helpFlags(sub);
      help.set(sub.join(' '), flags);
      const passed = argv.filter((a) => a.startsWith('--'));
      assert.ok(passed.length > 5, argv.join(' '));
      for (const f of passed) assert.ok(flags.has(f), `${ROLES[key].template}: mcx ${sub.join(' ')} takes no ${f}`);
      assert.ok(!argv.some((a) => a.includes('$') || a.includes('%')), `nothing left unresolved: ${argv.join(' ')}`);
    }
  });
});

describe('deploy/systemd/unit.ts: units read as systemd reads them', () => {
  test('systemd.syntax: sections, comments, repeated keys, a trailing backslash continues the line', () => {
    const u = parseUnit('# c\n[Service]\n; c\nLoadCredential=a:/x\nLoadCredential=b:/y\nExecStart=/bin/p --a 1 \\\n  --b 2\n');
    assert.deepEqual(settings(u, 'Service', 'LoadCredential'), ['a:/x', 'b:/y']);
    assert.equal(setting(u, 'Service', 'ExecStart'), '/bin/p --a 1 --b 2');
    assert.throws(() => parseUnit('Key=1\n'), (e: unknown) => e instanceof UnitError && /before any \[Section\]/.test(e.message));
  });

  test('systemd.service command lines: ${VAR} is one word, $VAR a word split at blanks, an empty $VAR none', () => {
    const env = { A: 'x y', B: '--o 1 --p 2', E: '' };
    assert.deepEqual(commandLine('/bin/p --a ${A} pre${A}post $B $E', env), ['/bin/p', '--a', 'x y', 'prex ypost', '--o', '1', '--p', '2']);
  });

  test('what the rehearsal would resolve differently from systemd is refused, naming it', () => {
    assert.throws(() => commandLine('/bin/p ${NOPE}', {}), (e: unknown) => e instanceof UnitError && e.message.includes('${NOPE} is not set'));
    assert.throws(() => commandLine('/bin/p "a b"', {}), UnitError);
    assert.throws(() => commandLine('-/bin/p', {}), /prefix -/);
    const u = parseUnit('[Service]\nExecStart=/bin/p %H\n');
    assert.throws(() => instantiate(u, { specifiers: { i: 'x', d: '/d', S: '/s' }, readFile: () => '' }), /specifier %H/);
  });

  test('systemd.exec: Environment= then EnvironmentFile= (the file wins), quoted values, comments; paths rewritten once', () => {
    assert.deepEqual(parseEnvironmentFile('# c\n; c\nA="a b"\nB=\'c\'\nC= d \n', 'f'), { A: 'a b', B: 'c', C: 'd' });
    assert.throws(() => parseEnvironmentFile('not a line\n', 'f.env'), /f\.env:1/);
    const u = parseUnit('[Service]\nEnvironment=A=1\nEnvironment=P=/etc/mcx/p\nEnvironmentFile=/etc/mcx/%i/x.env\n'
      + 'LoadCredential=k:/etc/mcx/pki/%i/k.key\nStateDirectory=mcx/r-%i\nExecStart=/opt/x --a ${A} --f /etc/mcx/f --s %S/mcx/r-%i --k %d/k\n');
    const read: string[] = [];
    const i = instantiate(u, {
      specifiers: { i: 'sys', d: '/cred', S: '/st' }, readFile: (p) => (read.push(p), 'A=2\nB=/etc/mcx/b'),
      rewrite: (t) => t.replace(/\/etc\/mcx(?=\/)/g, '/etc/mcx/h'),
    });
    assert.deepEqual(read, ['/etc/mcx/h/sys/x.env']);
    assert.deepEqual(i.argv, ['/opt/x', '--a', '2', '--f', '/etc/mcx/h/f', '--s', '/st/mcx/r-sys', '--k', '/cred/k']);
    assert.deepEqual(i.env, { A: '2', P: '/etc/mcx/h/p', B: '/etc/mcx/h/b' });
    assert.deepEqual(i.credentials, [{ id: 'k', path: '/etc/mcx/h/pki/sys/k.key' }]);
    assert.deepEqual(i.stateDirectories, ['mcx/r-sys']);
  });
});
