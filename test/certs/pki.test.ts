/**
 * `certs/`: what `initPki` writes, checked with OpenSSL and node:crypto rather than with the code that made it.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { X509Certificate, createHash, createPrivateKey } from 'node:crypto';
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import forge from 'node-forge';
import { SignJWT, importPKCS8, importX509, jwtVerify } from 'jose';
import { EKU_DOCUMENT_SIGNING, initPki } from '../../certs/issue.ts';
import { inspectPki } from '../../certs/cli.ts';
import { isCertsError } from '../../certs/errors.ts';
import {
  ROLES, caPaths, certPaths, manifestPath, peerCaPath, readManifest, signingPaths, trustedSigningCertPath, type PkiManifest,
} from '../../certs/layout.ts';

const run = promisify(execFile);
const SYSTEMS = [
  { name: 'primary', realm: 'ims.primary.example' },
  { name: 'partner', realm: 'ims.partner.example' },
];
const EKU_SERVER = '1.3.6.1.5.5.7.3.1';
const EKU_CLIENT = '1.3.6.1.5.5.7.3.2';
const YEAR_MS = 365.25 * 24 * 3600 * 1000;

let root: string;
let dir: string;
let manifest: PkiManifest;

/** `openssl verify`; resolves with success and the combined output, never rejects. */
async function opensslVerify(caFile: string, certFile: string): Promise<{ ok: boolean; out: string }> {
  try {
    const r = await run('openssl', ['verify', '-x509_strict', '-CAfile', caFile, certFile]);
    return { ok: true, out: r.stdout + r.stderr };
  } catch (err) {
    const e = err as { stdout?: string; stderr?: string };
    return { ok: false, out: `${e.stdout ?? ''}${e.stderr ?? ''}` };
  }
}

/** Every leaf (TLS roles and the signing certificate) of `system`. */
function leafFiles(system: string): string[] {
  return [...ROLES.map((r) => certPaths(dir, system, r).cert), signingPaths(dir, system).cert];
}

async function snapshot(base: string): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  for (const e of await readdir(base, { recursive: true, withFileTypes: true })) {
    if (!e.isFile()) continue;
    const p = join(e.parentPath, e.name);
    out.set(p, createHash('sha256').update(await readFile(p)).digest('hex'));
  }
  return out;
}

const x509 = async (path: string): Promise<X509Certificate> => new X509Certificate(await readFile(path));
const forgeCert = async (path: string): Promise<forge.pki.Certificate> =>
  forge.pki.certificateFromPem(await readFile(path, 'utf8'));

before(async () => {
  root = await mkdtemp(join(tmpdir(), 'mcx-certs-'));
  dir = join(root, 'pki');
  manifest = await initPki({ dir, systems: SYSTEMS });
});

after(async () => {
  await rm(root, { recursive: true, force: true });
});

