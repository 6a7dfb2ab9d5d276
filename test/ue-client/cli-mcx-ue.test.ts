/**
 * `mcx ue` as a user runs it (spawned `bin/mcx.mjs`): usage errors exit 2 naming each bad field; a credentials file
 * under flags; warnings for secrets others can read; `isim show|reset` print the secret-free view (JSON alone on
 * stdout) and close the ISIM; an ISIM another process has open is refused (exit 1, UE_ISIM_LOCKED) before anything is
 * sent; `mcx ue register` end to end against our registrar (ladder, result, de-registration, exit 0), with `--hold`
 * ended by SIGTERM, and with `--keep --json` (one JSON report alone on stdout) then `deregister`. And the signal
 * handling of a run: the first signal winds down, a second one (or the grace running out) exits 130 at once.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createSocket } from 'node:dgram';
import { EventEmitter } from 'node:events';
import { access, chmod, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { interruptible, type SignalHost } from '../../ue-client/cli.ts';
import { Isim } from '../../ue-client/isim.ts';
import { startMcx } from '../helpers/process.ts';
import { until } from '../helpers/wait.ts';
import { startRegistrarNet, subscriber, subscribersCsv, tempDir, type RegistrarNet } from './fixture.ts';

const DOMAIN = 'partner.example';
const alice = subscriber('alice', DOMAIN);

/** What a finished `mcx ue …` printed: `out` both streams as they interleaved, `stdout` and `stderr` apart. */
interface McxRun {
  code: number | null;
  out: string;
  stdout: string;
  stderr: string;
}

/** Runs `mcx ue …` to completion (killed if the test ends first). */
async function mcxUe(args: string[]): Promise<McxRun> {
  const p = startMcx(['ue', ...args]);
  let stdout = '';
  let stderr = '';
  p.child.stdout?.on('data', (d: Buffer) => { stdout += d.toString('utf8'); });
  p.child.stderr?.on('data', (d: Buffer) => { stderr += d.toString('utf8'); });
  // 'close', not 'exit': the pipes are drained then.
  const closed = new Promise<void>((resolve) => p.child.once('close', () => resolve()));
  try {
    const code = await p.exited;
    await closed;
    return { code, out: p.output(), stdout, stderr };
  } finally {
    await p.stop('SIGKILL');
  }
}

const lockGone = async (isimFile: string): Promise<boolean> => access(`${isimFile}.lock`).then(() => false, () => true);

