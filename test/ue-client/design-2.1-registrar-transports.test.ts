/**
 * DESIGN §2.1 from the UE's side, against our registrar (`startRegistrar`) in front of our HSS: the UE registers with
 * IMS AKA over UDP, TCP and TLS (the partner CA from `mcx certs`, the registrar's name checked; another name or
 * another system's CA fails the handshake), verifies `Authentication-Info: rspauth`, answers AKAv2-MD5 (RFC 4169) and
 * SIP Digest with a password (SHA-256 preferred per RFC 8760, MD5). Failures come back with their precise reason and
 * exit status: 504 when the HSS is gone, ICMP port unreachable, TCP refused, no answer at all.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createSocket } from 'node:dgram';
import { join } from 'node:path';
import { initPki } from '../../certs/issue.ts';
import { certPaths } from '../../certs/layout.ts';
import { freePort } from '../helpers/ports.ts';
import { ladderShape, runUe, startRegistrarNet, subscriber, tempDir, ueFlags, type RegistrarNet, type Subscriber } from './fixture.ts';

const DOMAIN = 'partner.example';
const HSS_REALM = 'primary.example';
const alice = subscriber('alice', DOMAIN);
const bob = subscriber('bob', DOMAIN);
const carol = subscriber('carol', DOMAIN);
const PASSWORD = 'correct horse, "battery" staple';
const dan = { impi: `dan@${DOMAIN}`, impu: `sip:dan@${DOMAIN}` };

function csv(aka: Subscriber[]): string {
  return ['impi,impus,k,op,amf,password,allowed_partners', ...aka.map((s) => `${s.impi},${s.impu},${s.k},${s.op},${s.amf},,${DOMAIN}`),
    `${dan.impi},${dan.impu},,,,"${PASSWORD.replace(/"/g, '""')}",${DOMAIN}`].join('\n') + '\n';
}

const passwordFlags = (registrar: string, extra: Record<string, unknown> = {}) => ({ registrar, domain: DOMAIN, impi: dan.impi, impu: dan.impu, password: PASSWORD, ...extra });

describe('DESIGN §2.1: the UE against our registrar over UDP, TCP and TLS', () => {
  let tmp: Awaited<ReturnType<typeof tempDir>>;
  let net: RegistrarNet;
  let v2: RegistrarNet;
  let ca: string;
  let otherCa: string;

  before(async () => {
    tmp = await tempDir('mcx-ue-reg-');
    const pki = join(tmp.dir, 'pki');
    await initPki({ dir: pki, systems: [{ name: 'partner', realm: DOMAIN }, { name: 'primary', realm: HSS_REALM }] });
    const paths = certPaths(pki, 'partner', 'registrar');
    ca = paths.ca;
    otherCa = certPaths(pki, 'primary', 'registrar').ca;
    [net, v2] = await Promise.all([
      startRegistrarNet(tmp.dir, DOMAIN, HSS_REALM, csv([alice, bob, carol]), {
        sip: [{ transport: 'udp', host: '127.0.0.1', port: 0 }, { transport: 'tcp', host: '127.0.0.1', port: 0 }, { transport: 'tls', host: '127.0.0.1', port: 0 }],
        tls: { cert: paths.cert, key: paths.key, ca: [paths.ca] }, digestAlgorithms: ['SHA-256', 'MD5'],
      }),
      startRegistrarNet(tmp.dir, DOMAIN, HSS_REALM, csv([carol]), { algorithm: 'AKAv2-MD5' }),
    ]);
  });
  after(async () => {
    await net?.close();
    await v2?.close();
    await tmp?.remove();
  });

  for (const transport of ['udp', 'tcp', 'tls'] as const) {
    test(`${transport.toUpperCase()}: REGISTER → 401 → REGISTER auth → 200 with rspauth verified, then de-REGISTER`, async () => {
      const port = net.port(transport.toUpperCase() as 'UDP' | 'TCP' | 'TLS');
      const extra = transport === 'tls' ? { 'tls-ca': ca, 'tls-servername': `registrar.${DOMAIN}` } : {};
      const r = await runUe(ueFlags(alice, DOMAIN, `127.0.0.1:${port}`, join(tmp.dir, 'alice.json'), { transport, expires: 600, ...extra }));
      assert.equal(r.status, 0, `${r.out.join('\n')}\n${r.err.join('\n')}`);
      assert.deepEqual(ladderShape(r.ladder).slice(0, 5), ['→ REGISTER', '← 401', '→ REGISTER auth', '← 200', 'registered']);
      const result = r.out.find((l) => l.startsWith('registered: ')) ?? '';
      assert.match(result, /rspauth=verified/, 'Authentication-Info rspauth checked with RES (RFC 3310 §3.5)');
      assert.match(result, new RegExp(`;transport=${transport}>`));
      assert.ok(r.out.includes('deregistered'));
    });
  }

  test('TLS with the registrar\'s IP as the name (IP SAN): verified without --tls-servername', async () => {
    const r = await runUe(ueFlags(bob, DOMAIN, `127.0.0.1:${net.port('TLS')}`, join(tmp.dir, 'bob.json'), { transport: 'tls', 'tls-ca': ca, expires: 600 }));
    assert.equal(r.status, 0, r.err.join('\n'));
  });

  test('IPv6 loopback over UDP: Via and Contact carry [::1] (bracketed) and SIP.js still matches the responses', async () => {
    const six = await startRegistrarNet(tmp.dir, DOMAIN, HSS_REALM, csv([bob]), { sip: [{ transport: 'udp', host: '::1', port: 0 }] });
    try {
      const r = await runUe(ueFlags(bob, DOMAIN, `[::1]:${six.port('UDP')}`, join(tmp.dir, 'bob6.json'), { expires: 600 }));
      assert.equal(r.status, 0, `${r.out.join('\n')}\n${r.err.join('\n')}`);
      assert.match(r.out.find((l) => l.startsWith('registered: ')) ?? '', /contact=<sip:bob@\[::1\]:\d+;transport=udp>/);
    } finally {
      await six.close();
    }
  });

  test('TLS under another name: UE_TLS, exit 6, nothing registered', async () => {
    const r = await runUe(ueFlags(bob, DOMAIN, `127.0.0.1:${net.port('TLS')}`, join(tmp.dir, 'bob.json'), { transport: 'tls', 'tls-ca': ca, 'tls-servername': 'registrar.elsewhere.example' }));
    assert.equal(r.status, 6);
    assert.match(r.err.join('\n'), /UE_TLS: .*ERR_TLS_CERT_ALTNAME_INVALID/);
    assert.deepEqual(r.ladder, []);
  });

  test('TLS trusting only the other system\'s CA: UE_TLS, exit 6', async () => {
    const r = await runUe(ueFlags(bob, DOMAIN, `127.0.0.1:${net.port('TLS')}`, join(tmp.dir, 'bob.json'), { transport: 'tls', 'tls-ca': otherCa, 'tls-servername': `registrar.${DOMAIN}` }));
    assert.equal(r.status, 6);
    assert.match(r.err.join('\n'), /UE_TLS: .*(UNABLE_TO_VERIFY_LEAF_SIGNATURE|SELF_SIGNED_CERT_IN_CHAIN|UNABLE_TO_GET_ISSUER_CERT).*--tls-ca/);
  });

  test('AKAv2-MD5 (RFC 4169 password from RES‖IK‖CK), rspauth verified', async () => {
    const r = await runUe(ueFlags(carol, DOMAIN, `127.0.0.1:${v2.port('UDP')}`, join(tmp.dir, 'carol.json'), { expires: 600 }));
    assert.equal(r.status, 0, `${r.out.join('\n')}\n${r.err.join('\n')}`);
    assert.match(r.ladder[1] ?? '', /AKAv2-MD5, ISIM: RES/);
    assert.match(r.out.find((l) => l.startsWith('registered: ')) ?? '', /rspauth=verified/);
  });

  test('SIP Digest with a password: SHA-256 chosen from [SHA-256, MD5] (RFC 8760), and MD5 where only MD5 is offered (the default)', async () => {
    const sha = await runUe(passwordFlags(`127.0.0.1:${net.port('UDP')}`, { expires: 600 }));
    assert.equal(sha.status, 0, `${sha.out.join('\n')}\n${sha.err.join('\n')}`);
    assert.match(sha.ladder[1] ?? '', /— SHA-256, password/);
    assert.match(sha.out.find((l) => l.startsWith('registered: ')) ?? '', /rspauth=verified/);
    const md5 = await runUe(passwordFlags(`127.0.0.1:${v2.port('TCP')}`, { transport: 'tcp', expires: 600 }));
    assert.equal(md5.status, 0, `${md5.out.join('\n')}\n${md5.err.join('\n')}`);
    assert.match(md5.ladder[1] ?? '', /— MD5, password/);
  });

  test('a wrong password: 403 → UE_AUTH_REJECTED, exit 3', async () => {
    const r = await runUe(passwordFlags(`127.0.0.1:${net.port('UDP')}`, { password: 'wrong' }));
    assert.equal(r.status, 3);
    assert.match(r.err.join('\n'), /UE_AUTH_REJECTED: registrar refused the credentials: 403/);
  });

  test('an AKA challenge to a UE with only a password: UE_CHALLENGE_UNSUPPORTED, exit 3', async () => {
    const r = await runUe({ registrar: `127.0.0.1:${net.port('UDP')}`, domain: DOMAIN, impi: alice.impi, impu: alice.impu, password: 'x' });
    assert.equal(r.status, 3);
    assert.match(r.err.join('\n'), /UE_CHALLENGE_UNSUPPORTED: cannot answer the challenge: offered AKAv1-MD5; the UE holds a password/);
  });

  test('nothing answers on UDP: UE_TIMEOUT after --timeout, exit 5', async () => {
    const sink = createSocket('udp4');
    await new Promise<void>((resolve) => sink.bind(0, '127.0.0.1', () => resolve()));
    try {
      const r = await runUe(ueFlags(alice, DOMAIN, `127.0.0.1:${sink.address().port}`, join(tmp.dir, 'alice.json'), { timeout: 1 }));
      assert.equal(r.status, 5);
      assert.match(r.err.join('\n'), /UE_TIMEOUT: no final response to REGISTER within 1 s/);
      assert.match(r.ladder[0] ?? '', /REGISTER {2}\[×[2-9]\]/, 'retransmitted meanwhile');
    } finally {
      sink.close();
    }
  });

  test('UDP port closed: ICMP port unreachable → UE_TRANSPORT, exit 6 (not a Timer F timeout)', async () => {
    const r = await runUe(ueFlags(alice, DOMAIN, `127.0.0.1:${await freePort()}`, join(tmp.dir, 'alice.json')));
    assert.equal(r.status, 6);
    // Not UE_TIMEOUT: the connected socket's ECONNREFUSED ended it, not Timer F.
    assert.match(r.err.join('\n'), /UE_TRANSPORT: registrar 127\.0\.0\.1:\d+ unreachable over UDP: ICMP port unreachable/);
  });

  test('TCP refused: UE_TRANSPORT, exit 6', async () => {
    const r = await runUe(ueFlags(alice, DOMAIN, `127.0.0.1:${await freePort()}`, join(tmp.dir, 'alice.json'), { transport: 'tcp' }));
    assert.equal(r.status, 6);
    assert.match(r.err.join('\n'), /UE_TRANSPORT: cannot connect over TCP to 127\.0\.0\.1:\d+: ECONNREFUSED/);
  });

  test('the HSS is gone: 504 from the registrar → UE_REJECTED (status 504), exit 4', async () => {
    await v2.hss.close();
    const r = await runUe(ueFlags(carol, DOMAIN, `127.0.0.1:${v2.port('UDP')}`, join(tmp.dir, 'carol.json')));
    assert.equal(r.status, 4, r.err.join('\n'));
    assert.match(r.err.join('\n'), /UE_REJECTED: registrar could not reach the HSS in time: 504/);
    // carol registered above, so the registrar may still hold a vector of that MAA (vector-cache.ts): then the 504
    // answers her authenticated REGISTER, whose SAR finds no HSS.
    const shape = ladderShape(r.ladder);
    assert.ok([['→ REGISTER', '← 504'], ['→ REGISTER', '← 401', '→ REGISTER auth', '← 504']].some((s) => JSON.stringify(s) === JSON.stringify(shape)), shape.join(' '));
  });
});
