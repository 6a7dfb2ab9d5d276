/**
 * The static-flow testbed of the MMS process tests (deploy/testbed-builder.ts, every role its own `mcx` process on
 * loopback): the primary HSS (plain TCP), the relay standing for the primary SIP core / IMS (mutual TLS toward the
 * partner, `tcp://` toward the HSS so tshark can read that leg), the partner MMS (mutual TLS both ways, admin API),
 * and an in-process Diameter client standing for the partner registrar — or, for the SIP-level end-to-end tests
 * (test/e2e), the real one ({@link sipChain}). PKI of primary, partner and a third system `rogue`; one migrating user
 * with two partner IMPUs mapped to its primary ones.
 */
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { caPaths, loadTlsMaterial } from '../../certs/layout.ts';
import type { RoleHandle } from '../../deploy/role-handle.ts';
import { TwoSystemTestbed } from '../../deploy/testbed-builder.ts';
import { adminRequest } from '../../lib/admin/client.ts';
import type { RandPolicy } from '../../hss/vectors.ts';
import { Milenage } from '../../lib/aka/index.ts';
import type { DiameterMessage } from '../../lib/diameter/codec.ts';
import { buildMar, buildSar, ServerAssignmentType, UserDataAlreadyAvailable } from '../../lib/diameter/cx/index.ts';
import { CX_APPLICATION, DiameterNode } from '../../lib/diameter/node.ts';
import type { EndpointSpec } from '../../mms/run.ts';
import type { BindingView } from '../../registrar/admin-api.ts';
import { startMcx } from '../helpers/process.ts';
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

/** The log line of an agent whose route to the primary realm is up through `host`.primary.example. */
export const ROUTE_UP = (host: string): RegExp => new RegExp(`"msg":"route to primary\\.example: ${host}\\.primary\\.example"`);

/** A started role. */
export type Role = RoleHandle;

/** Every process of the static flow behind the partner SIP core, each with its Diameter routes up. */
export interface SipChain {
  hss: Role;
  relay: Role;
  mms: Role;
  registrar: Role;
}

/**
 * The testbed directory (PKI, the user's subscriber and mapping files); no role started yet.
 * @param o `amf`: provision the subscriber with OP (the same OPc) and this AMF, as a UE that takes OP needs (SIPp);
 *   `registrarTls` (default true): the registrar → partner MMS leg is mutual TLS, else plain TCP (tshark reads it);
 *   `randPolicy` of the HSS (`sipp361` for SIPp).
 */
export function staticTestbed(name: string, o: { amf?: string; registrarTls?: boolean; randPolicy?: RandPolicy } = {}): Promise<TwoSystemTestbed> {
  const keys = o.amf === undefined ? { k: K, opc: OPC } : { k: K, op: OP, amf: o.amf };
  return TwoSystemTestbed.create({
    dir: { temp: name }, realms: { primary: PRIMARY_REALM, partner: PARTNER_REALM }, otherSystems: [{ name: 'rogue', realm: 'rogue.example' }],
    tls: { hss: false, registrar: o.registrarTls ?? true }, sip: { tls: false }, admin: true, processes: 'all', launch: startMcx,
    ...(o.randPolicy ? { randPolicy: o.randPolicy } : {}),
    provisioning: {
      subscribers: [{ impi: USER.primary.impi, impus: USER.primary.impus, ...keys, allowedPartners: [PARTNER_REALM] }],
      mappings: USER.partner.impus.map((impu, i) => ({ partner: { impi: USER.partner.impi, impu }, primary: { impi: USER.primary.impi, impu: USER.primary.impus[i] as string } })),
      idmsUsers: [],
    },
  });
}

/** HSS → relay → partner MMS → `mcx registrar`, each route up and the registrar's Cx peer open. */
export async function sipChain(tb: TwoSystemTestbed): Promise<SipChain> {
  await tb.start(['hss', 'relay', 'partner-mms', 'registrar']);
  return { hss: tb.role('hss'), relay: tb.role('relay'), mms: tb.role('partner-mms'), registrar: tb.role('registrar') };
}

/** HSS → relay → partner MMS (listening on `mmsListen` for the partner SIP core), each route up. */
export async function staticPath(tb: TwoSystemTestbed, o: { mmsListen?: EndpointSpec } = {}): Promise<Omit<SipChain, 'registrar'>> {
  await tb.start(['hss', 'relay']);
  const mms = await tb.partnerMms(o.mmsListen ? { listen: o.mmsListen } : {});
  await mms.waitFor(ROUTE_UP('relay'), 10_000);
  return { hss: tb.role('hss'), relay: tb.role('relay'), mms };
}

