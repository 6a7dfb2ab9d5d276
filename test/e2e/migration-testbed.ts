/**
 * Both MC systems as separate `mcx` processes on loopback, for the end-to-end tests of TS 23.280 §10.6.2.3 (and
 * §10.6.2.2 beside it): PKI from `initPki` (primary, partner, rogue); primary system = HSS (subscribers from CSV
 * with `mcptt_id` and `allowed_partners`, RAND policy sipp361 for SIPp), relay ("SIP core / IMS"), primary MMS
 * (binding API over mutual TLS, the HSS admin API as its subscriber directory), primary IdMS; partner system =
 * partner IdMS, partner MMS (static mappings + migration API), registrar (UDP, TCP, and TLS with the partner registrar
 * certificate). Every Diameter link between the systems is mutual TLS. `ueMigrateArgs` gives the IdM half of
 * `mcx ue migrate` for a subscriber. `close()` stops everything and removes the directory.
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { initPki } from '../../certs/issue.ts';
import { caPaths, certPaths, peerCaPath, signingPaths, trustedSigningCertPath } from '../../certs/layout.ts';
import { freePorts } from '../helpers/ports.ts';
import { startMcx, type Proc } from '../helpers/process.ts';
import { migrate, type Migration, type MigrateStep } from '../../ue-client/migrate.ts';

export const PRIMARY_REALM = 'primary.example';
export const PARTNER_REALM = 'partner.example';
export const CLIENT_ID = 'mcx-ue';
export const REDIRECT_URI = 'http://127.0.0.1/callback';

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

/** A running process and the addresses its ready line named. */
export interface Started {
  proc: Proc;
  match: RegExpMatchArray;
}

/** Where everything listens, once started. */
export interface Addresses {
  hssDiameter: number;
  relay: number;
  primaryMms: number;
  partnerMms: number;
  sipUdp: number;
  sipTcp: number;
  /** The registrar's TLS listener (certificate `registrar.partner.example`, also valid for 127.0.0.1). */
  sipTls: number;
  bindingApi: string;
  migrationApi: string;
  primaryIssuer: string;
  partnerIssuer: string;
}

/** The two systems. */
export class MigrationTestbed {
  readonly procs = new Map<string, Proc>();
  readonly addresses = {} as Addresses;
  ca = { primary: '', partner: '' };

  private constructor(readonly dir: string, readonly subscribers: Subscriber[]) {}

  get pki(): string {
    return join(this.dir, 'pki');
  }

  /** Makes the directory, PKI and provisioning files, and starts every role. */
  static async start(subscribers: Subscriber[]): Promise<MigrationTestbed> {
    const tb = new MigrationTestbed(await mkdtemp(join(tmpdir(), 'mcx-e2e-')), subscribers);
    try {
      await tb.provision();
      await tb.startAll();
      return tb;
    } catch (e) {
      await tb.close();
      throw e;
    }
  }

  private async provision(): Promise<void> {
    await initPki({ dir: this.pki, systems: [{ name: 'primary', realm: PRIMARY_REALM }, { name: 'partner', realm: PARTNER_REALM }, { name: 'rogue', realm: 'rogue.example' }] });
    this.ca = { primary: await readFile(caPaths(this.pki, 'primary').cert, 'utf8'), partner: await readFile(caPaths(this.pki, 'partner').cert, 'utf8') };
    const s = this.subscribers;
    await writeFile(join(this.dir, 'subs.csv'), `impi,impus,k,op,amf,mcptt_id,allowed_partners\n${s.map((u) =>
      `${u.impi},${u.impus.join(' ')},${u.k},${u.op},${u.amf},${u.mcpttId},${u.allowedPartners.join(' ')}`).join('\n')}\n`);
    await writeFile(join(this.dir, 'users.csv'), `username,password,mcptt_id\n${s.map((u) => `${u.name},${u.password},${u.mcpttId}`).join('\n')}\n`);
    await writeFile(join(this.dir, 'mappings.csv'), `partner_impi,partner_impu,primary_impi,primary_impu,primary_realm\n${s.map((u) =>
      `${staticIdentity(u).impi},${staticIdentity(u).impu},${u.impi},${u.impus[0] as string},${PRIMARY_REALM}`).join('\n')}\n`);
  }

