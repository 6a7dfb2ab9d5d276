/**
 * What the softphone configuration files (twinkle.ts, linphone.ts, baresip.ts, sipp.ts; written by files.ts) are made
 * from: an IMS AKA user (K, OP, AMF), a SIP Digest user (password), and the registrar's listeners. Plus the one rule
 * raw key octets must keep to: a Twinkle 1.10.2 profile carries K as its 16 raw octets on one `auth_pass=` line
 * (Twinkle reads lines, trims spaces around the value and copies the bytes into K) and SIPp 3.6.1 handles K and OP as
 * C strings, so a key with 0x00, 0x0a or 0x0d, or a space at either end, cannot be carried.
 */

/** A user of IMS AKA (an ISIM): a static partner identity or a dynamic one from a migration configuration. */
export interface AkaClientUser {
  /** File name stem: `alice`, `mig-1a2b3c4d5e6f`. */
  label: string;
  impi: string;
  /** A `sip:` URI. */
  impu: string;
  /** The home domain registered with: Request-URI `sip:<domain>`, realm of the AKA challenge. */
  domain: string;
  k: Buffer;
  /** OP (not OPc: Twinkle 1.10 and SIPp 3.6.1 take OP). */
  op: Buffer;
  amf: Buffer;
}

/** A SIP Digest (password) user. */
export interface DigestClientUser {
  label: string;
  /** The Digest username. */
  impi: string;
  impu: string;
  domain: string;
  /** The realm the registrar challenges with (the HSS's Digest realm). */
  realm: string;
  password: string;
}

/** Where the registrar listens, as a softphone on this host reaches it. */
export interface RegistrarListeners {
  /** IP address of the UDP and TCP listeners (one port for both, RFC 3263). */
  host: string;
  /** UDP and TCP port. */
  port: number;
  /** The TLS listener: the name to dial (one of the certificate's DNS names), port, and the CA file to trust. */
  tls?: { name: string; port: number; ca: string };
}

/** The transports the files are written for (Twinkle has no SIP over TLS). */
export type ClientTransport = 'udp' | 'tcp' | 'tls';

/**
 * Why `key` cannot be written as raw octets into a Twinkle profile or given to SIPp, or undefined when it can.
 * @param name what the key is (`K`, `OP`), for the message.
 */
export function rawKeyProblem(name: string, key: Buffer): string | undefined {
  const bad = [0x00, 0x0a, 0x0d].filter((b) => key.includes(b));
  if (bad.length > 0) return `${name} has ${bad.map((b) => `0x${b.toString(16).padStart(2, '0')}`).join(', ')} octets (Twinkle profiles are read line by line, SIPp reads keys as C strings)`;
  if (key[0] === 0x20 || key[key.length - 1] === 0x20) return `${name} begins or ends with 0x20 (Twinkle trims spaces around a profile value)`;
  return undefined;
}

/** `host` as it goes into a URI (IPv6 in brackets). */
export function uriHost(host: string): string {
  return host.includes(':') ? `[${host}]` : host;
}

/** The user part and host of a `sip:` IMPU. */
export function impuParts(impu: string): { user: string; host: string } {
  const m = /^sips?:([^@;?]+)@([^;?>]+)/i.exec(impu);
  if (!m) throw new Error(`softphone files: ${impu} is not a sip:user@host URI`);
  return { user: m[1] as string, host: m[2] as string };
}
