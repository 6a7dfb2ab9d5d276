/**
 * RFC 7616 §3.3/§3.4.5, RFC 3261 §10.2.4 and §22.4 with a real SIP Digest softphone (issue #13): linphonec 5.1
 * (`linphone-cli`, Debian) registers bob with the linphonerc files the testbed writes, as written.
 *
 * - Over UDP: REGISTER → 401 (one challenge, MD5: the registrar's default offer) → 200; then its refresh — the
 *   registrar grants 10 s ({@link MAX_EXPIRES_S}, as a short `--max-expires`), linphone refreshes at 90 % of the
 *   granted expiry whatever it asked for (3600 s in the file; a 60 s expiry takes the same path at 54 s) — 401 →
 *   REGISTER → 200, and on `quit` the de-registration 401 → REGISTER → 200. linphone counts `nc` on across nonces
 *   (00000002 on the fresh nonce of a refresh or de-registration): the registrar takes any `nc` on a nonce's one use,
 *   so every authenticated REGISTER gets its 200. Each on the wire (tshark), the binding at the registrar.
 * - Over TCP, and over TLS to `localhost` (the registrar certificate's DNS name; Debian's mbedTLS does not match IP
 *   subjectAltNames) verified against the partner CA the file names: 200 and de-registration 200; the TLS ClientHello
 *   names `localhost`; the bindings come from TCP and TLS sources.
 */
