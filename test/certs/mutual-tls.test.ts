/**
 * The PKI in use: node:tls servers and clients with mutual authentication on 127.0.0.1, within one system and
 * across the two, as the roles will run them.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect, createServer, type ConnectionOptions, type TlsOptions } from 'node:tls';
import type { AddressInfo } from 'node:net';
import { initPki } from '../../certs/issue.ts';
import { loadTlsMaterial, signingPaths, type TlsMaterial } from '../../certs/layout.ts';

const PRIMARY = 'ims.primary.example';
const PARTNER = 'ims.partner.example';
/**
 * How OpenSSL names a chain ending in a CA it does not trust. A peer whose `ca` list holds its own root sends that
 * root along (OpenSSL builds the chain from the same store), hence "self-signed in chain" rather than "no issuer".
 */
const UNTRUSTED = /^(SELF_SIGNED_CERT_IN_CHAIN|UNABLE_TO_GET_ISSUER_CERT_LOCALLY)$/;

let root: string;
let dir: string;

interface Outcome {
  /** The server completed a handshake and the client read its greeting. */
  ok: boolean;
  /** CN of the client certificate, as the server saw it. */
  clientCn?: string;
  serverError?: string;
  clientError?: string;
  /** Why the server would refuse the client certificate (only seen when `rejectUnauthorized` is off). */
  authorizationError?: string;
}

/**
 * One connection from a client to a mutual-auth server (requestCert, rejectUnauthorized on both sides). Waits for
 * both ends to settle: with TLS 1.3 the client finishes its side before the server judges the client certificate.
 * Node's server destroys a refused connection without saying why (the client sees a reset), so
 * `serverReject: false` lets the handshake through to read `authorizationError` instead.
 */
async function handshake(server: TlsOptions, client: ConnectionOptions, serverReject = true): Promise<Outcome> {
  const srv = createServer({ ...server, requestCert: true, rejectUnauthorized: serverReject });
  const serverSide = new Promise<{ cn?: string; error?: string; authz?: string }>((resolve) => {
    srv.once('secureConnection', (sock) => {
      const cn = sock.getPeerCertificate().subject?.CN;
      const authz = sock.authorizationError === null ? undefined : String(sock.authorizationError);
      sock.end('hello');
      resolve({ cn: Array.isArray(cn) ? cn.join(',') : cn, authz });
    });
    srv.once('tlsClientError', (err: NodeJS.ErrnoException) => resolve({ error: err.code ?? err.message }));
  });
  await new Promise<void>((resolve) => srv.listen(0, '127.0.0.1', resolve));
  const { port } = srv.address() as AddressInfo;
  const clientSide = new Promise<{ data: string; error?: string }>((resolve) => {
    const sock = connect({ host: '127.0.0.1', port, rejectUnauthorized: true, ...client });
    let data = '';
    sock.setEncoding('utf8');
    sock.on('data', (d: string) => (data += d));
    sock.once('error', (err: NodeJS.ErrnoException) => resolve({ data, error: err.code ?? err.message }));
    sock.once('close', () => resolve({ data }));
  });
  const timeout = new Promise<never>((_, reject) => setTimeout(() => reject(new Error('handshake timed out')), 5000).unref());
  try {
    const [s, c] = await Promise.race([Promise.all([serverSide, clientSide]), timeout]);
    const out: Outcome = { ok: s.error === undefined && c.error === undefined && c.data === 'hello' };
    if (s.cn !== undefined) out.clientCn = s.cn;
    if (s.error !== undefined) out.serverError = s.error;
    if (c.error !== undefined) out.clientError = c.error;
    if (s.authz !== undefined) out.authorizationError = s.authz;
    return out;
  } finally {
    await new Promise<void>((resolve) => srv.close(() => resolve()));
  }
}

/** `node:tls` options from a role's material. */
function opts(m: TlsMaterial): { cert: string; key: string; ca: string[] } {
  return { cert: m.cert, key: m.key, ca: m.ca };
}

before(async () => {
  root = await mkdtemp(join(tmpdir(), 'mcx-mtls-'));
  dir = join(root, 'pki');
  await initPki({ dir, systems: [{ name: 'primary', realm: PRIMARY }, { name: 'partner', realm: PARTNER }] });
});

