/**
 * Keys, serials, signing and the root CA of one MC system.
 *
 * node-forge builds the certificate structures; `node:crypto` generates the keys and computes the signatures.
 * Why: forge's pure-JS RSA takes seconds per 2048-bit key and ~50 ms per 3072-bit signature, OpenSSL takes
 * milliseconds, and the private keys never need to exist as forge objects at all.
 */
import { X509Certificate, createPrivateKey, createPublicKey, generateKeyPair, randomBytes, sign, type KeyObject } from 'node:crypto';
import { promisify } from 'node:util';
import forge from 'node-forge';
import { mcxUri } from '../lib/pki/identity.ts';

const generateKeyPairAsync = promisify(generateKeyPair);

/** RSA modulus of the root CAs: longer-lived than the leaves, so one size up. */
export const CA_KEY_BITS = 3072;
/** RSA modulus of TLS leaves and of the IdMS token-signing key (RS256 needs ≥ 2048, RFC 7518 §3.3). */
export const LEAF_KEY_BITS = 2048;
/** Validity of a root CA. */
export const CA_VALIDITY_YEARS = 10;
/** Validity of TLS leaves and signing certificates. */
export const LEAF_VALIDITY_YEARS = 2;
/** How far notBefore lies in the past, so peers whose clocks lag a little still accept fresh certificates. */
export const BACKDATE_MS = 5 * 60 * 1000;
/** Prefix of the organisation name in every subject, so a stray certificate says where it came from. */
export const ORGANIZATION = 'mcx-migrate';

/** An RSA key pair: the PKCS#8 PEM written to disk and the forge public key a certificate embeds. */
export interface RsaKey {
  /** Unencrypted PKCS#8 (`BEGIN PRIVATE KEY`): what node:tls, OpenSSL and `jose.importPKCS8` all read. */
  privateKeyPem: string;
  privateKey: KeyObject;
  publicKey: forge.pki.rsa.PublicKey;
}

/** A signed certificate and its key, in memory until written. */
export interface Issued {
  cert: forge.pki.Certificate;
  certPem: string;
  key: RsaKey;
}

/** A root CA: what it needs to sign leaves. */
export interface RootCa extends Issued {
  /** The CA's subjectKeyIdentifier as a forge byte string, copied into each leaf's authorityKeyIdentifier. */
  keyIdentifier: string;
}

/**
 * Generates an RSA key with OpenSSL on the libuv thread pool, so several keys are made in parallel.
 * @param bits modulus length; 2048 or more.
 */
export async function generateRsaKey(bits: number): Promise<RsaKey> {
  const { privateKey } = await generateKeyPairAsync('rsa', { modulusLength: bits, publicExponent: 0x10001 });
  const spki = createPublicKey(privateKey).export({ type: 'spki', format: 'pem' });
  return {
    privateKeyPem: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
    privateKey,
    publicKey: forge.pki.publicKeyFromPem(spki.toString()),
  };
}

/**
 * A random positive serial of exactly 16 octets, as forge's hex string.
 * The top bit is cleared (DER INTEGERs are signed) and the next one set (so no leading zero octet makes the
 * encoding non-minimal): 126 random bits, well above the 64 of CA/B Forum BR §7.1.
 */
export function randomSerial(): string {
  const b = randomBytes(16);
  b[0] = ((b[0] ?? 0) & 0x3f) | 0x40;
  return b.toString('hex');
}

/**
 * The subject of a certificate of `system`: `CN=<commonName>`, `OU=<role>` for a TLS leaf (for people: the
 * authoritative role is the `mcx://` URI), `O=mcx-migrate <system> MC system`.
 */
export function subjectOf(commonName: string, system: string, role?: string): forge.pki.CertificateField[] {
  return [
    { shortName: 'CN', value: commonName },
    ...(role === undefined ? [] : [{ shortName: 'OU', value: role }]),
    { shortName: 'O', value: `${ORGANIZATION} ${system} MC system` },
  ];
}

/** forge's subjectAltName entry for a URI (GeneralName type 6). */
export function uriAltName(uri: string): { type: 6; value: string } {
  return { type: 6, value: uri };
}

/** Adds `years` calendar years to `d`. */
function addYears(d: Date, years: number): Date {
  const out = new Date(d.getTime());
  out.setUTCFullYear(out.getUTCFullYear() + years);
  return out;
}

/**
 * A certificate skeleton: version 3, random serial, validity from `now - BACKDATE_MS` for `years`.
 */
export function newCertificate(publicKey: forge.pki.rsa.PublicKey, now: Date, years: number): forge.pki.Certificate {
  const cert = forge.pki.createCertificate();
  cert.publicKey = publicKey;
  cert.serialNumber = randomSerial();
  // X.509 times have whole seconds; truncating here keeps the manifest's dates equal to the encoded ones.
  const start = new Date(Math.floor(now.getTime() / 1000) * 1000);
  cert.validity.notBefore = new Date(start.getTime() - BACKDATE_MS);
  cert.validity.notAfter = addYears(start, years);
  return cert;
}

