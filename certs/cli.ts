/**
 * `mcx certs init`, `mcx certs issue` and `mcx certs show`: the PKI of the MC systems as a directory the other roles
 * read.
 */
import { X509Certificate, createPrivateKey } from 'node:crypto';
import { join, resolve } from 'node:path';
import { UsageError, type CommandModule } from '../lib/cli.ts';
import { CERTS_INPUT_ERRORS, CertsError, isCertsError } from './errors.ts';
import { initPki, validateSystems, validateTrust, type SystemSpec, type TrustPair } from './issue.ts';
import { issueLeaf } from './issue-leaf.ts';
import { ROLES, readManifest, readPkiFile, type ManifestCert, type PkiManifest } from './layout.ts';

/** Raw option values as commander hands them over (validation is ours, so failures exit 2 naming the field). */
export interface CertsInitCliOptions {
  dir?: unknown;
  system?: unknown;
  trust?: unknown;
  force?: unknown;
}

/**
 * Parses one `--system NAME=REALM`.
 * @throws CertsError `ERR_CERTS_INVALID_SYSTEM` (field `--system`) when there is no `=` or a side is empty.
 */
export function parseSystemOption(text: string): SystemSpec {
  const eq = text.indexOf('=');
  const name = eq < 0 ? '' : text.slice(0, eq).trim();
  const realm = eq < 0 ? '' : text.slice(eq + 1).trim();
  if (!name || !realm) {
    throw new CertsError('ERR_CERTS_INVALID_SYSTEM',
      `--system: expected NAME=REALM (e.g. primary=ims.primary.example), got ${JSON.stringify(text)}`, { field: '--system' });
  }
  return { name, realm };
}

/**
 * Parses one `--trust A=B`.
 * @throws CertsError `ERR_CERTS_INVALID_TRUST` (field `--trust`) when it is not two names around `=`.
 */
export function parseTrustOption(text: string): TrustPair {
  const m = /^\s*([^=\s]+)\s*=\s*([^=\s]+)\s*$/.exec(text);
  if (!m) {
    throw new CertsError('ERR_CERTS_INVALID_TRUST', `--trust: expected SYSTEM=SYSTEM (e.g. partner-a=partner-b), got ${JSON.stringify(text)}`, { field: '--trust' });
  }
  return [m[1] as string, m[2] as string];
}

/** Rethrows input errors of `certs/` as UsageError, so the CLI exits 2 for them and 1 for the rest. */
function asUsage(err: unknown): never {
  if (isCertsError(err) && CERTS_INPUT_ERRORS.has(err.code)) throw new UsageError(err.message);
  throw err;
}

function requireDir(value: unknown): string {
  if (typeof value !== 'string' || value === '') throw new UsageError('--dir is required (the PKI directory)');
  return value;
}

/**
 * Validates `mcx certs init` options into {@link initPki} input.
 * @throws UsageError naming `--dir` or `--system`.
 */
export function initOptions(opts: CertsInitCliOptions): { dir: string; systems: SystemSpec[]; trust: TrustPair[]; force: boolean } {
  const dir = requireDir(opts.dir);
  const list = (v: unknown): string[] => (Array.isArray(v) ? v.map(String) : v === undefined ? [] : [String(v)]);
  try {
    const systems = validateSystems(list(opts.system).map(parseSystemOption));
    const trust = validateTrust(systems, list(opts.trust).map(parseTrustOption));
    return { dir, systems, trust, force: opts.force === true };
  } catch (err) {
    return asUsage(err);
  }
}

/** One certificate as `mcx certs show` reports it. */
export interface CertReport {
  /** `ca`, a role, `<role> <host>` (a leaf of `certs issue`), `idms-signing`, or `trust <peer> ca` / `trust <issuer> idms-signing`. */
  label: string;
  file: string;
  subject: string;
  sans: string[];
  notBefore: string;
  notAfter: string;
  /** Signed by the CA it is expected under (its own system's, or the issuer system's for trust copies). */
  verified: boolean;
  /** The key file holds this certificate's private key; absent for trust copies, which have no key. */
  keyMatches?: boolean;
}

