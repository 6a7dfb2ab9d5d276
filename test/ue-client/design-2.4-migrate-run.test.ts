/**
 * `mcx ue migrate` (runMigrate) and its HTTPS client against stand-in servers, without the testbed: trust is per
 * system (a partner-PKI certificate at the primary IdMS's address gets nothing, not even a request); an IdM timeout
 * exits 5 naming the request and the deadline, and the deadline is overall (a server trickling bytes does not keep a
 * request alive); answers are limited to 1 MiB; the migration configuration carries only its six fields; an
 * interruption during the IdM steps abandons the request and exits 130; exit statuses per IdM failure as the help
 * says them (refused grant/token 3, an ID token the UE rejects 4, timeout 5).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { access, readFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { caPaths, certPaths } from '../../certs/layout.ts';
import { IdmClientError, requestMigration } from '../../ue-client/idm-client.ts';
import { MAX_BODY_BYTES, httpsRequest } from '../../ue-client/idm/http.ts';
import { parseMigrateOptions } from '../../ue-client/migrate-options.ts';
import { idmExitStatus, runMigrate, type MigrateReport } from '../../ue-client/migrate-run.ts';
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

  test('an IdMS that never answers: exit 5 within the deadline, naming the request and how long it waited', async () => {
    const silent = await serve('primary', () => undefined);
    const r = await migrate(silent.url, { timeout: '1' });
    assert.equal(r.status, 5, r.err.join('\n'));
    assert.deepEqual(r.err, [`ue migrate failed at login: ERR_IDM_TIMEOUT: GET ${silent.url}/.well-known/openid-configuration: no complete answer within 1 s`]);
    assert.ok(r.ms < 3000, `${r.ms} ms`);
  });

  test('SIGINT during the IdM steps (stop): the request is abandoned at once, UE_INTERRUPTED, exit 130, the ladder says so', async () => {
    // The stop comes while the request hangs at the IdMS: once the IdMS has it, not after a guessed delay.
    let arrived: () => void = () => undefined;
    const hanging = new Promise<void>((resolve) => (arrived = resolve));
    const silent = await serve('primary', () => arrived());
    const r = await migrate(silent.url, { json: true }, hanging);
    assert.equal(r.status, 130, r.err.join('\n'));
    assert.ok(r.ms < 2000, `${r.ms} ms`);
    assert.equal(r.out.length, 1, 'one JSON report');
    const report = JSON.parse(r.out[0] ?? '') as MigrateReport;
    assert.equal(report.error?.code, 'UE_INTERRUPTED');
    assert.equal(report.failedStep, 'login');
    assert.match(report.ladder.at(-1) ?? '', /UE ← primary IdMS {2}failed — interrupted/);
  });

  test('an unreadable --partner-ca ends the run before anything is sent (exit 2)', async () => {
    const idms = await serve('primary', (_req, res) => res.writeHead(500).end());
    await assert.rejects(migrate(idms.url, { 'partner-ca': [join(tmp.dir, 'missing.pem')] }), /--partner-ca .*missing\.pem: ENOENT/);
    assert.deepEqual(idms.requests, []);
  });

  test('the deadline is for the whole request: a server trickling a byte every 100 ms is cut off (the socket never idles)', async () => {
    const trickle = await serve('primary', (_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      const t = setInterval(() => res.write(' '), 100);
      res.on('close', () => clearInterval(t));
    });
    const t0 = Date.now();
    await assert.rejects(httpsRequest(new URL(`${trickle.url}/slow`), { method: 'GET' }, { ca: pki.ca.primary, timeoutMs: 600 }),
      (e: unknown) => e instanceof IdmClientError && e.code === 'ERR_IDM_TIMEOUT' && e.message === `GET ${trickle.url}/slow: no complete answer within 0.6 s`);
    const ms = Date.now() - t0;
    assert.ok(ms >= 550 && ms < 2000, `${ms} ms`);
  });

  test(`an answer larger than ${MAX_BODY_BYTES} bytes is refused (ERR_IDM_PROTOCOL) without reading it all`, async () => {
    const huge = await serve('primary', (_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(Buffer.alloc(2 * MAX_BODY_BYTES, 0x20));
    });
    await assert.rejects(httpsRequest(new URL(`${huge.url}/big`), { method: 'GET' }, { ca: pki.ca.primary }),
      (e: unknown) => e instanceof IdmClientError && e.code === 'ERR_IDM_PROTOCOL' && /GET .*\/big: HTTP 200 body larger than 1048576 bytes/.test(e.message));
    const ok = await httpsRequest(new URL(`${huge.url}/big`), { method: 'GET' }, { ca: pki.ca.primary }).catch((e: unknown) => e);
    assert.ok(ok instanceof IdmClientError, 'the limit holds every time');
  });

  test('the migration configuration is the six known fields: anything else the MMS sends (tokens, primary identities) is dropped', async () => {
    const mms = await serve('partner', (_req, res) => {
      res.writeHead(201, { 'content-type': 'application/json' }).end(JSON.stringify({
        id: 'c1', partner_impi: 'mig-1@partner.example', partner_impus: ['sip:mig-1@partner.example'], domain: 'partner.example',
        registrar: 'sip:127.0.0.1:5060;transport=udp', expires_at: '2030-01-01T00:00:00.000Z',
        access_token: 'leaked-token', primary_impi: 'alice@primary.example',
      }));
    });
    const c = await requestMigration({ mms: mms.url, accessToken: 't', ca: pki.ca.partner });
    assert.deepEqual(Object.keys(c).sort(), ['domain', 'expires_at', 'id', 'partner_impi', 'partner_impus', 'registrar']);
    assert.ok(!JSON.stringify(c).includes('leaked-token') && !JSON.stringify(c).includes('alice@primary'));
  });
});

test('exit status per IdM failure, as `mcx ue migrate --help` says: refused password/grant/token 3, server refusal or fault 4, timeout 5, transport 6', () => {
  const oauth = (error: string): IdmClientError => new IdmClientError('ERR_IDM_OAUTH', error, { error });
  assert.equal(idmExitStatus(new IdmClientError('ERR_IDM_LOGIN', 'x')), 3);
  assert.equal(idmExitStatus(oauth('invalid_grant')), 3);
  assert.equal(idmExitStatus(oauth('invalid_token')), 3);
  assert.equal(idmExitStatus(oauth('migration_not_allowed')), 4);
  assert.equal(idmExitStatus(oauth('invalid_target')), 4);
  assert.equal(idmExitStatus(new IdmClientError('ERR_IDM_TOKEN', 'ID token rejected')), 4, 'the UE rejecting the server\'s ID token is a server fault');
  assert.equal(idmExitStatus(new IdmClientError('ERR_IDM_PROTOCOL', 'x')), 4);
  assert.equal(idmExitStatus(new IdmClientError('ERR_IDM_TIMEOUT', 'x')), 5);
  assert.equal(idmExitStatus(new IdmClientError('ERR_IDM_TRANSPORT', 'x')), 6);
});