describe('initPki: layout and manifest', () => {
  test('manifest.json lists systems, realms, roles and files that exist', async () => {
    const read = await readManifest(dir);
    assert.deepEqual(read, manifest);
    assert.deepEqual(read.systems.map((s) => [s.name, s.realm]), SYSTEMS.map((s) => [s.name, s.realm]));
    for (const s of read.systems) {
      assert.equal(join(dir, s.ca.cert), caPaths(dir, s.name).cert);
      for (const role of ROLES) {
        assert.equal(join(dir, s.roles[role].cert), certPaths(dir, s.name, role).cert);
        assert.equal(join(dir, s.roles[role].key), certPaths(dir, s.name, role).key);
        assert.equal(s.roles[role].hostname, `${role}.${s.realm}`);
      }
      assert.equal(join(dir, s.idmsSigning.key), signingPaths(dir, s.name).key);
    }
    const files = [...(await snapshot(dir)).keys()].map((p) => p.slice(dir.length + 1)).sort();
    assert.equal(files.length, 2 * (2 + 2 * ROLES.length + 2) + 3 + 1, files.join('\n'));
    assert.ok(!files.some((f) => f.startsWith('.certs-init-')), 'staging directory left behind');
  });

  test('key files are mode 0600 PKCS#8 matching their certificate; certificates 0644', async () => {
    for (const s of SYSTEMS) {
      const pairs = [caPaths(dir, s.name), signingPaths(dir, s.name), ...ROLES.map((r) => certPaths(dir, s.name, r))];
      for (const p of pairs) {
        assert.equal((await stat(p.key)).mode & 0o777, 0o600, p.key);
        assert.equal((await stat(p.cert)).mode & 0o777, 0o644, p.cert);
        const pem = await readFile(p.key, 'utf8');
        assert.match(pem, /^-----BEGIN PRIVATE KEY-----\n/);
        assert.ok((await x509(p.cert)).checkPrivateKey(createPrivateKey(pem)), `${p.key} does not match ${p.cert}`);
      }
    }
  });

  test('the partner trust bundle is the primary IdMS signing certificate; CA copies equal the peer CAs', async () => {
    const bundle = await readFile(trustedSigningCertPath(dir, 'partner'), 'utf8');
    assert.equal(bundle, await readFile(signingPaths(dir, 'primary').cert, 'utf8'));
    assert.equal(join(dir, 'partner/trust/primary-idms-signing.pem'), trustedSigningCertPath(dir, 'partner'));
    assert.equal(await readFile(peerCaPath(dir, 'partner', 'primary'), 'utf8'), await readFile(caPaths(dir, 'primary').cert, 'utf8'));
    assert.equal(await readFile(peerCaPath(dir, 'primary', 'partner'), 'utf8'), await readFile(caPaths(dir, 'partner').cert, 'utf8'));
    const primary = manifest.systems.find((s) => s.name === 'primary');
    assert.deepEqual(primary?.trust.idmsSigning, {}, 'the primary trusts no other IdMS');
  });

  test('inspectPki (mcx certs show) finds every signature and key in order', async () => {
    const r = await inspectPki(dir);
    const certs = r.systems.flatMap((s) => s.certs);
    assert.equal(certs.length, 2 * (1 + ROLES.length + 1) + 3);
    for (const c of certs) {
      assert.ok(c.verified, c.label);
      assert.notEqual(c.keyMatches, false, c.label);
    }
  });
});