after(async () => {
  await rm(root, { recursive: true, force: true });
});

describe('mutual TLS within one system', () => {
  test('relay → hss: both certificates verify and the client checks the host name hss.<realm>', async () => {
    const hss = await loadTlsMaterial(dir, 'primary', 'hss');
    const relay = await loadTlsMaterial(dir, 'primary', 'relay');
    const r = await handshake(opts(hss), { ...opts(relay), servername: `hss.${PRIMARY}` });
    assert.deepEqual(r, { ok: true, clientCn: `relay.${PRIMARY}` });
  });

  test('the IP SAN 127.0.0.1 verifies when no server name is given', async () => {
    const reg = await loadTlsMaterial(dir, 'partner', 'registrar');
    const mms = await loadTlsMaterial(dir, 'partner', 'mms');
    const r = await handshake(opts(mms), opts(reg));
    assert.equal(r.ok, true, JSON.stringify(r));
  });

  test('the client refuses a server whose certificate is for another host name', async () => {
    const hss = await loadTlsMaterial(dir, 'primary', 'hss');
    const relay = await loadTlsMaterial(dir, 'primary', 'relay');
    const r = await handshake(opts(hss), { ...opts(relay), servername: `mms.${PRIMARY}` });
    assert.equal(r.ok, false);
    assert.equal(r.clientError, 'ERR_TLS_CERT_ALTNAME_INVALID');
  });

  test('the server refuses a client without a certificate', async () => {
    const hss = await loadTlsMaterial(dir, 'primary', 'hss');
    const r = await handshake(opts(hss), { ca: hss.ca, servername: `hss.${PRIMARY}` });
    assert.equal(r.ok, false);
    assert.ok(r.serverError, JSON.stringify(r));
  });
});

describe('mutual TLS across systems', () => {
  test('a partner client is refused by a primary server that trusts only its own CA', async () => {
    const primaryMms = await loadTlsMaterial(dir, 'primary', 'mms');
    // The client trusts the primary CA, so only the server's judgement of the client certificate is under test.
    const partnerMms = await loadTlsMaterial(dir, 'partner', 'mms', ['primary']);
    const client = { ...opts(partnerMms), servername: `mms.${PRIMARY}` };
    const r = await handshake(opts(primaryMms), client);
    assert.equal(r.ok, false, JSON.stringify(r));
    assert.equal(r.clientCn, undefined, 'the server accepted the connection');
    assert.ok(r.serverError, JSON.stringify(r));
    const why = await handshake(opts(primaryMms), client, false);
    assert.match(why.authorizationError ?? '', UNTRUSTED, JSON.stringify(why));
  });

  test('the same client is accepted once the server trusts the partner CA as well', async () => {
    const primaryMms = await loadTlsMaterial(dir, 'primary', 'mms', ['partner']);
    assert.equal(primaryMms.ca.length, 2);
    const partnerMms = await loadTlsMaterial(dir, 'partner', 'mms', ['primary']);
    const r = await handshake(opts(primaryMms), { ...opts(partnerMms), servername: `mms.${PRIMARY}` });
    assert.deepEqual(r, { ok: true, clientCn: `mms.${PARTNER}` });
  });

  test('a partner client that trusts only its own CA refuses the primary server', async () => {
    const primaryMms = await loadTlsMaterial(dir, 'primary', 'mms', ['partner']);
    const partnerMms = await loadTlsMaterial(dir, 'partner', 'mms');
    const r = await handshake(opts(primaryMms), { ...opts(partnerMms), servername: `mms.${PRIMARY}` });
    assert.equal(r.ok, false);
    assert.match(r.clientError ?? '', UNTRUSTED, JSON.stringify(r));
  });

  test('the IdMS signing certificate is refused as a TLS server certificate, even with host names unchecked', async () => {
    const p = signingPaths(dir, 'primary');
    const relay = await loadTlsMaterial(dir, 'primary', 'relay');
    const server = { cert: await readFile(p.cert, 'utf8'), key: await readFile(p.key, 'utf8'), ca: relay.ca };
    const r = await handshake(server, { ...opts(relay), checkServerIdentity: () => undefined });
    assert.equal(r.ok, false);
    assert.equal(r.clientError, 'INVALID_PURPOSE');
  });
});
