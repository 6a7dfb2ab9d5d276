/**
 * TS 33.180 Annex B.7.4/B.7.5 (C.2 steps 8a/8b) with RFC 7523: the partner IdMS exchanges a security token for a
 * partner access token. The security token must verify against the primary IdMS certificate provisioned out of band;
 * forged, expired, mis-addressed, replayed, unsigned or HMAC-with-the-public-key tokens are each refused with
 * `invalid_grant` and their own `error_description`. A valid one yields a partner access token that
 * `verifyPartnerAccessToken` (the partner MMS's check) accepts.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac, createPrivateKey, generateKeyPairSync, randomUUID, type KeyObject } from 'node:crypto';
import { SignJWT, decodeJwt, type JSONWebKeySet } from 'jose';
import { signingPaths, trustedSigningCertPath } from '../../certs/layout.ts';
import { AccessTokenError, verifyPartnerAccessToken } from '../../lib/idm/access-token.ts';
import { exchangeToken, jwtBearer, login, type IdmClientError } from '../../ue-client/idm-client.ts';
import { httpsRequest } from '../../ue-client/idm/http.ts';
import { ALICE, CLIENT_ID, PARTNER_MMS, REDIRECT_URI, SCOPE, makePki, pkiFile, postToken, startPair, type Pair, type TestPki } from './helpers.ts';

const JB = 'urn:ietf:params:oauth:grant-type:jwt-bearer';
const MIGRATION = '3gpp:mc:migration';

let pki: TestPki;
let pair: Pair;
let primaryKey: KeyObject;
let partnerCertPem: string;
let accessToken: string;
let sub: string;

before(async () => {
  pki = await makePki();
  pair = await startPair(pki);
  primaryKey = createPrivateKey(await pkiFile(signingPaths(pki.dir, 'primary').key));
  partnerCertPem = await pkiFile(signingPaths(pki.dir, 'partner').cert);
  const s = await login({ issuer: pair.primary.issuer, clientId: CLIENT_ID, redirectUri: REDIRECT_URI, scope: SCOPE, ca: pki.ca.primary, username: ALICE.username, password: ALICE.password });
  accessToken = s.accessToken;
  sub = s.idTokenClaims.sub as string;
});
after(async () => {
  await pair?.close();
  await pki?.remove();
});

const securityToken = async (): Promise<string> => (await exchangeToken({
  primaryIssuer: pair.primary.issuer, accessToken, partnerIssuer: pair.partner.issuer, clientId: CLIENT_ID, ca: pki.ca.primary,
})).securityToken;

const grant = (assertion: string, over: Record<string, string> = {}) => postToken(pair.partner.issuer, {
  grant_type: JB, assertion, scope: MIGRATION, client_id: CLIENT_ID, ...over,
}, pki.ca.partner);

/** A security token with the claims the primary would give it, overridden, signed with `key` (default the primary's). */
async function craft(claims: Record<string, unknown> = {}, key: KeyObject = primaryKey): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  return new SignJWT({
    iss: pair.primary.issuer, sub, aud: [CLIENT_ID, pair.partner.issuer], iat: now, exp: now + 120, jti: randomUUID(), mcptt_id: ALICE.mcpttId,
    client_id: CLIENT_ID, ...claims,
  }).setProtectedHeader({ alg: 'RS256', typ: 'JWT' }).sign(key);
}

const b64 = (o: unknown): string => Buffer.from(JSON.stringify(o)).toString('base64url');
const claimsPart = (token: string): string => token.split('.')[1] as string;

