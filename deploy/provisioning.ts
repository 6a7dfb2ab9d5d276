/**
 * The users a testbed is provisioned with, and the files the roles load them from at start: the primary HSS's
 * subscribers (hss/csv.ts columns), each partner MMS's static mappings (§10.6.2.2 NOTE 2, mms/mappings-csv.ts)
 * and the primary IdMS's users (idms/users.ts). Rewritten on every start: re-provisioning never lowers the HSS's SQN
 * counter, so the files can always say "from scratch".
 */
import { writeFile } from 'node:fs/promises';

/** A subscriber of the primary HSS: AKA keys (`op` or `opc`, with `amf`) and/or a SIP Digest password. */
export interface ProvisionedSubscriber {
  impi: string;
  impus: readonly string[];
  k?: string;
  op?: string;
  opc?: string;
  amf?: string;
  password?: string;
  mcpttId?: string;
  /** `REALM`, `static:REALM` or `dynamic:REALM` entries (lib/allowed-partners.ts). */
  allowedPartners: readonly string[];
}

/** One static mapping of a partner MMS: a partner IMPI/IMPU and the primary ones it stands for. */
export interface ProvisionedMapping {
  /** The partner system whose MMS has it (default: the first, the one partner of the default layout). */
  system?: string;
  partner: { impi: string; impu: string };
  primary: { impi: string; impu: string };
}

/** A user of the primary IdMS, linked to its HSS subscriber by `mcptt_id`. */
export interface ProvisionedIdmsUser {
  username: string;
  password: string;
  mcpttId: string;
}

/** Everything a testbed provisions. */
export interface Provisioning {
  subscribers: readonly ProvisionedSubscriber[];
  mappings: readonly ProvisionedMapping[];
  idmsUsers: readonly ProvisionedIdmsUser[];
}

/** Where the provisioning files go. */
export interface ProvisioningFiles {
  subscribersCsv: string;
  usersCsv: string;
  /** The static mappings of the partner MMS of each system. */
  mappingsCsvOf(system: string): string;
}

/** Every field is one of our own identifiers or hex strings; a comma or quote in one is a bug of the caller. */
function field(v: string | undefined): string {
  if (v !== undefined && /[",\n\r]/.test(v)) throw new Error(`testbed provisioning: ${JSON.stringify(v)} needs no CSV quoting; use another value`);
  return v ?? '';
}

/**
 * Writes the subscribers, the users and one mappings file per partner system (0600 where they hold keys or passwords).
 * @param primaryRealm the realm the mappings point at.
 * @param systems the partner systems, the first the default of a mapping that names none.
 * @throws Error for a mapping of a system not in `systems`.
 */
export async function writeProvisioningFiles(files: ProvisioningFiles, primaryRealm: string, p: Provisioning, systems: readonly string[]): Promise<void> {
  const stray = p.mappings.find((m) => m.system !== undefined && !systems.includes(m.system));
  if (stray) throw new Error(`testbed provisioning: a mapping for ${stray.system}, which is not a partner system of this testbed (${systems.join(', ')})`);
  const subscribers = p.subscribers.map((s) => [s.impi, s.impus.join(' '), s.k, s.op, s.opc, s.amf, s.password, s.mcpttId, s.allowedPartners.join(' ')]
    .map(field).join(','));
  await writeFile(files.subscribersCsv, ['impi,impus,k,op,opc,amf,password,mcptt_id,allowed_partners', ...subscribers, ''].join('\n'), { mode: 0o600 });
  for (const system of systems) {
    const mine = p.mappings.filter((m) => (m.system ?? systems[0]) === system);
    const mappings = mine.map((m) => [m.partner.impi, m.partner.impu, m.primary.impi, m.primary.impu, primaryRealm].map(field).join(','));
    await writeFile(files.mappingsCsvOf(system), ['partner_impi,partner_impu,primary_impi,primary_impu,primary_realm', ...mappings, ''].join('\n'));
  }
  const users = p.idmsUsers.map((u) => [u.username, u.password, u.mcpttId].map(field).join(','));
  await writeFile(files.usersCsv, ['username,password,mcptt_id', ...users, ''].join('\n'), { mode: 0o600 });
}
