/**
 * The static-flow testbed of the MMS process tests, each role its own `mcx` process on loopback: the primary HSS
 * (plain TCP), the relay standing for the primary SIP core / IMS (mutual TLS toward the partner, `tcp://` toward the
 * HSS so tshark can read that leg), the partner MMS (mutual TLS both ways), and an in-process Diameter client standing
 * for the partner registrar — or, for the SIP-level end-to-end tests (test/e2e), the real one (`sipRegistrar`,
 * `sipChain`). PKI from `initPki` (primary, partner, rogue) in a temp dir; everything is undone by `close()`.
 */
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { initPki } from '../../certs/issue.ts';
import { certPaths, loadTlsMaterial, peerCaPath } from '../../certs/layout.ts';
import { Milenage } from '../../lib/aka/index.ts';
import type { DiameterMessage } from '../../lib/diameter/codec.ts';
import { buildMar, buildSar, ServerAssignmentType, UserDataAlreadyAvailable } from '../../lib/diameter/cx/index.ts';
import { CX_APPLICATION, DiameterNode } from '../../lib/diameter/node.ts';
import { startMcx, type Proc } from '../helpers/process.ts';
import { adminRequest, type AdminTarget } from '../../lib/admin/client.ts';
import type { BindingView } from '../../registrar/admin-api.ts';
import { readAdminToken } from '../../lib/admin/token.ts';
import { K, OP, OPC } from '../hss/helpers.ts';

export { K, OP, OPC };
export const PRIMARY_REALM = 'primary.example';
export const PARTNER_REALM = 'partner.example';
export const REGISTRAR_HOST = `registrar.${PARTNER_REALM}`;
/** The USIM of the primary subscriber (the ISIM keeps the primary keys whatever identities the UE registers with). */
export const USIM = new Milenage(Buffer.from(K, 'hex'), Buffer.from(OPC, 'hex'));

/** The migrating user: primary identities (HSS) and the partner identities the partner MMS maps them from. */
export const USER = {
  primary: { impi: `alice@${PRIMARY_REALM}`, impus: [`sip:alice@${PRIMARY_REALM}`, 'tel:+4989222'] },
  partner: { impi: `alice.mig@${PARTNER_REALM}`, impus: [`sip:alice.mig@${PARTNER_REALM}`, 'tel:+4930111'] },
} as const;

/** Every string that names the user in the primary system, and in the partner system. */
export const PRIMARY_NAMES = ['alice@primary.example', 'tel:+4989222'];
export const PARTNER_NAMES = ['alice.mig', '+4930111'];

const MAPPINGS_CSV = `partner_impi,partner_impu,primary_impi,primary_impu,primary_realm
${USER.partner.impi},${USER.partner.impus[0]},${USER.primary.impi},${USER.primary.impus[0]},${PRIMARY_REALM}
${USER.partner.impi},${USER.partner.impus[1]},${USER.primary.impi},${USER.primary.impus[1]},${PRIMARY_REALM}
`;

/** The log line of an agent whose route to the primary realm is up through `host`.primary.example. */
export const ROUTE_UP = (host: string): RegExp => new RegExp(`"msg":"route to primary\\.example: ${host}\\.primary\\.example"`);

/** A started role: its process and the port it listens on. */
export interface Role {
  proc: Proc;
  port: number;
  /** The admin API URL, when the role has one. */
  adminUrl?: string;
}

/** A started `mcx registrar`: its SIP ports (UDP, TCP) and admin API. */
export interface SipRole extends Role {
  udp: number;
  tcp: number;
  adminUrl: string;
}

/** Every process of the static flow behind the partner SIP core, each with its Diameter routes up. */
export interface SipChain {
  hss: Role;
  relay: Role;
  mms: Role;
  registrar: SipRole;
}

/** One temp directory with the PKI, the subscriber and mapping files, and every process started from it. */
export class Testbed {
  private readonly procs: Proc[] = [];
  private readonly nodes: DiameterNode[] = [];
  private sessions = 0;

  private constructor(readonly dir: string) {}