// forge exports getTBSCertificate at runtime but @types/node-forge does not declare it.
const getTBSCertificate = (forge.pki as unknown as { getTBSCertificate(c: forge.pki.Certificate): forge.asn1.Asn1 })
  .getTBSCertificate;

/**
 * Signs `cert` with SHA-256/RSA (PKCS#1 v1.5) using `signer` through node:crypto, filling in what `cert.sign()` would.
 * @returns the certificate as PEM.
 */
export function signCertificate(cert: forge.pki.Certificate, signer: KeyObject): string {
  cert.signatureOid = forge.pki.oids.sha256WithRSAEncryption as string;
  cert.siginfo.algorithmOid = cert.signatureOid;
  cert.tbsCertificate = getTBSCertificate(cert);
  const tbs = Buffer.from(forge.asn1.toDer(cert.tbsCertificate).getBytes(), 'binary');
  cert.signature = sign('sha256', tbs, signer).toString('binary');
  return forge.pki.certificateToPem(cert);
}

/**
 * Checks with OpenSSL (node:crypto) what forge produced: the PEM parses and its signature verifies under `issuer`.
 * A guard against silent encoding slips, which would otherwise surface only as a TLS handshake failure elsewhere.
 */
export function assertSignedBy(certPem: string, issuerPem: string): void {
  const issuer = new X509Certificate(issuerPem);
  const cert = new X509Certificate(certPem);
  if (!cert.checkIssued(issuer) || !cert.verify(issuer.publicKey)) {
    throw new Error(`internal: certificate ${cert.subject.replace(/\n/g, ', ')} does not verify under its issuer`);
  }
}

/**
 * Creates the self-signed root CA of one system: CN `<realm> MC root CA`, basicConstraints CA:TRUE (critical),
 * keyUsage keyCertSign + cRLSign (critical), subjectKeyIdentifier, subjectAltName URI `mcx://<realm>` (the realm it
 * vouches for: a leaf naming another realm is refused, lib/pki/identity.ts); SHA-256; valid
 * {@link CA_VALIDITY_YEARS} years.
 * @param key the CA's key, normally {@link CA_KEY_BITS} bits.
 */
export function createRootCa(system: string, realm: string, key: RsaKey, now: Date = new Date()): RootCa {
  const cert = newCertificate(key.publicKey, now, CA_VALIDITY_YEARS);
  const subject = subjectOf(`${realm} MC root CA`, system);
  cert.setSubject(subject);
  cert.setIssuer(subject);
  cert.setExtensions([
    { name: 'basicConstraints', cA: true, critical: true },
    { name: 'keyUsage', keyCertSign: true, cRLSign: true, critical: true },
    { name: 'subjectKeyIdentifier' },
    { name: 'subjectAltName', altNames: [uriAltName(mcxUri(realm))] },
  ]);
  const certPem = signCertificate(cert, key.privateKey);
  assertSignedBy(certPem, certPem);
  return { cert, certPem, key, keyIdentifier: cert.generateSubjectKeyIdentifier().getBytes() };
}

/**
 * A system's root CA read back from its files, to sign more leaves with (`mcx certs issue`).
 * @throws Error when the key does not belong to the certificate.
 */
export function loadRootCa(certPem: string, keyPem: string): RootCa {
  const privateKey = createPrivateKey(keyPem);
  const x = new X509Certificate(certPem);
  if (!x.checkPrivateKey(privateKey)) throw new Error('the CA key does not belong to the CA certificate');
  const cert = forge.pki.certificateFromPem(certPem);
  const spki = createPublicKey(privateKey).export({ type: 'spki', format: 'pem' }).toString();
  const key: RsaKey = { privateKeyPem: keyPem, privateKey, publicKey: forge.pki.publicKeyFromPem(spki) };
  const ski = cert.getExtension('subjectKeyIdentifier') as { subjectKeyIdentifier?: string } | null;
  // forge reads the extension as hex; what signLeaf copies into authorityKeyIdentifier is the byte string.
  const keyIdentifier = ski?.subjectKeyIdentifier ? forge.util.hexToBytes(ski.subjectKeyIdentifier) : cert.generateSubjectKeyIdentifier().getBytes();
  return { cert, certPem, key, keyIdentifier };
}

/**
 * Signs a leaf built by the caller with `ca`: sets issuer and authorityKeyIdentifier, appends subjectKeyIdentifier,
 * and checks the result verifies.
 * @param extensions the leaf's own extensions (basicConstraints, keyUsage, …), in forge's object form.
 */
export function signLeaf(
  ca: RootCa,
  cert: forge.pki.Certificate,
  extensions: object[],
): string {
  cert.setIssuer(ca.cert.subject.attributes);
  cert.setExtensions([
    ...extensions,
    { name: 'subjectKeyIdentifier' },
    { name: 'authorityKeyIdentifier', keyIdentifier: ca.keyIdentifier },
  ]);
  const pem = signCertificate(cert, ca.key.privateKey);
  assertSignedBy(pem, ca.certPem);
  return pem;
}
