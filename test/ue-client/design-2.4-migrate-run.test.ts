/**
 * `mcx ue migrate` (runMigrate) against stand-in servers, without the testbed: trust is per system (a partner-PKI
 * certificate at the primary IdMS's address gets nothing, not even a request), and every CA file is read before the
 * first request.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { access, readFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { caPaths, certPaths } from '../../certs/layout.ts';
import { parseMigrateOptions } from '../../ue-client/migrate-options.ts';
import { runMigrate } from '../../ue-client/migrate-run.ts';
import { makePki, type TestPki } from '../idms/helpers.ts';
import { tempDir } from './fixture.ts';

const K = '000102030405060708090a0b0c0d0e0f';
const OP = 'f0e0d0c0b0a090807060504030201000';

/** A stand-in HTTPS server on 127.0.0.1 with `system`'s IdMS certificate; `handle` answers (or does not). */
interface StandIn {
  url: string;
  /** Requests that got as far as HTTP (past the TLS handshake). */
  requests: string[];
  close(): Promise<void>;
}

async function standIn(pki: TestPki, system: 'primary' | 'partner', handle: Parameters<typeof createServer>[1]): Promise<StandIn> {
  const paths = certPaths(pki.dir, system, 'idms');
  const requests: string[] = [];
  const server: Server = createServer({ cert: await readFile(paths.cert), key: await readFile(paths.key) }, (req, res) => {
    requests.push(`${req.method} ${req.url}`);
    handle?.(req, res);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  return {
    url: `https://127.0.0.1:${(server.address() as AddressInfo).port}`,
    requests,
    close: () => new Promise((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    }),
  };
}

describe('mcx ue migrate against stand-in servers', () => {
  let pki: TestPki;
  let tmp: Awaited<ReturnType<typeof tempDir>>;
  const servers: StandIn[] = [];
  const ca = (system: 'primary' | 'partner'): string => caPaths(pki.dir, system).cert;

  before(async () => {
    pki = await makePki();
    tmp = await tempDir('mcx-ue-migrate-run-');
  });
  after(async () => {
    await Promise.all(servers.map((s) => s.close()));
    await tmp?.remove();
    await pki?.remove();
  });

  const serve = async (system: 'primary' | 'partner', handle?: Parameters<typeof createServer>[1]): Promise<StandIn> => {
    const s = await standIn(pki, system, handle);
    servers.push(s);
    return s;
  };

  /** runMigrate with `primary` as the primary IdMS (the partner side is never reached in these runs). */
  const migrate = async (primary: string, extra: Record<string, unknown> = {}, stop?: Promise<unknown>) => {
    const cfg = await parseMigrateOptions({
      'primary-idms': primary, 'partner-idms': 'https://127.0.0.1:9', 'partner-mms': 'https://127.0.0.1:9', username: 'alice', password: 'alice-secret',
      'isim-state': join(tmp.dir, 'alice.json'), k: K, op: OP, 'isim-impi': 'alice@primary.example', 'primary-ca': [ca('primary')], 'partner-ca': [ca('partner')],
      ...extra,
    });
    const out: string[] = [];
    const err: string[] = [];
    const t0 = Date.now();
    const status = await runMigrate(cfg, { out: (l) => out.push(l), err: (l) => err.push(l) }, stop);
    return { status, out, err, ms: Date.now() - t0 };
  };

  test('a partner-PKI certificate at the primary IdMS\'s address is refused before any request (no password leaves); trusted, it would have been asked', async () => {
    const impostor = await serve('partner', (_req, res) => res.writeHead(404).end());
    const r = await migrate(impostor.url);
    assert.equal(r.status, 6, r.err.join('\n'));
    assert.match(r.err.join('\n'), /^ue migrate failed at login: ERR_IDM_TRANSPORT: /);
    assert.deepEqual(impostor.requests, [], 'the TLS handshake failed: nothing was sent');
    // Control: had the partner CA been trusted for the primary IdMS (the old --tls-ca), the impostor is talked to.
    const trusting = await migrate(impostor.url, { 'primary-ca': [ca('partner')] });
    assert.notEqual(trusting.status, 0);
    assert.deepEqual(impostor.requests, ['GET /.well-known/openid-configuration']);
    await assert.rejects(access(join(tmp.dir, 'alice.json.lock')), /ENOENT/, 'each run closed its ISIM');
  });

  test('an unreadable --partner-ca ends the run before anything is sent (exit 2)', async () => {
    const idms = await serve('primary', (_req, res) => res.writeHead(500).end());
    await assert.rejects(migrate(idms.url, { 'partner-ca': [join(tmp.dir, 'missing.pem')] }), /--partner-ca .*missing\.pem: ENOENT/);
    assert.deepEqual(idms.requests, []);
  });
});
