/**
 * The directory `mcx certs init` writes, as paths and a manifest, so every role finds its files without knowing how
 * they were made:
 *
 * ```
 * DIR/manifest.json                          systems, realms, roles, files (paths relative to DIR)
 * DIR/<system>/ca.pem, ca.key                root CA of the system
 * DIR/<system>/<role>.pem, <role>.key        TLS leaf, CN and SAN <role>.<realm>, for every role in ROLES
 * DIR/<system>/leaves/<fqdn>.pem, .key       further TLS leaves of a role (`mcx certs issue`: a second MMS, …)
 * DIR/<system>/idms-signing.pem, .key        IdMS token-signing certificate and RS256 key
 * DIR/<system>/trust/<peer>-ca.pem           root CA of every other system (for inter-system mutual TLS)
 * DIR/<system>/trust/primary-idms-signing.pem   on every system but `primary`: the primary IdMS signing
 *                                            certificate, provisioned out of band (TS 33.180 §5.1.4.2)
 * ```
 * Keys are unencrypted PKCS#8 PEM, mode 0600; certificates PEM, mode 0644.
 *
 * Every TLS leaf carries the URI subjectAltName `mcx://<realm>/<role>` (and `OU=<role>` for people), every CA
 * `mcx://<realm>`: what lib/pki/identity.ts reads (manifest version 2; version 1 had neither).
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { z } from 'zod';
import { MCX_ROLES, type McxRole } from '../lib/pki/identity.ts';
import { CertsError } from './errors.ts';

/**
 * Every role with a TLS certificate. Both systems get all of them although each uses a subset (primary: hss, mms,
 * relay, idms; partner: registrar, mms, idms): a testbed may move a role, and unused leaves cost nothing.
 */
export const ROLES = MCX_ROLES;
/** A role with a TLS certificate. */
export type Role = McxRole;

/** The system whose IdMS issues the security tokens every other system trusts (TS 33.180 §5.1.4.2). */
export const PRIMARY_SYSTEM = 'primary';
/** Name of the manifest file at the top of the directory. */
export const MANIFEST_FILE = 'manifest.json';
/** Manifest format version; readers refuse any other (1: leaves without the `mcx://` identity URI). */
export const MANIFEST_VERSION = 2;

/** A certificate file and its private key file. */
export interface CertKeyPaths {
  cert: string;
  key: string;
}

/** What a TLS endpoint loads: its certificate, its key, and its own system's CA. */
export interface TlsPaths extends CertKeyPaths {
  ca: string;
}

/** The host name a role's certificate is issued to (CN and first SAN). */
export function roleHostname(role: Role, realm: string): string {
  return `${role}.${realm}`;
}

/** `DIR/<system>`. */
export function systemDir(dir: string, system: string): string {
  return join(dir, system);
}

/** `DIR/manifest.json`. */
export function manifestPath(dir: string): string {
  return join(dir, MANIFEST_FILE);
}

/** The root CA certificate and key of `system`. */
export function caPaths(dir: string, system: string): CertKeyPaths {
  return { cert: join(dir, system, 'ca.pem'), key: join(dir, system, 'ca.key') };
}

/** The TLS certificate, key and own-system CA of `role` in `system`. */
export function certPaths(dir: string, system: string, role: Role): TlsPaths {
  return { cert: join(dir, system, `${role}.pem`), key: join(dir, system, `${role}.key`), ca: caPaths(dir, system).cert };
}

/** `DIR/<system>/leaves`: the leaves `mcx certs issue` adds. */
export function leavesDir(dir: string, system: string): string {
  return join(dir, system, 'leaves');
}

/** The files of a leaf issued to host `name` by `mcx certs issue`, and the own-system CA. */
export function issuedLeafPaths(dir: string, system: string, name: string): TlsPaths {
  const base = join(leavesDir(dir, system), name.toLowerCase());
  return { cert: `${base}.pem`, key: `${base}.key`, ca: caPaths(dir, system).cert };
}

/** The IdMS token-signing certificate and key of `system`. */
export function signingPaths(dir: string, system: string): CertKeyPaths {
  return { cert: join(dir, system, 'idms-signing.pem'), key: join(dir, system, 'idms-signing.key') };
}

/** `DIR/<system>/trust`: what `system` was given out of band about other systems. */
export function trustDir(dir: string, system: string): string {
  return join(dir, system, 'trust');
}

/** The copy of `peer`'s root CA that `system` trusts for inter-system TLS. */
export function peerCaPath(dir: string, system: string, peer: string): string {
  return join(trustDir(dir, system), `${peer}-ca.pem`);
}

/**
 * The IdMS signing certificate of `issuer` as provisioned to `system`: the partner IdMS verifies security tokens
 * against `trustedSigningCertPath(dir, 'partner')`, never fetching anything.
 */