  /** `--tls-*` of a role: its certificate, its own CA, then the CAs of `trust`. */
  tlsArgs(system: string, role: 'mms' | 'relay' | 'registrar' | 'hss', trust: string[] = []): string[] {
    const p = certPaths(this.pki, system, role);
    return ['--tls-cert', p.cert, '--tls-key', p.key, '--tls-ca', [p.ca, ...trust.map((t) => peerCaPath(this.pki, system, t))].join(',')];
  }

  /** Starts `mcx args…` as `name` and waits for its ready line. */
  async run(name: string, args: string[], ready: RegExp): Promise<Started> {
    const proc = startMcx(args, { env: { ...process.env, MCX_LOG_LEVEL: 'debug' } });
    this.procs.set(name, proc);
    return { proc, match: await proc.waitFor(ready, 30_000) };
  }

  /** The output of a role so far. */
  output(name: string): string {
    return this.procs.get(name)?.output() ?? '';
  }

  /** Starts the HSS (plain TCP inside the primary system, HTTP admin on loopback) on `port` (0: any). */
  async startHss(port = 0): Promise<void> {
    const m = await this.run('hss', ['hss', '--listen', `127.0.0.1:${port}`, '--origin-host', `hss.${PRIMARY_REALM}`, '--realm', PRIMARY_REALM,
      '--subscribers', join(this.dir, 'subs.csv'), '--state-dir', join(this.dir, 'hss'), '--admin', `127.0.0.1:${port === 0 ? 0 : port + 1}`,
      '--rand-policy', 'sipp361'], /hss: listening diameter=tcp:\/\/[\d.]+:(\d+) admin=(\S+)/);
    this.addresses.hssDiameter = Number(m.match[1]);
    this.hssAdmin = m.match[2] as string;
  }

  private hssAdmin = '';

  private async startAll(): Promise<void> {
    const [pIdms, qIdms, sipUdp, sipTcp, sipTls] = await freePorts(5);
    const a = this.addresses;
    a.primaryIssuer = `https://127.0.0.1:${pIdms}`;
    a.partnerIssuer = `https://localhost:${qIdms}`;
    a.sipUdp = sipUdp as number;
    a.sipTcp = sipTcp as number;
    a.sipTls = sipTls as number;
    const idmsTls = (s: string): string[] => ['--tls-cert', certPaths(this.pki, s, 'idms').cert, '--tls-key', certPaths(this.pki, s, 'idms').key,
      '--signing-key', signingPaths(this.pki, s).key, '--signing-cert', signingPaths(this.pki, s).cert, '--client', `${CLIENT_ID}=${REDIRECT_URI}`];
    const idms = Promise.all([
      this.run('primary-idms', ['idms', '--role', 'primary', '--listen', `127.0.0.1:${pIdms}`, '--issuer', a.primaryIssuer, ...idmsTls('primary'),
        '--partner', `partner=${a.partnerIssuer}`, '--state-dir', join(this.dir, 'primary-idms'), '--users', join(this.dir, 'users.csv')], /idms: listening/),
      this.run('partner-idms', ['idms', '--role', 'partner', '--listen', `127.0.0.1:${qIdms}`, '--issuer', a.partnerIssuer, ...idmsTls('partner'),
        '--trusted-issuer', a.primaryIssuer, '--trust-cert', trustedSigningCertPath(this.pki, 'partner'), '--state-dir', join(this.dir, 'partner-idms')], /idms: listening/),
    ]);
    // Awaited below; a start failing before then must not leave it an unhandled rejection hiding the real failure.
    idms.catch(() => undefined);
    await this.startHss();
    const relay = await this.run('relay', ['relay', '--listen', '127.0.0.1:0', '--origin-host', `relay.${PRIMARY_REALM}`, '--realm', PRIMARY_REALM,
      '--route', `${PRIMARY_REALM}=tcp://127.0.0.1:${a.hssDiameter}`, ...this.tlsArgs('primary', 'relay', ['partner'])], /relay: listening diameter=tls:\/\/[\d.]+:(\d+)/);
    a.relay = Number(relay.match[1]);
    const primary = await this.run('primary-mms', ['mms', '--role', 'primary', '--listen', '127.0.0.1:0', '--origin-host', `mms.${PRIMARY_REALM}`, '--realm', PRIMARY_REALM,
      '--route', `${PRIMARY_REALM}=127.0.0.1:${a.relay}`, '--binding-api', '127.0.0.1:0', '--hss-admin', this.hssAdmin,
      '--hss-admin-token-file', join(this.dir, 'hss', 'admin-token'), '--state-dir', join(this.dir, 'primary-mms'), ...this.tlsArgs('primary', 'mms', ['partner'])],
    /mms: listening diameter=tls:\/\/[\d.]+:(\d+) bindings=(\S+) role=primary/);
    a.primaryMms = Number(primary.match[1]);
    a.bindingApi = primary.match[2] as string;
    await idms;
    const partner = await this.run('partner-mms', ['mms', '--role', 'partner', '--listen', 'tcp://127.0.0.1:0', '--origin-host', `mms.${PARTNER_REALM}`, '--realm', PARTNER_REALM,
      '--route', `${PRIMARY_REALM}=127.0.0.1:${a.relay}`, '--mappings', join(this.dir, 'mappings.csv'), '--state-dir', join(this.dir, 'partner-mms'),
      '--primary-system', `realm=${PRIMARY_REALM},idms=${a.primaryIssuer},api=${a.bindingApi},cx=127.0.0.1:${a.primaryMms}`,
      '--migration-api', '127.0.0.1:0', '--token-issuer', a.partnerIssuer, '--token-cert', signingPaths(this.pki, 'partner').cert,
      '--registrar-uri', `sip:127.0.0.1:${a.sipUdp};transport=udp`, ...this.tlsArgs('partner', 'mms', ['primary'])],
    /mms: listening diameter=tcp:\/\/[\d.]+:(\d+) migration=(\S+) role=partner/);
    a.partnerMms = Number(partner.match[1]);
    a.migrationApi = partner.match[2] as string;
    await this.run('registrar', ['registrar', '--sip', `udp:127.0.0.1:${a.sipUdp},tcp:127.0.0.1:${a.sipTcp},tls:127.0.0.1:${a.sipTls}`, '--domain', PARTNER_REALM,
      ...this.tlsArgs('partner', 'registrar'),
      '--hss', `127.0.0.1:${a.partnerMms}`, '--origin-host', `registrar.${PARTNER_REALM}`, '--realm', PARTNER_REALM,
      '--state-dir', join(this.dir, 'registrar')], /registrar: listening/);
    // Both paths toward the primary are up before a test sends anything.
    await partner.proc.waitFor(/route to primary\.example: relay\.primary\.example/, 10_000);
    await partner.proc.waitFor(/primary-mms path to primary\.example: mms\.primary\.example/, 10_000);
    await this.procs.get('registrar')?.waitFor(/"msg":"Diameter peer open"/, 10_000);
  }

