/**
 * TS 33.180 §5.1.2 / Annex B.4, B.5 (user authentication): OIDC authorization code flow with PKCE (RFC 7636, S256
 * only) at the primary IdMS, through our login page, with an ID token and a JWT access token carrying `mcptt_id`,
 * `scope` and `client_id`; refresh tokens (B.5). Tokens are checked with the signing certificate from the PKI files,
 * not with the IdMS's own code.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { decodeProtectedHeader, jwtVerify } from 'jose';
import { signingPaths } from '../../certs/layout.ts';
import {
  authorizeWithPassword, createPkce, discover, login, redeemCode, refresh, type IdmClientError,
} from '../../ue-client/idm-client.ts';
import { CookieJar, httpsRequest } from '../../ue-client/idm/http.ts';
import { ALICE, CLIENT_ID, REDIRECT_URI, SCOPE, makePki, pkiFile, postToken, startPair, type Pair, type TestPki } from './helpers.ts';

let pki: TestPki;
let pair: Pair;
let primaryKey: X509Certificate;

const base = () => ({ issuer: pair.primary.issuer, clientId: CLIENT_ID, redirectUri: REDIRECT_URI, scope: SCOPE, ca: pki.ca.primary });
const oauth = (error: string) => (e: unknown): boolean => {
  const x = e as IdmClientError;
  assert.equal(x.code, 'ERR_IDM_OAUTH', x.message);
  assert.equal(x.error, error, x.message);
  return true;
};

before(async () => {
  pki = await makePki();
  pair = await startPair(pki);
  primaryKey = new X509Certificate(await pkiFile(signingPaths(pki.dir, 'primary').cert));
});
after(async () => {
  await pair?.close();
  await pki?.remove();
});

describe('B.4 code flow happy path', () => {
  test('login yields an ID token and a JWT access token with mcptt_id, scope, client_id, signed by the primary signing key', async () => {
    const r = await login({ ...base(), username: ALICE.username, password: ALICE.password });
    const user = await pair.primary.users.get(ALICE.username);
    assert.ok(user);
    const id = (await jwtVerify(r.idToken, primaryKey.publicKey, { issuer: pair.primary.issuer, audience: CLIENT_ID, algorithms: ['RS256'] })).payload;
    assert.equal(id.sub, user.sub);
    assert.equal(id.mcptt_id, ALICE.mcpttId);
    assert.equal(id.acr, '3gpp:acr:password');
    assert.deepEqual(id.amr, ['pwd']);
    assert.equal(typeof id.auth_time, 'number');
    assert.deepEqual(r.idTokenClaims.sub, user.sub);

    assert.equal(r.tokenType, 'Bearer');
    const header = decodeProtectedHeader(r.accessToken);
    assert.equal(header.alg, 'RS256');
    assert.equal(header.typ, 'at+jwt');
    const at = (await jwtVerify(r.accessToken, primaryKey.publicKey, { issuer: pair.primary.issuer, typ: 'at+jwt', algorithms: ['RS256'] })).payload;
    assert.equal(at.sub, user.sub);
    assert.equal(at.mcptt_id, ALICE.mcpttId);
    assert.equal(at.client_id, CLIENT_ID);
    assert.equal(at.scope, '3gpp:mc:ptt_service 3gpp:mc:migration');
    assert.equal(at.aud, `${pair.primary.issuer}/mc-services`);
    assert.ok(typeof at.exp === 'number' && typeof at.iat === 'number' && at.exp - at.iat === 900);
    assert.ok(r.refreshToken, 'a refresh token is issued (B.4.2.5)');
  });

  test('discovery advertises S256 only and the token exchange grant; the JWKS carries the signing certificate', async () => {
    const d = await discover(pair.primary.issuer, { ca: pki.ca.primary });
    assert.deepEqual(d.code_challenge_methods_supported, ['S256']);
    assert.ok(d.grant_types_supported?.includes('urn:ietf:params:oauth:grant-type:token-exchange'));
    assert.ok(!d.grant_types_supported?.includes('urn:ietf:params:oauth:grant-type:jwt-bearer'));
    const p = await discover(pair.partner.issuer, { ca: pki.ca.partner });
    assert.ok(p.grant_types_supported?.includes('urn:ietf:params:oauth:grant-type:jwt-bearer'));
      const jwks = JSON.parse((await httpsRequest(new URL(d.jwks_uri), { method: 'GET' }, { ca: pki.ca.primary })).body) as { keys: Array<Record<string, unknown>> };
    assert.equal(jwks.keys.length, 1);
    const k = jwks.keys[0] as { alg: string; use: string; d?: string; x5c: string[] };
    assert.equal(k.alg, 'RS256');
    assert.equal(k.use, 'sig');
    assert.equal(k.d, undefined, 'no private parts published');
    assert.equal(k.x5c[0], primaryKey.raw.toString('base64'));
  });
});

describe('RFC 7636 PKCE is enforced', () => {
  test('an authorization request without code_challenge is refused with invalid_request', async () => {
    await assert.rejects(authorizeWithPassword({ ...base(), username: ALICE.username, password: ALICE.password, pkceOverride: 'omit' }), oauth('invalid_request'));
  });

  test('code_challenge_method=plain is refused with invalid_request', async () => {
    const { verifier } = createPkce();
    await assert.rejects(authorizeWithPassword({
      ...base(), username: ALICE.username, password: ALICE.password, pkceOverride: { challenge: verifier, method: 'plain' },
    }), oauth('invalid_request'));
  });

  test('redeeming the code without code_verifier fails with invalid_grant', async () => {
    const a = await authorizeWithPassword({ ...base(), username: ALICE.username, password: ALICE.password });
    await assert.rejects(redeemCode({ ...base(), discovery: a.discovery, code: a.code, verifier: undefined }), oauth('invalid_grant'));
  });

  test('redeeming the code with a wrong code_verifier fails with invalid_grant; the right one still works once', async () => {
    const a = await authorizeWithPassword({ ...base(), username: ALICE.username, password: ALICE.password });
    await assert.rejects(redeemCode({ ...base(), discovery: a.discovery, code: a.code, verifier: createPkce().verifier }), oauth('invalid_grant'));
    const ok = await redeemCode({ ...base(), discovery: a.discovery, code: a.code, verifier: a.verifier });
    assert.ok(ok.accessToken);
    await assert.rejects(redeemCode({ ...base(), discovery: a.discovery, code: a.code, verifier: a.verifier }), oauth('invalid_grant'));
  });
});

describe('login page', () => {
  test('a wrong password or an unknown user is rejected (ERR_IDM_LOGIN), without a code', async () => {
    for (const [username, password] of [[ALICE.username, 'wrong-password'], ['mallory', ALICE.password]] as const) {
      await assert.rejects(login({ ...base(), username, password }), (e: unknown) => (e as IdmClientError).code === 'ERR_IDM_LOGIN');
    }
  });

  test('five failed attempts on one login page end the authorization with access_denied', async () => {
    const d = await discover(pair.primary.issuer, { ca: pki.ca.primary });
    const url = new URL(d.authorization_endpoint);
    const p = createPkce();
    for (const [k, v] of Object.entries({ response_type: 'code', client_id: CLIENT_ID, redirect_uri: REDIRECT_URI, scope: SCOPE, code_challenge: p.challenge, code_challenge_method: 'S256', state: 's' })) {
      url.searchParams.set(k, v);
    }
    const jar = new CookieJar();
    const trust = { ca: pki.ca.primary };
    const first = await httpsRequest(url, { method: 'GET', jar }, trust);
    const page = new URL(first.headers.location as string, url);
    const form = await httpsRequest(page, { method: 'GET', jar, accept: 'text/html' }, trust);
    assert.equal(form.status, 200);
    const action = new URL(/action="([^"]+)"/.exec(form.body)?.[1] as string, page);
    const statuses: number[] = [];
    let last;
    for (let i = 0; i < 5; i++) {
      last = await httpsRequest(action, { method: 'POST', jar, form: { username: ALICE.username, password: `nope-${i}-xxxx` } }, trust);
      statuses.push(last.status);
    }
    assert.deepEqual(statuses, [401, 401, 401, 401, 303]);
    const resume = await httpsRequest(new URL(last?.headers.location as string, action), { method: 'GET', jar }, trust);
    const back = new URL(resume.headers.location as string);
    assert.equal(back.origin + back.pathname, REDIRECT_URI);
    assert.equal(back.searchParams.get('error'), 'access_denied');
    assert.equal(back.searchParams.get('code'), null);
  });
});

/** Follows the browser path from `start` to the redirect URI with `jar`; `submit` fills the first form met (or not). */
async function browse(start: URL, jar: CookieJar,
  submit?: (page: string) => { action: string; form: Record<string, string> }): Promise<URL> {
  let url = start;
  let form: Record<string, string> | undefined;
  for (let i = 0; i < 10; i++) {
    const res = await httpsRequest(url, { method: form ? 'POST' : 'GET', jar, accept: 'text/html', ...(form ? { form } : {}) }, { ca: pki.ca.primary });
    form = undefined;
    if (res.status === 303 || res.status === 302) {
      const to = new URL(res.headers.location as string, url);
      if (to.href.startsWith(REDIRECT_URI)) return to;
      url = to;
      continue;
    }
    assert.equal(res.status, 200, res.body);
    assert.ok(submit, 'no form expected here');
    const next = submit(res.body);
    url = new URL(next.action, url);
    form = next.form;
  }
  throw new Error('no redirect to the client');
}