  /**
   * Makes the directory, the PKI (primary, partner, rogue) and the CSV files.
   * @param o `amf`: provision the subscriber with OP (the same OPc) and this AMF, as a UE that takes OP needs (SIPp).
   */
  static async create(name: string, o: { amf?: string } = {}): Promise<Testbed> {
    const tb = new Testbed(await mkdtemp(join(tmpdir(), `mcx-${name}-`)));
    await initPki({ dir: tb.pki, systems: [{ name: 'primary', realm: PRIMARY_REALM }, { name: 'partner', realm: PARTNER_REALM }, { name: 'rogue', realm: 'rogue.example' }] });
    const ids = `${USER.primary.impi},${USER.primary.impus.join(' ')},${K}`;
    await writeFile(join(tb.dir, 'subs.csv'), o.amf === undefined ? `impi,impus,k,opc,allowed_partners\n${ids},${OPC},${PARTNER_REALM}\n` : `impi,impus,k,op,amf,allowed_partners\n${ids},${OP},${o.amf},${PARTNER_REALM}\n`);
    await writeFile(join(tb.dir, 'mappings.csv'), MAPPINGS_CSV);
    return tb;
  }

  get pki(): string {
    return join(this.dir, 'pki');
  }

  /** `--tls-*` options of a role: its certificate, its own CA, then the CAs of `trust`. */
  tlsArgs(system: string, role: 'mms' | 'relay' | 'registrar', trust: string[] = []): string[] {
    const p = certPaths(this.pki, system, role);
    return ['--tls-cert', p.cert, '--tls-key', p.key, '--tls-ca', [p.ca, ...trust.map((t) => peerCaPath(this.pki, system, t))].join(',')];
  }

  /** Starts `mcx args…` and waits for `ready`; the first group of `ready` is the port, the second the admin URL. */
  async start(args: string[], ready: RegExp): Promise<Role> {
    const { proc, m } = await this.launch(args, ready);
    return { proc, port: Number(m[1]), ...(m[2] === undefined ? {} : { adminUrl: m[2] }) };
  }

  private async launch(args: string[], ready: RegExp): Promise<{ proc: Proc; m: RegExpExecArray }> {
    const proc = startMcx(args, { env: { ...process.env, MCX_LOG_LEVEL: 'debug' } });
    this.procs.push(proc);
    return { proc, m: await proc.waitFor(ready, 30_000) };
  }

  /** The admin API of a role started with `--admin` and `--state-dir <testbed>/<stateDir>` (token from its file; partner CA for HTTPS). */
  async admin(role: Role, stateDir: string): Promise<AdminTarget> {
    if (role.adminUrl === undefined) throw new Error('the role runs without its admin API');
    return { url: role.adminUrl, token: await readAdminToken(join(this.dir, stateDir, 'admin-token')), ca: [await readFile(certPaths(this.pki, 'partner', 'mms').ca, 'utf8')] };
  }

  /** The primary HSS over plain TCP (`port` 0: ephemeral); `extra` options such as `--rand-policy sipp361`. */
  hss(port = 0, stateDir = 'hss-state', extra: string[] = []): Promise<Role> {
    return this.start(['hss', '--listen', `127.0.0.1:${port}`, '--origin-host', `hss.${PRIMARY_REALM}`, '--realm', PRIMARY_REALM,
      '--subscribers', join(this.dir, 'subs.csv'), '--state-dir', join(this.dir, stateDir), '--admin', '127.0.0.1:0', ...extra],
    /hss: listening diameter=tcp:\/\/[\d.]+:(\d+).* admin=(\S+)/);
  }

  /** The relay of `system` (rogue for the untrusted one) over TLS, routing the primary realm to the HSS over TCP. */
  relay(hssPort: number, system = 'primary'): Promise<Role> {
    const realm = system === 'primary' ? PRIMARY_REALM : `${system}.example`;
    return this.start(['relay', '--listen', '127.0.0.1:0', '--origin-host', `relay.${realm}`, '--realm', realm,
      '--route', `${PRIMARY_REALM}=tcp://127.0.0.1:${hssPort}`, ...this.tlsArgs(system, 'relay', system === 'primary' ? ['partner'] : [])],
    /relay: listening diameter=tls:\/\/[\d.]+:(\d+)/);
  }

