/**
 * `mcx testbed` kept running (DESIGN §2 row `deploy/`, §4): after its own demo it serves; SIPp 3.6.1 registers the
 * demo user under the partner identities with K/OP/AMF from `ue/alice.json` over UDP → 200 (the HSS draws RANDs under
 * the sipp361 policy by default); a plain MD5 Digest client registers the password user of `ue/bob.json`; the summary
 * names the softphone files (issue #13), TLS details and carol's dynamic partner IMPI, and its `mcx registrar
 * bindings` command works as printed; SIGTERM stops every role and prints `testbed: stopped`, exit 0.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { access, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { DigestChallenge } from '../../lib/sip/headers/auth.ts';
import { freePort } from '../helpers/ports.ts';
import { startMcx, type Proc } from '../helpers/process.ts';
import { runSipp, writeAkaScenario } from '../helpers/sipp.ts';
import { Ue, callId, credentials, registerBytes } from '../registrar/ue.ts';

interface SavedUser {
  partner: { impi: string; impu: string };
  k: string;
  op: string;
  amf: string;
}

describe('mcx testbed (kept running): SIPp and a softphone-style client register against it', () => {
  let dir: string;
  let proc: Proc;
  let udpPort: number;
  let ports: { tcp: number; tls: number };
  let userFile: string;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'mcx-testbed-serve-'));
    proc = startMcx(['testbed', '--ports', 'auto', '--dir', dir]);
    const m = await proc.waitFor(/^testbed: ready udp=127\.0\.0\.1:(\d+) tcp=127\.0\.0\.1:(\d+) tls=127\.0\.0\.1:(\d+) dir=\S+ user=(\S+)$/m, 30_000);
    udpPort = Number(m[1]);
    ports = { tcp: Number(m[2]), tls: Number(m[3]) };
    userFile = m[4] as string;
  });
  after(async () => {
    await proc?.stop('SIGKILL');
    await rm(dir, { recursive: true, force: true });
  });

  test('--ports auto: UDP and TCP on one port (what a UE told sip:host:port;transport=udp derives TCP from), TLS on another', () => {
    assert.equal(ports.tcp, udpPort);
    assert.notEqual(ports.tls, udpPort);
  });

  test('the demo ran first (result OK) and the summary names the partner identities, K, OP, AMF and the password user', () => {
    const out = proc.output();
    assert.match(out, /^result: OK/m);
    assert.match(out, /partner IMPI alice\.mig@partner\.mcx\.test {3}IMPU sip:alice\.mig@partner\.mcx\.test/);
    assert.match(out, /K [0-9a-f]{32} {3}OP [0-9a-f]{32} {3}AMF 8000/);
    assert.match(out, /auth username bob@partner\.mcx\.test {3}password \S+/);
  });

  test('the summary names the softphone files (they exist), the default MD5-only offer, TLS details for bob and carol\'s dynamic partner IMPI', async () => {
    const out = proc.output();
    assert.match(out, /algorithms offered: MD5\)/);
    assert.match(out, new RegExp(`^ {4}SIP over TLS: tls://localhost:${ports.tls} \\(dial the name localhost: .*mbedTLS.*\\), trusting \\S+ca\\.pem$`, 'm'));
    const twinkle = /^ {4}Twinkle 1\.10\.2 .*: {2}HOME=(\S+) twinkle-console alice-udp\.cfg$/m.exec(out);
    const linphone = /^ {4}linphonec .*: {2}linphonec -c (\S+bob-udp\.linphonerc)$/m.exec(out);
    const baresip = /^ {4}baresip 1\.0: {2}baresip -f (\S+)$/m.exec(out);
    const sipp = /^ {4}SIPp 3\.6\.1 .*: {2}sipp \S+ -sf (\S+alice\.xml) -inf (\S+alice\.csv) /m.exec(out);
    assert.ok(twinkle && linphone && baresip && sipp, out);
    for (const f of [join(twinkle[1] as string, '.twinkle', 'alice-udp.cfg'), linphone[1], join(baresip[1] as string, 'accounts'), sipp[1], sipp[2]]) await access(f as string);
    const dyn = /^ {2}carol's dynamic partner identity now: IMPI (mig-[0-9a-f]{12})@partner\.mcx\.test {3}IMPU sip:\1@partner\.mcx\.test/m.exec(out);
    assert.ok(dyn, out);
    assert.match(out, new RegExp(`^ {4}Twinkle 1\\.10\\.2 .*twinkle-console ${dyn[1]}-udp\\.cfg$`, 'm'));
    assert.match(out, /^ {6}--isim-state \S+carol\.isim\.json --configure-only --clients-dir \S+clients$/m);
  });

  test('the printed `mcx registrar bindings` command runs as printed and lists the demo\'s registration of alice', async () => {
    const line = /^ {2}registrations at the registrar: npx mcx (registrar bindings .*)$/m.exec(proc.output());
    assert.ok(line, 'the summary prints the command');
    const run = startMcx((line[1] as string).split(' '));
    assert.equal(await run.exited, 0, run.output());
    const aors = run.output().split('\n').filter((l) => l.startsWith('{')).map((l) => (JSON.parse(l) as { aor: string }).aor);
    assert.ok(aors.includes('sip:alice.mig@partner.mcx.test'), run.output());
  });

  test('SIPp 3.6.1 registers the demo user with the partner identities over UDP → 200', async () => {
    assert.equal(spawnSync('sipp', ['-v']).error, undefined, 'sipp is needed: the test command installs the Debian package sip-tester');
    const u = JSON.parse(await readFile(userFile, 'utf8')) as SavedUser;
    const scenario = writeAkaScenario({ domain: 'partner.mcx.test', impi: u.partner.impi, impu: u.partner.impu, k: u.k, op: u.op, amf: u.amf }, dir);
    const r = await runSipp(`127.0.0.1:${udpPort}`, scenario, { transport: 'udp', localPort: await freePort() });
    assert.equal(r.code, 0, r.output.slice(-3000));
  });

  test('the password user registers with plain MD5 Digest (no Authorization first, then qop=auth) → 200', async () => {
    const bob = JSON.parse(await readFile(join(dir, 'ue', 'bob.json'), 'utf8')) as { impi: string; impu: string; password: string };
    const ue = await Ue.udp(udpPort);
    try {
      const uri = 'sip:partner.mcx.test';
      const id = callId();
      const challenge = await ue.send(registerBytes(ue, { impu: bob.impu, callId: id, cseq: 1, uri }));
      assert.equal(challenge.msg.status, 401, challenge.text);
      const ch = challenge.msg.wwwAuthenticate()[0] as DigestChallenge;
      assert.equal(ch.algorithm, 'MD5', 'the first challenge is the one simple softphones read');
      const authorization = credentials(ch, { username: bob.impi, uri, qop: 'auth', algorithm: 'MD5' }, Buffer.from(bob.password, 'utf8'));
      const final = await ue.send(registerBytes(ue, { impu: bob.impu, callId: id, cseq: 2, uri, authorization }));
      assert.equal(final.msg.status, 200, final.text);
    } finally {
      ue.close();
    }
  });

  test('the printed `mcx ue migrate` command runs as printed: the whole §10.6.2.3 flow against the testbed, exit 0', { timeout: 60_000 }, async () => {
    const block = /^ {2}our UE, the whole dynamic flow.*\n((?: {4,}.*\n){3})/m.exec(proc.output());
    assert.ok(block, 'the summary prints the command');
    const words = (block[1] as string).replace(/\\\n/g, ' ').trim().split(/\s+/);
    assert.deepEqual(words.slice(0, 4), ['npx', 'mcx', 'ue', 'migrate']);
    const ue = startMcx(words.slice(2));
    try {
      const code = await ue.exited;
      assert.equal(code, 0, ue.output());
      assert.match(ue.output(), /^UE sip:mig-[0-9a-f]{12}@partner\.mcx\.test → udp:127\.0\.0\.1:\d+ \(TS 23\.280 §10\.6\.2\.3 dynamic flow\)$/m);
      assert.match(ue.output(), /← registrar {2}200 OK \(step 13\)/);
      assert.match(ue.output(), /^migration ended: configuration \S+ deleted at the partner MMS$/m);
    } finally {
      await ue.stop('SIGKILL');
    }
  });

  test('SIGTERM: every role stops, "testbed: stopped", exit 0', async () => {
    assert.equal(await proc.stop('SIGTERM'), 0);
    assert.match(proc.output(), /^testbed: stopped$/m);
  });
});