/** A Diameter client standing for the partner registrar, connected (mutual TLS, partner CA) to the partner MMS; closed with the testbed. */
export async function registrarClient(tb: TwoSystemTestbed, mmsPort: number, system = 'partner'): Promise<DiameterNode> {
  const realm = system === 'partner' ? PARTNER_REALM : `${system}.example`;
  const node = new DiameterNode({ originHost: `registrar.${realm}`, originRealm: realm, applications: [CX_APPLICATION] });
  tb.defer(() => node.close());
  const tls = await loadTlsMaterial(tb.pki, system, 'registrar');
  // A client of another system trusts the partner's CA (a public certificate) so that any refusal is the MMS's; `certs
  // init` gives it no copy, since only the primary and its partners trust each other (issue #17).
  if (system !== 'partner') tls.ca.push(await readFile(caPaths(tb.pki, 'partner').cert, 'utf8'));
  node.addPeer({ host: '127.0.0.1', port: mmsPort, originHost: `mms.${PARTNER_REALM}`, tls });
  return node;
}

let sessions = 0;

/** A MAR of the partner registrar for the user's partner identities. */
export function mar(o: { impi?: string; impu?: string; n?: number; authorization?: Buffer } = {}): DiameterMessage {
  return buildMar({
    sessionId: `${REGISTRAR_HOST};1;${++sessions}`, originHost: REGISTRAR_HOST, originRealm: PARTNER_REALM, destinationRealm: PARTNER_REALM,
    userName: o.impi ?? USER.partner.impi, publicIdentity: o.impu ?? USER.partner.impus[0], serverName: `sip:${REGISTRAR_HOST}`,
    numberAuthItems: o.n ?? 1, scheme: 'Digest-AKAv1-MD5', ...(o.authorization ? { authorization: o.authorization } : {}),
  });
}

/** A SAR REGISTRATION of the partner registrar for both partner IMPUs. */
export function sar(): DiameterMessage {
  return buildSar({
    sessionId: `${REGISTRAR_HOST};1;${++sessions}`, originHost: REGISTRAR_HOST, originRealm: PARTNER_REALM, destinationRealm: PARTNER_REALM,
    userName: USER.partner.impi, publicIdentities: [...USER.partner.impus], serverName: `sip:${REGISTRAR_HOST}`,
    serverAssignmentType: ServerAssignmentType.REGISTRATION, userDataAlreadyAvailable: UserDataAlreadyAvailable.USER_DATA_NOT_AVAILABLE,
  });
}

/** Every AOR with live bindings at a registrar started with its admin API, from that API. */
export async function sipBindings(tb: TwoSystemTestbed, registrar: Role): Promise<BindingView[]> {
  return (await adminRequest<{ bindings: BindingView[] }>(await tb.adminTarget(registrar), 'GET', 'admin/v1/bindings')).bindings;
}

/** The JSON log lines (pino) of a role's output. */
export function logLines(role: { output(): string }): Record<string, unknown>[] {
  return role.output().split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as Record<string, unknown>);
}

/** `[step, node, flow]` of every seed-step line a role logged. */
export function seedSteps(role: { output(): string }): Array<[number, string, string]> {
  return logLines(role).filter((l) => typeof l.step === 'number').map((l) => [l.step as number, l.node as string, l.flow as string]);
}

/**
 * Waits until a role has logged at least `count` JSON lines matching `pred` (log lines travel through a pipe, so
 * they may arrive after the Diameter answer they belong to).
 * @returns the matching lines.
 */
export async function waitForLines(role: { output(): string }, pred: (l: Record<string, unknown>) => boolean, count = 1, ms = 5000): Promise<Record<string, unknown>[]> {
  const deadline = Date.now() + ms;
  for (;;) {
    const lines = logLines(role).filter(pred);
    if (lines.length >= count) return lines;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${count} matching log line(s), have ${lines.length}; output:\n${role.output().slice(-3000)}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/**
 * Asserts that the partner MMS refused its upstream's certificate (an unknown CA): logged at warn with the
 * verification error, and no route ever made through that peer.
 */
export async function assertUpstreamRefused(mms: Role): Promise<void> {
  const [refusal] = await waitForLines(mms, (l) => /^TLS server 127\.0\.0\.1:\d+ refused: /.test(String(l.msg)), 1, 10_000);
  assert.equal(refusal?.level, 40);
  assert.match(String(refusal?.reason), /CERT|ISSUER|SELF_SIGNED/);
  assert.ok(!logLines(mms).some((l) => /^route to /.test(String(l.msg))), 'the rogue relay never joins a route');
}
