/**
 * Typed values of the RFC 6733 §4.2 basic and §4.3 derived AVP data formats. Decoders are strict where the RFC is
 * (fixed sizes → 5014, malformed UTF-8 or addresses → 5004) and throw DiameterError only; encoders check their input
 * and throw DiameterError INVALID_VALUE, because a bad value there is a local bug, not the peer's.
 */
import { isIPv4, isIPv6 } from 'node:net';
import { DiameterError } from './errors.ts';

/** The data formats a dictionary can assign to an AVP. */
export type AvpType =
  | 'OctetString' | 'Integer32' | 'Integer64' | 'Unsigned32' | 'Unsigned64' | 'Float32' | 'Float64' | 'Grouped'
  | 'Address' | 'Time' | 'UTF8String' | 'DiameterIdentity' | 'DiameterURI' | 'Enumerated';

function fixedSize(data: Buffer, size: number, type: string): void {
  if (data.length !== size) {
    throw new DiameterError('INVALID_AVP_LENGTH', `${type} needs ${size} data octets, got ${data.length}`);
  }
}

function invalid(message: string): DiameterError {
  return new DiameterError('INVALID_VALUE', message);
}

/** Copies bytes (or the UTF-8 of a string) into a fresh Buffer. */
export function encodeOctetString(value: Buffer | Uint8Array | string): Buffer {
  if (typeof value === 'string') return Buffer.from(value, 'utf8');
  if (!(value instanceof Uint8Array)) throw invalid('OctetString value must be bytes or a string');
  return Buffer.from(value);
}

/** Returns the data itself: OctetStrings are opaque and round-trip byte-exact. */
export function decodeOctetString(data: Buffer): Buffer {
  return data;
}

// The fixed-size encoders take their octets from Node's pool (allocUnsafe) and write every one of them at once: a
// Buffer.alloc of its own per value left a backing store per AVP to the GC's ArrayBuffer sweeper (issue #12).

/** Integer32 / Enumerated → 4 octets. */
export function encodeInteger32(value: number): Buffer {
  if (!Number.isInteger(value) || value < -0x80000000 || value > 0x7fffffff) throw invalid(`${value} is not an Integer32`);
  const b = Buffer.allocUnsafe(4);
  b.writeInt32BE(value);
  return b;
}

/** Reads an Integer32 / Enumerated. @throws DiameterError 5014 unless 4 octets. */
export function decodeInteger32(data: Buffer): number {
  fixedSize(data, 4, 'Integer32');
  return data.readInt32BE(0);
}

/** Unsigned32 → 4 octets. */
export function encodeUnsigned32(value: number): Buffer {
  if (!Number.isInteger(value) || value < 0 || value > 0xffffffff) throw invalid(`${value} is not an Unsigned32`);
  const b = Buffer.allocUnsafe(4);
  b.writeUInt32BE(value);
  return b;
}

/** Reads an Unsigned32. @throws DiameterError 5014 unless 4 octets. */
export function decodeUnsigned32(data: Buffer): number {
  fixedSize(data, 4, 'Unsigned32');
  return data.readUInt32BE(0);
}

function toBigInt(value: bigint | number, what: string): bigint {
  if (typeof value === 'bigint') return value;
  if (!Number.isSafeInteger(value)) throw invalid(`${value} is not a safe integer for ${what}`);
  return BigInt(value);
}

/** Integer64 → 8 octets (numbers accepted when they are safe integers). */
export function encodeInteger64(value: bigint | number): Buffer {
  const v = toBigInt(value, 'Integer64');
  if (v < -(1n << 63n) || v >= 1n << 63n) throw invalid(`${v} is not an Integer64`);
  const b = Buffer.allocUnsafe(8);
  b.writeBigInt64BE(v);
  return b;
}

/** Reads an Integer64 as bigint. @throws DiameterError 5014 unless 8 octets. */
export function decodeInteger64(data: Buffer): bigint {
  fixedSize(data, 8, 'Integer64');
  return data.readBigInt64BE(0);
}

/** Unsigned64 → 8 octets. */
export function encodeUnsigned64(value: bigint | number): Buffer {
  const v = toBigInt(value, 'Unsigned64');
  if (v < 0n || v >= 1n << 64n) throw invalid(`${v} is not an Unsigned64`);
  const b = Buffer.allocUnsafe(8);
  b.writeBigUInt64BE(v);
  return b;
}