import { before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { sipFields, tlsServerNames, withoutRetransmissions } from '../helpers/tshark.ts';
import { MAX_EXPIRES_S, freshHome, requireCommand, softphoneTestbed, startClient, type SoftphoneBed } from './fixture.ts';

const RE_REGISTRATION = 2;
const FIELDS = ['sip.Method', 'sip.Status-Code', 'sip.from.user', 'sip.Via.transport', 'sip.auth.algorithm', 'sip.auth.nc', 'sip.Expires', 'sip.auth.stale', 'sip.CSeq.seq', 'sip.Call-ID'];

/** linphonec on `rc` with its own HOME, logging to a file (it prints no registration state on stdout). */
async function linphonec(f: SoftphoneBed, rc: string, name: string): Promise<{ client: ReturnType<typeof startClient>; log: string }> {
  const home = await freshHome(f.tmp, name);
  const log = join(home, 'linphonec.log');
  return { client: startClient('linphonec', ['-c', rc, '-d', '6', '-l', log], { env: { HOME: home }, cwd: home }), log };
}

/** Resolves once linphone's log says its account reached the registered state `n` times (it took the 200s in). */
async function registeredTimes(log: string, n: number, ms = 5000): Promise<void> {
  const deadline = Date.now() + ms;
  for (;;) {
    const text = await readFile(log, 'utf8').catch(() => '');
    if ((text.match(/to \[LinphoneRegistrationOk\]/g)?.length ?? 0) >= n) return;
    if (Date.now() > deadline) throw new Error(`linphone did not reach LinphoneRegistrationOk ${n} times within ${ms} ms`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

const kinds = (wire: string[][]): string[] => wire.map((r) => r[0] || r[1] || '?');

describe('RFC 7616: linphonec registers, refreshes and de-registers with the testbed\'s generated linphonerc files', () => {
  const f = softphoneTestbed('linphone');
  const aor = (): string => f.tb.bob.impu;

  before(() => {
    requireCommand('linphonec');
  });

  test(`bob-udp.linphonerc as written: 401 (MD5 alone) → 200; refresh at 90 % of the granted ${MAX_EXPIRES_S} s → 200 (nc on a fresh nonce taken); quit → de-registration 200`, { timeout: 60_000 }, async () => {
    const capture = await f.capture();
    const registered = f.step13(aor(), (l) => l.bindings === 1, 'the 200 to linphone\'s REGISTER');
    const refreshed = f.step13(aor(), (l) => l.bindings === 1 && l.server_assignment_type === RE_REGISTRATION, 'the 200 to linphone\'s refresh', 30_000);
    const rc = join(f.tb.layout.clientsDir, 'linphone', 'bob-udp.linphonerc');
    const { client: lp, log } = await linphonec(f, rc, 'home-udp');
    await registered;
    const contacts = await f.bindings(aor());
    assert.equal(contacts.length, 1, JSON.stringify(contacts));
    assert.match(contacts[0]?.uri ?? '', /^sip:bob@127\.0\.0\.1:\d+;transport=udp$/);
    assert.match(contacts[0]?.source ?? '', /^UDP 127\.0\.0\.1:\d+$/);
    assert.ok((contacts[0]?.expires ?? 0) <= MAX_EXPIRES_S, 'the registrar shortened the expiry');
    await refreshed;
    // Quit once linphone has taken the refresh's 200 in: a de-registration sent before that reuses the refresh's
    // nonce, which the registrar answers with a fresh 401 stale=TRUE (linphone then registers off with a new one).
    await registeredTimes(log, 2);
    const cleared = f.step13(aor(), (l) => l.bindings === 0, 'the 200 to linphone\'s de-registration');
    await lp.quit('quit');
    await cleared;
    assert.deepEqual(await f.bindings(aor()), []);
    await capture.stop();
    const wire = withoutRetransmissions(await sipFields(capture.file, f.port, FIELDS)).filter((r) => r[2] === 'bob' && r[3] === 'UDP');
    // register, refresh, de-register: each REGISTER → 401 → REGISTER → 200, nothing refused.
    assert.deepEqual(kinds(wire), Array.from({ length: 3 }, () => ['REGISTER', '401', 'REGISTER', '200']).flat(), wire.join('\n'));
    for (const challenge of wire.filter((r) => r[1] === '401')) {
      assert.equal(challenge[4], 'MD5', 'one challenge, MD5');
      assert.notEqual(challenge[7], 'TRUE', 'never stale: every nonce answered was fresh');
    }
    const answers = wire.filter((r) => r[0] === 'REGISTER' && r[5]);
    assert.equal(answers.length, 3);
    assert.ok(answers.some((r) => r[5] !== '00000001'), `linphone counts nc across nonces (${answers.map((r) => r[5]).join(', ')}), and still gets its 200`);
    assert.equal(wire[8]?.[6], '0', 'the last exchange is the de-registration (Expires: 0)');
  });

  for (const transport of ['tcp', 'tls'] as const) {
    test(`bob-${transport}.linphonerc as written: 200 over ${transport.toUpperCase()}${transport === 'tls' ? ' to localhost, the certificate verified against the partner CA' : ''}; quit → de-registration 200`, { timeout: 30_000 }, async () => {
      const capture = await f.capture();
      const registered = f.step13(aor(), (l) => l.bindings === 1, `the 200 to linphone's REGISTER over ${transport}`);
      const { client: lp, log } = await linphonec(f, join(f.tb.layout.clientsDir, 'linphone', `bob-${transport}.linphonerc`), `home-${transport}`);
      await registered;
      await registeredTimes(log, 1);
      const contacts = await f.bindings(aor());
      assert.equal(contacts.length, 1, JSON.stringify(contacts));
      assert.match(contacts[0]?.source ?? '', new RegExp(`^${transport.toUpperCase()} 127\\.0\\.0\\.1:\\d+$`));
      assert.match(contacts[0]?.uri ?? '', new RegExp(`;transport=${transport}$`));
      const cleared = f.step13(aor(), (l) => l.bindings === 0, `the 200 to linphone's de-registration over ${transport}`);
      await lp.quit('quit');
      await cleared;
      await capture.stop();
      if (transport === 'tcp') {
        const wire = withoutRetransmissions(await sipFields(capture.file, f.port, FIELDS)).filter((r) => r[2] === 'bob' && r[3] === 'TCP');
        assert.deepEqual(kinds(wire), ['REGISTER', '401', 'REGISTER', '200', 'REGISTER', '401', 'REGISTER', '200'], wire.join('\n'));
      } else {
        assert.deepEqual([...new Set(await tlsServerNames(capture.file, f.tlsPort))], ['localhost']);
      }
    });
  }
});
