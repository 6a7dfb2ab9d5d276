/**
 * `mcx certs issue`: one more TLS leaf for a role of a system whose PKI exists (several MMS or registrar processes
 * per system, each with its own host name), signed by that system's CA, written to `<system>/leaves/<fqdn>.{pem,key}`
 * and added to the manifest's `leaves`. The CA and the leaves of `certs init` stay where they are.
 */
import { X509Certificate } from 'node:crypto';
import { access, chmod, mkdir, rename, rm, writeFile } from 'node:fs/promises';
import { dirname, join, relative } from 'node:path';
import { realmSchema } from '../lib/config/address.ts';
import { hostInRealm, isMcxRole } from '../lib/pki/identity.ts';
import { LEAF_KEY_BITS, generateRsaKey, loadRootCa } from './ca.ts';
import { CertsError } from './errors.ts';
import { issueTlsCert, leafManifestEntry } from './issue.ts';
import {
  ROLES, issuedLeafPaths, manifestPath, readManifest, readPkiFile, type ManifestLeaf, type PkiManifest,
} from './layout.ts';

/** Options of {@link issueLeaf}. */
export interface IssueLeafOptions {
  dir: string;
  /** The system's name in the manifest (`primary`, `partner`). */
  system: string;
  /** One of {@link ROLES}. */
  role: string;
  /** The leaf's host name: a DNS name in the system's realm. */
  name: string;
  /** Replace a leaf of the same name. */
  force?: boolean;
  now?: Date;
}

async function exists(path: string): Promise<boolean> {
  return access(path).then(() => true, () => false);
}

/** Writes `data` beside `path` and renames it over, so a reader sees the old file or the new one, never half. */
async function replaceFile(path: string, data: string, mode: number): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  const tmp = `${path}.${process.pid}.tmp`;
  try {
    await writeFile(tmp, data, { mode, flag: 'wx' });
    await chmod(tmp, mode);
    await rename(tmp, path);
  } finally {
    await rm(tmp, { force: true });
  }
}

/**
 * Issues the leaf and records it in the manifest.
 * @returns the manifest entry written.
 * @throws CertsError `ERR_CERTS_INVALID_SYSTEM` (`--system`), `ERR_CERTS_INVALID_LEAF` (`--role`, `--name`),
 *   `ERR_CERTS_EXISTS` (`--name`, without `force`), and the manifest errors of `readManifest`.
 */
export async function issueLeaf(o: IssueLeafOptions): Promise<ManifestLeaf> {
  const manifest: PkiManifest = await readManifest(o.dir);
  const system = manifest.systems.find((s) => s.name === o.system);
  if (!system) {
    throw new CertsError('ERR_CERTS_INVALID_SYSTEM',
      `--system: no system ${JSON.stringify(o.system)} in ${o.dir} (it has ${manifest.systems.map((s) => s.name).join(', ')})`, { field: '--system' });
  }
  if (!isMcxRole(o.role)) {
    throw new CertsError('ERR_CERTS_INVALID_LEAF', `--role: ${JSON.stringify(o.role)} is not one of ${ROLES.join(', ')}`, { field: '--role' });
  }
  const name = o.name.toLowerCase();
  if (!realmSchema.safeParse(name).success || !name.includes('.')) {
    throw new CertsError('ERR_CERTS_INVALID_LEAF', `--name: ${JSON.stringify(o.name)} must be a fully qualified host name`, { field: '--name' });
  }
  if (!hostInRealm(name, system.realm)) {
    throw new CertsError('ERR_CERTS_INVALID_LEAF',
      `--name: ${name} is not in realm ${system.realm} of system ${system.name} (a peer's host must lie in the realm its certificate names)`, { field: '--name' });
  }
  const paths = issuedLeafPaths(o.dir, system.name, name);
  if (!o.force && ((await exists(paths.cert)) || (await exists(paths.key)))) {
    throw new CertsError('ERR_CERTS_EXISTS', `--name: ${paths.cert} already exists; pass --force to replace it`, { field: '--name' });
  }

  const ca = loadRootCa(await readPkiFile(join(o.dir, system.ca.cert)), await readPkiFile(join(o.dir, system.ca.key)));
  const key = await generateRsaKey(LEAF_KEY_BITS);
  const issued = issueTlsCert(ca, system.name, system.realm, o.role, key, o.now ?? new Date(), name);
  await replaceFile(paths.key, issued.key.privateKeyPem, 0o600);
  await replaceFile(paths.cert, issued.certPem, 0o644);

  const x = new X509Certificate(issued.certPem);
  const rel = (p: string): string => relative(o.dir, p).split('\\').join('/');
  const entry = leafManifestEntry({
    cert: rel(paths.cert), key: rel(paths.key), subject: x.subject.split('\n').join(', '),
    notAfter: issued.cert.validity.notAfter.toISOString(), sha256: x.fingerprint256,
  }, name, system.realm, o.role);
  system.leaves = [...system.leaves.filter((l) => l.hostname !== name), entry];
  await replaceFile(manifestPath(o.dir), JSON.stringify(manifest, null, 2) + '\n', 0o644);
  return entry;
}
