/**
 * The UE's IdM client (ue-client/idm-client.ts) beyond the flows the IdMS tests drive: TLS is always verified against
 * the given CA (TS 33.180 §5.1.4.2: CSC-1 is HTTPS), credentials never go over plain HTTP, discovery must name the
 * issuer asked for, and the cookie jar scopes cookies by host and path as a browser would.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { CookieJar } from '../../ue-client/idm/http.ts';
import { discover, login, type IdmClientError } from '../../ue-client/idm-client.ts';
import { ALICE, CLIENT_ID, REDIRECT_URI, SCOPE, makePki, startPair, type Pair, type TestPki } from '../idms/helpers.ts';

let pki: TestPki;
let pair: Pair;
before(async () => {
  pki = await makePki();
  pair = await startPair(pki);
});
after(async () => {
  await pair?.close();
  await pki?.remove();
});

const code = (c: string) => (e: unknown): boolean => {
  assert.equal((e as IdmClientError).code, c, (e as Error).message);
  return true;
};
const creds = () => ({ clientId: CLIENT_ID, redirectUri: REDIRECT_URI, scope: SCOPE, username: ALICE.username, password: ALICE.password });

describe('TLS validation is always on', () => {
  test('the other system\'s CA does not vouch for the primary IdMS: ERR_IDM_TRANSPORT', async () => {
    await assert.rejects(login({ ...creds(), issuer: pair.primary.issuer, ca: pki.ca.partner }), code('ERR_IDM_TRANSPORT'));
  });

  test('without a CA the private PKI is not trusted either', async () => {
    await assert.rejects(discover(pair.primary.issuer, {}), code('ERR_IDM_TRANSPORT'));
  });

  test('an http:// issuer is refused before anything is sent', async () => {
    await assert.rejects(login({ ...creds(), issuer: pair.primary.issuer.replace('https:', 'http:'), ca: pki.ca.primary }), code('ERR_IDM_PROTOCOL'));
  });
});

describe('discovery', () => {
  test('an issuer that the discovery document does not name is refused (OIDC Discovery §4.3)', async () => {
    const alias = pair.partner.issuer.replace('localhost', '127.0.0.1');
    await assert.rejects(discover(alias, { ca: pki.ca.partner }), code('ERR_IDM_PROTOCOL'));
  });
});

describe('cookie jar', () => {
  test('host-only, path-scoped, Max-Age=0 deletes', () => {
    const jar = new CookieJar();
    const at = new URL('https://idms.example:8443/auth');
    jar.store(at, ['_interaction=abc; path=/interaction/abc; httponly; samesite=lax; secure', '_session=s1; path=/; max-age=600']);
    assert.equal(jar.header(new URL('https://idms.example:8443/interaction/abc')), '_interaction=abc; _session=s1');
    assert.equal(jar.header(new URL('https://idms.example:8443/interaction/abc/login')), '_interaction=abc; _session=s1');
    assert.equal(jar.header(new URL('https://idms.example:8443/interaction/abcd')), '_session=s1');
    assert.equal(jar.header(new URL('https://other.example:8443/interaction/abc')), undefined);
    jar.store(at, ['_session=; path=/; max-age=0']);
    assert.equal(jar.header(new URL('https://idms.example:8443/')), undefined);
  });
});
