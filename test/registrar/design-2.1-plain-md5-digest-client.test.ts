/**
 * DESIGN §2.1 ("SIP Digest … for users provisioned with a password instead of an ISIM, so plain softphones can
 * register too") and §4 ("sipsak … MD5 digest only"): a plain MD5 Digest client registers a password user.
 *
 * - sipsak 0.9.8.1 (Debian `sipsak`), a real softphone-style client: REGISTER → 401 → REGISTER with
 *   `algorithm=MD5, qop=auth` (it takes the qop the challenge offers) → 200, binding listed by the admin API.
 * - A hand-written request as the simplest softphones send it: no Authorization at first, then `algorithm=MD5` without
 *   qop (the RFC 2069 form), and with `qop=auth`.
 *
 * The registrar offers only MD5 here, its default (as Kamailio's and Asterisk's): sipsak reads only the first
 * WWW-Authenticate and gives up on a SHA-256-first challenge set ("unsupported authentication algorithm") instead of
 * taking the MD5 one after it. The subscriber lives in `localhost`, a domain
 * sipsak can resolve (it looks up the domain of `-s` even when `-p` names the registrar); with no Authorization in
 * the first REGISTER, the IMPI is the To URI without its scheme (24.229 §5.1.1.2.1), `carol@localhost`.
 */
import { before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import type { DigestChallenge } from '../../lib/sip/headers/auth.ts';
import { freePorts } from '../helpers/ports.ts';
import {
  HSS_REALM, Ue, adminBindings, callId, credentials, headerLines, registerBytes, registrarFixture, sipPort,
  type PasswordUser,
} from './helpers.ts';

const carol: PasswordUser = { impi: 'carol@localhost', impus: ['sip:carol@localhost'], password: 'c4rol & "friends"' };
const dave: PasswordUser = { impi: 'dave@localhost', impus: ['sip:dave@localhost'], password: 'dave-pw' };

/** Runs sipsak with `args`; resolves with its exit code and output (killed after `ms`). */
function sipsak(args: string[], ms = 20_000): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn('sipsak', args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (d: Buffer) => (output += d.toString('latin1')));
    child.stderr.on('data', (d: Buffer) => (output += d.toString('latin1')));
    const timer = setTimeout(() => child.kill('SIGKILL'), ms);
    child.once('error', reject);
    child.once('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, output });
    });
  });
}

describe('DESIGN §2.1: a plain MD5 Digest client registers a password user', () => {
  before(() => {
    assert.equal(spawnSync('sipsak', ['-V']).error, undefined, 'sipsak is needed: the test command installs the Debian package sipsak');
  });
  const f = registrarFixture({ digest: [carol, dave], registrar: { admin: { host: '127.0.0.1', port: 0 } } });

  test('sipsak (MD5, qop=auth as offered): 401 then 200; the binding is listed with its Contact and Expires', async () => {
    const [contactPort] = await freePorts(1);
    const contact = `sip:carol@127.0.0.1:${contactPort}`;
    const r = await sipsak([
      '-U', '-vvv', '-i', '-C', contact, '-x', '600', '-a', carol.password, '-u', carol.impi, '-s', carol.impus[0] as string,
      '-p', `127.0.0.1:${sipPort(f.reg, 'UDP')}`, '-H', '127.0.0.1', '-k', '127.0.0.1',
    ]);
    assert.equal(r.code, 0, r.output.slice(-4000));
    assert.match(r.output, /SIP\/2\.0 401 Unauthorized\r?\n[\s\S]*WWW-Authenticate: Digest realm="primary\.example", nonce="[^"]+", algorithm=MD5, qop="auth"/);
    assert.match(r.output, /Authorization: Digest username="carol@localhost", [^\n]*algorithm=MD5[^\n]*qop=auth/);
    assert.match(r.output, /SIP\/2\.0 200 OK/);
    const b = (await adminBindings(f.reg)).find((x) => x.aor === carol.impus[0]);
    assert.equal(b?.impi, carol.impi);
    assert.deepEqual(b?.contacts.map((c) => c.uri), [contact]);
    assert.ok((b?.contacts[0]?.expires ?? 0) > 590);
  });

  for (const qop of [undefined, 'auth'] as const) {
    test(`hand-written softphone request, algorithm=MD5 ${qop ? 'with qop=auth' : 'without qop (RFC 2069 form)'}: 401 then 200`, async () => {
      const ue = await Ue.udp(sipPort(f.reg, 'UDP'));
      try {
        const id = callId();
        const impu = dave.impus[0] as string;
        const r1 = await ue.send(registerBytes(ue, { impu, callId: id, cseq: 1, expires: 300 }));
        assert.equal(r1.msg.status, 401, r1.text);
        const ch = r1.msg.wwwAuthenticate()[0] as DigestChallenge;
        assert.equal(ch.algorithm, 'MD5');
        assert.equal(ch.realm, HSS_REALM);
        const authorization = credentials(ch, { username: dave.impi, algorithm: 'MD5', ...(qop ? { qop } : {}) }, Buffer.from(dave.password, 'utf8'));
        assert.equal(/qop=/.test(authorization), qop !== undefined);
        const r2 = await ue.send(registerBytes(ue, { impu, callId: id, cseq: 2, expires: 300, authorization }));
        assert.equal(r2.msg.status, 200, r2.text);
        assert.match(headerLines(r2.text, 'Authentication-Info')[0] ?? '', qop ? /^qop=auth, rspauth="[0-9a-f]{32}", / : /^rspauth="[0-9a-f]{32}"$/);
        assert.ok(headerLines(r2.text, 'Contact').includes(`<sip:ue@127.0.0.1:${ue.localPort};transport=udp>;expires=300`), r2.text);
      } finally {
        ue.close();
      }
    });
  }
});
