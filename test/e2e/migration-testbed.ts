/**
 * Both MC systems as separate `mcx` processes on loopback (deploy/testbed-builder.ts), for the end-to-end tests of
 * TS 23.280 §10.6.2.3 (and §10.6.2.2 beside it) and the cross-system attack tests: PKI of primary, partner and a
 * third system `rogue`; the primary HSS's subscribers with `mcptt_id` and `allowed_partners` (RAND policy sipp361
 * for SIPp), a static mapping `<name>.static@partner` per subscriber, a primary IdMS user per subscriber; the relay →
 * HSS and registrar → partner MMS legs plain TCP inside their systems, every link between the systems mutual TLS;
 * the registrar on UDP, TCP and TLS (certificate `registrar.partner.example`, also valid for 127.0.0.1); the partner
 * IdMS's issuer named `localhost` (the UE checks a DNS name there, an IP address at the primary).
 */
import { randomBytes } from 'node:crypto';
import { caPaths } from '../../certs/layout.ts';
import { TwoSystemTestbed } from '../../deploy/testbed-builder.ts';
import { UE_CLIENT } from '../../deploy/roles.ts';
import { migrate as migrateUe, type Migration, type MigrateStep } from '../../ue-client/migrate.ts';
import { startMcx } from '../helpers/process.ts';

export const PRIMARY_REALM = 'primary.example';
export const PARTNER_REALM = 'partner.example';
export const CLIENT_ID = UE_CLIENT.clientId;
export const REDIRECT_URI = UE_CLIENT.redirectUri;

/** The running testbed of these tests. */
export type MigrationTestbed = TwoSystemTestbed;

/** A subscriber of the primary system with keys SIPp 3.6.1 can take (no 0x00 first octet, OP not OPc). */
export interface Subscriber {
  name: string;
  impi: string;
  impus: string[];
  k: string;
  op: string;
  amf: string;
  mcpttId: string;
  password: string;
  allowedPartners: string[];
}

function sippSafeKey(): string {
  for (;;) {
    const b = randomBytes(16);
    if (b[0] !== 0) return b.toString('hex');
  }
}

/** A primary subscriber named `name`. */
export function subscriber(name: string, allowedPartners: string[] = [PARTNER_REALM]): Subscriber {
  return {
    name, impi: `${name}@${PRIMARY_REALM}`, impus: [`sip:${name}@${PRIMARY_REALM}`, `tel:+4989${randomBytes(3).readUIntBE(0, 3)}`],
    k: sippSafeKey(), op: sippSafeKey(), amf: '8000', mcpttId: `sip:${name}@mcptt.${PRIMARY_REALM}`, password: `${name}-secret-${randomBytes(4).toString('hex')}`,
    allowedPartners,
  };
}

/** A static mapping of the partner MMS for `s`: `<name>.static@partner` ↔ its primary identities. */
export function staticIdentity(s: Subscriber): { impi: string; impu: string } {
  return { impi: `${s.name}.static@${PARTNER_REALM}`, impu: `sip:${s.name}.static@${PARTNER_REALM}` };
}

/** Makes the directory, PKI and provisioning files, and starts every role as its own process. */
export async function startMigrationTestbed(subscribers: readonly Subscriber[]): Promise<MigrationTestbed> {
  const tb = await TwoSystemTestbed.create({
    dir: { temp: 'e2e' }, realms: { primary: PRIMARY_REALM, partner: PARTNER_REALM }, otherSystems: [{ name: 'rogue', realm: 'rogue.example' }],
    tls: { hss: false, registrar: false }, randPolicy: 'sipp361', issuerHosts: { partner: 'localhost' }, processes: 'all', launch: startMcx,
    admin: true,
    provisioning: {
      subscribers: subscribers.map((u) => ({ impi: u.impi, impus: u.impus, k: u.k, op: u.op, amf: u.amf, mcpttId: u.mcpttId, allowedPartners: u.allowedPartners })),
      mappings: subscribers.map((u) => ({ partner: staticIdentity(u), primary: { impi: u.impi, impu: u.impus[0] as string } })),
      idmsUsers: subscribers.map((u) => ({ username: u.name, password: u.password, mcpttId: u.mcpttId })),
    },
  });
  return tb.start();
}

/** The UE's migration configuration for `u` (IdMS login, token exchange, jwt-bearer, configuration request). */
export function migrate(tb: MigrationTestbed, u: Subscriber, onStep?: (s: MigrateStep) => void): Promise<Migration> {
  return migrateUe({ ...tb.migrationOptions({ username: u.name, password: u.password }), ...(onStep ? { onStep } : {}) });
}

/** The IdM options of `mcx ue migrate` for `u`: both IdMSs, the partner MMS migration API, the login, each system's CA. */
export function ueMigrateArgs(tb: MigrationTestbed, u: Subscriber): string[] {
  const a = tb.addresses;
  return ['--primary-idms', a.primaryIssuer, '--partner-idms', a.partnerIssuer, '--partner-mms', a.migrationApi, '--username', u.name,
    '--password', u.password, '--client-id', CLIENT_ID, '--redirect-uri', REDIRECT_URI,
    '--primary-ca', caPaths(tb.pki, 'primary').cert, '--partner-ca', caPaths(tb.pki, 'partner').cert];
}