describe('mcx ue: the command line', () => {
  let tmp: Awaited<ReturnType<typeof tempDir>>;
  let net: RegistrarNet;
  const identity = (): string[] => ['--registrar', `127.0.0.1:${net.port('UDP')}`, '--domain', DOMAIN, '--impi', alice.impi, '--impu', alice.impu];
  const keys = ['--k', alice.k, '--op', alice.op, '--amf', alice.amf];

  before(async () => {
    tmp = await tempDir('mcx-ue-cli-');
    net = await startRegistrarNet(tmp.dir, DOMAIN, 'primary.example', subscribersCsv([alice]));
  });
  after(async () => {
    await net?.close();
    await tmp?.remove();
  });

  test('usage errors exit 2 and name every bad field', async () => {
    const r = await mcxUe(['register', '--registrar', 'nowhere', '--impu', 'alice@x', '--k', '12', '--transport', 'sctp', '--expires', '-5']);
    assert.equal(r.code, 2, r.out);
    for (const field of ['--registrar: expected HOST:PORT', '--domain: required', '--impi: required', '--impu: must be a sip: or sips: URI',
      '--k: must be 32 hex digits', '--transport:', '--expires:']) {
      assert.ok(r.out.includes(field), `${field} in:\n${r.out}`);
    }
    const both = await mcxUe(['register', ...identity(), '--isim-state', join(tmp.dir, 'x.json'), '--k', alice.k, '--op', alice.op, '--opc', alice.op]);
    assert.equal(both.code, 2);
    assert.match(both.out, /--opc: give OP or OPc, not both/);
    const none = await mcxUe(['register', ...identity()]);
    assert.equal(none.code, 2);
    assert.match(none.out, /--isim-state: required unless --password is given/);
  });

  test('a credentials file supplies the keys, flags override it; a bad value in it is named as coming from it', async () => {
    const file = join(tmp.dir, 'creds.json');
    await writeFile(file, JSON.stringify({ k: alice.k, op: alice.op, amf: 'zz', domain: 'wrong.example' }));
    const bad = await mcxUe(['register', ...identity(), '--isim-state', join(tmp.dir, 'creds-isim.json'), '--credentials', file]);
    assert.equal(bad.code, 2);
    assert.match(bad.out, /--amf \(from the credentials file\): must be 4 hex digits/);
    await writeFile(file, JSON.stringify({ k: alice.k, op: alice.op, amf: alice.amf, domain: 'wrong.example', impi: alice.impi }));
    const ok = await mcxUe(['register', ...identity(), '--isim-state', join(tmp.dir, 'creds-isim.json'), '--credentials', file]);
    assert.equal(ok.code, 0, ok.out);
    await writeFile(file, JSON.stringify({ k: alice.k, kk: 1 }));
    const unknown = await mcxUe(['register', ...identity(), '--credentials', file]);
    assert.equal(unknown.code, 2);
    assert.match(unknown.out, /unknown field\(s\) kk/);
  });

  test('`mcx ue register` end to end: ladder, result, de-registration, exit 0; `isim show` then has no secrets', async () => {
    const isim = join(tmp.dir, 'alice.json');
    const r = await mcxUe(['register', ...identity(), '--isim-state', isim, ...keys, '--flow', 'static', '--expires', '600']);
    assert.equal(r.code, 0, r.out);
    assert.match(r.out, /UE → registrar {2}REGISTER \(step 2\)/);
    assert.match(r.out, /UE ← registrar {2}401 Unauthorized — AKAv1-MD5, ISIM: RES \(step 11\)/);
    assert.match(r.out, /UE → registrar {2}REGISTER auth \(step 12\)/);
    assert.match(r.out, /UE ← registrar {2}200 OK \(step 13\)/);
    assert.match(r.out, /UE registered — expires 600 s, rspauth verified \(step 14\)/);
    assert.match(r.out, /registered: sip:alice@partner\.example .* rspauth=verified/);
    assert.match(r.out, /\nderegistered\n/);
    assert.ok(!r.out.includes(alice.k) && !r.out.includes(alice.op), 'no key material on the output');
    assert.ok(await lockGone(isim), 'the run closed its ISIM (lock removed)');

    const show = await mcxUe(['isim', 'show', '--isim-state', isim]);
    assert.equal(show.code, 0, show.out);
    const view = JSON.parse(show.stdout) as Record<string, unknown>;
    assert.equal(view.impi, alice.impi);
    assert.equal(view.opVariant, 'op');
    assert.notEqual(view.sqnMs, '000000000000', 'two challenges were accepted');
    assert.ok(!show.out.includes(alice.k) && !show.out.includes(alice.op));
    assert.match(await readFile(isim, 'utf8'), new RegExp(alice.k), 'the state file itself holds K (0600)');

    const reset = await mcxUe(['isim', 'reset', '--isim-state', isim]);
    assert.equal(reset.code, 0, reset.out);
    assert.equal((JSON.parse(reset.stdout) as { sqnMs: string }).sqnMs, '000000000000');
    assert.ok(await lockGone(isim), '`isim show|reset` close the ISIM');
    const missing = await mcxUe(['isim', 'show', '--isim-state', join(tmp.dir, 'none.json')]);
    assert.equal(missing.code, 1);
    assert.match(missing.out, /UE_ISIM: no ISIM state/);
  });

  test('failures exit promptly with their status: an ISIM with another OP than the HSS → 3 (MAC failure then 403: refused), no answer → 5 (timeout)', async () => {
    const mac = await mcxUe(['register', ...identity(), '--isim-state', join(tmp.dir, 'mallory.json'), '--k', alice.k, '--op', 'ab'.repeat(16)]);
    assert.equal(mac.code, 3, mac.out);
    assert.match(mac.out, /REGISTER response=""[\s\S]*403[\s\S]*mcx: ue register failed: UE_AUTH_REJECTED: the partner system refused the identity, or its challenge did not authenticate \(unknown identity, or keys that differ\): AUTN did not verify at the ISIM \(MAC failure\).*403/);
    const macJson = await mcxUe(['register', ...identity(), '--isim-state', join(tmp.dir, 'mallory-json.json'), '--k', alice.k, '--op', 'ab'.repeat(16), '--json']);
    assert.equal(macJson.code, 3, macJson.out);
    const report = JSON.parse(macJson.stdout) as { ok: boolean; error?: { code: string; status?: number; detail?: string } };
    assert.deepEqual({ ok: report.ok, code: report.error?.code, status: report.error?.status, detail: report.error?.detail },
      { ok: false, code: 'UE_AUTH_REJECTED', status: 403, detail: 'mac_failure' });
    const sink = createSocket('udp4');
    await new Promise<void>((resolve) => sink.bind(0, '127.0.0.1', () => resolve()));
    try {
      const quiet = await mcxUe(['register', '--registrar', `127.0.0.1:${sink.address().port}`, '--domain', DOMAIN, '--impi', alice.impi,
        '--impu', alice.impu, '--isim-state', join(tmp.dir, 'alice.json'), '--timeout', '1']);
      assert.equal(quiet.code, 5, quiet.out);
      assert.match(quiet.out, /UE_TIMEOUT: no final response to REGISTER within 1 s/);
    } finally {
      sink.close();
    }
  });

  test('another K for an existing ISIM file is refused (SQN state never moves between subscriptions)', async () => {
    const r = await mcxUe(['register', ...identity(), '--isim-state', join(tmp.dir, 'alice.json'), '--k', 'ff'.repeat(16), '--op', alice.op]);
    assert.equal(r.code, 1, r.out);
    assert.match(r.out, /UE_ISIM: .*holds another K\/OP/);
    assert.ok(await lockGone(join(tmp.dir, 'alice.json')), 'the refused ISIM was closed');
  });

  test('an ISIM another process has open: register and `isim show|reset` exit 1 with UE_ISIM_LOCKED naming it, before anything is sent', async () => {
    const file = join(tmp.dir, 'alice.json');
    const held = await Isim.open(file);
    try {
      const before = await readFile(file, 'utf8');
      for (const args of [['register', ...identity(), '--isim-state', file], ['isim', 'show', '--isim-state', file], ['isim', 'reset', '--isim-state', file]]) {
        const r = await mcxUe(args);
        assert.equal(r.code, 1, r.out);
        assert.match(r.stderr, new RegExp(`UE_ISIM_LOCKED: ISIM state .*alice\\.json is in use by pid ${process.pid} on .*one process per ISIM at a time`));
        assert.ok(!r.out.includes('REGISTER'), `nothing sent:\n${r.out}`);
      }
      assert.equal(await readFile(file, 'utf8'), before, 'reset did not touch the state of the ISIM open here');
    } finally {
      await held.close();
    }
    assert.ok(await lockGone(file));
  });

  test('secrets where others can read them: --k/--op on the command line and a group-readable credentials file each get a warning on stderr', async () => {
    const file = join(tmp.dir, 'alice.json');
    const onCmdline = await mcxUe(['register', ...identity(), '--isim-state', file, '--k', alice.k, '--op', alice.op, '--json']);
    assert.equal(onCmdline.code, 0, onCmdline.out);
    assert.match(onCmdline.stderr, /mcx: warning: --k on the command line is visible to other local users \(ps, \/proc\/<pid>\/cmdline\): give it through --credentials/);
    assert.match(onCmdline.stderr, /mcx: warning: --op on the command line/);
    JSON.parse(onCmdline.stdout);
    const creds = join(tmp.dir, 'shared-creds.json');
    await writeFile(creds, JSON.stringify({ k: alice.k, op: alice.op }));
    await chmod(creds, 0o644);
    const shared = await mcxUe(['register', ...identity(), '--isim-state', file, '--credentials', creds]);
    assert.equal(shared.code, 0, shared.out);
    assert.match(shared.stderr, /mcx: warning: --credentials .*shared-creds\.json is readable by group\/others \(mode 0644\) and holds secrets: chmod 600/);
    assert.ok(!shared.stderr.includes('on the command line'), shared.stderr);
    await chmod(creds, 0o600);
    const private_ = await mcxUe(['register', ...identity(), '--isim-state', file, '--credentials', creds]);
    assert.equal(private_.code, 0, private_.out);
    assert.ok(!private_.stderr.includes('warning'), private_.stderr);
  });

  test('--hold stays registered until SIGTERM, then de-registers and exits 0', async () => {
    const p = startMcx(['ue', 'register', ...identity(), '--isim-state', join(tmp.dir, 'alice.json'), '--hold', '--expires', '600']);
    try {
      await p.waitFor(/holding the registration/, 15_000);
      assert.match(p.output(), /UE registered — expires 600 s/);
      // TS 24.229 §5.1.1.3: a held registration subscribes to its own reg event.
      await p.waitFor(/reg event: registration active, this contact active \(registered\); Subscription-State: active;expires=\d+/, 5000);
      p.child.kill('SIGTERM');
      assert.equal(await p.exited, 0, p.output());
      assert.match(p.output(), /de-REGISTER auth[\s\S]*\nderegistered\n/);
    } finally {
      await p.stop();
    }
  });

  test('--keep leaves the binding; `mcx ue deregister` removes it with Contact: *', async () => {
    const kept = await mcxUe(['register', ...identity(), '--isim-state', join(tmp.dir, 'alice.json'), '--keep', '--json']);
    assert.equal(kept.code, 0, kept.out);
    // --json: the report alone on stdout, nothing before or after it.
    const report = JSON.parse(kept.stdout) as { ok: boolean; registered?: { expires: number }; deregistered?: boolean; ladder: string[] };
    assert.ok(report.ladder.length > 0);
    assert.equal(report.ok, true);
    assert.equal(report.deregistered, undefined);
    assert.ok((await net.registrar.store.get(`registrar:aor:${alice.impu}`)) !== undefined, 'the binding is still on the registrar');
    const d = await mcxUe(['deregister', ...identity(), '--isim-state', join(tmp.dir, 'alice.json')]);
    assert.equal(d.code, 0, d.out);
    assert.match(d.out, /deregistered: every binding of sip:alice@partner\.example/);
    const left = await net.registrar.store.get<{ bindings: unknown[] }>(`registrar:aor:${alice.impu}`);
    assert.ok(left === undefined || left.bindings.length === 0, `bindings left: ${JSON.stringify(left)}`);
  });
});