async function authUrl(): Promise<URL> {
  const d = await discover(pair.primary.issuer, { ca: pki.ca.primary });
  const url = new URL(d.authorization_endpoint);
  const p = createPkce();
  for (const [k, v] of Object.entries({ response_type: 'code', client_id: CLIENT_ID, redirect_uri: REDIRECT_URI, scope: SCOPE, code_challenge: p.challenge, code_challenge_method: 'S256', state: 's' })) {
    url.searchParams.set(k, v);
  }
  return url;
}

describe('login page: session and cancel', () => {
  test('a second authorization in the same browser session needs no password (SSO; consent is implied)', async () => {
    const jar = new CookieJar();
    const loginForm = (page: string) => ({ action: /action="([^"]+\/login)"/.exec(page)?.[1] as string, form: { username: ALICE.username, password: ALICE.password } });
    const first = await browse(await authUrl(), jar, loginForm);
    assert.ok(first.searchParams.get('code'));
    const second = await browse(await authUrl(), jar);
    assert.ok(second.searchParams.get('code'), 'a code without showing the login page again');
  });

  test('Cancel on the login page ends the authorization with access_denied', async () => {
    const back = await browse(await authUrl(), new CookieJar(), (page) => ({ action: /action="([^"]+\/abort)"/.exec(page)?.[1] as string, form: {} }));
    assert.equal(back.searchParams.get('error'), 'access_denied');
    assert.match(back.searchParams.get('error_description') ?? '', /cancelled/);
  });
});

describe('B.5 refresh', () => {
  test('a refresh token yields a fresh JWT access token and is rotated; the used one is refused', async () => {
    const r = await login({ ...base(), username: ALICE.username, password: ALICE.password });
    const t = await refresh({ issuer: pair.primary.issuer, clientId: CLIENT_ID, refreshToken: r.refreshToken as string, ca: pki.ca.primary });
    const at = (await jwtVerify(t.accessToken, primaryKey.publicKey, { issuer: pair.primary.issuer, typ: 'at+jwt' })).payload;
    assert.equal(at.mcptt_id, ALICE.mcpttId);
    assert.equal(at.scope, '3gpp:mc:ptt_service 3gpp:mc:migration');
    assert.ok(t.refreshToken && t.refreshToken !== r.refreshToken, 'rotated for a public client');
    const reuse = await postToken(pair.primary.issuer, { grant_type: 'refresh_token', refresh_token: r.refreshToken as string, client_id: CLIENT_ID }, pki.ca.primary);
    assert.equal(reuse.status, 400);
    assert.equal(reuse.json.error, 'invalid_grant');
  });
});