  /**
   * The partner MMS with the static mappings, routing the primary realm to `upstreamPort` over TLS; it listens for
   * the partner SIP core on `listen` (mutual TLS unless `tcp://…`: a leg inside the partner system may be plain).
   */
  partnerMms(upstreamPort: number, extra: string[] = [], listen = '127.0.0.1:0'): Promise<Role> {
    return this.start(['mms', '--role', 'partner', '--listen', listen, '--origin-host', `mms.${PARTNER_REALM}`, '--realm', PARTNER_REALM,
      '--route', `${PRIMARY_REALM}=127.0.0.1:${upstreamPort}`, '--mappings', join(this.dir, 'mappings.csv'), '--state-dir', join(this.dir, 'mms-state'),
      '--admin', '127.0.0.1:0', ...this.tlsArgs('partner', 'mms', ['primary']), ...extra],
    /mms: listening diameter=(?:tls|tcp):\/\/[\d.]+:(\d+) admin=(\S+) role=partner/);
  }

  /** The primary MMS (pass-through), accepting the partner over TLS, routing the primary realm to the relay. */
  primaryMms(relayPort: number): Promise<Role> {
    return this.start(['mms', '--role', 'primary', '--listen', '127.0.0.1:0', '--origin-host', `mms.${PRIMARY_REALM}`, '--realm', PRIMARY_REALM,
      '--route', `${PRIMARY_REALM}=127.0.0.1:${relayPort}`, ...this.tlsArgs('primary', 'mms', ['partner'])],
    /mms: listening diameter=tls:\/\/[\d.]+:(\d+) role=primary/);
  }

  /**
   * The partner SIP core, `mcx registrar`, on ephemeral UDP and TCP ports with its admin API; its Cx peer is the
   * partner MMS at `mmsPort`, over mutual TLS with the partner registrar certificate when `tls`, else plain TCP.
   * @throws when the registrar started without an open Cx peer.
   */
  async sipRegistrar(mmsPort: number, o: { tls?: boolean } = {}): Promise<SipRole> {
    const { proc, m } = await this.launch(['registrar', '--sip', 'udp:127.0.0.1:0,tcp:127.0.0.1:0', '--domain', PARTNER_REALM,
      '--hss', `127.0.0.1:${mmsPort}`, '--origin-host', REGISTRAR_HOST, '--realm', PARTNER_REALM, '--state-dir', join(this.dir, 'registrar-state'),
      '--admin', '127.0.0.1:0', ...(o.tls ? ['--diameter-tls', ...this.tlsArgs('partner', 'registrar')] : [])],
    /registrar: listening sip=udp:\/\/[\d.]+:(\d+),tcp:\/\/[\d.]+:(\d+) diameter-peers=\S+ admin=(\S+)/);
    if (proc.output().includes('no HSS peer open yet')) throw new Error(`registrar without an open Cx peer:\n${proc.output().slice(-3000)}`);
    return { proc, port: Number(m[1]), udp: Number(m[1]), tcp: Number(m[2]), adminUrl: m[3] as string };
  }

  /** Every AOR with live bindings at a registrar of {@link sipRegistrar}, from its admin API. */
  async sipBindings(registrar: SipRole): Promise<BindingView[]> {
    return (await adminRequest<{ bindings: BindingView[] }>(await this.admin(registrar, 'registrar-state'), 'GET', 'admin/v1/bindings')).bindings;
  }

  /**
   * HSS → relay → partner MMS → `mcx registrar`, waiting until each Diameter route is up. The registrar ↔ MMS leg
   * is mutual TLS with `registrarTls`, else plain TCP (inside the partner system, so tshark can read it).
   * @param hssExtra more `mcx hss` options (`--rand-policy sipp361` for SIPp).
   */
  async sipChain(o: { hssExtra?: string[]; registrarTls?: boolean } = {}): Promise<SipChain> {
    const path = await this.staticPath({ ...o, mmsListen: o.registrarTls ? '127.0.0.1:0' : 'tcp://127.0.0.1:0' });
    return { ...path, registrar: await this.sipRegistrar(path.mms.port, { tls: o.registrarTls === true }) };
  }

  /**
   * HSS → relay → partner MMS (listening on `mmsListen` for the partner SIP core), waiting until each route is up.
   * @param hssExtra more `mcx hss` options (`--rand-policy sipp361` for SIPp).
   */
  async staticPath(o: { hssExtra?: string[]; mmsListen?: string } = {}): Promise<Omit<SipChain, 'registrar'>> {
    const hss = await this.hss(0, 'hss-state', o.hssExtra);
    const relay = await this.relay(hss.port);
    const mms = await this.partnerMms(relay.port, [], o.mmsListen);
    await Promise.all([relay.proc.waitFor(ROUTE_UP('hss'), 10_000), mms.proc.waitFor(ROUTE_UP('relay'), 10_000)]);
    return { hss, relay, mms };
  }