describe('initPki: certificates', () => {
  test('every leaf verifies against its own CA with openssl, and not against the other system\'s', async () => {
    for (const [own, other] of [['primary', 'partner'], ['partner', 'primary']] as const) {
      for (const leaf of leafFiles(own)) {
        const good = await opensslVerify(caPaths(dir, own).cert, leaf);
        assert.ok(good.ok, `${leaf}: ${good.out}`);
        const bad = await opensslVerify(caPaths(dir, other).cert, leaf);
        assert.ok(!bad.ok, `${leaf} verified under the ${other} CA`);
        assert.match(bad.out, /unable to get local issuer certificate/);
      }
    }
  });

  test('root CAs: CA:TRUE critical, keyCertSign + cRLSign critical, SKI, 3072-bit, ~10 years', async () => {
    for (const s of SYSTEMS) {
      const x = await x509(caPaths(dir, s.name).cert);
      assert.equal(x.ca, true);
      assert.equal(x.subject, x.issuer);
      assert.equal(x.publicKey.asymmetricKeyDetails?.modulusLength, 3072);
      const f = await forgeCert(caPaths(dir, s.name).cert);
      const bc = f.getExtension('basicConstraints') as Record<string, unknown>;
      assert.equal(bc.critical, true);
      assert.equal(bc.cA, true);
      const ku = f.getExtension('keyUsage') as Record<string, unknown>;
      assert.equal(ku.critical, true);
      assert.equal(ku.keyCertSign, true);
      assert.equal(ku.cRLSign, true);
      assert.equal(ku.digitalSignature, false);
      assert.ok(f.getExtension('subjectKeyIdentifier'));
      // The realm the CA vouches for (DESIGN §2.7): a leaf naming another realm is refused by lib/pki/identity.ts.
      assert.equal(x.subjectAltName, `URI:mcx://${s.realm}`);
      assert.match(x.subject, new RegExp(`^O=mcx-migrate ${s.name} MC system$`, 'm'));
      const years = (Date.parse(x.validTo) - Date.parse(x.validFrom)) / YEAR_MS;
      assert.ok(years > 9.99 && years < 10.01, `CA validity ${years} years`);
    }
  });

  test('TLS leaves: SANs, CA:FALSE, key usages, serverAuth + clientAuth, AKI = CA SKI, 2 years, backdated', async () => {
    for (const s of SYSTEMS) {
      const caSki = ((await forgeCert(caPaths(dir, s.name).cert)).getExtension('subjectKeyIdentifier') as { subjectKeyIdentifier: string })
        .subjectKeyIdentifier;
      for (const role of ROLES) {
        const file = certPaths(dir, s.name, role).cert;
        const x = await x509(file);
        // Exactly one URI, mcx://<realm>/<role>: the authoritative realm and role; OU repeats the role for people.
        assert.equal(x.subjectAltName,
          `DNS:${role}.${s.realm}, DNS:localhost, IP Address:127.0.0.1, IP Address:0:0:0:0:0:0:0:1, URI:mcx://${s.realm}/${role}`);
        assert.equal(x.subject, `CN=${role}.${s.realm}\nOU=${role}\nO=mcx-migrate ${s.name} MC system`);
        assert.equal(x.checkHost(`${role}.${s.realm}`), `${role}.${s.realm}`);
        assert.equal(x.checkIP('127.0.0.1'), '127.0.0.1');
        assert.equal(x.checkIP('::1'), '::1');
        assert.equal(x.ca, false);
        assert.deepEqual([...(x.keyUsage ?? [])].sort(), [EKU_SERVER, EKU_CLIENT]);
        assert.equal(x.publicKey.asymmetricKeyDetails?.modulusLength, 2048);
        const f = await forgeCert(file);
        const bc = f.getExtension('basicConstraints') as Record<string, unknown>;
        assert.equal(bc.critical, true);
        assert.equal(bc.cA, false);
        const ku = f.getExtension('keyUsage') as Record<string, unknown>;
        assert.equal(ku.critical, true);
        assert.deepEqual([ku.digitalSignature, ku.keyEncipherment, ku.keyCertSign, ku.cRLSign], [true, true, false, false]);
        const aki = f.getExtension('authorityKeyIdentifier') as { value: string };
        // The extension value is SEQUENCE { [0] keyIdentifier }: skip the 4 header octets.
        assert.equal(forge.util.bytesToHex(aki.value.slice(4)), caSki);
        const from = Date.parse(x.validFrom);
        assert.ok(Date.now() - from >= 60_000, 'notBefore is not in the past');
        const years = (Date.parse(x.validTo) - from) / YEAR_MS;
        assert.ok(years > 1.99 && years < 2.01, `leaf validity ${years} years`);
      }
    }
  });

  test('serials are 16 octets, positive, and all different', async () => {
    const serials = new Set<string>();
    for (const s of SYSTEMS) {
      for (const file of [caPaths(dir, s.name).cert, ...leafFiles(s.name)]) {
        const serial = (await x509(file)).serialNumber;
        assert.match(serial, /^[0-7][0-9A-F]{31}$/, `${file}: ${serial}`);
        assert.notEqual(serial.slice(0, 2), '00');
        serials.add(serial);
      }
    }
    assert.equal(serials.size, 2 * (2 + ROLES.length));
  });

  test('IdMS signing certificate: digitalSignature, documentSigning only, and its key signs RS256 the partner verifies', async () => {
    for (const s of SYSTEMS) {
      const x = await x509(signingPaths(dir, s.name).cert);
      assert.equal(x.ca, false);
      assert.deepEqual(x.keyUsage, [EKU_DOCUMENT_SIGNING], 'extKeyUsage documentSigning only, so no serverAuth');
      assert.equal(x.subjectAltName, undefined);
      const ku = (await forgeCert(signingPaths(dir, s.name).cert)).getExtension('keyUsage') as Record<string, unknown>;
      assert.deepEqual([ku.critical, ku.digitalSignature, ku.keyEncipherment, ku.keyCertSign], [true, true, false, false]);
    }
    const key = await importPKCS8(await readFile(signingPaths(dir, 'primary').key, 'utf8'), 'RS256');
    const jws = await new SignJWT({ mcptt_id: 'sip:alice@ims.primary.example' })
      .setProtectedHeader({ alg: 'RS256' }).setAudience('partner').setIssuedAt().setJti('1').sign(key);
    const trusted = await importX509(await readFile(trustedSigningCertPath(dir, 'partner'), 'utf8'), 'RS256');
    const { payload } = await jwtVerify(jws, trusted, { audience: 'partner' });
    assert.equal(payload.mcptt_id, 'sip:alice@ims.primary.example');
  });
});