/** Reads an Unsigned64 as bigint. @throws DiameterError 5014 unless 8 octets. */
export function decodeUnsigned64(data: Buffer): bigint {
  fixedSize(data, 8, 'Unsigned64');
  return data.readBigUInt64BE(0);
}

/** Float32 (IEEE 754 single) → 4 octets. */
export function encodeFloat32(value: number): Buffer {
  if (typeof value !== 'number') throw invalid('Float32 value must be a number');
  const b = Buffer.allocUnsafe(4);
  b.writeFloatBE(value);
  return b;
}

/** Reads a Float32. @throws DiameterError 5014 unless 4 octets. */
export function decodeFloat32(data: Buffer): number {
  fixedSize(data, 4, 'Float32');
  return data.readFloatBE(0);
}

/** Float64 (IEEE 754 double) → 8 octets. */
export function encodeFloat64(value: number): Buffer {
  if (typeof value !== 'number') throw invalid('Float64 value must be a number');
  const b = Buffer.allocUnsafe(8);
  b.writeDoubleBE(value);
  return b;
}

/** Reads a Float64. @throws DiameterError 5014 unless 8 octets. */
export function decodeFloat64(data: Buffer): number {
  fixedSize(data, 8, 'Float64');
  return data.readDoubleBE(0);
}

// In unicode mode a surrogate class only matches unpaired halves, which UTF-8 cannot carry.
const LONE_SURROGATE = /[\uD800-\uDFFF]/u;
// ignoreBOM keeps a leading U+FEFF as data, so decode(encode(s)) === s for every well-formed s.
const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/** UTF8String → its UTF-8 octets. Rejects strings with unpaired surrogates (not encodable). */
export function encodeUTF8String(value: string): Buffer {
  if (typeof value !== 'string') throw invalid('UTF8String value must be a string');
  if (LONE_SURROGATE.test(value)) throw invalid('string contains an unpaired surrogate');
  return Buffer.from(value, 'utf8');
}

/** Reads a UTF8String. @throws DiameterError 5004 on malformed UTF-8 (RFC 6733 §4.3.1). */
export function decodeUTF8String(data: Buffer): string {
  try {
    return utf8.decode(data);
  } catch (err) {
    throw new DiameterError('INVALID_AVP_VALUE', 'malformed UTF-8 in a UTF8String', { cause: err });
  }
}

/** DiameterIdentity (an FQDN or realm, ASCII per RFC 6733 §4.3.1) → octets. */
export function encodeDiameterIdentity(value: string): Buffer {
  if (typeof value !== 'string' || !/^[\x21-\x7e]+$/.test(value)) {
    throw invalid(`DiameterIdentity ${JSON.stringify(value)} must be non-empty printable ASCII`);
  }
  return Buffer.from(value, 'ascii');
}

/** Reads a DiameterIdentity; tolerant (any well-formed UTF-8) so an IDN peer is not refused. */
export function decodeDiameterIdentity(data: Buffer): string {
  return decodeUTF8String(data);
}

/** DiameterURI (`aaa://` or `aaas://`, RFC 6733 §4.3.1) → octets. */
export function encodeDiameterURI(value: string): Buffer {
  if (typeof value !== 'string' || !/^aaas?:\/\/[\x21-\x7e]+$/i.test(value)) {
    throw invalid(`DiameterURI ${JSON.stringify(value)} must be aaa://… or aaas://…`);
  }
  return Buffer.from(value, 'ascii');
}

/** Reads a DiameterURI; tolerant (any well-formed UTF-8), the scheme is the application's business. */
export function decodeDiameterURI(data: Buffer): string {
  return decodeUTF8String(data);
}

/** Address family numbers (IANA) carried in the first two octets of an Address. */
export const AddressFamily = { IPV4: 1, IPV6: 2 } as const;