describe('B.7.5 a valid security token yields a partner access token', () => {
  test('partner access token: aud = partner MMS, migration scope, primary identity; verifyPartnerAccessToken accepts it', async () => {
    const r = await grant(await securityToken());
    assert.equal(r.status, 200, JSON.stringify(r.json));
    assert.equal(r.json.token_type, 'Bearer');
    assert.equal(r.json.scope, MIGRATION);
    assert.equal(r.json.expires_in, 900);
    const token = r.json.access_token as string;
    const viaCert = await verifyPartnerAccessToken(token, { issuer: pair.partner.issuer, key: { cert: partnerCertPem }, audience: PARTNER_MMS, requiredScopes: [MIGRATION] });
    assert.equal(viaCert.primary_iss, pair.primary.issuer);
    assert.equal(viaCert.primary_sub, sub);
    assert.equal(viaCert.mcptt_id, ALICE.mcpttId);
    assert.equal(viaCert.client_id, CLIENT_ID);
    assert.equal(viaCert.iss, pair.partner.issuer);
    assert.equal(viaCert.aud, PARTNER_MMS);
    const jwksUrl = new URL(`${pair.partner.issuer}/jwks`);
    const jwks = JSON.parse((await httpsRequest(jwksUrl, { method: 'GET' }, { ca: pki.ca.partner })).body) as JSONWebKeySet;
    assert.equal((await verifyPartnerAccessToken(token, { issuer: pair.partner.issuer, key: { jwks }, audience: PARTNER_MMS })).mcptt_id, ALICE.mcpttId);
  });

  test('the client library: exchangeToken then jwtBearer', async () => {
    const t = await jwtBearer({ partnerIssuer: pair.partner.issuer, assertion: await securityToken(), scope: `${MIGRATION} 3gpp:mc:ptt_service`, clientId: CLIENT_ID, ca: pki.ca.partner });
    assert.equal(t.tokenType, 'Bearer');
    assert.equal(decodeJwt(t.accessToken).scope, `${MIGRATION} 3gpp:mc:ptt_service`);
    assert.equal(t.refreshToken, undefined);
  });

  test('a clock skew within 30 s is accepted (exp 10 s ago)', async () => {
    const now = Math.floor(Date.now() / 1000);
    assert.equal((await grant(await craft({ iat: now - 130, exp: now - 10 }))).status, 200);
  });
});