  /** A Diameter client standing for the partner registrar, connected (mutual TLS, partner CA) to the partner MMS. */
  async registrar(mmsPort: number, system = 'partner'): Promise<DiameterNode> {
    const realm = system === 'partner' ? PARTNER_REALM : `${system}.example`;
    const node = new DiameterNode({ originHost: `registrar.${realm}`, originRealm: realm, applications: [CX_APPLICATION] });
    this.nodes.push(node);
    node.addPeer({ host: '127.0.0.1', port: mmsPort, originHost: `mms.${PARTNER_REALM}`, tls: await loadTlsMaterial(this.pki, system, 'registrar', system === 'partner' ? [] : ['partner']) });
    return node;
  }

  /** A MAR of the partner registrar for the user's partner identities. */
  mar(o: { impi?: string; impu?: string; n?: number; authorization?: Buffer } = {}): DiameterMessage {
    return buildMar({
      sessionId: `${REGISTRAR_HOST};1;${++this.sessions}`, originHost: REGISTRAR_HOST, originRealm: PARTNER_REALM, destinationRealm: PARTNER_REALM,
      userName: o.impi ?? USER.partner.impi, publicIdentity: o.impu ?? USER.partner.impus[0], serverName: `sip:${REGISTRAR_HOST}`,
      numberAuthItems: o.n ?? 1, scheme: 'Digest-AKAv1-MD5', ...(o.authorization ? { authorization: o.authorization } : {}),
    });
  }

  /** A SAR REGISTRATION of the partner registrar for both partner IMPUs. */
  sar(): DiameterMessage {
    return buildSar({
      sessionId: `${REGISTRAR_HOST};1;${++this.sessions}`, originHost: REGISTRAR_HOST, originRealm: PARTNER_REALM, destinationRealm: PARTNER_REALM,
      userName: USER.partner.impi, publicIdentities: [...USER.partner.impus], serverName: `sip:${REGISTRAR_HOST}`,
      serverAssignmentType: ServerAssignmentType.REGISTRATION, userDataAlreadyAvailable: UserDataAlreadyAvailable.USER_DATA_NOT_AVAILABLE,
    });
  }

  /** Closes the clients, stops every process (SIGKILL after 5 s) and removes the directory. */
  async close(): Promise<void> {
    for (const n of this.nodes) await n.close().catch(() => undefined);
    await Promise.all(this.procs.map((p) => p.stop()));
    await rm(this.dir, { recursive: true, force: true });
  }
}

/** The JSON log lines (pino) of a process's output. */
export function logLines(proc: Proc): Record<string, unknown>[] {
  return proc.output().split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as Record<string, unknown>);
}

/** `[step, node]` of every seed-step line a process logged. */
export function seedSteps(proc: Proc): Array<[number, string, string]> {
  return logLines(proc).filter((l) => typeof l.step === 'number').map((l) => [l.step as number, l.node as string, l.flow as string]);
}

/**
 * Waits until a process has logged at least `count` JSON lines matching `pred` (log lines travel through a pipe, so
 * they may arrive after the Diameter answer they belong to).
 * @returns the matching lines.
 */
export async function waitForLines(proc: Proc, pred: (l: Record<string, unknown>) => boolean, count = 1, ms = 5000): Promise<Record<string, unknown>[]> {
  const deadline = Date.now() + ms;
  for (;;) {
    const lines = logLines(proc).filter(pred);
    if (lines.length >= count) return lines;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${count} matching log line(s), have ${lines.length}; output:\n${proc.output().slice(-3000)}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/**
 * Asserts that the partner MMS refused its upstream's certificate (an unknown CA): logged at warn with the
 * verification error, and no route ever made through that peer.
 */
export async function assertUpstreamRefused(mms: Role): Promise<void> {
  const [refusal] = await waitForLines(mms.proc, (l) => /^TLS server 127\.0\.0\.1:\d+ refused: /.test(String(l.msg)), 1, 10_000);
  assert.equal(refusal?.level, 40);
  assert.match(String(refusal?.reason), /CERT|ISSUER|SELF_SIGNED/);
  assert.ok(!logLines(mms.proc).some((l) => /^route to /.test(String(l.msg))), 'the rogue relay never joins a route');
}