/** IPv4 or IPv6 text → Address (family + address octets). */
export function encodeAddress(value: string): Buffer {
  if (typeof value === 'string' && isIPv4(value)) {
    const b = Buffer.alloc(6);
    b.writeUInt16BE(AddressFamily.IPV4, 0);
    value.split('.').forEach((part, i) => b.writeUInt8(Number(part), 2 + i));
    return b;
  }
  if (typeof value === 'string' && isIPv6(value)) {
    const b = Buffer.alloc(18);
    b.writeUInt16BE(AddressFamily.IPV6, 0);
    parseIPv6(value).copy(b, 2);
    return b;
  }
  throw invalid(`${JSON.stringify(value)} is not an IPv4 or IPv6 address`);
}

/** Reads an Address as IPv4 dotted quad or RFC 5952 IPv6 text. @throws DiameterError 5004 on other families/sizes. */
export function decodeAddress(data: Buffer): string {
  if (data.length < 2) throw new DiameterError('INVALID_AVP_VALUE', 'Address shorter than its family field');
  const family = data.readUInt16BE(0);
  if (family === AddressFamily.IPV4 && data.length === 6) return [...data.subarray(2)].join('.');
  if (family === AddressFamily.IPV6 && data.length === 18) return formatIPv6(data.subarray(2));
  throw new DiameterError('INVALID_AVP_VALUE', `Address family ${family} with ${data.length - 2} octets unsupported`);
}

function parseIPv6(text: string): Buffer {
  const out = Buffer.alloc(16);
  let s = text.replace(/%.*$/, '');
  const v4 = /(\d+\.\d+\.\d+\.\d+)$/.exec(s);
  if (v4?.[1]) {
    const p = v4[1].split('.').map(Number);
    s = `${s.slice(0, -v4[1].length)}${(((p[0] ?? 0) << 8) | (p[1] ?? 0)).toString(16)}:${(((p[2] ?? 0) << 8) | (p[3] ?? 0)).toString(16)}`;
  }
  const [head = '', tail] = s.split('::');
  const h = head ? head.split(':') : [];
  const t = tail ? tail.split(':') : [];
  const groups = tail === undefined ? h : [...h, ...Array<string>(8 - h.length - t.length).fill('0'), ...t];
  groups.forEach((g, i) => out.writeUInt16BE(parseInt(g, 16), i * 2));
  return out;
}

function formatIPv6(b: Buffer): string {
  const groups = Array.from({ length: 8 }, (_, i) => b.readUInt16BE(i * 2));
  // RFC 5952 §4.2: compress the longest run (≥ 2) of zero groups, the first one on a tie.
  let bestStart = -1;
  let bestLen = 1;
  for (let i = 0; i < 8;) {
    if (groups[i] !== 0) { i++; continue; }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLen) { bestStart = i; bestLen = j - i; }
    i = j;
  }
  const hex = groups.map((g) => g.toString(16));
  if (bestStart < 0) return hex.join(':');
  return `${hex.slice(0, bestStart).join(':')}::${hex.slice(bestStart + bestLen).join(':')}`;
}

const NTP_TO_UNIX = 2208988800; // seconds from 1900-01-01 to 1970-01-01
const ERA1_START = 0x100000000 - NTP_TO_UNIX; // 2036-02-07T06:28:16Z in Unix seconds

/**
 * Time (NTP seconds since 1900) → 4 octets. Dates from 2036-02-07T06:28:16Z on use the RFC 4330 §3 rollover that
 * RFC 6733 §4.3.1 makes mandatory (MSB clear = era 1), so the range is 1968-01-20 … 2104-02-26.
 */
export function encodeTime(value: Date): Buffer {
  const ms = value instanceof Date ? value.getTime() : Number.NaN;
  if (!Number.isFinite(ms)) throw invalid('Time value must be a valid Date');
  const unix = Math.floor(ms / 1000);
  const ntp = unix >= ERA1_START ? unix - ERA1_START : unix + NTP_TO_UNIX;
  const inEra0 = unix < ERA1_START && ntp >= 0x80000000;
  const inEra1 = unix >= ERA1_START && ntp < 0x80000000;
  if (!inEra0 && !inEra1) throw invalid(`${value.toISOString()} is outside the Diameter Time range`);
  return encodeUnsigned32(ntp);
}

/** Reads a Time. @throws DiameterError 5014 unless 4 octets. */
export function decodeTime(data: Buffer): Date {
  const ntp = decodeUnsigned32(data);
  const unix = ntp >= 0x80000000 ? ntp - NTP_TO_UNIX : ntp + ERA1_START;
  return new Date(unix * 1000);
}
