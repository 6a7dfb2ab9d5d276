/**
 * The files of a multi-host rehearsal under one `--dir`, laid out as the real hosts would hold them:
 *
 *   pki/, ue/, subscribers.csv, mappings.csv, users.csv   the operator's side, as `mcx testbed` keeps it (topology.ts):
 *                                                         the PKI with both CA keys, the demo users (alice, bob, carol)
 *   hosts/<system>/etc/      what /etc/mcx of that system's hosts holds: pki/<system>/ (its leaves and keys, its CA
 *                            certificate and trust/, never a CA key), <system>/<role>.env per unit, and the
 *                            provisioning files of its roles (primary: subscribers.csv, idms-users.csv,
 *                            hss-admin-token; partner: mappings.csv)
 *   hosts/<system>/state/    %S (/var/lib): mcx/<role>-<system>/ of each unit
 *   hosts/<system>/credentials/<unit>/   %d: the unit's LoadCredential= copies
 *   hosts/<system>/log/<unit>.log        what the unit printed (the journal of a real host)
 *   hosts/ue/                the UE's files: credentials (K, OP), carol's password file, the two CAs, ISIM states
 *
 * Everything is made once and reused by the next run of the same directory (PKI, users, ISIM and SQN state, as
 * the testbed does); the env files are written anew each time (the store may change).
 */