/** What `mcx certs show --json` prints. */
export interface PkiReport {
  dir: string;
  createdAt: string;
  systems: { name: string; realm: string; certs: CertReport[] }[];
}

async function reportCert(dir: string, label: string, file: string, issuerFile: string, keyFile?: string): Promise<CertReport> {
  const x = new X509Certificate(await readPkiFile(join(dir, file)));
  const issuer = new X509Certificate(await readPkiFile(join(dir, issuerFile)));
  const report: CertReport = {
    label,
    file,
    subject: x.subject.split('\n').join(', '),
    sans: x.subjectAltName ? x.subjectAltName.split(', ') : [],
    notBefore: new Date(x.validFrom).toISOString(),
    notAfter: new Date(x.validTo).toISOString(),
    verified: x.checkIssued(issuer) && x.verify(issuer.publicKey),
  };
  if (keyFile !== undefined) report.keyMatches = x.checkPrivateKey(createPrivateKey(await readPkiFile(join(dir, keyFile))));
  return report;
}

/**
 * Reads the manifest of `dir` and every certificate it names, checking each against its CA and key.
 * @throws CertsError `ERR_CERTS_NO_MANIFEST`, `ERR_CERTS_BAD_MANIFEST` or `ERR_CERTS_MISSING_FILE`.
 */
export async function inspectPki(dir: string): Promise<PkiReport> {
  const abs = resolve(dir);
  const manifest: PkiManifest = await readManifest(abs);
  const caOf = (system: string): string => {
    const s = manifest.systems.find((m) => m.name === system);
    if (!s) throw new CertsError('ERR_CERTS_BAD_MANIFEST', `${abs}: trust entry names unknown system ${system}`);
    return s.ca.cert;
  };
  const systems: PkiReport['systems'] = [];
  for (const s of manifest.systems) {
    const own = (label: string, e: ManifestCert): Promise<CertReport> => reportCert(abs, label, e.cert, s.ca.cert, e.key);
    const certs = [await own('ca', s.ca)];
    for (const role of ROLES) certs.push(await own(role, s.roles[role]));
    for (const leaf of s.leaves) certs.push(await own(`${leaf.role} ${leaf.hostname}`, leaf));
    certs.push(await own('idms-signing', s.idmsSigning));
    for (const [peer, file] of Object.entries(s.trust.ca)) certs.push(await reportCert(abs, `trust ${peer} ca`, file, file));
    for (const [issuer, file] of Object.entries(s.trust.idmsSigning)) {
      certs.push(await reportCert(abs, `trust ${issuer} idms-signing`, file, caOf(issuer)));
    }
    systems.push({ name: s.name, realm: s.realm, certs });
  }
  return { dir: abs, createdAt: manifest.createdAt, systems };
}

/** Renders a {@link PkiReport} for people: one block per certificate. */
export function formatReport(r: PkiReport): string {
  const lines = [`PKI in ${r.dir} (created ${r.createdAt})`];
  for (const s of r.systems) {
    lines.push('', `system ${s.name}  realm ${s.realm}`);
    for (const c of s.certs) {
      const checks = [c.verified ? 'signature ok' : 'SIGNATURE DOES NOT VERIFY'];
      if (c.keyMatches !== undefined) checks.push(c.keyMatches ? 'key matches' : 'KEY DOES NOT MATCH');
      lines.push(`  ${c.label.padEnd(26)} ${c.file}`, `      subject  ${c.subject}`);
      if (c.sans.length) lines.push(`      SAN      ${c.sans.join(', ')}`);
      lines.push(`      expires  ${c.notAfter}`, `      check    ${checks.join(', ')}`);
    }
  }
  return lines.join('\n') + '\n';
}

/** Lists what `init` wrote, so the user sees the layout without opening the manifest. */
function formatInit(dir: string, m: PkiManifest): string {
  const lines = [`mcx certs: wrote PKI to ${resolve(dir)}`];
  for (const s of m.systems) {
    lines.push(`  ${s.name} (${s.realm}): ${s.ca.cert}, ${ROLES.map((r) => s.roles[r].cert).join(', ')}, ${s.idmsSigning.cert}` +
      ' (+ .key, mode 0600)');
    for (const f of [...Object.values(s.trust.ca), ...Object.values(s.trust.idmsSigning)]) lines.push(`    trust: ${f}`);
  }
  lines.push(`  manifest: ${resolve(dir, 'manifest.json')}`);
  return lines.join('\n') + '\n';
}

