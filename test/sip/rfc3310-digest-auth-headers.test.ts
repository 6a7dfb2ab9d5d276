/**
 * Digest headers (RFC 3261 §20.7/§20.27/§20.44/§20.6 and §25.1, RFC 2617, RFC 3310 §3.4 `auts`): parsing what UEs
 * and S-CSCFs send, writing what the registrar sends (quoting exactly the parameters the grammar quotes).
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { SipParseError } from '../../lib/sip/errors.ts';
import {
  formatAuthenticationInfo, formatChallenge, formatCredentials, parseAuthenticationInfo, parseAuthValue, parseChallenge,
  parseCredentials,
} from '../../lib/sip/headers/auth.ts';

describe('challenges (WWW-Authenticate)', () => {
  test('the RFC 3310 §4 example 401 parses', () => {
    const c = parseChallenge('Digest realm="RoamingUsers@mobile.biz", nonce="CjPk9mRqNuT25eRkajM09uTl9nM09uTl9nMz5OX25PZz==", qop="auth,auth-int", opaque="5ccc069c403ebaf9f0171e9517f40e41", algorithm=AKAv1-MD5');
    assert.equal(c.scheme, 'Digest');
    assert.equal(c.realm, 'RoamingUsers@mobile.biz');
    assert.equal(c.nonce, 'CjPk9mRqNuT25eRkajM09uTl9nM09uTl9nMz5OX25PZz==');
    assert.deepEqual(c.qop, ['auth', 'auth-int']);
    assert.equal(c.algorithm, 'AKAv1-MD5');
    assert.equal(c.stale, false);
  });

  test('the registrar challenge of DESIGN §2.1 is written with quoting per RFC 3261 §25.1', () => {
    const v = formatChallenge({ realm: 'ims.partner.example', nonce: 'bm9uY2U=', algorithm: 'AKAv1-MD5', qop: ['auth', 'auth-int'], stale: true });
    assert.equal(v, 'Digest realm="ims.partner.example", nonce="bm9uY2U=", algorithm=AKAv1-MD5, qop="auth,auth-int", stale=TRUE');
    const back = parseChallenge(v);
    assert.equal(back.stale, true);
    assert.deepEqual(back.qop, ['auth', 'auth-int']);
  });
});

describe('credentials (Authorization)', () => {
  test('the initial IMS REGISTER with empty nonce and response (TS 24.229)', () => {
    const c = parseCredentials('Digest username="user1_private@home1.net", realm="home1.net", nonce="", uri="sip:home1.net", response=""');
    assert.equal(c.username, 'user1_private@home1.net');
    assert.equal(c.nonce, '');
    assert.equal(c.response, '');
    assert.equal(c.auts, undefined);
  });

  test('a resynchronisation with auts (RFC 3310 §3.4), bare and quoted values both read', () => {
    const c = parseCredentials('Digest username="u@r", realm="r", nonce="n", uri="sip:r", qop=auth, nc=00000001, cnonce="c", response="", auts="CjPk9mRqNuT25eRkajM0", algorithm="AKAv1-MD5"');
    assert.equal(c.auts, 'CjPk9mRqNuT25eRkajM0');
    assert.equal(c.qop, 'auth');
    assert.equal(c.nc, '00000001');
    assert.equal(c.algorithm, 'AKAv1-MD5');
  });

  test('written with the right quoting, read back identically', () => {
    const v = formatCredentials({ username: 'u@r', realm: 'r', nonce: 'n', uri: 'sip:r', response: '0123', algorithm: 'AKAv1-MD5', qop: 'auth', nc: '00000001', cnonce: 'cc', auts: 'QUJD' });
    assert.equal(v, 'Digest username="u@r", realm="r", nonce="n", uri="sip:r", response="0123", algorithm=AKAv1-MD5, qop=auth, nc=00000001, cnonce="cc", auts="QUJD"');
    const back = parseCredentials(v);
    assert.equal(back.auts, 'QUJD');
    assert.equal(back.response, '0123');
  });

  test('unknown schemes and token68 parse (RFC 4475 §3.3.7); garbage throws SipParseError', () => {
    assert.equal(parseAuthValue('Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ==').token68, 'QWxhZGRpbjpvcGVuIHNlc2FtZQ==');
    assert.equal(parseAuthValue('Custom a=1, b="x,y"').params.get('b'), 'x,y');
    for (const s of ['', '"Digest"', 'Digest realm=, nonce="x"', 'Digest realm="x', 'Digest realm=a b', 'Digest, realm="x"']) {
      assert.throws(() => parseAuthValue(s), SipParseError, s);
    }
  });
});

describe('Authentication-Info (§20.6)', () => {
  test('rspauth written and read', () => {
    const v = formatAuthenticationInfo({ rspauth: 'abcdef', cnonce: 'c', nc: '00000001', qop: 'auth' });
    assert.equal(v, 'rspauth="abcdef", cnonce="c", nc=00000001, qop=auth');
    assert.deepEqual(parseAuthenticationInfo(v), { nextnonce: undefined, qop: 'auth', rspauth: 'abcdef', cnonce: 'c', nc: '00000001' });
  });
});
