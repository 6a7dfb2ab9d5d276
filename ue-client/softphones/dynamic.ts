/**
 * The softphone user of a dynamic migration configuration (TS 23.280 §10.6.2.3, DESIGN §2.4): the partner IMPI/IMPU
 * and domain the partner MMS assigned, registered with the keys of the user's primary ISIM, at the registrar the
 * configuration names (UDP and TCP share its port, RFC 3263; migration-target.ts decides it as `mcx ue migrate` does).
 * `mcx ue migrate --configure-only` and `mcx testbed` (carol) write its files through this.
 */
import type { HostPort } from '../../lib/config/address.ts';
import type { MigrationConfiguration } from '../idm-client.ts';
import { registrationTarget } from '../migration-target.ts';
import type { AkaClientUser, RegistrarListeners } from './model.ts';

/** The keys of the primary ISIM a softphone needs (OP, not OPc: Twinkle 1.10 and SIPp 3.6.1 take OP). */
export interface SoftphoneKeys {
  k: Buffer;
  op: Buffer;
  amf: Buffer;
}

/** The file name stem of a partner identity: the IMPI's user part (`mig-1a2b3c4d5e6f`). */
export function softphoneLabel(impi: string): string {
  return (impi.split('@')[0] || 'dynamic').replace(/[^\w.-]/g, '_');
}

/**
 * The AKA user and the registrar's UDP/TCP listener of configuration `c`.
 * @param registrar `--registrar` when given, instead of the configuration's address.
 * @throws IdmClientError for a configuration that cannot be registered with (migration-target.ts).
 */
export function dynamicSoftphoneUser(c: MigrationConfiguration, keys: SoftphoneKeys, registrar?: HostPort): { user: AkaClientUser; at: RegistrarListeners } {
  const target = registrationTarget(c, { transport: 'udp', ...(registrar ? { registrar } : {}) });
  return {
    user: { label: softphoneLabel(target.impi), impi: target.impi, impu: target.impu, domain: target.domain, ...keys },
    at: { host: target.registrar.host, port: target.registrar.port },
  };
}