import { access, cp, mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { caPaths } from '../../certs/layout.ts';
import { ensureAdminToken } from '../../lib/admin/token.ts';
import { writeProvisioningFiles } from '../provisioning.ts';
import { DEFAULT_PARTNER, demoProvisioning, ensureDemoUsers, ensurePki, layoutOf, type DemoUsers, type TestbedLayout } from '../topology.ts';
import { NETNS_REALMS, ROLES, envOf, type Host, type RoleKey, type StoreKind } from './plan.ts';

/** Where the rehearsal keeps each host's files. */
export interface HostDirs {
  /** What stands for /etc/mcx on this host. */
  etc: string;
  /** What stands for %S (/var/lib). */
  state: string;
  credentials: string;
  log: string;
}

/** The paths of one rehearsal directory. */
export interface NetnsLayout {
  dir: string;
  /** The operator's side: PKI and users, as the testbed's. */
  operator: TestbedLayout;
  host(h: Exclude<Host, 'ue'>): HostDirs;
  ue: {
    dir: string; aliceCredentials: string; aliceIsim: string; carolCredentials: string; carolIsim: string; carolPassword: string;
    primaryCa: string; partnerCa: string;
  };
}

/** The layout under `dir` (made absolute). */
export function netnsLayoutOf(dir: string): NetnsLayout {
  const operator = layoutOf(dir);
  const hosts = join(operator.dir, 'hosts');
  const ue = join(hosts, 'ue');
  return {
    dir: operator.dir, operator,
    host: (h) => ({ etc: join(hosts, h, 'etc'), state: join(hosts, h, 'state'), credentials: join(hosts, h, 'credentials'), log: join(hosts, h, 'log') }),
    ue: {
      dir: ue, aliceCredentials: join(ue, 'alice.json'), aliceIsim: join(ue, 'alice.isim.json'), carolCredentials: join(ue, 'carol.json'),
      carolIsim: join(ue, 'carol.isim.json'), carolPassword: join(ue, 'carol.password'), primaryCa: join(ue, 'primary-ca.pem'),
      partnerCa: join(ue, 'partner-ca.pem'),
    },
  };
}

/** The env file of a role inside its host's /etc/mcx: `<system>/<role>.env`. */
export function envFileOf(l: NetnsLayout, key: RoleKey): string {
  const r = ROLES[key];
  return join(l.host(r.host).etc, r.host, `${r.role}.env`);
}

function envText(env: Record<string, string>): string {
  return `${Object.entries(env).map(([k, v]) => `${k}=${v}`).join('\n')}\n`;
}

async function write(file: string, text: string, mode = 0o644): Promise<void> {
  await mkdir(join(file, '..'), { recursive: true, mode: 0o755 });
  await writeFile(file, text, { mode });
}

/** A system's PKI directory as its hosts get it: everything but the CA's private key, which stays with the operator. */
async function copySystemPki(l: NetnsLayout, system: Exclude<Host, 'ue'>): Promise<void> {
  const caKey = caPaths(l.operator.pki, system).key;
  await cp(join(l.operator.pki, system), join(l.host(system).etc, 'pki', system), { recursive: true, filter: (src) => src !== caKey });
}

/**
 * Makes (or reuses) the rehearsal's files: PKI, users, each host's /etc/mcx with its env files, the UE's files.
 * @param note told when a saved user got new keys (topology.ts).
 * @returns the layout and the demo users.
 * @throws UsageError for a directory whose PKI or users were made for other realms.
 */
export async function provision(dir: string, store: StoreKind, note?: (line: string) => void): Promise<{ layout: NetnsLayout; users: DemoUsers }> {
  const l = netnsLayoutOf(dir);
  const realms = NETNS_REALMS;
  await ensurePki(l.operator, realms);
  const users = await ensureDemoUsers(l.operator, realms, note);
  await writeProvisioningFiles(l.operator, realms.primary, demoProvisioning(realms, users.alice, users.bob, users.carol), [DEFAULT_PARTNER]);
  for (const system of ['primary', 'partner'] as const) await copySystemPki(l, system);

  const primaryEtc = join(l.host('primary').etc, 'primary');
  await write(join(primaryEtc, 'subscribers.csv'), await readFile(l.operator.subscribersCsv, 'utf8'), 0o600);
  await write(join(primaryEtc, 'idms-users.csv'), await readFile(l.operator.usersCsv, 'utf8'), 0o600);
  // One token, copied to the HSS and to the primary MMS (LoadCredential= of both units).
  await ensureAdminToken({ tokenFile: join(primaryEtc, 'hss-admin-token'), stateDir: primaryEtc });
  await write(join(l.host('partner').etc, 'partner', 'mappings.csv'), await readFile(l.operator.mappingsCsvOf(DEFAULT_PARTNER), 'utf8'));
  for (const key of Object.keys(ROLES) as RoleKey[]) await write(envFileOf(l, key), envText(envOf(key, store)));

  const { alice, carol } = users;
  await write(l.ue.aliceCredentials, `${JSON.stringify({
    'k': alice.k, 'op': alice.op, 'amf': alice.amf, 'isim-state': l.ue.aliceIsim, 'isim-impi': alice.primary.impi, 'isim-impu': alice.primary.impu,
    'isim-domain': realms.primary,
  }, null, 2)}\n`, 0o600);
  await write(l.ue.carolCredentials, `${JSON.stringify({
    'k': carol.k, 'op': carol.op, 'amf': carol.amf, 'isim-state': l.ue.carolIsim, 'isim-impi': carol.primary.impi, 'password-file': l.ue.carolPassword,
  }, null, 2)}\n`, 0o600);
  await write(l.ue.carolPassword, `${carol.password}\n`, 0o600);
  await write(l.ue.primaryCa, await readFile(caPaths(l.operator.pki, 'primary').cert, 'utf8'));
  await write(l.ue.partnerCa, await readFile(caPaths(l.operator.pki, DEFAULT_PARTNER).cert, 'utf8'));
  return { layout: l, users };
}

/**
 * The layout and users of a directory `up` provisioned, for flows against a deployment that is up (no user made anew).
 * @throws Error when the directory holds no rehearsal.
 */
export async function provisioned(dir: string): Promise<{ layout: NetnsLayout; users: DemoUsers }> {
  const layout = netnsLayoutOf(dir);
  for (const f of [layout.ue.aliceCredentials, layout.ue.carolCredentials, layout.operator.userFile, layout.operator.dynamicUserFile]) {
    await access(f).catch(() => {
      throw new Error(`--dir ${layout.dir}: no rehearsal there (${f} is missing); mcx deploy netns up --dir ${dir} first`);
    });
  }
  return { layout, users: await ensureDemoUsers(layout.operator, NETNS_REALMS) };
}
