/**
 * A complete `linphonerc` for `linphonec -c FILE` (linphone-cli 5.1, Debian 12) per transport: one proxy account and
 * its credentials, what liblinphone 5.1 reads from `[proxy_0]` and `[auth_info_0]`.
 *
 * - `username` is the identity's user part and `userid` the Digest username (the IMPI): linphone finds the
 *   credentials by the former and sends the latter; with only `username=<IMPI>` it asks for a password instead.
 * - Its own SIP ports are random (`-1`): the default 5060 is the registrar's on a default testbed.
 * - TLS dials the certificate's DNS name (`localhost`), not the IP address: Debian's linphone uses mbedTLS, which does
 *   not match IP subjectAltNames; the server certificate and its name are verified against the partner CA
 *   (`root_ca`).
 * - No sound device is needed to register; linphone logs that it found none.
 * linphone writes its settings back into the file it was started with (the password becomes `ha1`).
 */
import { impuParts, uriHost, type ClientTransport, type DigestClientUser, type RegistrarListeners } from './model.ts';

/** How long linphone asks to stay registered (the registrar may shorten it). */
export const LINPHONE_EXPIRES_S = 3600;

/**
 * The linphonerc of `u` for `transport`.
 * @throws Error for TLS when the registrar has no TLS listener.
 */
export function linphonerc(u: DigestClientUser, at: RegistrarListeners, transport: ClientTransport): string {
  if (transport === 'tls' && !at.tls) throw new Error('linphonerc over TLS: the registrar has no TLS listener');
  const proxy = transport === 'tls' && at.tls ? `<sip:${at.tls.name}:${at.tls.port};transport=tls>` : `<sip:${uriHost(at.host)}:${at.port};transport=${transport}>`;
  return [
    `# linphonerc for ${u.impu} (SIP Digest over ${transport.toUpperCase()}), written by mcx: linphonec -c <this file>`,
    '# (linphone writes its settings back into it).',
    '[sip]',
    'sip_port=-1',
    'sip_tcp_port=-1',
    'sip_tls_port=-1',
    'default_proxy=0',
    'register_only_when_network_is_up=0',
    'verify_server_certs=1',
    'verify_server_cn=1',
    ...(transport === 'tls' && at.tls ? [`root_ca=${at.tls.ca}`] : []),
    '',
    '[net]',
    'enable_ipv6=0',
    '',
    '[proxy_0]',
    `reg_proxy=${proxy}`,
    `reg_identity=${u.impu}`,
    `reg_expires=${LINPHONE_EXPIRES_S}`,
    'reg_sendregister=1',
    'publish=0',
    '',
    '[auth_info_0]',
    `username=${impuParts(u.impu).user}`,
    `userid=${u.impi}`,
    `passwd=${u.password}`,
    `realm=${u.realm}`,
    `domain=${impuParts(u.impu).host}`,
    '',
  ].join('\n');
}
