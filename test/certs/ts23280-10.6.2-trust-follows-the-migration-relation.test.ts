/**
 * `mcx certs init` with several partner systems (TS 23.280 §10.6.2.1: "for each partner MC system"): trust is written
 * only where migration needs it — the primary trusts every partner, each partner trusts the primary (its CA and the
 * primary IdMS signing certificate), partners do not trust each other unless `--trust a=b` asks for it. Checked on
 * disk, in the manifest, and by a real mutual-TLS handshake with the trust a partner role loads.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect, createServer, type TLSSocket } from 'node:tls';
import { promisify } from 'node:util';
import { initPki } from '../../certs/issue.ts';
import { loadTlsMaterial, peerCaPath, readManifest, trustedSigningCertPath, type TlsMaterial } from '../../certs/layout.ts';
import { NODE, ROOT } from '../helpers/process.ts';

const run = promisify(execFile);
const SYSTEMS = [
  { name: 'primary', realm: 'primary.mcx.test' },
  { name: 'partner-a', realm: 'partner-a.mcx.test' },
  { name: 'partner-b', realm: 'partner-b.mcx.test' },
];

/** Whether a server holding `server` material completes mutual TLS with a client holding `client` material. */
async function handshake(server: TlsMaterial, client: TlsMaterial): Promise<boolean> {
  const srv = createServer({ cert: server.cert, key: server.key, ca: server.ca, requestCert: true, rejectUnauthorized: true }, (s) => {
    s.end('ok');
  });
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const port = (srv.address() as { port: number }).port;
  try {
    return await new Promise<boolean>((resolve) => {
      const sock: TLSSocket = connect({ host: '127.0.0.1', port, cert: client.cert, key: client.key, ca: client.ca, servername: 'localhost' });
      let got = '';
      sock.on('data', (d: Buffer) => (got += d.toString()));
      sock.on('end', () => resolve(got === 'ok'));
      sock.on('error', () => resolve(false));
      sock.on('close', () => resolve(got === 'ok'));
    });
  } finally {
    await new Promise<void>((r) => srv.close(() => r()));
  }
}

describe('TS 23.280 §10.6.2.1 several partner systems: trust follows the migration relation', () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'mcx-trust-'));
  });
  after(async () => rm(dir, { recursive: true, force: true }));

  test('by default: primary ↔ each partner, never partner ↔ partner; the signing certificate only to partners', async () => {
    const pki = join(dir, 'default');
    await initPki({ dir: pki, systems: SYSTEMS });
    const m = await readManifest(pki);
    const trustOf = (name: string) => m.systems.find((s) => s.name === name)?.trust;
    assert.deepEqual(Object.keys(trustOf('primary')?.ca ?? {}).sort(), ['partner-a', 'partner-b']);
    assert.deepEqual(Object.keys(trustOf('partner-a')?.ca ?? {}), ['primary']);
    assert.deepEqual(Object.keys(trustOf('partner-b')?.ca ?? {}), ['primary']);
    assert.deepEqual(Object.keys(trustOf('primary')?.idmsSigning ?? {}), []);
    assert.deepEqual(Object.keys(trustOf('partner-a')?.idmsSigning ?? {}), ['primary']);
    assert.ok(!existsSync(peerCaPath(pki, 'partner-a', 'partner-b')), 'partner A holds no copy of partner B\'s CA');
    assert.ok(!existsSync(peerCaPath(pki, 'partner-b', 'partner-a')));
    assert.ok(existsSync(trustedSigningCertPath(pki, 'partner-b')));

    // An MMS trusting everything its system was given lets the primary in and keeps the other partner out.
    const trusted = async (system: string) => loadTlsMaterial(pki, system, 'mms', Object.keys(m.systems.find((s) => s.name === system)?.trust.ca ?? {}));
    const [a, primaryMms, b] = await Promise.all([trusted('partner-a'), trusted('primary'), trusted('partner-b')]);
    assert.equal(await handshake(a, primaryMms), true, 'positive control: the primary MMS reaches partner A');
    assert.equal(await handshake(primaryMms, b), true, 'positive control: partner B reaches the primary MMS');
    assert.equal(await handshake(a, b), false, 'partner B\'s certificate is refused by partner A');
    assert.equal(await handshake(b, a), false, 'and the other way round');
  });

  test('--trust partner-a=partner-b: both trust each other (mutual TLS needs both directions)', async () => {
    const pki = join(dir, 'asked');
    await initPki({ dir: pki, systems: SYSTEMS, trust: [['partner-a', 'partner-b']] });
    const m = await readManifest(pki);
    assert.deepEqual(Object.keys(m.systems.find((s) => s.name === 'partner-a')?.trust.ca ?? {}).sort(), ['partner-b', 'primary']);
    assert.deepEqual(Object.keys(m.systems.find((s) => s.name === 'partner-b')?.trust.ca ?? {}).sort(), ['partner-a', 'primary']);
    const a = await loadTlsMaterial(pki, 'partner-a', 'mms', ['primary', 'partner-b']);
    const b = await loadTlsMaterial(pki, 'partner-b', 'mms', ['primary', 'partner-a']);
    assert.equal(await handshake(a, b), true);
  });

  test('mcx certs init --trust with an unknown system or the same one twice exits 2 naming --trust; nothing is written', async () => {
    for (const bad of ['partner-a=partner-c', 'partner-a=partner-a', 'partner-a']) {
      const out = join(dir, `bad-${bad.replace(/\W/g, '')}`);
      const args = ['bin/mcx.mjs', 'certs', 'init', '--dir', out, ...SYSTEMS.flatMap((s) => ['--system', `${s.name}=${s.realm}`]), '--trust', bad];
      const r = await run(NODE, args, { cwd: ROOT }).then(() => ({ code: 0, stderr: '' }), (e: { code: number; stderr: string }) => e);
      assert.equal(r.code, 2, bad);
      assert.match(r.stderr, /--trust/, bad);
      assert.ok(!existsSync(out), `${bad}: nothing written`);
    }
  });
});
