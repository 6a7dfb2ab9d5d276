/**
 * `mcx mms` and `mcx relay` options (DESIGN §2.2, §1 inter-system TLS): every bad option is named and the exit status
 * is 2 — including a partner MMS that would reach the primary system without TLS, a primary MMS that would accept
 * the partner without TLS, a mapping file with bad rows (every problem by line) and TLS files that cannot be read;
 * `--tls-ca` may be repeated or comma-separated.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { initPki } from '../../certs/issue.ts';
import { certPaths } from '../../certs/layout.ts';
import { UsageError } from '../../lib/cli.ts';
import { silentLogger } from '../../lib/log.ts';
import { parseMmsOptions, parseRelayOptions } from '../../mms/cli.ts';
import { startMcx } from '../helpers/process.ts';

/** Runs `mcx args` to its end. */
async function run(args: string[]): Promise<{ code: number | null; out: string }> {
  const p = startMcx(args);
  const code = await p.exited;
  return { code, out: p.output() };
}

const NODE = ['--listen', '127.0.0.1:0', '--origin-host', 'mms.partner.example', '--realm', 'partner.example', '--route', 'primary.example=127.0.0.1:1'];

test('mcx mms with bad options names every bad one and exits 2', async () => {
  const { code, out } = await run(['mms', '--role', 'secondary', '--listen', 'nowhere', '--route', 'primary.example', '--origin-host', 'bad host', '--store', 'mongodb://x']);
  assert.equal(code, 2);
  for (const field of ['--role', '--listen', '--origin-host', '--realm', '--route', '--store']) assert.match(out, new RegExp(`${field}: `), field);
});

test('mcx relay with bad options names every bad one and exits 2', async () => {
  const { code, out } = await run(['relay', '--listen', '127.0.0.1:99999', '--route', 'x=127.0.0.1:1,localhost']);
  assert.equal(code, 2);
  for (const field of ['--listen', '--origin-host', '--realm', '--route']) assert.match(out, new RegExp(`${field}: `), field);
});

test('the inter-system side must be TLS: partner routes and the primary listener (exit 2, option named)', () => {
  const rejects = (f: () => unknown, pattern: RegExp): void => assert.throws(f, (e: unknown) => e instanceof UsageError && pattern.test(e.message));
  rejects(() => parseMmsOptions({ role: 'partner', listen: '127.0.0.1:0', originHost: 'mms.partner.example', realm: 'partner.example', route: ['primary.example=127.0.0.1:1'] }, silentLogger),
    /--route: every Diameter link between the two systems is mutual TLS/);
  const tls = { tlsCert: 'c.pem', tlsKey: 'k.pem', tlsCa: ['ca.pem'] };
  rejects(() => parseMmsOptions({ role: 'partner', ...tls, listen: '127.0.0.1:0', originHost: 'mms.partner.example', realm: 'partner.example', route: ['primary.example=tcp://127.0.0.1:1'] }, silentLogger),
    /--route: every Diameter link/);
  rejects(() => parseMmsOptions({ role: 'primary', ...tls, listen: 'tcp://127.0.0.1:0', originHost: 'mms.primary.example', realm: 'primary.example', route: ['primary.example=127.0.0.1:1'], mappings: 'm.csv' }, silentLogger),
    /--listen: every Diameter link[\s\S]*--mappings: only for --role partner/);
  rejects(() => parseRelayOptions({ listen: 'tls://127.0.0.1:0', originHost: 'relay.primary.example', realm: 'primary.example', route: ['primary.example=127.0.0.1:1'] }, silentLogger),
    /--listen: tls:\/\/ needs --tls-cert/);
});

test('--tls-ca repeatable and comma-separated; tcp:// and tls:// per link; a partner gets the store and admin defaults', () => {
  const c = parseMmsOptions({
    role: 'partner', listen: 'tcp://127.0.0.1:3869', originHost: 'mms.partner.example', realm: 'partner.example',
    route: ['primary.example=127.0.0.1:3870,tls://127.0.0.1:3871'], tlsCert: 'c.pem', tlsKey: 'k.pem', tlsCa: ['own.pem,primary.pem', 'extra.pem'],
  }, silentLogger);
  assert.equal(c.role, 'partner');
  assert.deepEqual(c.tls, { cert: 'c.pem', key: 'k.pem', ca: ['own.pem', 'primary.pem', 'extra.pem'] });
  assert.deepEqual(c.listen, { host: '127.0.0.1', port: 3869, transport: 'tcp' });
  assert.deepEqual(c.routes, [{ realm: 'primary.example', peers: [{ host: '127.0.0.1', port: 3870 }, { host: '127.0.0.1', port: 3871, transport: 'tls' }] }]);
  assert.ok(c.role === 'partner' && c.store === 'memory' && c.stateDir === '.state/mms-partner' && c.admin === undefined && !c.topologyHiding);
});

describe('files named by options: a bad one exits 2 with what is wrong', () => {
  let dir: string;
  let tls: string[];
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'mcx-mms-cli-'));
    await initPki({ dir: join(dir, 'pki'), systems: [{ name: 'primary', realm: 'primary.example' }, { name: 'partner', realm: 'partner.example' }] });
    const p = certPaths(join(dir, 'pki'), 'partner', 'mms');
    tls = ['--tls-cert', p.cert, '--tls-key', p.key, '--tls-ca', p.ca];
  });
  after(() => rm(dir, { recursive: true, force: true }));

  test('a mapping file with bad rows: every problem by line, exit 2, nothing started', async () => {
    await writeFile(join(dir, 'bad.csv'), 'partner_impi,partner_impu,primary_impi,primary_impu,primary_realm\n' +
      'a@partner.example,sip:a@partner.example,a@primary.example,sip:a@primary.example,primary.example\n' +
      'b@partner.example,mailto:b,b@primary.example,sip:b@primary.example,primary.example\n' +
      'c@partner.example,sip:c@partner.example,a@primary.example,sip:c@primary.example,primary.example\n');
    const { code, out } = await run(['mms', '--role', 'partner', ...NODE, ...tls, '--mappings', join(dir, 'bad.csv'), '--state-dir', join(dir, 'state')]);
    assert.equal(code, 2, out);
    assert.match(out, /--mappings .*bad\.csv:\n {2}line 3: partner_impu: must be a sip:, sips: or tel: URI\n {2}line 4: primary_impi: a@primary\.example is already mapped from a@partner\.example/);
    assert.doesNotMatch(out, /mms: listening/);
  });

  test('unreadable TLS files are each named with the reason, exit 2', async () => {
    const { code, out } = await run(['relay', ...NODE, '--tls-cert', join(dir, 'missing.pem'), '--tls-key', join(dir, 'x'), '--tls-ca', join(dir, 'y')]);
    assert.equal(code, 2);
    for (const f of ['--tls-cert .*missing\\.pem', '--tls-key .*x', '--tls-ca .*y']) assert.match(out, new RegExp(`${f}: ENOENT`));
  });
});
