/**
 * How both store implementations turn values into bytes and check arguments, so they agree on every edge: a value is
 * stored as canonical JSON (object keys sorted), which makes `compareAndDelete` independent of key order.
 */
import { StoreError } from './errors.ts';

/** Key prefix of every Redis key the store writes, unless `keyPrefix` says otherwise. */
export const DEFAULT_KEY_PREFIX = 'mcx:';

/**
 * How much a mutation's caller waits for (issue #12: challenges, nonces and bindings do not wait for an fsync each):
 * - `durable` (the default): the promise resolves once the change survives a crash of the process (memory: its
 *   journal line is fdatasync'ed; Redis: as durable as the server's `appendfsync`, see redis.ts). For SQN-adjacent
 *   and security state: subscribers, migration bindings, used `jti`.
 * - `relaxed`: the promise resolves once the change is visible to every client of the store; it reaches the disk by
 *   write-behind within a few milliseconds (memory: group commit at most {@link RELAXED_FLUSH_MS} later), so a crash
 *   may lose the last few ms of such changes. For bindings and serving state.
 * - `volatile` (`set`/`setIfAbsent` only): kept in memory with its TTL and never journaled — gone after a restart of
 *   the memory store; on Redis stamped with the server's run id, so a record that a server crash brings back is
 *   refused (as absent) instead of used. For single-use challenges: losing a pending one re-challenges the UE, reusing
 *   a taken one would be a replay.
 */
export type Durability = 'durable' | 'relaxed' | 'volatile';

/** Options of `delete`, `take` and `compareAndDelete`. */
export interface WriteOptions {
  /** Default `durable`; `volatile` is a property of a record, so it is not an option here. */
  durability?: Exclude<Durability, 'volatile'>;
}

/** Options of `set` and `setIfAbsent`. */
export interface SetOptions {
  /** Time to live in milliseconds (a positive integer); without it the record stays until deleted. */
  ttlMs?: number;
  /** Default `durable`. */
  durability?: Durability;
}

/** The longest a `relaxed` change of the memory store waits before its journal write starts (after any write under way). */
export const RELAXED_FLUSH_MS = 10;

/**
 * The durability asked for, checked.
 * @throws StoreError `ERR_STORE_INPUT` for anything but the names of {@link Durability} (`volatile` only where allowed).
 */
export function durabilityOf(opts: { durability?: unknown } | undefined, volatileAllowed: boolean): Durability {
  const d = opts?.durability;
  if (d === undefined || d === 'durable') return 'durable';
  if (d === 'relaxed' || (d === 'volatile' && volatileAllowed)) return d;
  throw new StoreError('ERR_STORE_INPUT', `durability must be durable, relaxed${volatileAllowed ? ' or volatile' : ''}`);
}

function canonical(this: unknown, key: string, value: unknown): unknown {
  // `this[key]` is the value before toJSON(): a Buffer would otherwise slip through as {type, data}.
  const raw = (this as Record<string, unknown>)[key];
  if (raw instanceof Uint8Array) {
    throw new StoreError('ERR_STORE_INPUT', 'binary values must be encoded (hex) by the caller');
  }
  if (typeof value === 'number' && !Number.isFinite(value)) {
    throw new StoreError('ERR_STORE_INPUT', 'NaN and Infinity are not JSON');
  }
  if (value !== null && typeof value === 'object' && !Array.isArray(value)) {
    const src = value as Record<string, unknown>;
    const out: Record<string, unknown> = {};
    for (const k of Object.keys(src).sort()) out[k] = src[k];
    return out;
  }
  return value;
}

/** Objects nested deeper than this are left to the reference encoder (which also reports cycles). */
const FAST_DEPTH = 32;
/** What {@link plain} returns for a value it does not handle. */
const OTHER = Symbol('not plain data');

/**
 * `v` with the keys of every object in sorted order — `v` itself when they already are — for plain data (objects,
 * arrays, strings, finite numbers, booleans, null), so JSON.stringify writes it canonically without a replacer; or
 * {@link OTHER} for anything else (a Date, a Buffer, a class instance, a bigint, NaN, an array-index key, deep
 * nesting), which {@link encodeValue} leaves to the {@link canonical} replacer. JSON.stringify with a replacer
 * function was 1–2 % of the registrar's CPU (issue #12).
 */
