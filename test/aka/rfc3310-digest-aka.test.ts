/**
 * RFC 3310 (AKAv1) and RFC 4169 (AKAv2) Digest maths, with the RFC 2617/7616 response computation they rest on:
 * the digest §4.2 derived example byte for byte, the §3.2 AKAv2 check value, and the RFCs' own examples.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import {
  AkaError, Milenage, akaNonce, akav2Password, digestHa1, digestHa2, digestResponse, parseAkaNonce, rspauth,
  verifyDigestResponse,
} from '../../lib/aka/index.ts';
import { hex, set1 } from './vectors.ts';

const v = set1();
const m = new Milenage(hex(v.K), hex(v.OPc));
const rand = hex(v.RAND);
const autn = hex('55f328b43577b9b94a9ffac354dfafb3');
const NONCE = 'I1U8vpY3qJ0hiuZNrke/NVXzKLQ1d7m5Sp/6w1Tfr7M=';
const REQ = {
  username: 'alice@ims.example.net', realm: 'ims.example.net', method: 'REGISTER', uri: 'sip:ims.example.net',
  nonce: NONCE, nc: '00000001', cnonce: '0a4f113b', qop: 'auth' as const,
};

test('rfc3310 §3.2: nonce = base64(RAND ‖ AUTN) reproduces the digest §4.2 example and parses back', () => {
  assert.equal(akaNonce(rand, autn), NONCE);
  assert.equal(NONCE.length, 44);
  assert.deepEqual(parseAkaNonce(NONCE), { rand, autn, serverData: Buffer.alloc(0) });
  const withData = akaNonce(rand, autn, Buffer.from('srv'));
  assert.deepEqual(parseAkaNonce(withData).serverData, Buffer.from('srv'));
});

test('rfc3310 §3.2: a nonce shorter than 32 octets or not base64 is ERR_AKA_NONCE', () => {
  const isNonce = (e: unknown): boolean => e instanceof AkaError && e.code === 'ERR_AKA_NONCE';
  assert.throws(() => parseAkaNonce(Buffer.alloc(31).toString('base64')), isNonce);
  assert.throws(() => parseAkaNonce(''), isNonce);
  assert.throws(() => parseAkaNonce(`${NONCE.slice(0, 10)}!${NONCE.slice(11)}`), isNonce);
  assert.throws(() => parseAkaNonce(`"${NONCE}"`), isNonce);
  // Unpadded base64 is still the same 32 octets.
  assert.deepEqual(parseAkaNonce(NONCE.replace(/=+$/, '')).autn, autn);
});

test('rfc3310 §3.3: response with RES as 8 raw octets reproduces HA1, HA2 and response of the digest §4.2 example', () => {
  const res = m.f2345(rand).res;
  assert.equal(res.toString('hex'), 'a54211d5e3ba50bf');
  assert.equal(digestHa1('md5', REQ.username, REQ.realm, res), 'd1c4a359a3f4777c061c018687223e6e');
  assert.equal(digestHa2('md5', REQ.method, REQ.uri, 'auth'), '8512fcb9a79c25dc460a1290fac2d312');
  assert.equal(digestResponse({ ...REQ, password: res }), '4256075d370471842f82b016eff64d7d');
  // The same via a stored HA1 (how the registrar verifies SIP Digest users).
  assert.equal(digestResponse({ ...REQ, ha1: 'D1C4A359A3F4777C061C018687223E6E' }), '4256075d370471842f82b016eff64d7d');
  // RES as hex text (a common bug) gives a different answer.
  assert.notEqual(digestResponse({ ...REQ, password: Buffer.from(res.toString('hex')) }), '4256075d370471842f82b016eff64d7d');
});

test('rfc3310 §3.4: with auts the password is empty — digest §4.2 example', () => {
  assert.equal(digestResponse({ ...REQ, password: Buffer.alloc(0) }), '7e794b0091e9c48539ddd0dac23c18ee');
});

test('rfc3310 §3.5: rspauth uses XRES and an empty method', () => {
  const xres = m.f2345(rand).res;
  const ha1 = digestHa1('md5', REQ.username, REQ.realm, xres);
  const { method: _method, ...fields } = REQ;
  const expected = digestResponse({ ...REQ, method: '', password: xres });
  assert.equal(rspauth({ ...fields, password: xres }), expected);
  assert.equal(rspauth({ ...fields, ha1 }), expected);
  assert.notEqual(expected, '4256075d370471842f82b016eff64d7d');
});

test('rfc2617 §3.5 example (MD5, qop=auth) and the no-qop form', () => {
  const o = {
    username: 'Mufasa', realm: 'testrealm@host.com', password: Buffer.from('Circle Of Life'), method: 'GET',
    uri: '/dir/index.html', nonce: 'dcd98b7102dd2f0e8b11d0f600bfb0c093', nc: '00000001', cnonce: '0a4f113b',
  };
  assert.equal(digestResponse({ ...o, qop: 'auth' }), '6629fae49393a05397450978507c4ef1');
  const md5 = (x: string): string => createHash('md5').update(x).digest('hex');
  const ha1 = md5('Mufasa:testrealm@host.com:Circle Of Life');
  assert.equal(digestResponse(o), md5(`${ha1}:${o.nonce}:${md5('GET:/dir/index.html')}`));
});

test('rfc7616 §3.9.1 example (SHA-256 and MD5, qop=auth), as RFC 8760 uses for SIP', () => {
  const o = {
    username: 'Mufasa', realm: 'http-auth@example.org', password: Buffer.from('Circle of Life'), method: 'GET',
    uri: '/dir/index.html', nonce: '7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v', nc: '00000001',
    cnonce: 'f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ', qop: 'auth' as const,
  };
  assert.equal(digestResponse(o), '8ca523f5e9506fed4657c9700eebdbec');
  assert.equal(digestResponse({ ...o, hash: 'sha-256' }), '753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1');
});

test('rfc2617 §3.2.2.3: auth-int hashes the body into HA2', () => {
  const md5 = (x: string | Buffer): string => createHash('md5').update(x).digest('hex');
  const res = m.f2345(rand).res;
  const body = Buffer.from('v=0\r\n');
  const ha2 = md5(`REGISTER:${REQ.uri}:${md5(body)}`);
  assert.equal(digestHa2('md5', 'REGISTER', REQ.uri, 'auth-int', body), ha2);
  const ha1 = digestHa1('md5', REQ.username, REQ.realm, res);
  assert.equal(
    digestResponse({ ...REQ, qop: 'auth-int', body, password: res }),
    md5(`${ha1}:${NONCE}:00000001:0a4f113b:auth-int:${ha2}`),
  );
  assert.equal(digestHa2('md5', 'REGISTER', REQ.uri, 'auth-int'), md5(`REGISTER:${REQ.uri}:${md5('')}`));
});

test('rfc4169: AKAv2 password for test set 1 = shzt3q8CWaZnCAWqs3WmEQ==', () => {
  const { res, ik, ck } = m.f2345(rand);
  const pw = akav2Password(res, ik, ck);
  assert.ok(Buffer.isBuffer(pw));
  assert.equal(pw.toString('ascii'), 'shzt3q8CWaZnCAWqs3WmEQ==');
  assert.match(digestResponse({ ...REQ, password: pw }), /^[0-9a-f]{32}$/);
});

test('digest input errors and constant-time verification', () => {
  const isInput = (e: unknown): boolean => e instanceof AkaError && e.code === 'ERR_AKA_INPUT';
  const pw = Buffer.alloc(0);
  assert.throws(() => digestResponse({ ...REQ, nc: undefined, password: pw }), isInput);
  assert.throws(() => digestResponse({ ...REQ, nc: '1', password: pw }), isInput);
  assert.throws(() => digestResponse({ ...REQ, cnonce: undefined, password: pw }), isInput);
  assert.throws(() => digestResponse({ ...REQ, ha1: 'abc' }), isInput);
  assert.throws(() => digestResponse({ ...REQ, ha1: '0'.repeat(32), hash: 'sha-256' }), isInput);
  assert.throws(() => digestResponse({ ...REQ, password: 'x' as unknown as Buffer }), isInput);
  assert.throws(() => akav2Password(Buffer.alloc(8), Buffer.alloc(15), Buffer.alloc(16)), isInput);
  assert.throws(() => akaNonce(Buffer.alloc(16), Buffer.alloc(14)), isInput);
  const good = '4256075d370471842f82b016eff64d7d';
  assert.equal(verifyDigestResponse(good, good), true);
  assert.equal(verifyDigestResponse(good, good.toUpperCase()), true);
  assert.equal(verifyDigestResponse(good, `${good.slice(0, 31)}e`), false);
  assert.equal(verifyDigestResponse(good, good.slice(1)), false);
  assert.equal(verifyDigestResponse(good, ''), false);
});
