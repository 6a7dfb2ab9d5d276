/**
 * TS 33.180 Annex B.7.2/B.7.3 and B.8 (C.2 steps 6a/6b): RFC 8693 token exchange at the primary IdMS. The security
 * token's claims are checked one by one against Table B.8-1, and its signature against the primary signing
 * certificate from the PKI files. Refusals follow RFC 8693 §2.2.2 (`invalid_request`, `invalid_target`).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { X509Certificate, createPrivateKey, type KeyObject } from 'node:crypto';
import { SignJWT, decodeProtectedHeader, jwtVerify } from 'jose';
import { signingPaths } from '../../certs/layout.ts';
import { exchangeToken, login, type IdmClientError, type LoginResult } from '../../ue-client/idm-client.ts';
import { ALICE, CLIENT_ID, REDIRECT_URI, SCOPE, makePki, pkiFile, postToken, startPair, type Pair, type TestPki } from './helpers.ts';

const TE = 'urn:ietf:params:oauth:grant-type:token-exchange';
const JWT = 'urn:ietf:params:oauth:token-type:jwt';
const AT = 'urn:ietf:params:oauth:token-type:access_token';

let pki: TestPki;
let pair: Pair;
let session: LoginResult;
let primaryCert: X509Certificate;
let primaryKey: KeyObject;
let partnerKey: KeyObject;

before(async () => {
  pki = await makePki();
  pair = await startPair(pki);
  primaryCert = new X509Certificate(await pkiFile(signingPaths(pki.dir, 'primary').cert));
  primaryKey = createPrivateKey(await pkiFile(signingPaths(pki.dir, 'primary').key));
  partnerKey = createPrivateKey(await pkiFile(signingPaths(pki.dir, 'partner').key));
  session = await login({
    issuer: pair.primary.issuer, clientId: CLIENT_ID, redirectUri: REDIRECT_URI, scope: SCOPE, ca: pki.ca.primary, username: ALICE.username, password: ALICE.password,
  });
});
after(async () => {
  await pair?.close();
  await pki?.remove();
});

const exchange = (over: Record<string, string> = {}) => postToken(pair.primary.issuer, {
  grant_type: TE, subject_token: session.accessToken, subject_token_type: JWT, resource: pair.partner.issuer, client_id: CLIENT_ID, ...over,
}, pki.ca.primary);

/** An access token as the primary would sign it, with claims overridden. */
async function craftAccessToken(claims: Record<string, unknown>, key: KeyObject = primaryKey, typ = 'at+jwt'): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  return new SignJWT({
    iss: pair.primary.issuer, sub: session.idTokenClaims.sub, aud: `${pair.primary.issuer}/mc-services`, client_id: CLIENT_ID,
    scope: '3gpp:mc:migration', mcptt_id: ALICE.mcpttId, iat: now, exp: now + 300, jti: 'x', ...claims,
  }).setProtectedHeader({ alg: 'RS256', typ }).sign(key);
}

describe('B.7.3 token exchange response and B.8 security token', () => {
  test('the security token has iss, sub, aud = [client_id, partner], short exp, iat, jti, mcptt_id and the primary signature', async () => {
    const r = await exchange();
    assert.equal(r.status, 200);
    assert.equal(r.headers['cache-control'], 'no-store');
    assert.equal(r.json.issued_token_type, JWT);
    assert.equal(r.json.token_type, 'N_A');
    assert.equal(r.json.expires_in, 120);
    const token = r.json.access_token as string;
    const h = decodeProtectedHeader(token);
    assert.equal(h.alg, 'RS256');
    const { payload: c } = await jwtVerify(token, primaryCert.publicKey, { algorithms: ['RS256'] });
    assert.equal(c.iss, pair.primary.issuer);
    assert.equal(c.sub, session.idTokenClaims.sub);
    assert.deepEqual(c.aud, [CLIENT_ID, pair.partner.issuer]);
    assert.equal((c.exp as number) - (c.iat as number), 120);
    assert.ok(Math.abs((c.iat as number) - Date.now() / 1000) < 5);
    assert.match(c.jti as string, /^[0-9a-f-]{36}$/);
    assert.equal(c.mcptt_id, ALICE.mcpttId);
    const again = await exchange();
    assert.notEqual((await jwtVerify(again.json.access_token as string, primaryCert.publicKey)).payload.jti, c.jti, 'a fresh jti per exchange');
  });

  test('subject_token_type access_token, and the partner named by audience (C.2 "aud") or by name, are accepted', async () => {
    for (const over of [{ subject_token_type: AT }, { resource: '', audience: pair.partner.issuer }, { resource: '', audience: 'partner' }]) {
      const form = Object.fromEntries(Object.entries(over).filter(([, v]) => v !== ''));
      const r = await postToken(pair.primary.issuer, {
        grant_type: TE, subject_token: session.accessToken, subject_token_type: JWT, client_id: CLIENT_ID,
        ...('resource' in over ? {} : { resource: pair.partner.issuer }), ...form,
      }, pki.ca.primary);
      assert.equal(r.status, 200, JSON.stringify(r.json));
      assert.deepEqual((await jwtVerify(r.json.access_token as string, primaryCert.publicKey)).payload.aud, [CLIENT_ID, pair.partner.issuer]);
    }
  });

  test('the client library returns the security token', async () => {
    const st = await exchangeToken({ primaryIssuer: pair.primary.issuer, accessToken: session.accessToken, partnerIssuer: pair.partner.issuer, clientId: CLIENT_ID, ca: pki.ca.primary });
    assert.equal(st.tokenType, 'N_A');
    assert.equal(st.issuedTokenType, JWT);
    assert.equal((await jwtVerify(st.securityToken, primaryCert.publicKey)).payload.mcptt_id, ALICE.mcpttId);
  });
});