describe('initPki: re-running and input', () => {
  test('without force it fails naming the existing directory and changes nothing; with force it regenerates', async () => {
    const d = join(root, 'rerun');
    await initPki({ dir: d, systems: SYSTEMS });
    const before = await snapshot(d);
    await assert.rejects(initPki({ dir: d, systems: SYSTEMS }), (err: unknown) => {
      assert.ok(isCertsError(err, 'ERR_CERTS_EXISTS'));
      assert.ok(err.message.includes(join(d, 'primary')), err.message);
      assert.match(err.message, /--force/);
      return true;
    });
    // Any one of the systems existing is enough to refuse.
    await assert.rejects(initPki({ dir: d, systems: [{ name: 'partner', realm: 'other.example' }] }), /already holds a PKI/);
    assert.deepEqual(await snapshot(d), before);

    await initPki({ dir: d, systems: SYSTEMS, force: true });
    const after = await snapshot(d);
    assert.deepEqual([...after.keys()].sort(), [...before.keys()].sort());
    for (const [file, hash] of after) assert.notEqual(hash, before.get(file), `${file} was not regenerated`);
    assert.equal((await stat(certPaths(d, 'partner', 'mms').key)).mode & 0o777, 0o600);
    assert.ok(!(await readdir(d)).some((f) => f.startsWith('.certs-init-')));
  });

  test('one system is enough; it gets no trust copies', async () => {
    const d = join(root, 'solo');
    const m = await initPki({ dir: d, systems: [{ name: 'primary', realm: 'solo.example' }] });
    assert.deepEqual(m.systems[0]?.trust, { ca: {}, idmsSigning: {} });
    assert.deepEqual((await readdir(d)).sort(), ['manifest.json', 'primary']);
  });

  test('invalid systems are refused with a code and the field, before anything is written', async () => {
    const cases: [unknown, string][] = [
      [[], 'ERR_CERTS_NO_SYSTEM'],
      [[{ name: 'Primary', realm: 'a.example' }], 'ERR_CERTS_INVALID_SYSTEM'],
      [[{ name: '../x', realm: 'a.example' }], 'ERR_CERTS_INVALID_SYSTEM'],
      [[{ name: 'primary', realm: 'not a realm' }], 'ERR_CERTS_INVALID_SYSTEM'],
      [[{ name: 'primary', realm: '-bad.example' }], 'ERR_CERTS_INVALID_SYSTEM'],
      [[{ name: 'a', realm: 'a.example' }, { name: 'a', realm: 'b.example' }], 'ERR_CERTS_DUPLICATE_SYSTEM'],
      [[{ name: 'a', realm: 'a.example' }, { name: 'b', realm: 'A.example' }], 'ERR_CERTS_DUPLICATE_SYSTEM'],
    ];
    const d = join(root, 'invalid');
    for (const [systems, code] of cases) {
      await assert.rejects(initPki({ dir: d, systems: systems as { name: string; realm: string }[] }), (err: unknown) => {
        assert.ok(isCertsError(err), String(err));
        assert.equal(err.code, code, err.message);
        assert.equal(err.field, '--system');
        assert.match(err.message, /^--system/);
        return true;
      });
    }
    await assert.rejects(stat(d), { code: 'ENOENT' });
  });

  test('readManifest reports a missing, older or foreign manifest by code', async () => {
    await assert.rejects(readManifest(join(root, 'nowhere')), (err: unknown) => isCertsError(err, 'ERR_CERTS_NO_MANIFEST'));
    const d = join(root, 'solo');
    const text = await readFile(manifestPath(d), 'utf8');
    assert.match(text, /"version": 2,/);
    const manifest = JSON.parse(text) as { systems: Array<{ roles: Record<string, { role: string; realm: string; uri: string }> }> };
    assert.deepEqual(Object.values(manifest.systems[0]?.roles ?? {}).map((l) => l.uri),
      ROLES.map((r) => `mcx://${manifest.systems[0]?.roles[r]?.realm}/${r}`), 'role and realm recorded per leaf');
    await writeFile(manifestPath(d), text.replace('"version": 2', '"version": 1'));
    await assert.rejects(readManifest(d), (err: unknown) => isCertsError(err, 'ERR_CERTS_OLD_MANIFEST') && /mcx certs init --force/.test(err.message));
    await writeFile(manifestPath(d), text.replace('"version": 2', '"version": 3'));
    await assert.rejects(readManifest(d), (err: unknown) => isCertsError(err, 'ERR_CERTS_BAD_MANIFEST'));
  });
});