  /** The UE's migration configuration for `u` (IdMS login, token exchange, jwt-bearer, configuration request). */
  migrate(u: Subscriber, onStep?: (s: MigrateStep) => void): Promise<Migration> {
    const a = this.addresses;
    return migrate({
      primaryIssuer: a.primaryIssuer, primaryCa: this.ca.primary, partnerIssuer: a.partnerIssuer, partnerCa: this.ca.partner, partnerMms: a.migrationApi,
      clientId: CLIENT_ID, redirectUri: REDIRECT_URI, username: u.name, password: u.password, ...(onStep ? { onStep } : {}),
    });
  }

  /** The CA files of both systems (what a migrating UE trusts). */
  caFiles(): string[] {
    return [caPaths(this.pki, 'primary').cert, caPaths(this.pki, 'partner').cert];
  }

  /** The IdM options of `mcx ue migrate` for `u`: both IdMSs, the partner MMS migration API, the login, each system's CA. */
  ueMigrateArgs(u: Subscriber): string[] {
    const a = this.addresses;
    return ['--primary-idms', a.primaryIssuer, '--partner-idms', a.partnerIssuer, '--partner-mms', a.migrationApi, '--username', u.name,
      '--password', u.password, '--client-id', CLIENT_ID, '--redirect-uri', REDIRECT_URI,
      '--primary-ca', caPaths(this.pki, 'primary').cert, '--partner-ca', caPaths(this.pki, 'partner').cert];
  }

  /** Stops one role (SIGTERM). */
  async stop(name: string): Promise<void> {
    await this.procs.get(name)?.stop('SIGTERM');
    this.procs.delete(name);
  }

  /** Stops everything and removes the directory. */
  async close(): Promise<void> {
    await Promise.all([...this.procs.values()].map((p) => p.stop()));
    await rm(this.dir, { recursive: true, force: true });
  }
}