describe('RFC 7523 §3 / 33.180 B.8 refusals: invalid_grant with a distinct error_description', () => {
  test('forged, expired, wrong aud, replayed, alg none, HS256 with the public key, and more', async () => {
    const now = Math.floor(Date.now() / 1000);
    const { privateKey: otherKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const pem = await pkiFile(trustedSigningCertPath(pki.dir, 'partner'));
    const hs256 = (() => {
      const head = b64({ alg: 'HS256', typ: 'JWT' });
      const body = b64({ iss: pair.primary.issuer, sub, aud: [CLIENT_ID, pair.partner.issuer], iat: now, exp: now + 60, jti: randomUUID(), mcptt_id: ALICE.mcpttId });
      return `${head}.${body}.${createHmac('sha256', pem).update(`${head}.${body}`).digest('base64url')}`;
    })();
    const replayed = await securityToken();
    assert.equal((await grant(replayed)).status, 200, 'first use');
    const cases: Array<[string, string | Promise<string>, RegExp]> = [
      ['forged (other key)', craft({}, otherKey), /signature does not verify with the trusted certificate/],
      ['forged (partner key)', craft({}, createPrivateKey(await pkiFile(signingPaths(pki.dir, 'partner').key))), /signature does not verify/],
      ['expired', craft({ iat: now - 200, exp: now - 60 }), /expired/],
      ['wrong aud', craft({ aud: [CLIENT_ID, 'https://idms.other.example'] }), /aud does not contain this IdMS/],
      ['replayed jti', replayed, /already used \(replay\)/],
      ['alg none', `${b64({ alg: 'none', typ: 'JWT' })}.${claimsPart(await craft())}.`, /alg "none" is not accepted/],
      ['HS256 with the public key', hs256, /alg "HS256" is not accepted/],
      ['untrusted issuer', craft({ iss: 'https://idms.rogue.example' }), /not a trusted primary IdMS/],
      ['iat in the future', craft({ iat: now + 120, exp: now + 240 }), /iat is in the future/],
      ['lifetime too long', craft({ iat: now, exp: now + 3600 }), /lifetime/],
      ['no mcptt_id', craft({ mcptt_id: undefined }), /"mcptt_id"/],
      ['no jti', craft({ jti: undefined }), /"jti"/],
      ['not a JWT', 'garbage', /not a well-formed JWT/],
    ];
    const descriptions = new Set<string>();
    for (const [name, token, re] of cases) {
      const r = await grant(await token);
      assert.equal(r.status, 400, name);
      assert.equal(r.json.error, 'invalid_grant', name);
      assert.match(r.json.error_description as string, re, `${name}: ${String(r.json.error_description)}`);
      descriptions.add(r.json.error_description as string);
    }
    assert.equal(descriptions.size, cases.length - 1, 'every refusal says why (the two forgeries share one reason)');
  });

  test('request errors: no assertion → invalid_request, unknown scope → invalid_scope, unknown client → invalid_client', async () => {
    const st = await craft();
    const noAssertion = await postToken(pair.partner.issuer, { grant_type: JB, scope: MIGRATION, client_id: CLIENT_ID }, pki.ca.partner);
    assert.equal(noAssertion.json.error, 'invalid_request');
    const badScope = await grant(st, { scope: `${MIGRATION} 3gpp:mc:admin` });
    assert.equal(badScope.json.error, 'invalid_scope');
    const badClient = await grant(st, { client_id: 'intruder' });
    assert.equal(badClient.status, 401);
    assert.equal(badClient.json.error, 'invalid_client');
    assert.equal((await grant(st)).status, 200, 'the refused requests did not burn the jti');
  });

  test('the client library surfaces the partner reason', async () => {
    await assert.rejects(jwtBearer({ partnerIssuer: pair.partner.issuer, assertion: await craft({ aud: ['x'] }), scope: MIGRATION, clientId: CLIENT_ID, ca: pki.ca.partner }),
      (e: unknown) => (e as IdmClientError).error === 'invalid_grant' && /aud/.test((e as IdmClientError).errorDescription ?? ''));
  });
});

describe('verifyPartnerAccessToken refusals (the partner MMS side)', () => {
  test('wrong audience, issuer, key, type, scope and expiry each map to their own code', async () => {
    const token = (await grant(await securityToken())).json.access_token as string;
    const ok = { issuer: pair.partner.issuer, key: { cert: partnerCertPem }, audience: PARTNER_MMS };
    const primaryCertPem = await pkiFile(signingPaths(pki.dir, 'primary').cert);
    const expired = await new SignJWT({ ...decodeJwt(token), exp: Math.floor(Date.now() / 1000) - 120 })
      .setProtectedHeader({ alg: 'RS256', typ: 'at+jwt' }).sign(createPrivateKey(await pkiFile(signingPaths(pki.dir, 'partner').key)));
    const cases: Array<[string, () => Promise<unknown>, string]> = [
      ['audience', () => verifyPartnerAccessToken(token, { ...ok, audience: 'https://other.example' }), 'ERR_TOKEN_AUDIENCE'],
      ['issuer', () => verifyPartnerAccessToken(token, { ...ok, issuer: pair.primary.issuer }), 'ERR_TOKEN_ISSUER'],
      ['key', () => verifyPartnerAccessToken(token, { ...ok, key: { cert: primaryCertPem } }), 'ERR_TOKEN_SIGNATURE'],
      ['security token as access token', async () => verifyPartnerAccessToken(await securityToken(), { ...ok, issuer: pair.primary.issuer, key: { cert: primaryCertPem } }), 'ERR_TOKEN_TYPE'],
      ['primary access token (no primary identity)', () => verifyPartnerAccessToken(accessToken, { ...ok, issuer: pair.primary.issuer, key: { cert: primaryCertPem }, audience: `${pair.primary.issuer}/mc-services` }), 'ERR_TOKEN_CLAIMS'],
      ['scope', () => verifyPartnerAccessToken(token, { ...ok, requiredScopes: ['3gpp:mc:data_service'] }), 'ERR_TOKEN_SCOPE'],
      ['expiry', () => verifyPartnerAccessToken(expired, ok), 'ERR_TOKEN_EXPIRED'],
      ['garbage', () => verifyPartnerAccessToken('x.y.z', ok), 'ERR_TOKEN_MALFORMED'],
    ];
    for (const [name, run, code] of cases) {
      await assert.rejects(run(), (e: unknown) => e instanceof AccessTokenError && e.code === code, name);
    }
    const scopeErr = await verifyPartnerAccessToken(token, { ...ok, requiredScopes: ['3gpp:mc:data_service'] }).catch((e: unknown) => e as AccessTokenError);
    assert.equal(scopeErr instanceof AccessTokenError && scopeErr.httpStatus, 403);
    assert.equal(scopeErr instanceof AccessTokenError && scopeErr.bearerError, 'insufficient_scope');
  });
});
