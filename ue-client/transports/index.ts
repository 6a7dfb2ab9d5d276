/**
 * The UE's SIP.js transports: UDP with Timer E/F and a seeded drop pattern for tests, TCP, and TLS that always
 * verifies the registrar.
 */
import { createSocket } from 'node:dgram';
import { lookup } from 'node:dns/promises';
import { isIP } from 'node:net';
import { UeError } from '../errors.ts';
import type { TransportName } from './base.ts';
import type { DropPattern } from './drop.ts';
import { StreamTransport, type StreamTransportOptions } from './stream.ts';
import { UdpTransport, type UdpTransportOptions } from './udp.ts';

export {
  UeTransport, requestKey, responseKey, type InboundHook, type LocalAddress, type TransportErrorListener, type TransportName,
  type WireEvent, type WireTap,
} from './base.ts';
export { createDropper, type DropPattern, type Dropper } from './drop.ts';
export { StreamTransport, type StreamTransportOptions } from './stream.ts';
export { UDP_TIMER_DEFAULTS, UdpTransport, type UdpTransportOptions } from './udp.ts';

/** What {@link resolveTransport} needs. */
export interface TransportOptions {
  transport: TransportName;
  /** The registrar; a host name is resolved once, here. */
  remote: { host: string; port: number };
  /** UDP only: local port, T1/T2, test drop pattern. */
  udp?: { localPort?: number; timers?: { t1?: number; t2?: number }; drop?: DropPattern };
  /** TLS only: CA PEMs (default: the system roots) and the name to verify (default: the registrar host). */
  tls?: { ca?: string[]; servername?: string };
}

/** The two SIP.js `UserAgentOptions` that select and configure a transport, plus the local address for Via. */
export type TransportSpec = { localHost: string } & (
  | { transportConstructor: typeof UdpTransport; transportOptions: UdpTransportOptions }
  | { transportConstructor: typeof StreamTransport; transportOptions: StreamTransportOptions });

/**
 * Resolves the registrar, finds the local address that routes to it (SIP.js needs the Via host before anything is
 * sent), and says which transport SIP.js should construct with which options.
 * @throws UeError `UE_TRANSPORT` when the host does not resolve or has no route.
 */
export async function resolveTransport(o: TransportOptions): Promise<TransportSpec> {
  let host = o.remote.host;
  if (isIP(host) === 0) {
    try {
      host = (await lookup(host)).address;
    } catch (err) {
      throw new UeError('UE_TRANSPORT', `cannot resolve registrar ${o.remote.host}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`, { cause: err });
    }
  }
  const remote = { host, port: o.remote.port };
  const localHost = await routeSource(remote);
  switch (o.transport) {
    case 'udp':
      return { localHost, transportConstructor: UdpTransport, transportOptions: { remote, localHost, ...o.udp } };
    case 'tcp':
      return { localHost, transportConstructor: StreamTransport, transportOptions: { remote } };
    case 'tls':
      // The name to verify is the one the user gave, not the address it resolved to.
      return {
        localHost, transportConstructor: StreamTransport,
        transportOptions: { remote, tls: { ...(o.tls?.ca ? { ca: o.tls.ca } : {}), servername: o.tls?.servername ?? o.remote.host } },
      };
  }
}

/** The source address the kernel picks towards `remote`: connect() on a UDP socket sends nothing. */
async function routeSource(remote: { host: string; port: number }): Promise<string> {
  const s = createSocket(isIP(remote.host) === 6 ? 'udp6' : 'udp4');
  try {
    await new Promise<void>((resolve, reject) => {
      s.once('error', reject);
      s.connect(remote.port, remote.host, () => resolve());
    });
    return s.address().address;
  } catch (err) {
    throw new UeError('UE_TRANSPORT', `no route to registrar ${remote.host}:${remote.port}: ${(err as Error).message}`, { cause: err });
  } finally {
    s.close();
  }
}
