/**
 * Shared transport vocabulary: which protocol, where a message came from, where one should go.
 */
import type { PeerCertificate } from 'node:tls';

/** The transports this stack speaks (RFC 3261 §18; Via transport tokens). */
export type TransportProtocol = 'UDP' | 'TCP' | 'TLS';

/** True for connection-oriented (reliable) transports. */
export function isReliable(t: TransportProtocol): boolean {
  return t !== 'UDP';
}

/** Default port per transport (§19.1.2: 5060, 5061 for TLS). */
export function defaultPort(t: TransportProtocol | string): number {
  return t.toUpperCase() === 'TLS' ? 5061 : 5060;
}

/** The transport-level origin of a received message, as the TU sees it. */
export interface FlowInfo {
  transport: TransportProtocol;
  remoteAddress: string;
  remotePort: number;
  localAddress: string;
  localPort: number;
  /** TLS only: whether the peer presented a certificate that verified against the configured CA. */
  authorized?: boolean;
  /** TLS only: the peer certificate, when it sent one. */
  peerCertificate?: PeerCertificate;
}

/** Where a request is sent. */
export interface Destination {
  transport: TransportProtocol;
  /** IP address or host name. */
  host: string;
  /** Default 5060 (5061 for TLS). */
  port?: number;
  /** TLS: the name the server certificate must carry (default: `host` when it is a name). */
  servername?: string;
}

/** Listening address of one transport. */
export interface ListenSpec {
  host: string;
  /** 0 picks a free port. */
  port: number;
}

/**
 * Normalises an address for comparisons and table keys: IPv4-mapped IPv6 (`::ffff:1.2.3.4`) becomes plain IPv4,
 * IPv6 loses brackets and is lower-cased.
 * @param address an IP address as Node or a Via wrote it.
 */
export function normalizeAddress(address: string): string {
  let a = address;
  if (a.charCodeAt(0) === 91) a = a.slice(1, -1);
  if (a.startsWith('::ffff:') && a.includes('.')) return a.slice(7);
  return a.includes(':') ? a.toLowerCase() : a;
}

/**
 * The host form of an address for a Via sent-by or a URI: IPv6 in brackets.
 * @param address an IP address or host name.
 */
export function hostForm(address: string): string {
  return address.includes(':') && address.charCodeAt(0) !== 91 ? `[${address}]` : address;
}
