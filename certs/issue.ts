/**
 * Issuing: TLS leaves and the IdMS token-signing certificate under a system's root CA, and `initPki`, which makes
 * the whole directory described in `layout.ts` for a set of systems.
 */
import { X509Certificate } from 'node:crypto';
import { access, chmod, mkdir, mkdtemp, rename, rm, writeFile } from 'node:fs/promises';
import { dirname, join, relative, resolve } from 'node:path';
import { realmSchema } from '../lib/config/address.ts';
import {
  CA_KEY_BITS, LEAF_KEY_BITS, LEAF_VALIDITY_YEARS, createRootCa, generateRsaKey, newCertificate, signLeaf, subjectOf,
  uriAltName, type Issued, type RootCa, type RsaKey,
} from './ca.ts';
import { mcxUri } from '../lib/pki/identity.ts';
import { CertsError } from './errors.ts';
import {
  MANIFEST_VERSION, PRIMARY_SYSTEM, ROLES, caPaths, certPaths, manifestPath, peerCaPath, roleHostname, signingPaths,
  systemDir, trustedSigningCertPath, type ManifestCert, type ManifestLeaf, type ManifestSystem, type PkiManifest, type Role,
} from './layout.ts';

/** One MC system of the PKI: a directory name and the realm its host names live under. */
export interface SystemSpec {
  name: string;
  realm: string;
}

/** Options of {@link initPki}. */
export interface InitPkiOptions {
  dir: string;
  systems: readonly SystemSpec[];
  /** Replace the directories of these systems and the manifest if they exist. */
  force?: boolean;
  /** Issue time (tests); defaults to now. */
  now?: Date;
  /** Pairs of systems that trust each other besides the migration relation ({@link trusts}): `--trust a=b`. */
  trust?: readonly TrustPair[];
}

/** Two systems that trust each other's CA. */
export type TrustPair = readonly [string, string];

/**
 * Whether `system` trusts `peer`'s CA: the migration relation of TS 23.280 §10.6.2 — the primary system and each
 * partner trust each other (inter-system mutual TLS of the MMSs, the binding API) — and nothing else unless asked:
 * two partner systems have no reason to talk, so by default neither can reach the other with a certificate of its
 * own. Trust is mutual because every link between systems is mutual TLS: one direction alone lets nothing through.
 */
export function trusts(system: string, peer: string, extra: readonly TrustPair[] = []): boolean {
  if (system === peer) return false;
  if (system === PRIMARY_SYSTEM || peer === PRIMARY_SYSTEM) return true;
  return extra.some(([a, b]) => (a === system && b === peer) || (a === peer && b === system));
}

/**
 * Checks `--trust a=b` pairs against the systems: both named, not the same.
 * @throws CertsError `ERR_CERTS_INVALID_TRUST` with `field` `--trust`.
 */
export function validateTrust(systems: readonly SystemSpec[], pairs: readonly TrustPair[]): TrustPair[] {
  const names = new Set(systems.map((s) => s.name));
  for (const [a, b] of pairs) {
    const unknown = [a, b].find((n) => !names.has(n));
    if (unknown !== undefined) {
      throw new CertsError('ERR_CERTS_INVALID_TRUST', `--trust ${a}=${b}: ${JSON.stringify(unknown)} is not one of the --system names`, { field: '--trust' });
    }
    if (a === b) throw new CertsError('ERR_CERTS_INVALID_TRUST', `--trust ${a}=${b}: a system always trusts its own CA`, { field: '--trust' });
  }
  return pairs.map(([a, b]) => [a, b] as const);
}

/** System names become directory and file names, so they stay short and plain. */
const SYSTEM_NAME = /^[a-z][a-z0-9-]{0,31}$/;

/**
 * SAN strings of a TLS leaf, in OpenSSL's `TYPE:value` notation, as the manifest lists them: its host name, then
 * `localhost`, 127.0.0.1 and ::1 (so loopback testbeds verify), then its identity URI.
 * @param hostname the leaf's host name (`<role>.<realm>` for the leaves of `certs init`).
 */
export function leafSans(hostname: string, realm: string, role: Role): string[] {
  return [`DNS:${hostname}`, 'DNS:localhost', 'IP:127.0.0.1', 'IP:::1', `URI:${mcxUri(realm, role)}`];
}

/**
 * Issues a TLS certificate of `role`: CN and first SAN `hostname` (default `<role>.<realm>`), plus `localhost`,
 * 127.0.0.1 and ::1, and the URI `mcx://<realm>/<role>` that says which realm and role it holds; `OU=<role>`;
 * CA:FALSE, keyUsage digitalSignature + keyEncipherment (critical), extKeyUsage serverAuth + clientAuth (every role is
 * both server and client of mutual TLS).
 */
