/**
 * TS 23.280 §10.6.2.2 / §10.6.2.3 with a real IMS AKA softphone (issue #13): Twinkle 1.10.2 (`twinkle-console`,
 * Debian) registers with the profiles the testbed writes, loaded unchanged from the Twinkle home it writes them into
 * (K as raw octets: Twinkle 1.10.2 copies `auth_pass` into K) — alice's static partner identity over UDP and over
 * TCP, and a dynamic partner identity that `mcx ue migrate --configure-only` configured without registering, over
 * UDP and TCP. Each: REGISTER → 401 AKAv1-MD5 → REGISTER with the Digest-AKA response → 200 on the wire (tshark),
 * the binding at the registrar from Twinkle's port and transport (admin API), and on `quit` a de-registration → 200
 * that removes it. After `--end-only` ends the configuration, the dynamic identity no longer registers.
 */
import { before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { caPaths } from '../../certs/layout.ts';
import { startMcx } from '../../deploy/process.ts';
import { twinkleHome } from '../../ue-client/softphones/files.ts';
import { sipFields, withoutRetransmissions } from '../helpers/tshark.ts';
import { requireCommand, softphoneTestbed, startClient, type SoftphoneBed } from './fixture.ts';

const FIELDS = ['udp.srcport', 'tcp.srcport', 'sip.Method', 'sip.Status-Code', 'sip.CSeq.method', 'sip.from.user', 'sip.auth.algorithm', 'sip.Via.transport', 'sip.Contact', 'sip.CSeq.seq', 'sip.Call-ID'];

/** What the wire and the registrar say about one registration of a Twinkle profile, from start to `quit`. */
async function registerAndQuit(f: SoftphoneBed, profile: string, aor: string, transport: 'udp' | 'tcp'): Promise<{ wire: string[][]; output: string }> {
  const home = twinkleHome(f.tb.layout.clientsDir);
  const twinklePort = Number(/^sip_port=(\d+)$/m.exec(await readFile(join(home, '.twinkle', 'twinkle.sys'), 'utf8'))?.[1]);
  const capture = await f.capture();
  const registered = f.step13(aor, (l) => l.bindings === 1, `the 200 to Twinkle's REGISTER for ${aor}`);
  const twinkle = startClient('twinkle-console', [profile], { env: { HOME: home }, cwd: f.tmp });
  await registered;
  await twinkle.proc.waitFor(/registration succeeded \(expires = \d+ seconds\)/, 5000);
  const contacts = await f.bindings(aor);
  assert.equal(contacts.length, 1, JSON.stringify(contacts));
  assert.equal(contacts[0]?.uri, `sip:${aor.slice(4, aor.indexOf('@'))}@127.0.0.1:${twinklePort};transport=${transport}`);
  assert.match(contacts[0]?.source ?? '', new RegExp(`^${transport.toUpperCase()} 127\\.0\\.0\\.1:\\d+$`));
  const cleared = f.step13(aor, (l) => l.bindings === 0, `the 200 to Twinkle's de-registration of ${aor}`);
  assert.equal(await twinkle.quit('quit'), 0, twinkle.proc.output());
  await cleared;
  assert.deepEqual(await f.bindings(aor), []);
  await capture.stop();
  const wire = withoutRetransmissions(await sipFields(capture.file, f.port, FIELDS)).filter((r) => r[5] === aor.slice(4, aor.indexOf('@')) && r[7] === transport.toUpperCase());
  return { wire, output: twinkle.proc.output() };
}

/** The messages as `METHOD` / status, in order. */
const kinds = (wire: string[][]): string[] => wire.map((r) => r[2] || r[3] || '?');

describe('TS 23.280 §10.6.2: Twinkle 1.10.2 registers with the testbed\'s generated profiles (IMS AKA)', () => {
  const f = softphoneTestbed('twinkle');
  let dynamic: { aor: string; label: string; id: string; end: string[] };

  before(() => {
    requireCommand('twinkle-console');
  });

  for (const transport of ['udp', 'tcp'] as const) {
    test(`alice (static, §10.6.2.2) over ${transport.toUpperCase()} with alice-${transport}.cfg as written: 401 AKAv1-MD5 → 200, bound from Twinkle's port; quit → de-registered`, async () => {
      const aor = f.tb.alice.partner.impu;
      const { wire } = await registerAndQuit(f, `alice-${transport}.cfg`, aor, transport);
      assert.deepEqual(kinds(wire), ['REGISTER', '401', 'REGISTER', '200', 'REGISTER', '401', 'REGISTER', '200'], wire.join('\n'));
      assert.equal(wire[2]?.[6], 'AKAv1-MD5', 'the answer is Digest-AKA');
      assert.match(wire[4]?.[8] ?? '', /expires=0/, 'the de-registration');
    });
  }

  test('`mcx ue migrate --configure-only` configures a dynamic identity (§10.6.2.3) without registering and writes its Twinkle profiles', { timeout: 60_000 }, async () => {
    const { carol, layout } = f.tb;
    const a = f.tb.testbed.addresses;
    const idm = ['--primary-idms', a.primaryIssuer, '--partner-idms', a.partnerIssuer, '--partner-mms', a.migrationApi, '--username', carol.username,
      '--password-file', layout.dynamicPasswordFile, '--primary-ca', caPaths(layout.pki, 'primary').cert, '--partner-ca', caPaths(layout.pki, 'partner').cert];
    const ue = startMcx(['ue', 'migrate', ...idm, '--isim-state', join(f.tmp, 'carol.isim.json'), '--k', carol.k, '--op', carol.op, '--amf', carol.amf,
      '--isim-impi', carol.primary.impi, '--configure-only', '--clients-dir', layout.clientsDir]);
    assert.equal(await ue.exited, 0, ue.output());
    const out = ue.output();
    const m = /^migration configuration (\S+): partner IMPI (mig-[0-9a-f]{12})@partner\.mcx\.test, IMPU (sip:mig-[0-9a-f]{12}@partner\.mcx\.test), registrar sip:127\.0\.0\.1:(\d+);transport=udp, until \S+ \(not registered: --configure-only\)$/m.exec(out);
    assert.ok(m, out);
    assert.equal(Number(m[4]), f.port);
    assert.match(out, new RegExp(`^ {2}twinkle \\(udp\\): HOME=\\S+ twinkle-console ${m[2]}-udp\\.cfg$`, 'm'));
    assert.match(out, new RegExp(`^end the migration with: npx mcx ue migrate .* --end-only --id ${m[1]}$`, 'm'));
    assert.doesNotMatch(out, /REGISTER/, 'nothing registered');
    assert.deepEqual(await f.bindings(m[3] as string), []);
    dynamic = { aor: m[3] as string, label: m[2] as string, id: m[1] as string, end: ['ue', 'migrate', ...idm, '--end-only', '--id', m[1] as string] };
  });

  for (const transport of ['udp', 'tcp'] as const) {
    test(`the dynamic identity over ${transport.toUpperCase()} with its ${transport} profile as written: 401 AKAv1-MD5 → 200 (vectors from the primary HSS through the primary MMS); quit → de-registered`, async () => {
      assert.ok(dynamic, 'configured by the test before');
      const { wire } = await registerAndQuit(f, `${dynamic.label}-${transport}.cfg`, dynamic.aor, transport);
      assert.deepEqual(kinds(wire), ['REGISTER', '401', 'REGISTER', '200', 'REGISTER', '401', 'REGISTER', '200'], wire.join('\n'));
      assert.equal(wire[2]?.[6], 'AKAv1-MD5');
    });
  }

  test('`--end-only --id` ends the configuration (a fresh login, no token kept); the dynamic identity then gets no 200', { timeout: 60_000 }, async () => {
    assert.ok(dynamic, 'configured by the test before');
    const end = startMcx(dynamic.end);
    assert.equal(await end.exited, 0, end.output());
    assert.match(end.output(), new RegExp(`^migration ended: configuration ${dynamic.id} deleted at the partner MMS$`, 'm'));
    const home = twinkleHome(f.tb.layout.clientsDir);
    const capture = await f.capture();
    const twinkle = startClient('twinkle-console', [`${dynamic.label}-udp.cfg`], { env: { HOME: home }, cwd: f.tmp });
    await twinkle.proc.waitFor(/registration failed: \d{3}/, 10_000);
    await twinkle.quit('quit');
    await capture.stop();
    const wire = withoutRetransmissions(await sipFields(capture.file, f.port, FIELDS)).filter((r) => r[5] === dynamic.label);
    assert.ok(wire.length > 0, 'REGISTERs went out');
    assert.ok(!kinds(wire).includes('200'), wire.join('\n'));
    assert.deepEqual(await f.bindings(dynamic.aor), []);
  });
});
