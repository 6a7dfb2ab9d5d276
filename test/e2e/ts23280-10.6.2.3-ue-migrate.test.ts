/**
 * TS 23.280 §10.6.2.3 (dynamic configuration) as a user runs it: `mcx ue migrate` spawned against both systems as
 * separate processes (migration-testbed.ts). The UE logs in at the primary IdMS, exchanges tokens (step 1, TS 33.180
 * §5.1.4.2), gets its migration configuration from the partner MMS (the precondition), and registers with the
 * partner identities and its primary ISIM: registrar → partner MMS → primary MMS → relay → HSS. Checked: the whole
 * ladder over UDP (the configuration's registrar), TCP and TLS (`--transport`, `--registrar`; trust per system,
 * `--primary-ca` and `--partner-ca`), the TLS port that cannot be derived (exit 2, ladder and JSON report kept, the
 * migration still ended with `--end`), `--end`, `--hold` ended by SIGTERM, `--json` (the report alone on stdout,
 * the configuration's six fields), `--hold` ended by the network (the migration ended elsewhere: the reg event NOTIFY,
 * exit 4), SIGINT without `--hold` (the REGISTER abandoned, the migration ended, exit 130); a
 * UE ahead of the HSS resynchronises through the MMS chain; a UE with another OP reports the MAC failure and exits 3;
 * IdM refusals exit with their reason (`migration_not_allowed` 4, a bad password 3) before any SIP is sent; bad
 * options exit 2, each named (`--tls-ca` with the split to use instead).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createSocket } from 'node:dgram';
import { access } from 'node:fs/promises';
import { join } from 'node:path';
import { Isim } from '../../ue-client/isim.ts';
import type { MigrateReport } from '../../ue-client/migrate-run.ts';
import { startMcx, type Proc } from '../helpers/process.ts';
import { advanceIsim } from '../registrar/ue.ts';
import { ladderShape } from '../ue-client/fixture.ts';
import { PRIMARY_REALM, startMigrationTestbed, subscriber, ueMigrateArgs, type MigrationTestbed, type Subscriber } from './migration-testbed.ts';

const alice = subscriber('alice');
const bob = subscriber('bob');
const carol = subscriber('carol', ['elsewhere.example']);
const dave = subscriber('dave');
const erin = subscriber('erin');
const mallory = subscriber('mallory');
const gina = subscriber('gina');
const hank = subscriber('hank');
const WRONG_OP = 'ab'.repeat(16);

const REGISTERED = ['→ REGISTER 2', '← 401 11', '→ REGISTER auth 12', '← 200 13', 'registered 14'];
const PRELUDE_PEERS = ['primary IdMS', 'primary IdMS', 'primary IdMS', 'primary IdMS', 'partner IdMS', 'partner IdMS', 'partner MMS', 'partner MMS'];

/** The SIP part of a printed ladder, in ladderShape's short form. */
const sipLadder = (out: string): string[] => ladderShape(out.split('\n').filter((l) => /UE [←→] registrar {2}|UE registered/.test(l)));
/** The peers of the ladder lines before the SIP part. */
const preludePeers = (out: string): string[] => [...out.matchAll(/^\s+[\d.]+s {2}UE [←→] ((?:primary|partner) (?:IdMS|MMS)) {2}/gm)].map((m) => m[1] as string);
const configurationId = (out: string): string | undefined => /^migration configuration (\S+):/m.exec(out)?.[1];
const escape = (s: string): string => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** A spawned `mcx` whose stdout and stderr are also kept apart. */
interface Run {
  proc: Proc;
  stdout(): string;
  stderr(): string;
  /** Resolves once the process exited and its pipes are drained. */
  closed: Promise<number | null>;
}

function run(args: string[]): Run {
  const proc = startMcx(args);
  let stdout = '';
  let stderr = '';
  proc.child.stdout?.on('data', (d: Buffer) => { stdout += d.toString('utf8'); });
  proc.child.stderr?.on('data', (d: Buffer) => { stderr += d.toString('utf8'); });
  const closed = new Promise<number | null>((resolve) => proc.child.once('close', (code) => resolve(code)));
  return { proc, stdout: () => stdout, stderr: () => stderr, closed };
}

/** What a finished run printed: `out` both streams as they interleaved. */
interface Finished {
  code: number | null;
  out: string;
  stdout: string;
  stderr: string;
}

