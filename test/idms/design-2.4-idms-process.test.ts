/**
 * DESIGN §2.4 end to end with real processes: `mcx idms --role primary` and `--role partner` on loopback HTTPS with
 * the PKI of `initPki`, a user provisioned with `mcx idms user add` through the admin API, then the UE's path of
 * TS 33.180 Annex C.2 (login, token exchange, jwt-bearer) and the partner MMS's check; both stop on SIGTERM. The
 * processes' output must never contain the password or a token.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { request as httpRequest } from 'node:http';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { caPaths, certPaths, signingPaths, trustedSigningCertPath } from '../../certs/layout.ts';
import { verifyPartnerAccessToken } from '../../lib/idm/access-token.ts';
import { exchangeToken, jwtBearer, login } from '../../ue-client/idm-client.ts';
import { freePorts } from '../helpers/ports.ts';
import { startMcx, type Proc } from '../helpers/process.ts';
import { ALICE, CLIENT_ID, PARTNER_MMS, REDIRECT_URI, SCOPE, makePki, type TestPki } from './helpers.ts';

let pki: TestPki;
let work: string;
let primary: Proc;
let partner: Proc;
let ports: number[];
const issuer = { primary: '', partner: '' };
let adminUrl = '';

async function run(args: string[]): Promise<{ code: number | null; out: string }> {
  const p = startMcx(args);
  const code = await p.exited;
  return { code, out: p.output() };
}

before(async () => {
  pki = await makePki();
  work = await mkdtemp(join(tmpdir(), 'mcx-idms-proc-'));
  ports = await freePorts(3);
  const [pp, qp, ap] = ports as [number, number, number];
  issuer.primary = `https://127.0.0.1:${pp}`;
  issuer.partner = `https://localhost:${qp}`;
  const tls = (s: string) => ['--tls-cert', certPaths(pki.dir, s, 'idms').cert, '--tls-key', certPaths(pki.dir, s, 'idms').key,
    '--signing-key', signingPaths(pki.dir, s).key, '--signing-cert', signingPaths(pki.dir, s).cert];
  primary = startMcx(['idms', '--role', 'primary', '--listen', `127.0.0.1:${pp}`, '--issuer', issuer.primary, ...tls('primary'),
    '--partner', `partner=${issuer.partner}`, '--state-dir', join(work, 'primary'), '--admin', `127.0.0.1:${ap}`]);
  partner = startMcx(['idms', '--role', 'partner', '--listen', `127.0.0.1:${qp}`, '--issuer', issuer.partner, ...tls('partner'),
    '--trusted-issuer', issuer.primary, '--trust-cert', trustedSigningCertPath(pki.dir, 'partner'), '--resource', PARTNER_MMS,
    '--state-dir', join(work, 'partner')]);
  const m = await primary.waitFor(/idms: listening (https:\/\/\S+) role=primary issuer=(\S+) admin=(https:\/\/\S+)/);
  assert.equal(m[2], issuer.primary);
  adminUrl = m[3] as string;
  await partner.waitFor(/idms: listening https:\/\/\S+ role=partner issuer=\S+\n/);
});

after(async () => {
  await primary?.stop('SIGKILL');
  await partner?.stop('SIGKILL');
  await pki?.remove();
  if (work) await rm(work, { recursive: true, force: true });
});

describe('mcx idms as processes', () => {
  test('mcx idms user add provisions through the admin API; a bad mcptt_id is a usage error', async () => {
    const pw = join(work, 'alice.pw');
    await writeFile(pw, `${ALICE.password}\n`, { mode: 0o600 });
    const common = ['--admin', adminUrl, '--tls-ca', caPaths(pki.dir, 'primary').cert, '--admin-token-file', join(work, 'primary', 'admin-token')];
    const added = await run(['idms', 'user', 'add', ...common, '--username', ALICE.username, '--password-file', pw, '--mcptt-id', ALICE.mcpttId]);
    assert.equal(added.code, 0, added.out);
    const user = JSON.parse(added.out.trim().split('\n').pop() as string) as Record<string, string>;
    assert.equal(user.username, ALICE.username);
    assert.equal(user.mcptt_id, ALICE.mcpttId);
    assert.equal(user.password_hash, undefined);
    const bad = await run(['idms', 'user', 'add', ...common, '--username', 'bob', '--password', 'bob-secret-1', '--mcptt-id', 'has space']);
    assert.equal(bad.code, 2, bad.out);
    assert.match(bad.out, /mcptt_id/);
    const list = await run(['idms', 'user', 'list', ...common]);
    assert.equal(list.out.trim().split('\n').length, 1);
  });

  test('C.2: login at the primary, token exchange, jwt-bearer at the partner, checked as the partner MMS would', async () => {
    const s = await login({ issuer: issuer.primary, clientId: CLIENT_ID, redirectUri: REDIRECT_URI, scope: SCOPE, ca: pki.ca.primary, username: ALICE.username, password: ALICE.password });
    assert.equal(s.idTokenClaims.mcptt_id, ALICE.mcpttId);
    const st = await exchangeToken({ primaryIssuer: issuer.primary, accessToken: s.accessToken, partnerIssuer: issuer.partner, clientId: CLIENT_ID, ca: pki.ca.primary });
    const pat = await jwtBearer({ partnerIssuer: issuer.partner, assertion: st.securityToken, scope: '3gpp:mc:migration', clientId: CLIENT_ID, ca: pki.ca.partner });
    const claims = await verifyPartnerAccessToken(pat.accessToken, {
      issuer: issuer.partner, audience: PARTNER_MMS, key: { cert: await readFile(signingPaths(pki.dir, 'partner').cert, 'utf8') }, requiredScopes: ['3gpp:mc:migration'],
    });
    assert.equal(claims.mcptt_id, ALICE.mcpttId);
    assert.equal(claims.primary_iss, issuer.primary);
    const logs = primary.output() + partner.output();
    for (const secret of [ALICE.password, s.accessToken, s.refreshToken as string, s.idToken, st.securityToken, pat.accessToken]) {
      assert.ok(!logs.includes(secret), 'no password or token in the logs');
    }
    assert.match(primary.output(), /C\.2 step 6b/);
    assert.match(partner.output(), /C\.2 step 8b/);
  });

  test('HTTPS only: a plain HTTP request to the IdMS port gets no HTTP answer', async () => {
    const outcome = await new Promise<string>((resolve) => {
      const req = httpRequest(`http://127.0.0.1:${ports[0]}/.well-known/openid-configuration`, { timeout: 3000 }, (res) => resolve(`HTTP ${res.statusCode}`));
      req.on('error', (e) => resolve(`error ${e.message}`));
      req.on('timeout', () => req.destroy(new Error('timeout')));
      req.end();
    });
    assert.match(outcome, /^error/);
  });

  test('SIGTERM stops both gracefully', async () => {
    assert.equal(await primary.stop('SIGTERM'), 0);
    assert.equal(await partner.stop('SIGTERM'), 0);
    assert.match(primary.output(), /idms: stopped/);
    assert.match(partner.output(), /idms: stopped/);
  });
});

describe('mcx idms configuration errors exit 2 naming the option', () => {
  test('a partner without trust material, a primary with it, an http issuer', async () => {
    const base = ['idms', '--tls-cert', 'a', '--tls-key', 'b', '--signing-key', 'c', '--signing-cert', 'd'];
    // Independent processes: run them side by side.
    const [p, q, r, f] = await Promise.all([
      run([...base, '--role', 'partner', '--issuer', 'https://idms.partner.example']),
      run([...base, '--role', 'primary', '--issuer', 'https://idms.primary.example', '--trusted-issuer', 'https://x.example', '--partner', 'oops']),
      run([...base, '--role', 'primary', '--issuer', 'http://idms.primary.example']),
      run([...base, '--role', 'primary', '--issuer', 'https://idms.primary.example', '--state-dir', join(work, 'x')]),
    ]);
    assert.equal(p.code, 2);
    assert.match(p.out, /--trusted-issuer: a partner IdMS needs/);
    assert.match(p.out, /--trust-cert: a partner IdMS needs/);
    assert.equal(q.code, 2);
    assert.match(q.out, /--partner\.0: expected NAME=ISSUER_URL/);
    assert.equal(r.code, 2);
    assert.match(r.out, /--issuer: must be an https:\/\/ URL/);
    assert.equal(f.code, 2);
    assert.match(f.out, /--tls-cert a: ENOENT/);
  });
});
