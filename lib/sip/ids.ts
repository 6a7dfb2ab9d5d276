/**
 * Random identifiers: tags (RFC 3261 §19.3, ≥ 32 random bits), branches (§8.1.1.7, magic cookie + unique part) and
 * Call-IDs (§8.1.1.4). Taken from lib/random-pool.ts, because a registrar makes one To-tag per response and a CSPRNG
 * call per tag would dominate the response path.
 */
import { randomHex } from '../random-pool.ts';
import { MAGIC_COOKIE } from './headers/via.ts';

/** A fresh tag: 64 random bits as 16 hex digits. */
export function newTag(): string {
  return randomHex(8);
}

/** A fresh branch: `z9hG4bK` + 96 random bits. */
export function newBranch(): string {
  return MAGIC_COOKIE + randomHex(12);
}

/**
 * A fresh Call-ID: 128 random bits, optionally `@host`.
 * @param host appended after `@` when given.
 */
export function newCallId(host?: string): string {
  const id = randomHex(16);
  return host ? `${id}@${host}` : id;
}
