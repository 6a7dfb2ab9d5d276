/**
 * The Redis forms of a store spec, checked before anything connects:
 * - `redis://[user:password@]host[:port][/db]` (and `rediss://`, TLS): one server; a Cluster node is detected at
 *   connect (`INFO cluster`) and the store switches to the cluster client, with that node as the seed.
 * - `redis+cluster://[user:password@]host:port[,host:port…]` (and `rediss+cluster://`): a Redis Cluster, seeded by
 *   the nodes listed (any of them; listing several lets the store start while one is down). No database number: a
 *   cluster has database 0 only.
 * - `redis+sentinel://[user:password@]host:port[,host:port…]/<master-name>[/db]`: the master that these Sentinels
 *   monitor under `<master-name>`, followed through failovers. The credentials are the data nodes'; the Sentinels
 *   themselves are reached without a password.
 * Hosts are names, IPv4 addresses or bracketed IPv6 addresses; the port defaults to 6379 (26379 for a Sentinel).
 */
import { StoreError } from './errors.ts';

/** One `host:port`. */
export interface RedisAddress {
  host: string;
  port: number;
}

/** What the data-node connections share. */
interface Common {
  /** The spec with its user information replaced by `***`, for messages and logs. */
  display: string;
  tls: boolean;
  username?: string;
  password?: string;
}

/** A parsed spec. */
export type RedisTarget =
  | (Common & { mode: 'single'; url: string; node: RedisAddress; database: number })
  | (Common & { mode: 'cluster'; nodes: RedisAddress[] })
  | (Common & { mode: 'sentinel'; sentinels: RedisAddress[]; masterName: string; database: number });

const SCHEME = /^(rediss?)(?:\+(cluster|sentinel))?:\/\//i;

/** Whether `spec` names a Redis store (any of the forms above), before it is checked in detail. */
export function isRedisSpec(spec: string): boolean {
  return SCHEME.test(spec);
}

/** `spec` with its user information (user and password) replaced by `***`. */
export function redactSpec(spec: string): string {
  return spec.replace(/\/\/[^@/]*@/, '//***@');
}

function bad(display: string, why: string): StoreError {
  return new StoreError('ERR_STORE_INPUT', `store ${display}: ${why}`);
}

function parseAddress(text: string, defaultPort: number, display: string): RedisAddress {
  const m = /^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9._-]+)(?::(\d{1,5}))?$/.exec(text);
  if (!m) throw bad(display, `"${text}" is not host[:port] (an IPv6 address goes in brackets: [::1]:6379)`);
  const port = m[2] === undefined ? defaultPort : Number(m[2]);
  if (!Number.isInteger(port) || port < 1 || port > 65535) throw bad(display, `port ${m[2]} of "${text}" is not in 1..65535`);
  return { host: (m[1] as string).replace(/^\[(.*)\]$/, '$1'), port };
}

function parseDatabase(text: string | undefined, display: string): number {
  if (text === undefined || text === '') return 0;
  if (!/^\d{1,5}$/.test(text)) throw bad(display, `database "${text}" is not a number`);
  return Number(text);
}

/**
 * Parses and checks a Redis store spec.
 * @throws StoreError `ERR_STORE_INPUT` naming what is wrong: an unknown scheme, a missing or malformed host or port,
 *   several hosts without `+cluster`/`+sentinel`, a database number on a cluster, a Sentinel form without its master
 *   name, a query string (no options are read from the URL).
 */
export function parseRedisSpec(spec: string): RedisTarget {
  const display = redactSpec(spec);
  const scheme = SCHEME.exec(spec);
  if (!scheme) throw bad(display, 'expected redis://, rediss://, redis+cluster://, rediss+cluster://, redis+sentinel:// or rediss+sentinel://');
  const tls = (scheme[1] as string).toLowerCase() === 'rediss';
  const mode = (scheme[2]?.toLowerCase() ?? 'single') as 'single' | 'cluster' | 'sentinel';
  let rest = spec.slice(scheme[0].length);
  if (rest.includes('?') || rest.includes('#')) throw bad(display, 'a query string or fragment is not read (no options go in the URL)');
  const at = rest.lastIndexOf('@', rest.includes('/') ? rest.indexOf('/') : rest.length);
  const common: Common = { display, tls };
  if (at >= 0) {
    const info = rest.slice(0, at);
    rest = rest.slice(at + 1);
    const colon = info.indexOf(':');
    const user = decodeURIComponent(colon < 0 ? info : info.slice(0, colon));
    if (user !== '') common.username = user;
    if (colon >= 0) common.password = decodeURIComponent(info.slice(colon + 1));
  }
  const slash = rest.indexOf('/');
  const hostList = slash < 0 ? rest : rest.slice(0, slash);
  const path = slash < 0 ? [] : rest.slice(slash + 1).split('/');
  if (path.at(-1) === '') path.pop();
  if (hostList === '') throw bad(display, 'no host (expected host:port after //)');
  const defaultPort = mode === 'sentinel' ? 26379 : 6379;
  const hosts = hostList.split(',').map((h) => parseAddress(h.trim(), defaultPort, display));
  if (mode === 'single') {
    if (hosts.length > 1) throw bad(display, 'several hosts need redis+cluster://h:p,h:p or redis+sentinel://h:p,h:p/<master-name>');
    if (path.length > 1) throw bad(display, 'the path is the database number alone (redis://h:p/0)');
    return { ...common, mode, url: spec, node: hosts[0] as RedisAddress, database: parseDatabase(path[0], display) };
  }
  if (mode === 'cluster') {
    if (path.length > 0 && !(path.length === 1 && path[0] === '0')) {
      throw bad(display, 'a Redis Cluster has database 0 only: no path after the hosts (redis+cluster://h:p,h:p)');
    }
    return { ...common, mode, nodes: hosts };
  }
  const masterName = path[0] === undefined ? '' : decodeURIComponent(path[0]);
  if (masterName === '') throw bad(display, 'the master name is missing: redis+sentinel://h:26379[,h:p]/<master-name>[/db]');
  if (path.length > 2) throw bad(display, 'the path is /<master-name>[/db]');
  return { ...common, mode, sentinels: hosts, masterName, database: parseDatabase(path[1], display) };
}