describe('mcx ue: SIGINT/SIGTERM of a run (interruptible)', () => {
  /** A process stand-in: signals are emitted by the test, exit is recorded. */
  const fakeProcess = (): SignalHost & EventEmitter & { exits: number[] } => Object.assign(new EventEmitter(), {
    exits: [] as number[],
    exit(code: number) {
      this.exits.push(code);
    },
  });

  test('the first signal says what happens and resolves `stopped`; a second exits 130 at once; dispose restores the defaults', async () => {
    const host = fakeProcess();
    const lines: string[] = [];
    const run = interruptible('de-registering, then ending the migration (--end)', 60_000, (l) => lines.push(l), host);
    assert.equal(host.listenerCount('SIGINT'), 1);
    host.emit('SIGINT', 'SIGINT');
    assert.equal(await run.stopped, 'SIGINT');
    assert.deepEqual(host.exits, []);
    assert.match(lines[0] ?? '', /^SIGINT: de-registering, then ending the migration \(--end\) \(at most 60 s; a second SIGINT\/SIGTERM exits at once\)$/);
    host.emit('SIGTERM', 'SIGTERM');
    assert.deepEqual(host.exits, [130]);
    assert.match(lines[1] ?? '', /^SIGTERM again: exiting at once/);
    run.dispose();
    assert.equal(host.listenerCount('SIGINT') + host.listenerCount('SIGTERM'), 0);
  });

  test('a wind-down that outlasts its grace exits 130 saying so', async () => {
    const host = fakeProcess();
    const lines: string[] = [];
    const run = interruptible('stopping', 50, (l) => lines.push(l), host);
    host.emit('SIGTERM', 'SIGTERM');
    await run.stopped;
    await until(() => host.exits.length > 0, 'the exit once the grace is over');
    assert.deepEqual(host.exits, [130]);
    assert.match(lines.at(-1) ?? '', /^still not done 0\.05 s after SIGTERM: exiting/);
    run.dispose();
  });
});
