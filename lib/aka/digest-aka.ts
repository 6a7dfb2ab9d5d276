/**
 * HTTP Digest maths for SIP: AKA nonces and passwords (RFC 3310 AKAv1, RFC 4169 AKAv2) and the RFC 2617 response with
 * MD5 or SHA-256 (RFC 7616/8760), on Buffers. The AKA password (RES, XRES, or the AKAv2 text) is binary, so HA1 is
 * hashed over raw octets and never through a string decode: that is where RES-as-text implementations go wrong.
 */
import * as crypto from 'node:crypto';
import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import { AkaError, assertBytes } from './errors.ts';

/** Hash function of the Digest computation: `md5` for AKAv1-MD5/AKAv2-MD5 and MD5, `sha-256` per RFC 8760. */
export type DigestHash = 'md5' | 'sha-256';
/** Quality of protection (RFC 2617 §3.2.1); omitted means the RFC 2069 compatible form. */
export type DigestQop = 'auth' | 'auth-int';

const NODE_HASH: Record<DigestHash, string> = { md5: 'md5', 'sha-256': 'sha256' };
const HEX: Record<DigestHash, RegExp> = { md5: /^[0-9a-fA-F]{32}$/, 'sha-256': /^[0-9a-fA-F]{64}$/ };
const HEX_LENGTH: Record<DigestHash, number> = { md5: 32, 'sha-256': 64 };

/**
 * Node's one-shot `crypto.hash` (20.12, 21.7): half the CPU of a createHash object per digest, and a registration
 * verifies with six of them (issue #12). Older Node 20 releases take the object.
 */
const oneShot = (crypto as { hash?: (algorithm: string, data: string | Buffer, encoding: 'hex') => string }).hash;

function h(hash: DigestHash, data: string | Buffer): string {
  if (oneShot) return oneShot(NODE_HASH[hash], data, 'hex');
  return createHash(NODE_HASH[hash]).update(data).digest('hex');
}

/** H of the empty entity body, the `auth-int` HA2 part of every bodiless REGISTER and 200. */
const EMPTY_BODY: Record<DigestHash, string> = { md5: h('md5', ''), 'sha-256': h('sha-256', '') };

/**
 * The RFC 3310 §3.2 nonce: base64(RAND ‖ AUTN ‖ server data).
 * @throws AkaError `ERR_AKA_INPUT` unless RAND and AUTN are 16 octets each.
 */
export function akaNonce(rand: Buffer, autn: Buffer, serverData?: Buffer): string {
  assertBytes('RAND', rand, 16);
  assertBytes('AUTN', autn, 16);
  return Buffer.concat([rand, autn, serverData ?? Buffer.alloc(0)]).toString('base64');
}

/** The parts of an AKA nonce. */
export interface ParsedAkaNonce {
  rand: Buffer;
  autn: Buffer;
  /** Octets after AUTN (possibly empty); opaque to the UE. */
  serverData: Buffer;
}

/**
 * Splits an RFC 3310 nonce back into RAND, AUTN and server data.
 * @param nonce the directive's value without its quotes, exactly as received.
 * @throws AkaError `ERR_AKA_NONCE` when it is not base64 or decodes to fewer than 32 octets.
 */
export function parseAkaNonce(nonce: string): ParsedAkaNonce {
  // Buffer.from(…, 'base64') skips junk silently; a challenge we cannot read exactly must be refused instead.
  if (typeof nonce !== 'string' || !/^[A-Za-z0-9+/]*={0,2}$/.test(nonce) || nonce.replace(/=+$/, '').length % 4 === 1) {
    throw new AkaError('ERR_AKA_NONCE', 'nonce is not base64');
  }
  const bytes = Buffer.from(nonce, 'base64');
  if (bytes.length < 32) {
    throw new AkaError('ERR_AKA_NONCE', `nonce decodes to ${bytes.length} octets; RAND‖AUTN needs 32`);
  }
  return {
    rand: Buffer.from(bytes.subarray(0, 16)),
    autn: Buffer.from(bytes.subarray(16, 32)),
    serverData: Buffer.from(bytes.subarray(32)),
  };
}

/**
 * The RFC 4169 AKAv2 password: base64(HMAC-MD5(key = RES ‖ IK ‖ CK, "http-digest-akav2-password")), returned as the
 * octets of that ASCII text (the Digest password). The server passes XRES for RES.
 * @throws AkaError `ERR_AKA_INPUT` unless RES is at most 16 octets and IK, CK 16 each.
 */
export function akav2Password(res: Buffer, ik: Buffer, ck: Buffer): Buffer {
  if (!Buffer.isBuffer(res) || res.length > 16) throw new AkaError('ERR_AKA_INPUT', 'RES must be a Buffer of at most 16 octets');
  assertBytes('IK', ik, 16);
  assertBytes('CK', ck, 16);
  const prf = createHmac('md5', Buffer.concat([res, ik, ck])).update('http-digest-akav2-password', 'ascii').digest();
  return Buffer.from(prf.toString('base64'), 'ascii');
}