export function issueTlsCert(ca: RootCa, system: string, realm: string, role: Role, key: RsaKey, now = new Date(),
  hostname = roleHostname(role, realm)): Issued {
  const cert = newCertificate(key.publicKey, now, LEAF_VALIDITY_YEARS);
  cert.setSubject(subjectOf(hostname, system, role));
  const altNames = leafSans(hostname, realm, role).map((san) => {
    if (san.startsWith('IP:')) return { type: 7, ip: san.slice(3) };
    if (san.startsWith('URI:')) return uriAltName(san.slice(4));
    return { type: 2, value: san.slice(4) };
  });
  const certPem = signLeaf(ca, cert, [
    { name: 'basicConstraints', cA: false, critical: true },
    { name: 'keyUsage', digitalSignature: true, keyEncipherment: true, critical: true },
    { name: 'extKeyUsage', serverAuth: true, clientAuth: true },
    { name: 'subjectAltName', altNames },
  ]);
  return { cert, certPem, key };
}

/**
 * id-kp-documentSigning (RFC 9336). A certificate without extKeyUsage is good for every purpose to OpenSSL, so the
 * signing certificate names this one purpose: TLS stacks then refuse it as a server or client certificate.
 */
export const EKU_DOCUMENT_SIGNING = '1.3.6.1.5.5.7.3.36';

/**
 * Issues the IdMS token-signing certificate: CN `idms.<realm> token signing`, CA:FALSE, keyUsage digitalSignature
 * only (critical), extKeyUsage documentSigning only (no serverAuth/clientAuth). Its RSA key signs RS256 JWS.
 */
export function issueSigningCert(ca: RootCa, system: string, realm: string, key: RsaKey, now = new Date()): Issued {
  const cert = newCertificate(key.publicKey, now, LEAF_VALIDITY_YEARS);
  cert.setSubject(subjectOf(`${roleHostname('idms', realm)} token signing`, system));
  const certPem = signLeaf(ca, cert, [
    { name: 'basicConstraints', cA: false, critical: true },
    { name: 'keyUsage', digitalSignature: true, critical: true },
    { name: 'extKeyUsage', [EKU_DOCUMENT_SIGNING]: true },
  ]);
  return { cert, certPem, key };
}

/**
 * Checks a set of systems: at least one, names `[a-z][a-z0-9-]*`, realms DNS names, no name or realm twice.
 * @throws CertsError with `field` `--system`.
 */
export function validateSystems(systems: readonly SystemSpec[]): SystemSpec[] {
  if (systems.length === 0) {
    throw new CertsError('ERR_CERTS_NO_SYSTEM', '--system: at least one NAME=REALM is required', { field: '--system' });
  }
  const names = new Set<string>();
  const realms = new Set<string>();
  for (const { name, realm } of systems) {
    if (!SYSTEM_NAME.test(name)) {
      throw new CertsError('ERR_CERTS_INVALID_SYSTEM',
        `--system: name ${JSON.stringify(name)} must be lower-case letters, digits and '-', starting with a letter`,
        { field: '--system' });
    }
    if (!realmSchema.safeParse(realm).success) {
      throw new CertsError('ERR_CERTS_INVALID_SYSTEM',
        `--system ${name}: realm ${JSON.stringify(realm)} must be a DNS name such as ims.example.net`, { field: '--system' });
    }
    const lower = realm.toLowerCase();
    if (names.has(name) || realms.has(lower)) {
      throw new CertsError('ERR_CERTS_DUPLICATE_SYSTEM',
        `--system ${name}=${realm}: ${names.has(name) ? 'name' : 'realm'} given twice`, { field: '--system' });
    }
    names.add(name);
    realms.add(lower);
  }
  return systems.map(({ name, realm }) => ({ name, realm }));
}

/** Everything issued for one system, in memory. */
interface SystemPki {
  spec: SystemSpec;
  ca: RootCa;
  leaves: Record<Role, Issued>;
  signing: Issued;
}

async function issueSystem(spec: SystemSpec, now: Date): Promise<SystemPki> {
  // All keys at once: OpenSSL generates them on the thread pool, which is what keeps init at about a second.
  const [caKey, signingKey, ...leafKeys] = await Promise.all([
    generateRsaKey(CA_KEY_BITS),
    generateRsaKey(LEAF_KEY_BITS),
    ...ROLES.map(() => generateRsaKey(LEAF_KEY_BITS)),
  ]);
  const ca = createRootCa(spec.name, spec.realm, caKey as RsaKey, now);
  const leaves = Object.fromEntries(
    ROLES.map((role, i) => [role, issueTlsCert(ca, spec.name, spec.realm, role, leafKeys[i] as RsaKey, now)]),
  ) as Record<Role, Issued>;
  return { spec, ca, leaves, signing: issueSigningCert(ca, spec.name, spec.realm, signingKey as RsaKey, now) };
}

async function exists(path: string): Promise<boolean> {
  return access(path).then(() => true, () => false);
}

/** Writes `data` with `mode` exactly: the creation mode is subject to umask, the chmod is not. */
async function put(path: string, data: string, mode: number): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  await writeFile(path, data, { mode, flag: 'wx' });
  await chmod(path, mode);
}

/**
 * Writes one system's files under `root` (the staging directory) and returns its manifest entry, whose paths are
 * relative to `root` — the same as relative to the final directory, since systems are moved in whole.
 */