export function trustedSigningCertPath(dir: string, system: string, issuer: string = PRIMARY_SYSTEM): string {
  return join(trustDir(dir, system), `${issuer}-idms-signing.pem`);
}

const certEntry = z.object({
  cert: z.string(),
  key: z.string(),
  subject: z.string(),
  notAfter: z.string(),
  /** SHA-256 of the DER, colon-separated hex (as OpenSSL prints it). */
  sha256: z.string(),
});

const leafEntry = certEntry.extend({
  hostname: z.string(),
  sans: z.array(z.string()),
  /** The role the leaf may act as, and its realm: what its `mcx://<realm>/<role>` URI says. */
  role: z.enum(ROLES),
  realm: z.string(),
  uri: z.string(),
});

const systemEntry = z.object({
  name: z.string(),
  realm: z.string(),
  dir: z.string(),
  ca: certEntry.extend({ uri: z.string() }),
  roles: z.record(z.enum(ROLES), leafEntry),
  /** Leaves added by `mcx certs issue` (further instances of a role), in the order issued. */
  leaves: z.array(leafEntry).default([]),
  idmsSigning: certEntry,
  trust: z.object({
    /** peer system name → path of its CA certificate copy. */
    ca: z.record(z.string(), z.string()),
    /** issuer system name → path of its IdMS signing certificate copy. */
    idmsSigning: z.record(z.string(), z.string()),
  }),
});

/** Schema of `manifest.json`; every path in it is relative to the directory holding the manifest. */
export const manifestSchema = z.object({
  version: z.literal(MANIFEST_VERSION),
  generator: z.string(),
  createdAt: z.string(),
  systems: z.array(systemEntry).min(1),
});

/** The parsed `manifest.json`. */
export type PkiManifest = z.infer<typeof manifestSchema>;
/** One system of the manifest. */
export type ManifestSystem = PkiManifest['systems'][number];
/** One certificate entry of the manifest. */
export type ManifestCert = z.infer<typeof certEntry>;
/** One TLS leaf of the manifest. */
export type ManifestLeaf = z.infer<typeof leafEntry>;

/**
 * Reads and validates `DIR/manifest.json`.
 * @throws CertsError `ERR_CERTS_NO_MANIFEST` when it is absent, `ERR_CERTS_BAD_MANIFEST` when it does not parse.
 */
export async function readManifest(dir: string): Promise<PkiManifest> {
  const file = manifestPath(dir);
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    throw new CertsError('ERR_CERTS_NO_MANIFEST', `no PKI in ${dir}: ${file} is missing (run mcx certs init)`, {
      field: '--dir',
      cause: err,
    });
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new CertsError('ERR_CERTS_BAD_MANIFEST', `${file} is not JSON`, { cause: err });
  }
  const version = (json as { version?: unknown } | null)?.version;
  if (typeof version === 'number' && version < MANIFEST_VERSION) {
    throw new CertsError('ERR_CERTS_OLD_MANIFEST',
      `${file} is version ${version}: its certificates carry no realm and role (mcx:// URI); regenerate it with mcx certs init --force`,
      { field: '--dir' });
  }
  const r = manifestSchema.safeParse(json);
  if (!r.success) {
    const first = r.error.issues[0];
    throw new CertsError('ERR_CERTS_BAD_MANIFEST', `${file}: ${first?.path.join('.') ?? ''} ${first?.message ?? ''}`);
  }
  return r.data;
}

/** Reads one file of the PKI, mapping absence to `ERR_CERTS_MISSING_FILE`. */
export async function readPkiFile(path: string): Promise<string> {
  try {
    return await readFile(path, 'utf8');
  } catch (err) {
    throw new CertsError('ERR_CERTS_MISSING_FILE', `cannot read ${path}: ${(err as NodeJS.ErrnoException).code ?? err}`, {
      cause: err,
    });
  }
}

/** PEM contents for `node:tls` / `https` options: `{ cert, key, ca }` as given to `tls.createSecureContext`. */
export interface TlsMaterial {
  cert: string;
  key: string;
  /** Own CA first, then each trusted peer's. */
  ca: string[];
}

/**
 * Loads what `role` of `system` needs for mutual TLS.
 * @param trustPeers other systems whose CAs are trusted too (e.g. the partner MMS accepting the primary MMS).
 */
export async function loadTlsMaterial(
  dir: string,
  system: string,
  role: Role,
  trustPeers: readonly string[] = [],
): Promise<TlsMaterial> {
  const p = certPaths(dir, system, role);
  const [cert, key, ownCa, ...peers] = await Promise.all([
    readPkiFile(p.cert),
    readPkiFile(p.key),
    readPkiFile(p.ca),
    ...trustPeers.map((peer) => readPkiFile(peerCaPath(dir, system, peer))),
  ]);
  return { cert: cert as string, key: key as string, ca: [ownCa as string, ...peers] };
}