describe('TS 23.280 §10.6.2.3 with `mcx ue migrate`: IdM login → token exchange → configuration → REGISTER via both MMSs', () => {
  let tb: MigrationTestbed;
  let aliceConfiguration: string | undefined;

  /** The IdM options for `u`, trust per system: the primary CA for the primary IdMS only, the partner CA for the rest. */
  const idmArgs = (u: Subscriber): string[] => ueMigrateArgs(tb, u);
  /** `mcx ue migrate` for `u` as it starts (killed by `finish` if the test fails first). */
  const start = (u: Subscriber, extra: string[] = [], o: { keys?: boolean; op?: string } = {}): Run => {
    const keys = o.keys === false ? [] : ['--k', u.k, '--op', o.op ?? u.op, '--amf', u.amf, '--isim-impi', u.impi];
    return run(['ue', 'migrate', ...idmArgs(u), '--isim-state', join(tb.dir, `${u.name}.json`), ...keys, '--expires', '600', ...extra]);
  };
  /** Waits for `r` to end; kills it whatever happens (no orphan when the test fails or times out). */
  const finish = async (r: Run): Promise<Finished> => {
    try {
      const code = await r.closed;
      return { code, out: r.proc.output(), stdout: r.stdout(), stderr: r.stderr() };
    } finally {
      await r.proc.stop('SIGKILL');
    }
  };
  /** `mcx ue migrate` for `u` with its ISIM file (created from its keys unless `keys` is false), to completion. */
  const migrate = (u: Subscriber, extra: string[] = [], o: { keys?: boolean; op?: string } = {}): Promise<Finished> => finish(start(u, extra, o));
  const isimClosed = (u: Subscriber): Promise<boolean> => access(join(tb.dir, `${u.name}.json.lock`)).then(() => false, () => true);

  before(async () => {
    tb = await startMigrationTestbed([alice, bob, carol, dave, erin, mallory, gina, hank]);
  });
  after(() => tb?.close());

  test('UDP at the configuration\'s registrar: the IdM steps (step 1, precondition), then steps 2 → 14; the primary MMS bound the identities', async () => {
    const r = await migrate(alice);
    assert.equal(r.code, 0, r.out);
    assert.deepEqual(preludePeers(r.out), PRELUDE_PEERS);
    assert.match(r.out, /UE → primary IdMS {2}authorization request \+ login \(OIDC code, PKCE S256\) \(step 1\)/);
    assert.match(r.out, /UE ← partner IdMS {2}partner access token from .* \(step 1\)/);
    assert.match(r.out, /UE ← partner MMS {2}partner identities mig-[0-9a-f]{12}@partner\.example .* \(precondition\)/);
    assert.ok(r.out.indexOf('UE ← partner MMS') < r.out.indexOf('UE → registrar'), 'the configuration comes before the REGISTER');
    assert.deepEqual(sipLadder(r.out).slice(0, 5), REGISTERED);
    assert.match(r.out, new RegExp(`UE sip:mig-[0-9a-f]{12}@partner\\.example → udp:127\\.0\\.0\\.1:${tb.addresses.sipUdp} \\(TS 23\\.280 §10\\.6\\.2\\.3 dynamic flow\\)`));
    assert.match(r.out, /registered: sip:mig-[0-9a-f]{12}@partner\.example .*;transport=udp>.* rspauth=verified/);
    assert.match(r.out, /\nderegistered\n/);
    aliceConfiguration = configurationId(r.out);
    const partnerImpi = /^migration configuration \S+: (\S+)/m.exec(r.out)?.[1] ?? '';
    assert.match(tb.output('primary-mms'), new RegExp(`migration binding confirmed: ${alice.impi.replace('.', '\\.')} is ${partnerImpi.replace(/\./g, '\\.')}`));
    assert.ok(!tb.output('hss').includes(partnerImpi), 'the HSS never sees the partner IMPI');
    assert.ok(!r.out.includes(alice.password) && !r.out.includes(alice.k), 'neither the password nor K on the output');
    assert.ok(await isimClosed(alice), 'the run closed its ISIM (no lock left)');
  });

  test('TCP with --transport/--registrar and --keep --json: the same live configuration, one JSON report, no de-registration', async () => {
    const r = await migrate(alice, ['--transport', 'tcp', '--registrar', `127.0.0.1:${tb.addresses.sipTcp}`, '--keep', '--json'], { keys: false });
    assert.equal(r.code, 0, r.out);
    // The report alone on stdout: the whole of it parses.
    const report = JSON.parse(r.stdout) as MigrateReport;
    assert.equal(report.ok, true);
    assert.deepEqual(Object.keys(report.migration ?? {}).sort(), ['domain', 'ended', 'expires_at', 'id', 'partner_impi', 'partner_impus', 'registrar'],
      'the configuration\'s six fields and `ended`, nothing else the MMS sent');
    assert.equal(report.migration?.id, aliceConfiguration, 'a second request while the configuration lives returns it');
    assert.equal(report.migration?.ended, false);
    assert.equal(report.deregistered, undefined, '--keep: no de-registration');
    assert.match(report.registered?.contact ?? '', /;transport=tcp>$/);
    assert.deepEqual(preludePeers(report.ladder.join('\n')), PRELUDE_PEERS);
    assert.deepEqual(sipLadder(report.ladder.join('\n')), REGISTERED);
  });

  test('TLS: the port is not guessed (exit 2, --registrar named, ladder and report kept); a name the certificate lacks fails the handshake (exit 6, ladder kept)', async () => {
    const r = await migrate(alice, ['--transport', 'tls'], { keys: false });
    assert.equal(r.code, 2, r.out);
    assert.match(r.stderr, /mcx: ue migrate failed: ERR_USAGE: --registrar: required with --transport tls: the migration configuration names sip:127\.0\.0\.1:\d+;transport=udp/);
    assert.ok(!r.out.includes('UE → registrar'), 'nothing was sent to a guessed port');
    assert.deepEqual(preludePeers(r.stdout), PRELUDE_PEERS, 'the IdM steps are on the ladder');
    // --json --end: the report still comes (alone on stdout), and the migration is still ended.
    const j = await migrate(alice, ['--transport', 'tls', '--json', '--end'], { keys: false });
    assert.equal(j.code, 2, j.out);
    const report = JSON.parse(j.stdout) as MigrateReport;
    assert.equal(report.ok, false);
    assert.equal(report.error?.code, 'ERR_USAGE');
    assert.match(report.error?.message ?? '', /^--registrar: required with --transport tls/);
    assert.equal(report.migration?.ended, true, '--end honoured after the usage error');
    assert.deepEqual(preludePeers(report.ladder.join('\n')), PRELUDE_PEERS);
    await tb.role('primary-mms').waitFor(new RegExp(`migration binding ended: ${escape(alice.impi)} / ${escape(report.migration?.partner_impi ?? '?')}`), 5000);
    const wrongName = await migrate(alice, ['--transport', 'tls', '--registrar', `127.0.0.1:${tb.addresses.sipTls}`, '--tls-servername', 'registrar.rogue.example'], { keys: false });
    assert.equal(wrongName.code, 6, wrongName.out);
    assert.match(wrongName.out, /mcx: ue migrate failed: UE_TLS: .*ERR_TLS_CERT_ALTNAME_INVALID: the certificate does not name this registrar/);
    assert.deepEqual(preludePeers(wrongName.out), PRELUDE_PEERS, 'the steps before the failed connection are still on the ladder');
  });

  test('TLS with --registrar (partner registrar certificate, --partner-ca) and --end: registered, de-registered, the configuration deleted on both sides', async () => {
    const r = await migrate(alice, ['--transport', 'tls', '--registrar', `127.0.0.1:${tb.addresses.sipTls}`, '--end'], { keys: false });
    assert.equal(r.code, 0, r.out);
    assert.deepEqual(sipLadder(r.out).slice(0, 5), REGISTERED);
    assert.match(r.out, /registered: .*;transport=tls>.* rspauth=verified/);
    const id = configurationId(r.out);
    assert.ok(id !== undefined && id !== aliceConfiguration, 'a fresh configuration: the one before was ended (--end above)');
    assert.match(r.out, new RegExp(`\\nderegistered\\nmigration ended: configuration ${id} deleted at the partner MMS\\n`));
    await tb.role('primary-mms').waitFor(new RegExp(`migration binding ended: ${alice.impi.replace('.', '\\.')} / mig-`), 5000);
  });

  test('SEQ_MS ahead of the HSS: 401 → REGISTER auts → 401 → REGISTER → 200 through partner MMS → primary MMS → relay → HSS', async () => {
    const file = join(tb.dir, 'dave.json');
    const isim = await Isim.open(file, { k: Buffer.from(dave.k, 'hex'), op: Buffer.from(dave.op, 'hex'), impi: dave.impi, impus: dave.impus, domain: PRIMARY_REALM });
    await advanceIsim(isim, dave);
    // Closed first: the spawned UE would find the file in use by this process (UE_ISIM_LOCKED).
    await isim.close();
    const r = await migrate(dave, [], { keys: false });
    assert.equal(r.code, 0, r.out);
    assert.deepEqual(sipLadder(r.out).slice(0, 7), [
      '→ REGISTER 2', '← 401 11', '→ REGISTER auts 12', '← 401 11', '→ REGISTER auth 12', '← 200 13', 'registered 14',
    ]);
    assert.match(r.out, /401 Unauthorized — AKAv1-MD5, ISIM: SQN not acceptable \(replay\) → auts \(step 11\)/);
    assert.match(r.out, /registered: .* resynchronised/);
    const resync = tb.output('hss').split('\n').find((l) => l.includes('resync: SEQ_HE set from SQN_MS'));
    assert.ok(resync?.includes(`"impi":"${dave.impi}"`), `HSS resync line for ${dave.impi}: ${resync}`);
    const viaPrimaryMms = tb.output('primary-mms').split('\n').filter((l) => l.includes('"step":6,"node":"primary-mms"') && l.includes(dave.impi));
    assert.ok(viaPrimaryMms.length >= 2, `the first and the resync MAR crossed the primary MMS: ${viaPrimaryMms.join('\n')}`);
  });

  test('an ISIM with another OP: MAC failure, REGISTER response="" without auts, 403, exit 3 with the MAC reason', async () => {
    const r = await migrate(mallory, [], { op: WRONG_OP });
    assert.equal(r.code, 3, r.out);
    assert.deepEqual(sipLadder(r.out), ['→ REGISTER 2', '← 401 11', '→ REGISTER response="" 12', '← 403']);
    assert.match(r.out, /401 Unauthorized — AKAv1-MD5, ISIM: MAC failure \(network not authentic\)/);
    assert.match(r.out, /mcx: ue migrate failed: UE_AUTH_REJECTED: the partner system refused the identity, or its challenge did not authenticate \(unknown identity, or keys that differ\): AUTN did not verify at the ISIM \(MAC failure\).*403/);
    await tb.role('registrar').waitFor(/empty response without auts \(MAC failure at the UE/, 5000);
  });

  test('a user whose subscription does not list this partner: exit 4, migration_not_allowed at the configuration step, no SIP', async () => {
    const r = await migrate(carol);
    assert.equal(r.code, 4, r.out);
    assert.match(r.out, /mcx: ue migrate failed at configuration: ERR_IDM_OAUTH: migration configuration: migration_not_allowed/);
    assert.match(r.out, /UE ← partner MMS {2}failed — ERR_IDM_OAUTH: .*migration_not_allowed/);
    assert.ok(!r.out.includes('REGISTER'), r.out);
  });

  test('a wrong password: exit 3, ERR_IDM_LOGIN at the login step, nothing after it', async () => {
    const r = await migrate({ ...bob, password: 'not-the-password' });
    assert.equal(r.code, 3, r.out);
    assert.match(r.out, /mcx: ue migrate failed at login: ERR_IDM_LOGIN: the IdMS rejected the username or password/);
    assert.deepEqual(preludePeers(r.out), ['primary IdMS', 'primary IdMS']);
    assert.ok(!r.out.includes('REGISTER') && !r.out.includes('token exchange'), r.out);
  });

  test('--hold --end: holds the registration until SIGTERM, then de-registers, ends the migration, exits 0', async () => {
    const r = start(erin, ['--hold', '--end']);
    const p = r.proc;
    try {
      await p.waitFor(/holding the registration/, 20_000);
      assert.deepEqual(preludePeers(p.output()), PRELUDE_PEERS, 'a held run prints the IdM steps too');
      assert.match(p.output(), /UE registered — expires \d+ s, rspauth verified \(step 14\)/);
      p.child.kill('SIGTERM');
      const done = await finish(r);
      assert.equal(done.code, 0, done.out);
      assert.match(done.stdout, /de-REGISTER auth[\s\S]*\nderegistered\nmigration ended: configuration \S+ deleted/);
      assert.match(done.stderr, /mcx: SIGTERM: stopping: abandoning what is outstanding, de-registering if registered, then ending the migration \(--end\)/);
    } finally {
      await p.stop('SIGKILL');
    }
  });

  test('--hold, then the migration ended elsewhere (--end-only): the reg event NOTIFY tells the held UE at once — contact rejected, exit 4 UE_DEREGISTERED, no de-REGISTER', async () => {
    const r = start(hank, ['--hold']);
    try {
      await r.proc.waitFor(/reg event: registration active, this contact active \(registered\); Subscription-State: active;expires=\d+/, 20_000);
      const id = configurationId(r.stdout());
      assert.ok(id !== undefined, r.stdout());
      const ended = await finish(run(['ue', 'migrate', ...idmArgs(hank), '--end-only', '--id', id]));
      assert.equal(ended.code, 0, ended.out);
      const done = await finish(r);
      assert.equal(done.code, 4, done.out);
      assert.match(done.stdout, /reg event: registration terminated, this contact terminated \(rejected\); Subscription-State: terminated;reason=rejected/);
      assert.match(done.stderr, /mcx: ue migrate failed: UE_DEREGISTERED: the network ended the registration \(reg event: contact rejected\)/);
      assert.ok(!done.stdout.includes('de-REGISTER'), 'nothing left to de-register');
    } finally {
      await r.proc.stop('SIGKILL');
    }
  });

  test('SIGINT without --hold while the REGISTER is outstanding: abandoned, the migration ended (--end), exit 130, and it says so', async () => {
    const sink = createSocket('udp4');
    await new Promise<void>((resolve) => sink.bind(0, '127.0.0.1', () => resolve()));
    const r = start(gina, ['--registrar', `127.0.0.1:${sink.address().port}`, '--end']);
    try {
      await r.proc.waitFor(/^UE sip:\S+ → udp:127\.0\.0\.1:\d+ /m, 20_000);
      const id = configurationId(r.stdout());
      const t0 = Date.now();
      r.proc.child.kill('SIGINT');
      const done = await finish(r);
      assert.equal(done.code, 130, done.out);
      assert.ok(Date.now() - t0 < 10_000, `wound down in ${Date.now() - t0} ms, well before the 40 s REGISTER timeout`);
      assert.match(done.stderr, /mcx: SIGINT: stopping: .*then ending the migration \(--end\) \(at most \d+ s; a second SIGINT\/SIGTERM exits at once\)/);
      assert.match(done.stderr, /mcx: ue migrate failed: UE_INTERRUPTED: interrupted before the registration completed/);
      assert.match(done.stdout, new RegExp(`\\nmigration ended: configuration ${escape(id ?? '?')} deleted at the partner MMS\\n`));
      assert.match(done.stdout, /UE → registrar {2}REGISTER \(step 2\)/, 'the abandoned REGISTER is on the ladder');
      await tb.role('primary-mms').waitFor(new RegExp(`migration binding ended: ${escape(gina.impi)} / mig-`), 5000);
      assert.ok(await isimClosed(gina), 'the ISIM was closed on the way out');
    } finally {
      await r.proc.stop('SIGKILL');
      sink.close();
    }
  });

  test('bad options exit 2 and name each field (values first, then the rules between options)', async () => {
    const cases: Array<[string[], string[]]> = [
      [['--primary-idms', 'http://127.0.0.1:1', '--username', 'x', '--password', 'p', '--isim-state', 'f', '--transport', 'sctp', '--k', '12'],
        ['--primary-idms: must be an https:// URL', '--partner-idms: required', '--partner-mms: required', '--transport:', '--k: must be 32 hex digits']],
      [[...idmArgs(alice), '--password-file', '/nonexistent', '--k', alice.k, '--op', alice.op, '--keep', '--end'],
        ['--isim-state: required', '--isim-impi: required with --k', '--password-file: give --password or --password-file, not both',
          '--end: ends the migration after de-registration']],
      [[...ueMigrateArgs(tb, alice), '--tls-ca', tb.caFiles()[0] as string, '--isim-state', join(tb.dir, 'alice.json')],
        ['--tls-ca: not an option of migrate (it trusted every CA for every server): give --primary-ca for the primary IdMS and --partner-ca for the partner IdMS, partner MMS and registrar']],
    ];
    for (const [args, fields] of cases) {
      const r = await finish(run(['ue', 'migrate', ...args]));
      assert.equal(r.code, 2, r.out);
      for (const field of fields) assert.ok(r.out.includes(field), `${field} in:\n${r.out}`);
    }
  });
});