async function writeSystem(root: string, pki: SystemPki, all: readonly SystemPki[], extraTrust: readonly TrustPair[]): Promise<ManifestSystem> {
  const { name, realm } = pki.spec;
  const rel = (p: string): string => relative(root, p).split('\\').join('/');
  const entry = async (paths: { cert: string; key: string }, issued: Issued): Promise<ManifestCert> => {
    await put(paths.cert, issued.certPem, 0o644);
    await put(paths.key, issued.key.privateKeyPem, 0o600);
    const x = new X509Certificate(issued.certPem);
    return {
      cert: rel(paths.cert),
      key: rel(paths.key),
      subject: x.subject.split('\n').join(', '),
      notAfter: issued.cert.validity.notAfter.toISOString(),
      sha256: x.fingerprint256,
    };
  };
  const ca = { ...(await entry(caPaths(root, name), pki.ca)), uri: mcxUri(realm) };
  const roles: Partial<ManifestSystem['roles']> = {};
  for (const role of ROLES) {
    roles[role] = leafManifestEntry(await entry(certPaths(root, name, role), pki.leaves[role]), roleHostname(role, realm), realm, role);
  }
  const idmsSigning = await entry(signingPaths(root, name), pki.signing);
  const trust: ManifestSystem['trust'] = { ca: {}, idmsSigning: {} };
  for (const peer of all) {
    if (peer === pki || !trusts(name, peer.spec.name, extraTrust)) continue;
    const caCopy = peerCaPath(root, name, peer.spec.name);
    await put(caCopy, peer.ca.certPem, 0o644);
    trust.ca[peer.spec.name] = rel(caCopy);
    if (peer.spec.name === PRIMARY_SYSTEM) {
      // The out-of-band step of TS 33.180 §5.1.4.2: the partner IdMS holds the primary's signing certificate.
      const bundle = trustedSigningCertPath(root, name, PRIMARY_SYSTEM);
      await put(bundle, peer.signing.certPem, 0o644);
      trust.idmsSigning[PRIMARY_SYSTEM] = rel(bundle);
    }
  }
  return { name, realm, dir: name, ca, roles: roles as ManifestSystem['roles'], leaves: [], idmsSigning, trust };
}

/** A manifest certificate entry completed as a TLS leaf's. */
export function leafManifestEntry(cert: ManifestCert, hostname: string, realm: string, role: Role): ManifestLeaf {
  return { ...cert, hostname, sans: leafSans(hostname, realm, role), role, realm, uri: mcxUri(realm, role) };
}

/**
 * Creates the PKI directory for `systems` (layout in `layout.ts`): per system a root CA, a TLS leaf for every role,
 * the IdMS signing certificate, the trust copies, and `manifest.json`. Files are written to a staging directory
 * first and each system directory is moved into place whole, so a failure leaves no half-written system.
 * @returns the manifest written.
 * @throws CertsError `ERR_CERTS_EXISTS` naming the existing paths when a system directory or the manifest exists and
 *   `force` is not set (nothing is touched then); input errors as in {@link validateSystems}.
 */
export async function initPki(options: InitPkiOptions): Promise<PkiManifest> {
  const systems = validateSystems(options.systems);
  const trustPairs = validateTrust(systems, options.trust ?? []);
  const dir = resolve(options.dir);
  const targets = [...systems.map((s) => systemDir(dir, s.name)), manifestPath(dir)];
  const existing = (await Promise.all(targets.map(async (t) => ((await exists(t)) ? t : null)))).filter(
    (t): t is string => t !== null,
  );
  if (existing.length > 0 && !options.force) {
    throw new CertsError('ERR_CERTS_EXISTS',
      `${dir} already holds a PKI (${existing.join(', ')}); pass --force to regenerate`, { field: '--dir' });
  }
  const now = options.now ?? new Date();
  const pkis = await Promise.all(systems.map((s) => issueSystem(s, now)));

  await mkdir(dir, { recursive: true });
  const staging = await mkdtemp(join(dir, '.certs-init-'));
  try {
    const entries: ManifestSystem[] = [];
    for (const pki of pkis) entries.push(await writeSystem(staging, pki, pkis, trustPairs));
    const manifest: PkiManifest = {
      version: MANIFEST_VERSION,
      generator: 'mcx certs init',
      createdAt: now.toISOString(),
      systems: entries,
    };
    await put(join(staging, 'manifest.json'), JSON.stringify(manifest, null, 2) + '\n', 0o644);
    for (const pki of pkis) {
      const target = systemDir(dir, pki.spec.name);
      // Only under force: without it the target was absent a moment ago, and whatever appeared since is not ours.
      if (options.force) await rm(target, { recursive: true, force: true });
      await rename(join(staging, pki.spec.name), target);
    }
    // The manifest goes last, so an init that fails midway leaves no manifest vouching for its systems.
    await rename(join(staging, 'manifest.json'), manifestPath(dir));
    return manifest;
  } finally {
    await rm(staging, { recursive: true, force: true });
  }
}