describe('RFC 8693 §2.2.2 refusals', () => {
  test('an unknown partner is invalid_target (client library too)', async () => {
    const r = await exchange({ resource: 'https://idms.unknown.example' });
    assert.equal(r.status, 400);
    assert.equal(r.json.error, 'invalid_target');
    assert.match(r.json.error_description as string, /not a configured partner/);
    await assert.rejects(exchangeToken({
      primaryIssuer: pair.primary.issuer, accessToken: session.accessToken, partnerIssuer: 'https://idms.unknown.example', clientId: CLIENT_ID, ca: pki.ca.primary,
    }), (e: unknown) => (e as IdmClientError).error === 'invalid_target');
  });

  test('missing target, missing or unknown subject_token_type, actor_token: invalid_request', async () => {
    const cases: Array<[Record<string, string>, RegExp]> = [
      [{ resource: '' }, /resource \(or audience\)/],
      [{ subject_token_type: '' }, /subject_token_type is required/],
      [{ subject_token_type: 'urn:ietf:params:oauth:token-type:saml2' }, /subject_token_type must be/],
      [{ requested_token_type: AT }, /requested_token_type must be/],
      [{ actor_token: 'x', actor_token_type: JWT }, /actor_token/],
    ];
    for (const [over, re] of cases) {
      const form = Object.fromEntries(Object.entries({
        grant_type: TE, subject_token: session.accessToken, subject_token_type: JWT, resource: pair.partner.issuer, client_id: CLIENT_ID, ...over,
      }).filter(([, v]) => v !== ''));
      const r = await postToken(pair.primary.issuer, form, pki.ca.primary);
      assert.equal(r.json.error, 'invalid_request', JSON.stringify(over));
      assert.match(r.json.error_description as string, re);
    }
  });

  test('a subject_token that is not a valid access token of this IdMS is invalid_request, each with its reason', async () => {
    const now = Math.floor(Date.now() / 1000);
    const cases: Array<[string, string | Promise<string>, RegExp]> = [
      ['garbage', 'not-a-jwt', /not a JWT access token/],
      ['ID token', session.idToken, /not an access token/],
      ['forged (partner key)', craftAccessToken({}, partnerKey), /signature does not verify/],
      ['expired', craftAccessToken({ iat: now - 600, exp: now - 300 }), /expired/],
      ['other issuer', craftAccessToken({ iss: pair.partner.issuer }), /not issued by this IdMS/],
      ['other audience', craftAccessToken({ aud: 'https://elsewhere.example' }), /not an access token for this IdMS/],
      ['other client', craftAccessToken({ client_id: 'someone-else' }), /issued to another client/],
      ['unknown user', craftAccessToken({ sub: 'no-such-sub' }), /no longer exists/],
    ];
    for (const [name, token, re] of cases) {
      const r = await exchange({ subject_token: await token });
      assert.equal(r.status, 400, name);
      assert.equal(r.json.error, 'invalid_request', name);
      assert.match(r.json.error_description as string, re, name);
    }
    assert.equal((await exchange({ subject_token: await craftAccessToken({}) })).status, 200, 'the crafted baseline itself is valid');
  });

  test('each IdMS answers only its own extension grant: unsupported_grant_type otherwise', async () => {
    const atPartner = await postToken(pair.partner.issuer, { grant_type: TE, subject_token: session.accessToken, subject_token_type: JWT, client_id: CLIENT_ID }, pki.ca.partner);
    assert.equal(atPartner.json.error, 'unsupported_grant_type');
    const atPrimary = await postToken(pair.primary.issuer, { grant_type: 'urn:ietf:params:oauth:grant-type:jwt-bearer', assertion: 'x', client_id: CLIENT_ID }, pki.ca.primary);
    assert.equal(atPrimary.json.error, 'unsupported_grant_type');
  });

  test('an unregistered client is invalid_client (401)', async () => {
    const r = await exchange({ client_id: 'not-registered' });
    assert.equal(r.status, 401);
    assert.equal(r.json.error, 'invalid_client');
  });
});
