/**
 * `mcx registrar` (DESIGN §2.1, §6): every bad option is named and exits 2; a started registrar prints
 * `registrar: listening sip=udp://…,tcp://… diameter-peers=… admin=…`, registers an AKA UE over UDP, lists the
 * binding through `mcx registrar bindings --admin` (bearer token from the state directory), and stops on SIGTERM.
 */
import { before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { freePorts } from '../helpers/ports.ts';
import { NODE, start, startMcx, type Proc } from '../helpers/process.ts';
import { DOMAIN, HSS_REALM, Ue, akaUser, hssPort, openIsim, registerAka, registrarFixture } from './helpers.ts';

const alice = akaUser('alice');

async function mcx(args: string[]): Promise<{ code: number | null; output: string }> {
  const p = start(NODE, ['bin/mcx.mjs', ...args]);
  const code = await p.exited;
  return { code, output: p.output() };
}

describe('mcx registrar', () => {
  const f = registrarFixture({ aka: [alice], registrar: false });
  let proc: Proc | undefined;
  let ports: number[];

  before(async () => {
    ports = await freePorts(3);
    f.onTeardown(() => proc?.stop('SIGKILL'));
  });

  test('bad options: each is named, exit status 2', async () => {
    const r = await mcx(['registrar', '--sip', 'udp:127.0.0.1:5060,sctp:1.2.3.4:5', '--hss', '127.0.0.1:99999', '--realm', 'bad realm',
      '--algorithm', 'AKAv3-MD5', '--min-expires', '0', '--store', 'mongodb://x']);
    assert.equal(r.code, 2, r.output);
    for (const field of ['--sip', '--domain', '--hss', '--origin-host', '--realm', '--algorithm', '--min-expires', '--store']) {
      assert.match(r.output, new RegExp(`^\\s+${field}[.:0-9]*: `, 'm'), `${field} not named:\n${r.output}`);
    }
  });

  test('issue #11 limits: bad values are named (exit 2); --help lists every limit with its default', async () => {
    const limits: Array<[string, string, string]> = [
      ['--ban-after', '-1', '10'], ['--ban-window', '0', '60'], ['--ban-time', 'soon', '300'], ['--ban-action', 'tarpit', '403'],
      ['--rate-limit', '0', '10000'], ['--rate-burst', '1.5', '10000'], ['--max-pending-challenges', '0', '3'],
      ['--max-tracked-sources', '10', '100000'], ['--max-connections', '0', '10000'], ['--max-connections-per-source', 'x', '64'],
      ['--first-message-timeout', '0', '10'], ['--cx-batch-ms', '101', '4'],
    ];
    const r = await mcx(['registrar', '--sip', 'udp:127.0.0.1:5060', '--domain', DOMAIN, '--hss', '127.0.0.1:3868', '--origin-host',
      `registrar.${DOMAIN}`, '--realm', DOMAIN, ...limits.flatMap(([o, bad]) => [o, bad])]);
    assert.equal(r.code, 2, r.output);
    for (const [option] of limits) assert.match(r.output, new RegExp(`^\\s+${option}: `, 'm'), `${option} not named:\n${r.output}`);
    const help = await mcx(['registrar', 'serve', '--help']);
    assert.equal(help.code, 0, help.output);
    const flat = help.output.replace(/\s+/g, ' ');
    for (const [option, , def] of limits) assert.match(flat, new RegExp(`${option} <[^>]+> (?:(?! --[a-z-]+ <)(?! --[a-z-]+ [A-Za-z]).)*\\(default: "${def}"\\)`), `${option} default ${def} in --help`);
  });

  test('a tls: listener or --diameter-tls without TLS files → exit 2 naming them', async () => {
    const r = await mcx(['registrar', '--sip', 'tls:127.0.0.1:5061', '--domain', DOMAIN, '--hss', '127.0.0.1:3868', '--origin-host',
      `registrar.${DOMAIN}`, '--realm', DOMAIN, '--diameter-tls']);
    assert.equal(r.code, 2, r.output);
    assert.match(r.output, /--sip: a tls: listener needs/);
    assert.match(r.output, /--diameter-tls: needs --tls-cert/);
  });

  test('ready line, registration, `bindings --admin`, SIGTERM', async () => {
    const [udp, tcp, admin] = ports as [number, number, number];
    const state = join(f.dir, 'state');
    proc = startMcx(['registrar', '--sip', `udp:127.0.0.1:${udp},tcp:127.0.0.1:${tcp}`, '--domain', DOMAIN, '--hss', `127.0.0.1:${hssPort(f.hss)}`,
      '--origin-host', `registrar.${DOMAIN}`, '--realm', DOMAIN, '--hss-realm', HSS_REALM, '--state-dir', state, '--admin', `127.0.0.1:${admin}`],
    { env: { ...process.env, MCX_LOG_LEVEL: 'warn' } });
    const m = await proc.waitFor(/registrar: listening (.*)\n/, 30000);
    assert.equal(m[1], `sip=udp://127.0.0.1:${udp},tcp://127.0.0.1:${tcp} diameter-peers=127.0.0.1:${hssPort(f.hss)} admin=http://127.0.0.1:${admin}`);

    const ue = await Ue.udp(udp);
    try {
      const r = await registerAka(ue, await openIsim(f.dir, alice), alice, { expires: 600 });
      assert.equal(r.final.msg.status, 200, r.final.text);
    } finally {
      ue.close();
    }

    const list = await mcx(['registrar', 'bindings', '--admin', `http://127.0.0.1:${admin}`, '--admin-token-file', join(state, 'admin-token')]);
    assert.equal(list.code, 0, list.output);
    const views = list.output.trim().split('\n').map((l) => JSON.parse(l) as { aor: string; contacts: Array<{ uri: string; expires: number; source: string }> });
    assert.equal(views.length, 1);
    assert.equal(views[0]?.aor, alice.impus[0]);
    assert.match(views[0]?.contacts[0]?.source ?? '', /^UDP 127\.0\.0\.1:\d+$/);

    const wrongToken = await mcx(['registrar', 'bindings', '--admin', `http://127.0.0.1:${admin}`, '--admin-token-file', join(f.dir, 'none')]);
    assert.equal(wrongToken.code, 2, wrongToken.output);
    const neither = await mcx(['registrar', 'bindings']);
    assert.equal(neither.code, 2);
    assert.match(neither.output, /--admin: give exactly one of --admin and --store/);

    assert.equal(await proc.stop('SIGTERM'), 0);
    assert.match(proc.output(), /registrar: stopped\n/);
  });
});
