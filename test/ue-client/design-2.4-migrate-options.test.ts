/**
 * DESIGN §2.4 from the UE, without a network: what `mcx ue migrate` makes of its options (defaults, the password
 * file, the ISIM's own identities, the credentials file under the flags, no IdMS password reaching SIP Digest, trust
 * split per system, warnings for secrets others can read) and of
 * the migration configuration's registrar URI (RFC 3261 §19.1.2 default ports, RFC 3263 §4.2 one port for UDP and
 * TCP, `--transport` / `--registrar` overrides, configurations that cannot be registered with).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { chmod, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { UsageError } from '../../lib/cli.ts';
import { IdmClientError, type MigrationConfiguration } from '../../ue-client/idm-client.ts';
import { MIGRATE_DEFAULTS, parseMigrateOptions } from '../../ue-client/migrate-options.ts';
import { registrationTarget } from '../../ue-client/migration-target.ts';
import { tempDir } from './fixture.ts';

const K = '000102030405060708090a0b0c0d0e0f';
const OP = 'f0e0d0c0b0a090807060504030201000';

describe('mcx ue migrate: options', () => {
  let tmp: Awaited<ReturnType<typeof tempDir>>;
  const base = (): Record<string, unknown> => ({
    'primary-idms': 'https://idms.primary.example', 'partner-idms': 'https://idms.partner.example:8443', 'partner-mms': 'https://mms.partner.example:9443',
    'username': 'alice', 'isim-state': join(tmp.dir, 'isim.json'),
  });

  before(async () => {
    tmp = await tempDir('mcx-ue-migrate-opts-');
  });
  after(() => tmp?.remove());

  test('defaults: client mcx-ue, loopback redirect, ptt scope, no overrides, not ended; the ISIM identities from --isim-impi', async () => {
    const c = await parseMigrateOptions({ ...base(), password: 'pw', k: K, op: OP, 'isim-impi': 'alice@primary.example' });
    assert.deepEqual({ clientId: c.idm.clientId, redirectUri: c.idm.redirectUri, scopes: c.idm.scopes }, {
      clientId: MIGRATE_DEFAULTS.clientId, redirectUri: MIGRATE_DEFAULTS.redirectUri, scopes: [MIGRATE_DEFAULTS.scope],
    });
    assert.equal(c.transport, undefined);
    assert.equal(c.registrar, undefined);
    assert.equal(c.end, false);
    assert.equal(c.idm.password, 'pw');
    assert.equal(c.ue.isim?.impi, 'alice@primary.example');
    assert.deepEqual(c.ue.isim?.impus, ['sip:alice@primary.example']);
    assert.equal(c.ue.isim?.domain, 'primary.example');
    assert.ok(!('password' in c.ue), 'the IdMS password never becomes a SIP Digest password');
  });

  test('--password-file: its first line; an empty one or a missing file is named (exit 2)', async () => {
    const file = join(tmp.dir, 'pw.txt');
    await writeFile(file, 'first line secret\nsecond\n');
    assert.equal((await parseMigrateOptions({ ...base(), 'password-file': file })).idm.password, 'first line secret');
    await writeFile(file, '\nsecond\n');
    await assert.rejects(parseMigrateOptions({ ...base(), 'password-file': file }), (e: unknown) => e instanceof UsageError && /--password-file .*: the first line is empty/.test(e.message));
    await assert.rejects(parseMigrateOptions({ ...base(), 'password-file': join(tmp.dir, 'none') }), (e: unknown) => e instanceof UsageError && /--password-file .*ENOENT/.test(e.message));
  });

  test('trust per system: --primary-ca for the primary IdMS only, --partner-ca for the partner IdMS, MMS and registrar; --transport/--registrar/--end come through', async () => {
    const c = await parseMigrateOptions({ ...base(), password: 'pw', 'primary-ca': ['p.pem'], 'partner-ca': ['a.pem', 'b.pem'], transport: 'tls', registrar: '127.0.0.1:5061', end: true });
    assert.deepEqual(c.idm.primaryCa, ['p.pem']);
    assert.deepEqual(c.idm.partnerCa, ['a.pem', 'b.pem']);
    assert.deepEqual(c.ue.tls?.ca, ['a.pem', 'b.pem'], 'the registrar is the partner system\'s');
    assert.equal(c.transport, 'tls');
    assert.deepEqual(c.registrar, { host: '127.0.0.1', port: 5061 });
    assert.equal(c.end, true);
  });

  test('--tls-ca, which trusted every CA for every server, is refused with the split to use instead (exit 2)', async () => {
    await assert.rejects(parseMigrateOptions({ ...base(), password: 'pw', 'tls-ca': ['a.pem', 'b.pem'] }),
      (e: unknown) => e instanceof UsageError && e.exitCode === 2 && /--tls-ca: not an option of migrate .*--primary-ca for the primary IdMS and --partner-ca for the partner IdMS, partner MMS and registrar/.test(e.message));
  });

  test('secrets where others can read them: a warning per secret on the command line and per group/other-readable file; none for 0600 files', async () => {
    const warnings: string[] = [];
    const warn = (m: string): number => warnings.push(m);
    const pw = join(tmp.dir, 'pw-shared.txt');
    await writeFile(pw, 'secret\n', { mode: 0o644 });
    await chmod(pw, 0o644);
    await parseMigrateOptions({ ...base(), 'password-file': pw, k: K, op: OP, 'isim-impi': 'alice@primary.example' }, warn);
    assert.equal(warnings.length, 3, warnings.join('\n'));
    assert.match(warnings[0] ?? '', /^--k on the command line is visible to other local users \(ps, \/proc\/<pid>\/cmdline\): give it through --credentials/);
    assert.match(warnings[1] ?? '', /^--op on the command line/);
    assert.ok(warnings[2]?.startsWith(`--password-file ${pw} is readable by group/others (mode 0644)`) && warnings[2].endsWith(`chmod 600 ${pw}`), warnings[2]);
    warnings.length = 0;
    await parseMigrateOptions({ ...base(), password: 'pw' }, warn);
    assert.deepEqual(warnings, ['--password on the command line is visible to other local users (ps, /proc/<pid>/cmdline): give it through --password-file or --credentials (a 0600 file) instead']);
    warnings.length = 0;
    const creds = join(tmp.dir, 'creds-0600.json');
    await writeFile(creds, JSON.stringify({ password: 'pw', k: K, op: OP, 'isim-impi': 'alice@primary.example' }), { mode: 0o600 });
    await chmod(pw, 0o600);
    await parseMigrateOptions({ ...base(), credentials: creds }, warn);
    await parseMigrateOptions({ ...base(), 'password-file': pw }, warn);
    assert.deepEqual(warnings, [], 'secrets from 0600 files: no warning');
    await chmod(creds, 0o640);
    await parseMigrateOptions({ ...base(), credentials: creds }, warn);
    assert.match(warnings.join('\n'), /^--credentials .*creds-0600\.json is readable by group\/others \(mode 0640\)/);
  });

  test('a credentials file under the flags; its own bad values and unknown fields are named', async () => {
    const file = join(tmp.dir, 'creds.json');
    await writeFile(file, JSON.stringify({ password: 'from-file', k: K, op: OP, 'isim-impi': 'alice@primary.example', username: 'bob' }));
    const c = await parseMigrateOptions({ ...base(), credentials: file });
    assert.equal(c.idm.password, 'from-file');
    assert.equal(c.idm.username, 'alice', 'the flag wins over the file');
    await writeFile(file, JSON.stringify({ password: 'x', 'partner-mms': 'http://mms' }));
    const { 'partner-mms': _mms, ...noMms } = base();
    await assert.rejects(parseMigrateOptions({ ...noMms, credentials: file }), (e: unknown) => e instanceof UsageError && /--partner-mms \(from the credentials file\): must be an https:\/\/ URL/.test(e.message));
    await writeFile(file, JSON.stringify({ impi: 'alice@partner.example' }));
    await assert.rejects(parseMigrateOptions({ ...base(), credentials: file }), (e: unknown) => e instanceof UsageError && /unknown field\(s\) impi/.test(e.message));
  });

  test('--configure-only: no registration, files into --clients-dir (default clients/ beside the ISIM state); the options that register are refused', async () => {
    const c = await parseMigrateOptions({ ...base(), password: 'pw', 'configure-only': true });
    assert.equal(c.mode, 'configure-only');
    assert.equal(c.clientsDir, join(tmp.dir, 'clients'));
    assert.equal((await parseMigrateOptions({ ...base(), password: 'pw', 'configure-only': true, 'clients-dir': '/x/y' })).clientsDir, '/x/y');
    assert.equal((await parseMigrateOptions({ ...base(), password: 'pw' })).mode, 'register');
    await assert.rejects(parseMigrateOptions({ ...base(), password: 'pw', 'configure-only': true, hold: true, end: true, transport: 'tcp' }), (e: unknown) => e instanceof UsageError &&
      e.exitCode === 2 && /--hold: does not go with --configure-only/.test(e.message) && /--end: does not go with --configure-only/.test(e.message) && /--transport: does not go with --configure-only/.test(e.message));
    await assert.rejects(parseMigrateOptions({ ...base(), password: 'pw', 'clients-dir': '/x' }), (e: unknown) => e instanceof UsageError && /--clients-dir: needs --configure-only/.test(e.message));
  });

  test('--end-only --id: no ISIM needed; --id is required with it and refused without it; it excludes --configure-only', async () => {
    const { 'isim-state': _isim, ...noIsim } = base();
    const c = await parseMigrateOptions({ ...noIsim, password: 'pw', 'end-only': true, id: '3cfc5c73-14d1-4d80-a5cf-c8dacb442369' });
    assert.equal(c.mode, 'end-only');
    assert.equal(c.id, '3cfc5c73-14d1-4d80-a5cf-c8dacb442369');
    await assert.rejects(parseMigrateOptions({ ...noIsim, password: 'pw', 'end-only': true }), (e: unknown) => e instanceof UsageError && /--id: required with --end-only/.test(e.message));
    await assert.rejects(parseMigrateOptions({ ...base(), password: 'pw', id: 'abc' }), (e: unknown) => e instanceof UsageError && /--id: needs --end-only/.test(e.message));
    await assert.rejects(parseMigrateOptions({ ...base(), password: 'pw', 'end-only': true, 'configure-only': true, id: 'abc' }),
      (e: unknown) => e instanceof UsageError && /--end-only: give --configure-only or --end-only, not both/.test(e.message));
    await assert.rejects(parseMigrateOptions({ ...noIsim, password: 'pw' }), (e: unknown) => e instanceof UsageError && /--isim-state: required/.test(e.message));
  });

  test('--partner per partner system (TS 23.280 §10.6.2.1): each its IdMS, MMS and CA (ca=, else --partner-ca); one is the flags\' run, several exclude what names one registration', async () => {
    const { 'partner-idms': _i, 'partner-mms': _m, ...noPartner } = base();
    const a = 'name=partner-a,idms=https://idms.a.example,mms=https://mms.a.example:9443,ca=a.pem';
    const b = 'name=partner-b,idms=https://idms.b.example,mms=https://mms.b.example:9443';
    const c = await parseMigrateOptions({ ...noPartner, password: 'pw', partner: [a, b], 'partner-ca': ['shared.pem'] });
    assert.deepEqual(c.idm.partners, [
      { name: 'partner-a', issuer: 'https://idms.a.example', mms: 'https://mms.a.example:9443', ca: ['a.pem'] },
      { name: 'partner-b', issuer: 'https://idms.b.example', mms: 'https://mms.b.example:9443', ca: ['shared.pem'] },
    ]);
    assert.equal(c.idm.partnerIssuer, 'https://idms.a.example', 'the first partner stands for the one of the flags');
    assert.deepEqual(c.ue.tls?.ca, ['a.pem']);
    const flags = await parseMigrateOptions({ ...base(), password: 'pw' });
    assert.deepEqual(flags.idm.partners, [{ name: 'partner', issuer: 'https://idms.partner.example:8443', mms: 'https://mms.partner.example:9443' }]);
    const refused = async (o: Record<string, unknown>, ...why: RegExp[]): Promise<void> => {
      await assert.rejects(parseMigrateOptions({ password: 'pw', ...o }), (e: unknown) => e instanceof UsageError && e.exitCode === 2 && why.every((w) => w.test(e.message)));
    };
    await refused({ ...base(), partner: [a] }, /--partner-idms: give --partner-idms and --partner-mms for one partner system, or --partner per partner system, not both/);
    await refused({ ...noPartner, partner: [a, b], registrar: '127.0.0.1:5060', 'local-port': 5070 }, /--registrar: names one registrar/, /--local-port: one UDP port cannot carry/);
    await refused({ ...noPartner, partner: [a, b], 'configure-only': true }, /--configure-only: takes one partner system: run it once per --partner/);
    await refused({ ...noPartner, partner: [a, a.replace('partner-a', 'partner-c')] }, /--partner: idms=https:\/\/idms\.a\.example is given for two partners/);
    await refused({ ...noPartner, partner: ['name=x,idms=http://i,mms=https://m,port=1'] }, /--partner: unknown part "port=1"/, /--partner: idms=http:\/\/i: must be an https:\/\/ URL/);
    await refused({ ...noPartner }, /--partner-idms: required \(or --partner name=…,idms=…,mms=… per partner system\)/);
  });
});

describe('mcx ue migrate: the registrar of the migration configuration (RFC 3261 §19.1.2, RFC 3263 §4.2)', () => {
  const config = (registrar: string, over: Partial<MigrationConfiguration> = {}): MigrationConfiguration => ({
    id: 'c1', partner_impi: 'mig-1@partner.example', partner_impus: ['tel:+4989123', 'sip:mig-1@partner.example'], domain: 'partner.example',
    registrar, expires_at: new Date(Date.now() + 3_600_000).toISOString(), ...over,
  });
  const at = (registrar: string, o: Parameters<typeof registrationTarget>[1] = {}): string => {
    const t = registrationTarget(config(registrar), o);
    return `${t.transport}:${t.registrar.host}:${t.registrar.port}`;
  };
  const protocolError = (pattern: RegExp) => (e: unknown): boolean => e instanceof IdmClientError && e.code === 'ERR_IDM_PROTOCOL' && pattern.test(e.message);

  test('as configured: transport from the URI, the first sip: IMPU, the partner IMPI and domain', () => {
    const t = registrationTarget(config('sip:127.0.0.1:5070;transport=udp'));
    assert.deepEqual(t, { registrar: { host: '127.0.0.1', port: 5070 }, transport: 'udp', domain: 'partner.example', impi: 'mig-1@partner.example', impu: 'sip:mig-1@partner.example' });
    assert.equal(at('sip:[::1]:5070;transport=TCP'), 'tcp:::1:5070');
    assert.equal(at('sips:registrar.partner.example:5071'), 'tls:registrar.partner.example:5071');
    assert.equal(at('sip:registrar.partner.example'), 'udp:registrar.partner.example:5060');
    assert.equal(at('sips:registrar.partner.example'), 'tls:registrar.partner.example:5061');
  });

  test('--transport: UDP and TCP share the port; TLS maps only between the default ports 5060 and 5061', () => {
    assert.equal(at('sip:127.0.0.1:5070;transport=udp', { transport: 'tcp' }), 'tcp:127.0.0.1:5070');
    assert.equal(at('sip:127.0.0.1:5060;transport=udp', { transport: 'tls' }), 'tls:127.0.0.1:5061');
    assert.equal(at('sip:registrar.partner.example', { transport: 'tls' }), 'tls:registrar.partner.example:5061');
    assert.equal(at('sips:127.0.0.1:5061', { transport: 'tcp' }), 'tcp:127.0.0.1:5060');
    assert.throws(() => at('sip:127.0.0.1:5070;transport=udp', { transport: 'tls' }),
      (e: unknown) => e instanceof UsageError && /^--registrar: required with --transport tls: .*port 5070 is not the UDP default 5060/.test(e.message));
    assert.throws(() => at('sips:127.0.0.1:5071', { transport: 'udp' }), (e: unknown) => e instanceof UsageError && /--registrar: required with --transport udp/.test(e.message));
  });

  test('--registrar replaces the configured address for any transport', () => {
    assert.equal(at('sip:127.0.0.1:5070;transport=udp', { transport: 'tls', registrar: { host: '127.0.0.1', port: 5071 } }), 'tls:127.0.0.1:5071');
    assert.equal(at('sip:127.0.0.1:5070;transport=udp', { registrar: { host: '::1', port: 6000 } }), 'udp:::1:6000');
  });

  test('a configuration that cannot be registered with is the MMS\'s error (ERR_IDM_PROTOCOL), not a guess', () => {
    assert.throws(() => at('https://registrar.partner.example'), protocolError(/registrar "https:\/\/registrar\.partner\.example" is not a sip: or sips: URI/));
    assert.throws(() => at('sip:127.0.0.1:5070;transport=sctp'), protocolError(/names a transport this UE does not have/));
    assert.equal(at('sip:127.0.0.1:5070;transport=sctp', { transport: 'tcp' }), 'tcp:127.0.0.1:5070');
    assert.throws(() => registrationTarget(config('sip:127.0.0.1', { partner_impus: ['tel:+4989123'] })), protocolError(/no sip: IMPU among partner_impus/));
    assert.throws(() => registrationTarget(config('sip:127.0.0.1', { partner_impi: 'mig"1@partner.example' })), protocolError(/partner_impi .* is not an identity/));
    assert.throws(() => registrationTarget(config('sip:127.0.0.1', { domain: 'partner example' })), protocolError(/domain .* is not a DNS name/));
  });
});