/** The secret side of a Digest computation: the password octets, or HA1 as the HSS stores it for SIP Digest users. */
export type DigestSecret = { password: Buffer; ha1?: undefined } | { ha1: string; password?: undefined };

/** Fields common to a request `response` and an `rspauth`. */
export interface DigestFields {
  username: string;
  realm: string;
  /** digest-uri exactly as in the Authorization header. */
  uri: string;
  /** nonce exactly as sent (the base64 text for AKA), without quotes. */
  nonce: string;
  /** nonce-count, 8 hex digits; required with `qop`. */
  nc?: string;
  /** Client nonce; required with `qop`. */
  cnonce?: string;
  qop?: DigestQop;
  /** Message body for `auth-int`; empty when omitted. */
  body?: Buffer;
  /** Defaults to `md5`. */
  hash?: DigestHash;
}

/** Inputs of {@link digestResponse}. */
export type DigestResponseOptions = DigestFields & DigestSecret & { method: string };

/**
 * HA1 = H(username ":" realm ":" password), the password hashed as raw octets.
 */
export function digestHa1(hash: DigestHash, username: string, realm: string, password: Buffer): string {
  if (!Buffer.isBuffer(password)) throw new AkaError('ERR_AKA_INPUT', 'password must be a Buffer');
  return h(hash, Buffer.concat([Buffer.from(`${username}:${realm}:`, 'utf8'), password]));
}

/**
 * HA2 = H(method ":" uri) for `auth` (or no qop), H(method ":" uri ":" H(body)) for `auth-int` (RFC 2617 §3.2.2.3).
 */
export function digestHa2(hash: DigestHash, method: string, uri: string, qop?: DigestQop, body?: Buffer): string {
  if (qop === 'auth-int') return h(hash, `${method}:${uri}:${body === undefined || body.length === 0 ? EMPTY_BODY[hash] : h(hash, body)}`);
  return h(hash, `${method}:${uri}`);
}

/**
 * The RFC 2617 §3.2.2.1 request-digest as lowercase hex: with qop,
 * H(HA1 ":" nonce ":" nc ":" cnonce ":" qop ":" HA2); without, H(HA1 ":" nonce ":" HA2).
 * For AKA the password is RES (UE) or XRES (server); on a resync (`auts`) it is empty (RFC 3310 §3.4).
 * @throws AkaError `ERR_AKA_INPUT` when qop lacks nc/cnonce, nc is not 8 hex digits, or the secret is malformed.
 */
export function digestResponse(o: DigestResponseOptions): string {
  const hash = o.hash ?? 'md5';
  if (hash !== 'md5' && hash !== 'sha-256') throw new AkaError('ERR_AKA_INPUT', `unsupported digest hash ${String(hash)}`);
  const ha1 = secretHa1(hash, o);
  const ha2 = digestHa2(hash, o.method, o.uri, o.qop, o.body);
  if (o.qop === undefined) return h(hash, `${ha1}:${o.nonce}:${ha2}`);
  if (o.qop !== 'auth' && o.qop !== 'auth-int') throw new AkaError('ERR_AKA_INPUT', `unsupported qop ${String(o.qop)}`);
  if (o.nc === undefined || !/^[0-9a-fA-F]{8}$/.test(o.nc)) throw new AkaError('ERR_AKA_INPUT', 'nc must be 8 hex digits with qop');
  if (o.cnonce === undefined || o.cnonce === '') throw new AkaError('ERR_AKA_INPUT', 'cnonce is required with qop');
  return h(hash, `${ha1}:${o.nonce}:${o.nc}:${o.cnonce}:${o.qop}:${ha2}`);
}

function secretHa1(hash: DigestHash, o: DigestFields & DigestSecret): string {
  if (o.password !== undefined && o.ha1 === undefined) return digestHa1(hash, o.username, o.realm, o.password);
  if (o.ha1 !== undefined && o.password === undefined) {
    if (!HEX[hash].test(o.ha1)) {
      throw new AkaError('ERR_AKA_INPUT', `ha1 must be ${HEX_LENGTH[hash]} hex digits for ${hash}`);
    }
    return o.ha1.toLowerCase();
  }
  throw new AkaError('ERR_AKA_INPUT', 'exactly one of password and ha1 is required');
}

/**
 * The `rspauth` of Authentication-Info: the same computation with an empty method (RFC 2617 §3.2.3), and for AKA the
 * XRES as password (RFC 3310 §3.5), proving to the UE that the server knew XRES.
 */
export function rspauth(o: DigestFields & DigestSecret): string {
  return digestResponse({ ...o, method: '' });
}

/**
 * Compares an expected response with a received one in constant time. Hex case is ignored; a length mismatch is
 * simply false (the length is not secret).
 */
export function verifyDigestResponse(expectedHex: string, gotHex: string): boolean {
  if (typeof expectedHex !== 'string' || typeof gotHex !== 'string') return false;
  const a = Buffer.from(expectedHex.toLowerCase(), 'utf8');
  const b = Buffer.from(gotHex.toLowerCase(), 'utf8');
  return a.length === b.length && timingSafeEqual(a, b);
}
