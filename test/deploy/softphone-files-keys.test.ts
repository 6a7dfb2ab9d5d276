/**
 * Issue #13, the softphone files without a network: what each file carries, and the one rule raw keys keep to. A
 * Twinkle 1.10.2 profile holds K as its 16 raw octets on the `auth_pass=` line (Twinkle reads lines and trims spaces
 * around values; SIPp 3.6.1 reads K and OP as C strings), so a key with 0x00, 0x0a or 0x0d, or a space at either end,
 * gets no Twinkle profile and no SIPp scenario (the outcome says why), the testbed never generates one, and a user an
 * older testbed saved with one gets new keys and a fresh ISIM, with a line saying so.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ensureDemoUser, ensureDynamicUser, layoutOf, type Realms } from '../../deploy/topology.ts';
import { writeAkaClientFiles, writeDigestClientFiles } from '../../ue-client/softphones/files.ts';
import { linphonerc } from '../../ue-client/softphones/linphone.ts';
import { rawKeyProblem, type AkaClientUser } from '../../ue-client/softphones/model.ts';
import { twinkleProfile } from '../../ue-client/softphones/twinkle.ts';
import { tempDir } from '../ue-client/fixture.ts';

const realms: Realms = { primary: 'primary.mcx.test', partner: 'partner.mcx.test' };
const at = { host: '127.0.0.1', port: 5060, tls: { name: 'localhost', port: 5061, ca: '/pki/partner/ca.pem' } };
const user = (k: Buffer): AkaClientUser => ({
  label: 'alice', impi: 'alice.mig@partner.mcx.test', impu: 'sip:alice.mig@partner.mcx.test', domain: 'partner.mcx.test',
  k, op: Buffer.from('4c3704985abe1590e2ed2959f93e894f', 'hex'), amf: Buffer.from('8000', 'hex'),
});

describe('softphone files: raw keys, Twinkle profile, linphonerc, older testbed users', () => {
  let tmp: Awaited<ReturnType<typeof tempDir>>;
  before(async () => {
    tmp = await tempDir('mcx-softphone-files-');
  });
  after(() => tmp?.remove());

  test('the rule: 0x00, 0x0a, 0x0d anywhere and 0x20 at either end are refused, named; anything else (0x20 inside, 0xff, "#", "=") passes', () => {
    const k = (hex: string): Buffer => Buffer.from(hex.padEnd(32, '41'), 'hex');
    assert.match(rawKeyProblem('K', k('410a')) ?? '', /^K has 0x0a octets/);
    assert.match(rawKeyProblem('K', k('000d')) ?? '', /^K has 0x00, 0x0d octets/);
    assert.match(rawKeyProblem('OP', k('20')) ?? '', /^OP begins or ends with 0x20/);
    assert.match(rawKeyProblem('K', Buffer.from(`${'41'.repeat(15)}20`, 'hex')) ?? '', /ends with 0x20/);
    assert.equal(rawKeyProblem('K', k('41202335ff3d')), undefined);
  });

  test('Twinkle profile: auth_pass holds K\'s 16 raw octets, OP and AMF in hex, the proxy without a scheme, the transport', () => {
    const k = Buffer.from('a3e3e25ddcfb03944db721846846b75c', 'hex');
    const bytes = twinkleProfile(user(k), at, 'tcp');
    const start = bytes.indexOf('\nauth_pass=') + '\nauth_pass='.length;
    assert.deepEqual(bytes.subarray(start, start + 16), k);
    assert.equal(bytes[start + 16], 0x0a, 'K fills the line');
    const text = bytes.toString('latin1');
    for (const line of ['user_name=alice.mig', 'user_domain=partner.mcx.test', 'auth_name=alice.mig@partner.mcx.test', 'auth_realm=partner.mcx.test',
      'auth_aka_op=4c3704985abe1590e2ed2959f93e894f', 'auth_aka_amf=8000', 'outbound_proxy=127.0.0.1:5060', 'sip_transport=tcp', 'pres_publish_startup=no']) {
      assert.ok(text.split('\n').includes(line), `${line} in\n${text}`);
    }
  });

  test('a K with 0x0a: no Twinkle profile and no SIPp scenario, the reason in the outcome; a good K gets both transports and the scenario', async () => {
    const bad = await writeAkaClientFiles(join(tmp.dir, 'bad'), user(Buffer.from('410a'.padEnd(32, '41'), 'hex')), at, 5070);
    assert.deepEqual(bad.files, []);
    assert.deepEqual(bad.skipped.map((s) => s.client), ['twinkle', 'sipp']);
    assert.match(bad.skipped[0]?.reason ?? '', /K has 0x0a octets/);
    const good = await writeAkaClientFiles(join(tmp.dir, 'good'), user(Buffer.from('41'.repeat(16), 'hex')), at, 5070);
    assert.deepEqual(good.files.map((f) => `${f.client}/${f.transport}`), ['twinkle/udp', 'twinkle/tcp', 'sipp/udp']);
    assert.equal((await stat(good.files[0]?.path as string)).mode & 0o777, 0o600, 'K inside: 0600');
    assert.match(await readFile(join(tmp.dir, 'good', 'twinkle', '.twinkle', 'twinkle.sys'), 'utf8'), /^sip_port=5070$/m);
  });

  test('linphonerc over TLS dials the certificate\'s name and trusts the named CA; username is the user part, userid the IMPI', async () => {
    const rc = linphonerc({ label: 'bob', impi: 'bob@partner.mcx.test', impu: 'sip:bob@partner.mcx.test', domain: 'partner.mcx.test', realm: 'primary.mcx.test', password: 'pw' }, at, 'tls');
    for (const line of ['reg_proxy=<sip:localhost:5061;transport=tls>', 'root_ca=/pki/partner/ca.pem', 'verify_server_certs=1', 'verify_server_cn=1', 'username=bob',
      'userid=bob@partner.mcx.test', 'realm=primary.mcx.test', 'sip_port=-1']) {
      assert.ok(rc.split('\n').includes(line), `${line} in\n${rc}`);
    }
    const out = await writeDigestClientFiles(join(tmp.dir, 'digest'), { label: 'bob', impi: 'bob@partner.mcx.test', impu: 'sip:bob@partner.mcx.test', domain: 'partner.mcx.test', realm: 'primary.mcx.test', password: 'pw;x' }, at);
    assert.deepEqual(out.files.map((f) => `${f.client}/${f.transport}`), ['linphone/udp', 'linphone/tcp', 'linphone/tls']);
    assert.match(out.skipped[0]?.reason ?? '', /baresip account .*: the password holds characters an accounts line cannot carry/);
  });

  test('an older testbed\'s users with a K of 0x0a and an OP ending in 0x20: new keys, same identities, ISIM state removed, one line each; the next start keeps them', async () => {
    const layout = layoutOf(join(tmp.dir, 'old-testbed'));
    await mkdir(layout.ueDir, { recursive: true });
    const alice = {
      primary: { impi: 'alice@primary.mcx.test', impu: 'sip:alice@primary.mcx.test' }, partner: { impi: 'alice.mig@partner.mcx.test', impu: 'sip:alice.mig@partner.mcx.test' },
      k: 'd1de0aa635612960ba7705f1de5c516a', op: '92c34d26fdf681edbbb88eec7da20fb6', amf: '8000',
    };
    const carol = { primary: { impi: 'carol@primary.mcx.test', impu: 'sip:carol@primary.mcx.test' }, k: '11'.repeat(16), op: `${'22'.repeat(15)}20`, amf: '8000',
      mcpttId: 'sip:carol@mcptt.primary.mcx.test', username: 'carol', password: 'carolpassword' };
    await writeFile(layout.userFile, JSON.stringify(alice));
    await writeFile(layout.isimFile, '{}');
    await writeFile(layout.dynamicUserFile, JSON.stringify(carol));
    await writeFile(layout.dynamicIsimFile, '{}');
    const notes: string[] = [];
    const a = await ensureDemoUser(layout, realms, (l) => notes.push(l));
    const c = await ensureDynamicUser(layout, realms, (l) => notes.push(l));
    assert.deepEqual([a.primary, a.partner, a.amf], [alice.primary, alice.partner, alice.amf]);
    assert.deepEqual([c.primary, c.mcpttId, c.password], [carol.primary, carol.mcpttId, carol.password]);
    for (const u of [a, c]) {
      assert.equal(rawKeyProblem('K', Buffer.from(u.k, 'hex')), undefined);
      assert.equal(rawKeyProblem('OP', Buffer.from(u.op, 'hex')), undefined);
    }
    assert.notEqual(a.k, alice.k);
    assert.notEqual(c.op, carol.op);
    await assert.rejects(stat(layout.isimFile), { code: 'ENOENT' });
    await assert.rejects(stat(layout.dynamicIsimFile), { code: 'ENOENT' });
    assert.equal(notes.length, 2, notes.join('\n'));
    assert.match(notes[0] ?? '', /alice\.json: K has 0x0a octets .*: gave the user a new K and OP and a fresh ISIM \(.*alice\.isim\.json removed\)$/);
    assert.match(notes[1] ?? '', /carol\.json: OP begins or ends with 0x20/);
    assert.deepEqual(JSON.parse(await readFile(layout.userFile, 'utf8')), a, 'saved');
    const again: string[] = [];
    assert.deepEqual(await ensureDemoUser(layout, realms, (l) => again.push(l)), a);
    assert.deepEqual(again, []);
  });
});