/** Raw options of `mcx certs issue`. */
export interface CertsIssueCliOptions {
  dir?: unknown;
  system?: unknown;
  role?: unknown;
  name?: unknown;
  force?: unknown;
}

/**
 * Runs `mcx certs issue`.
 * @returns the line printed: where the leaf went and what it names.
 * @throws UsageError (exit 2) naming `--dir`, `--system`, `--role` or `--name`.
 */
export async function issueCommand(opts: CertsIssueCliOptions): Promise<string> {
  const dir = requireDir(opts.dir);
  for (const f of ['system', 'role', 'name'] as const) {
    if (typeof opts[f] !== 'string' || opts[f] === '') throw new UsageError(`--${f} is required`);
  }
  try {
    const leaf = await issueLeaf({
      dir: resolve(dir), system: opts.system as string, role: opts.role as string, name: opts.name as string, force: opts.force === true,
    });
    return `mcx certs: issued ${leaf.cert} (+ ${leaf.key}, mode 0600) for ${leaf.hostname}: ${leaf.uri}, signed by ${leaf.realm}'s CA\n`;
  } catch (err) {
    // Overwriting is refused like bad input: the user named a leaf that is there.
    if (isCertsError(err, 'ERR_CERTS_EXISTS')) throw new UsageError(err.message);
    return asUsage(err);
  }
}

/** Adds `mcx certs init`, `mcx certs issue` and `mcx certs show` to the root program. */
export const certsCommand: CommandModule = (program) => {
  const certs = program.command('certs').description('PKI of the MC systems: root CAs, TLS leaves, IdMS signing keys');
  certs
    .command('init')
    .description('create a root CA per system, TLS certificates for registrar/hss/mms/relay/idms, the IdMS ' +
      'token-signing certificate, and the partner trust bundle (primary IdMS signing certificate)')
    .option('--dir <dir>', 'output directory')
    .option('--system <name=realm>', 'an MC system and its realm; repeat (e.g. primary=ims.a.example partner=ims.b.example)',
      (v: string, prev: string[] | undefined) => [...(prev ?? []), v])
    .option('--trust <a=b>', 'two systems that also trust each other\'s CA (default: only the primary and each partner ' +
      'trust each other; partners do not); repeat', (v: string, prev: string[] | undefined) => [...(prev ?? []), v])
    .option('--force', 'replace the named systems and the manifest if they exist')
    .action(async (opts: CertsInitCliOptions) => {
      const input = initOptions(opts);
      const manifest = await initPki(input).catch(asUsage);
      process.stdout.write(formatInit(input.dir, manifest));
    });
  certs
    .command('issue')
    .description('add a TLS leaf for another instance of a role (several MMS or registrar processes) to an existing ' +
      'system, signed by its CA: <system>/leaves/<name>.pem/.key, with the URI mcx://<realm>/<role>')
    .option('--dir <dir>', 'PKI directory (made by certs init)')
    .option('--system <name>', 'the system (primary, partner, …)')
    .option('--role <role>', `the role the leaf may act as: ${ROLES.join(', ')}`)
    .option('--name <fqdn>', 'the host name (CN and DNS SAN), inside the system\'s realm')
    .option('--force', 'replace a leaf of the same name')
    .action(async (opts: CertsIssueCliOptions) => {
      process.stdout.write(await issueCommand(opts));
    });
  certs
    .command('show')
    .description('print the manifest with subject, SANs, expiry and a signature/key check per certificate')
    .option('--dir <dir>', 'PKI directory')
    .option('--json', 'print JSON instead of text')
    .action(async (opts: { dir?: unknown; json?: unknown }) => {
      const report = await inspectPki(requireDir(opts.dir));
      process.stdout.write(opts.json === true ? `${JSON.stringify(report, null, 2)}\n` : formatReport(report));
    });
};
