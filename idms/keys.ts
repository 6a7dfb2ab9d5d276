/**
 * Key material of an IdMS: its RS256 signing key with the certificate `mcx certs init` issued for it (published in
 * the JWKS, kid = RFC 7638 thumbprint, x5c = the certificate), and the certificates of trusted primary IdMSs that the
 * partner verifies security tokens against (TS 33.180 §5.1.4.2: provisioned out of band, never fetched).
 */
import { X509Certificate, createPrivateKey, createPublicKey, type KeyObject } from 'node:crypto';
import { calculateJwkThumbprint, type JWK } from 'jose';
import type { SigningJwk } from 'oidc-provider';
import { ConfigFileError, readConfigFile } from '../lib/config/files.ts';
import { SIGNING_ALG } from './constants.ts';

/** The signing identity of one IdMS. */
export interface SigningMaterial {
  privateKey: KeyObject;
  publicKey: KeyObject;
  /** PEM of the signing certificate. */
  certPem: string;
  /** RFC 7638 thumbprint of the public key, the `kid` of every token this IdMS signs. */
  kid: string;
  /** The private JWK for oidc-provider's `jwks` (its public half is served at the JWKS endpoint). */
  jwk: SigningJwk;
}

/** A certificate trusted to sign security tokens. */
export interface TrustedCert {
  /** The file it came from, for messages. */
  file: string;
  cert: X509Certificate;
  publicKey: KeyObject;
}

function parseCert(option: string, file: string, pem: string): X509Certificate {
  try {
    return new X509Certificate(pem);
  } catch {
    throw new ConfigFileError(`${option} ${file}: not a PEM certificate`);
  }
}

/**
 * Loads the signing key and certificate, and checks they belong together and suit RS256.
 * @throws ConfigFileError naming the option for unreadable, mismatched or non-RSA files.
 */
export async function loadSigningMaterial(keyFile: string, certFile: string): Promise<SigningMaterial> {
  const keyPem = await readConfigFile('signing-key', keyFile);
  const certPem = await readConfigFile('signing-cert', certFile);
  let privateKey: KeyObject;
  try {
    privateKey = createPrivateKey(keyPem);
  } catch {
    throw new ConfigFileError(`--signing-key ${keyFile}: not a PEM private key`);
  }
  if (privateKey.asymmetricKeyType !== 'rsa' || (privateKey.asymmetricKeyDetails?.modulusLength ?? 0) < 2048) {
    throw new ConfigFileError(`--signing-key ${keyFile}: RS256 needs an RSA key of at least 2048 bits`);
  }
  const cert = parseCert('--signing-cert', certFile, certPem);
  const publicKey = createPublicKey(privateKey);
  const spki = (k: KeyObject) => k.export({ type: 'spki', format: 'der' });
  if (!spki(cert.publicKey).equals(spki(publicKey))) {
    throw new ConfigFileError(`--signing-cert ${certFile} does not certify the key in --signing-key ${keyFile}`);
  }
  const publicJwk = publicKey.export({ format: 'jwk' }) as JWK;
  const kid = await calculateJwkThumbprint(publicJwk, 'sha256');
  const jwk: SigningJwk = {
    ...(privateKey.export({ format: 'jwk' }) as Record<string, unknown>),
    kty: 'RSA', kid, alg: SIGNING_ALG, use: 'sig', x5c: [cert.raw.toString('base64')],
  };
  return { privateKey, publicKey, certPem, kid, jwk };
}

/**
 * Loads a trusted signing certificate (the partner's copy of the primary IdMS signing certificate).
 * @throws ConfigFileError for an unreadable file, a non-certificate or a non-RSA key.
 */
export async function loadTrustedCert(file: string): Promise<TrustedCert> {
  const cert = parseCert('--trust-cert', file, await readConfigFile('trust-cert', file));
  if (cert.publicKey.asymmetricKeyType !== 'rsa') {
    throw new ConfigFileError(`--trust-cert ${file}: the key is not RSA, so it cannot verify RS256`);
  }
  return { file, cert, publicKey: cert.publicKey };
}

/** Whether `cert` is inside its validity period at `now` (ms). */
export function certValidAt(cert: X509Certificate, now: number = Date.now()): boolean {
  return Date.parse(cert.validFrom) <= now && now <= Date.parse(cert.validTo);
}
