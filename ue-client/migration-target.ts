/**
 * Where and as whom `mcx ue migrate` registers, from the migration configuration the partner MMS answered
 * (DESIGN §2.4: `partner_impi`, `partner_impus`, `domain`, `registrar` as a SIP URI such as
 * `sip:127.0.0.1:5060;transport=udp`) and the user's `--transport` / `--registrar` overrides.
 *
 * The transport is the URI's (`sips:` → TLS, else its `transport` parameter, else UDP) unless `--transport` says
 * otherwise. The address is the URI's host and port unless `--registrar` gives one. UDP and TCP share the URI's port
 * (a SIP URI's port applies to whichever of them is used, RFC 3263 §4.2). Between TLS and UDP/TCP nothing tells one
 * port from the other except the defaults of RFC 3261 §19.1.2 (5060 for sip, 5061 for sips): a URI without a port
 * or with the other side's default maps to this side's default; any other port needs `--registrar` (exit 2).
 */
import { UsageError } from '../lib/cli.ts';
import { realmSchema, type HostPort } from '../lib/config/address.ts';
import { parseUri, type SipUri } from '../lib/sip/index.ts';
import { IdmClientError, type MigrationConfiguration } from './idm-client.ts';
import { identitySchema, sipUriSchema } from './options.ts';
import type { TransportName } from './transports/index.ts';

/** RFC 3261 §19.1.2 default ports. */
export const DEFAULT_SIP_PORT: Readonly<Record<TransportName, number>> = { udp: 5060, tcp: 5060, tls: 5061 };

/** The registration part of a UE configuration, as the migration configuration and the overrides decide it. */
export interface RegistrationTarget {
  registrar: HostPort;
  transport: TransportName;
  domain: string;
  impi: string;
  impu: string;
}

const unusable = (detail: string): IdmClientError => new IdmClientError('ERR_IDM_PROTOCOL', `migration configuration: ${detail}`);

function registrarUri(text: string): SipUri {
  let uri;
  try {
    uri = parseUri(text);
  } catch {
    uri = undefined;
  }
  if (uri?.kind !== 'sip') throw unusable(`registrar ${JSON.stringify(text)} is not a sip: or sips: URI`);
  return uri;
}

/** The transport a registrar URI names, undefined for one this UE does not have (e.g. `transport=sctp`). */
function offeredTransport(uri: SipUri): TransportName | undefined {
  if (uri.scheme === 'sips') return 'tls';
  const t = uri.params.get('transport');
  if (t === undefined || t === null) return 'udp';
  const lower = t.toLowerCase();
  return lower === 'udp' || lower === 'tcp' || lower === 'tls' ? lower : undefined;
}

function portFor(uri: SipUri, offered: TransportName, wanted: TransportName): number {
  if ((wanted === 'tls') === (offered === 'tls')) return uri.port ?? DEFAULT_SIP_PORT[wanted];
  if (uri.port === undefined || uri.port === DEFAULT_SIP_PORT[offered]) return DEFAULT_SIP_PORT[wanted];
  throw new UsageError(`--registrar: required with --transport ${wanted}: the migration configuration names ${uri.raw}, whose port ${uri.port} is not ` +
    `the ${offered.toUpperCase()} default ${DEFAULT_SIP_PORT[offered]}, so the registrar's ${wanted.toUpperCase()} port cannot be derived; give it as HOST:PORT`);
}

/**
 * Decides the registration of a migration.
 * @param o `--transport` and `--registrar`, when given.
 * @throws IdmClientError `ERR_IDM_PROTOCOL` when the configuration cannot be registered with (no sip: URI, no sip:
 *   IMPU, an identity that could break a header); UsageError (exit 2) when the TLS/non-TLS port cannot be derived.
 */
export function registrationTarget(c: MigrationConfiguration, o: { transport?: TransportName; registrar?: HostPort } = {}): RegistrationTarget {
  const uri = registrarUri(c.registrar);
  const offered = offeredTransport(uri);
  const transport = o.transport ?? offered;
  if (transport === undefined) throw unusable(`registrar ${c.registrar} names a transport this UE does not have; choose one with --transport`);
  const registrar = o.registrar ?? { host: uri.host.replace(/^\[(.*)\]$/, '$1'), port: portFor(uri, offered ?? transport, transport) };
  const impu = c.partner_impus.find((u) => sipUriSchema.safeParse(u).success);
  if (!impu) throw unusable(`no sip: IMPU among partner_impus ${JSON.stringify(c.partner_impus)}`);
  if (!identitySchema.safeParse(c.partner_impi).success) throw unusable(`partner_impi ${JSON.stringify(c.partner_impi)} is not an identity`);
  if (!realmSchema.safeParse(c.domain).success) throw unusable(`domain ${JSON.stringify(c.domain)} is not a DNS name`);
  return { registrar, transport, domain: c.domain, impi: c.partner_impi, impu };
}
