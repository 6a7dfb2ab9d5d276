/**
 * The softphone files of the testbed's demo users, under `<dir>/clients/` (ue-client/softphones/files.ts has the
 * layout), written once the registrar listens (they name its ports) and named in the summary:
 *
 * - alice (static, IMS AKA): Twinkle profiles over UDP and TCP, a SIPp scenario and injection file;
 * - bob (SIP Digest): linphonerc over UDP, TCP and TLS (the name `localhost`, which the registrar's certificate
 *   carries, trusting the partner CA), a baresip directory;
 * - carol's dynamic partner identity, when the demo left a migration configuration live: as alice, under the
 *   partner IMPI's name (`mig-<12 hex>`); with several partner systems one per partner, each for its registrar.
 *
 * With several partner systems alice and bob are partner A's users, so their files dial partner A's registrar.
 */
import { isIP } from 'node:net';
import { caPaths } from '../certs/layout.ts';
import type { MigrationConfiguration } from '../ue-client/idm-client.ts';
import { dynamicSoftphoneUser } from '../ue-client/softphones/dynamic.ts';
import { mergeOutcomes, writeAkaClientFiles, writeDigestClientFiles, type ClientFilesOutcome } from '../ue-client/softphones/files.ts';
import type { AkaClientUser, RegistrarListeners } from '../ue-client/softphones/model.ts';
import { freeSipPort } from './ports.ts';
import type { RunningTestbed } from './testbed.ts';

/** The files, and the listeners they were written for. */
export interface TestbedClientFiles extends ClientFilesOutcome {
  at: RegistrarListeners;
  /** carol's dynamic identity, when a configuration was live (the first partner's). */
  dynamic?: { configuration: MigrationConfiguration; user: AkaClientUser };
  /** With several partner systems: carol's dynamic identity at each partner whose configuration was live. */
  dynamics?: Array<{ configuration: MigrationConfiguration; user: AkaClientUser }>;
}

/**
 * The registrar's listeners as a softphone on this host dials them. Over TLS the name is `localhost` for a loopback
 * listener (the certificate has DNS:localhost; Debian's linphone cannot match IP subjectAltNames), else the address.
 */
export function softphoneListeners(tb: RunningTestbed): RegistrarListeners {
  const sip = tb.testbed.role(tb.testbed.rolesOf().registrar).addresses.sip ?? [];
  const udp = sip.find((s) => s.transport === 'udp');
  if (!udp) throw new Error('testbed: the registrar has no UDP listener');
  const tls = sip.find((s) => s.transport === 'tls');
  const loopback = /^127\./.test(udp.host) || udp.host === '::1';
  return {
    host: udp.host, port: udp.port,
    ...(tls ? { tls: { name: loopback ? 'localhost' : tls.host, port: tls.port, ca: caPaths(tb.layout.pki, tb.testbed.partner().name).cert } } : {}),
  };
}

/** Writes every demo user's files (see the module comment). */
export async function writeTestbedClientFiles(tb: RunningTestbed): Promise<TestbedClientFiles> {
  const { alice, bob, carol, realms, layout } = tb;
  const domain = tb.testbed.partner().realm;
  const dir = layout.clientsDir;
  const at = softphoneListeners(tb);
  const twinklePort = await freeSipPort(isIP(at.host) === 6 ? '::1' : '127.0.0.1', [at.port]);
  const keys = (u: { k: string; op: string; amf: string }) => ({ k: Buffer.from(u.k, 'hex'), op: Buffer.from(u.op, 'hex'), amf: Buffer.from(u.amf, 'hex') });
  const parts = [
    await writeAkaClientFiles(dir, { label: 'alice', impi: tb.alicePartner.impi, impu: tb.alicePartner.impu, domain, ...keys(alice) }, at, twinklePort),
    await writeDigestClientFiles(dir, { label: 'bob', impi: bob.impi, impu: tb.bobImpu, domain, realm: realms.primary, password: bob.password }, at),
  ];
  const dynamics: NonNullable<TestbedClientFiles['dynamics']> = [];
  for (const configuration of tb.dynamicConfigurations ?? (tb.dynamicConfiguration ? [tb.dynamicConfiguration] : [])) {
    const d = dynamicSoftphoneUser(configuration, keys(carol));
    parts.push(await writeAkaClientFiles(dir, d.user, d.at, twinklePort));
    dynamics.push({ configuration, user: d.user });
  }
  const [dynamic] = dynamics;
  return { ...mergeOutcomes(...parts), at, ...(dynamic ? { dynamic } : {}), ...(tb.partners.length > 1 ? { dynamics } : {}) };
}
