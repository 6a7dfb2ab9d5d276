/**
 * Parsing of the `HOST:PORT` and `transport:HOST:PORT` forms every role takes on its command line.
 */
import { z } from 'zod';
import { isIP } from 'node:net';

/** A socket address: IPv6 hosts are stored without brackets. */
export interface HostPort {
  host: string;
  port: number;
}

const HOSTNAME = /^(?=.{1,253}$)[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$/;

/**
 * Parses `HOST:PORT`, `[v6]:PORT` or `v6` with a port after the last colon only when bracketed.
 * @returns the address, or an error string saying what is wrong.
 */
export function parseHostPort(text: string): HostPort | string {
  const m = /^\[([^\]]+)\]:(\d+)$/.exec(text) ?? /^([^:[\]]+):(\d+)$/.exec(text);
  if (!m) return `expected HOST:PORT or [IPv6]:PORT, got ${JSON.stringify(text)}`;
  const host = m[1] as string;
  const port = Number(m[2]);
  if (!Number.isInteger(port) || port < 0 || port > 65535) return `port out of range in ${JSON.stringify(text)}`;
  if (!isIP(host) && !HOSTNAME.test(host)) return `not an IP address or host name: ${JSON.stringify(host)}`;
  return { host, port };
}

/** zod schema for one `HOST:PORT`. */
export const hostPortSchema = z.string().transform((text, ctx): HostPort => {
  const r = parseHostPort(text);
  if (typeof r === 'string') {
    ctx.addIssue({ code: 'custom', message: r });
    return z.NEVER;
  }
  return r;
});

/** zod schema for a comma-separated list of `HOST:PORT` (primary first, then failover peers). */
export const hostPortListSchema = z
  .string()
  .transform((text) => text.split(',').map((s) => s.trim()).filter(Boolean))
  .pipe(z.array(hostPortSchema).min(1, 'at least one HOST:PORT'));

/** zod schema for a DNS realm / domain name. */
export const realmSchema = z.string().regex(HOSTNAME, 'must be a DNS name such as ims.example.net');

/**
 * Whether `value` is a DNS realm / domain name ({@link realmSchema}'s rule): for checks on a request's path, which need
 * a yes or no and not a zod result object per call.
 */
export function isRealm(value: string): boolean {
  return HOSTNAME.test(value);
}

/** Formats an address for logs and URIs, bracketing IPv6. */
export function formatHostPort(a: HostPort): string {
  return isIP(a.host) === 6 ? `[${a.host}]:${a.port}` : `${a.host}:${a.port}`;
}

/** Loopback hosts, where a plain-HTTP admin API exposes nothing to the network. */
export function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || /^127\./.test(host);
}