function plain(v: unknown, depth: number): unknown {
  switch (typeof v) {
    case 'string':
    case 'boolean':
    case 'undefined':
    case 'function':
    case 'symbol':
      return v;
    case 'number': return Number.isFinite(v) ? v : OTHER;
    case 'object': break;
    default: return OTHER;
  }
  if (v === null) return v;
  if (depth >= FAST_DEPTH) return OTHER;
  if (Array.isArray(v)) {
    let out: unknown[] | undefined;
    for (let i = 0; i < v.length; i++) {
      const item: unknown = v[i];
      const p = plain(item, depth + 1);
      if (p === OTHER) return OTHER;
      if (p !== item) (out ??= v.slice())[i] = p;
    }
    return out ?? v;
  }
  const proto = Object.getPrototypeOf(v) as unknown;
  if (proto !== Object.prototype && proto !== null) return OTHER;
  const src = v as Record<string, unknown>;
  if (typeof src.toJSON === 'function') return OTHER;
  const keys = Object.keys(src);
  let sorted = true;
  let changed = false;
  const values: unknown[] = new Array<unknown>(keys.length);
  for (let i = 0; i < keys.length; i++) {
    const k = keys[i] as string;
    const c = k.charCodeAt(0);
    // An array-index key comes first whatever the insertion order: the replacer's output has them so, leave it that.
    if (c >= 48 && c <= 57) return OTHER;
    if (i > 0 && (keys[i - 1] as string) > k) sorted = false;
    const item = src[k];
    const p = plain(item, depth + 1);
    if (p === OTHER) return OTHER;
    if (p !== item) changed = true;
    values[i] = p;
  }
  if (sorted && !changed) return v;
  const order = keys.map((_, i) => i);
  if (!sorted) order.sort((x, y) => ((keys[x] as string) < (keys[y] as string) ? -1 : 1));
  const out: Record<string, unknown> = {};
  for (const i of order) out[keys[i] as string] = values[i];
  return out;
}

/**
 * Canonical JSON of `value`.
 * @throws StoreError `ERR_STORE_INPUT` when `value` is not JSON-serialisable (undefined, bigint, Buffer, NaN, cycles).
 */
export function encodeValue(value: unknown): string {
  const p = plain(value, 0);
  if (p !== OTHER && typeof p === 'object' && p !== null) return JSON.stringify(p);
  let text: string | undefined;
  try {
    text = JSON.stringify(value, canonical);
  } catch (e) {
    if (e instanceof StoreError) throw e;
    throw new StoreError('ERR_STORE_INPUT', `value is not JSON-serialisable: ${(e as Error).message}`, { cause: e });
  }
  if (text === undefined) throw new StoreError('ERR_STORE_INPUT', 'value is not JSON-serialisable (undefined)');
  return text;
}

/**
 * Parses a stored value.
 * @param where names the key for the error message.
 * @throws StoreError `ERR_STORE_CORRUPT` when the stored text is not JSON (written by something else).
 */
export function decodeValue<T>(text: string, where: string): T {
  try {
    return JSON.parse(text) as T;
  } catch (e) {
    throw new StoreError('ERR_STORE_CORRUPT', `${where}: stored value is not JSON`, { cause: e });
  }
}

/** Throws `ERR_STORE_INPUT` unless `key` is a non-empty string. */
export function assertKey(key: unknown): asserts key is string {
  if (typeof key !== 'string' || key.length === 0) {
    throw new StoreError('ERR_STORE_INPUT', 'key must be a non-empty string');
  }
}

/** Throws `ERR_STORE_INPUT` unless `prefix` is a string (empty lists everything). */
export function assertPrefix(prefix: unknown): asserts prefix is string {
  if (typeof prefix !== 'string') throw new StoreError('ERR_STORE_INPUT', 'prefix must be a string');
}

/**
 * The TTL of `opts`, checked.
 * @returns the TTL in milliseconds, or undefined for a record without expiry.
 * @throws StoreError `ERR_STORE_INPUT` unless the TTL is a positive safe integer.
 */
export function ttlOf(opts: SetOptions | undefined): number | undefined {
  const ttl = opts?.ttlMs;
  if (ttl === undefined) return undefined;
  if (typeof ttl !== 'number' || !Number.isSafeInteger(ttl) || ttl <= 0) {
    throw new StoreError('ERR_STORE_INPUT', 'ttlMs must be a positive integer');
  }
  return ttl;
}
