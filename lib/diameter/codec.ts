/**
 * RFC 6733 wire format: the 20-octet header (§3) and AVPs (§4.1) as raw data. This layer knows no dictionary: an AVP
 * is code, vendor, flags and data bytes, so unknown and binary AVPs pass through byte-exact. Typed values are in
 * `values.ts` (re-exported here); meaning (names, flag rules, required AVPs) is in `dictionary/` and `validate.ts`.
 *
 * Decoding is zero-copy: AVP data are views of the input buffer. Callers must not reuse a buffer they decoded from
 * while its message is in use (socket chunks and framer output are never reused). A decoded message keeps its octets
 * (wire.ts): encoding it again — with another header ({@link withHeader}) or AVPs appended ({@link withAppendedAvps})
 * — copies them instead of encoding each AVP.
 */
import { DiameterError } from './errors.ts';
import {
  AVP_HEADER_LENGTH, AvpFlag, CommandFlag, DIAMETER_VERSION, HEADER_LENGTH, MAX_24BIT, VENDOR_AVP_HEADER_LENGTH,
} from './constants.ts';
import { encodeFromReceived, keepReceived, receivedLength, rememberReceived, writeHeader } from './wire.ts';

export * from './values.ts';

/** Command flags of a message header. */
export interface MessageFlags {
  request: boolean;
  proxiable: boolean;
  error: boolean;
  retransmit: boolean;
}

/** Flags of an AVP; V is implied by the presence of `vendorId`. */
export interface AvpFlags {
  mandatory: boolean;
  protected: boolean;
}

/** One AVP, raw. `vendorId` present ⇔ the V bit is set. `data` excludes padding. */
export interface Avp {
  code: number;
  vendorId?: number;
  flags: AvpFlags;
  data: Buffer;
}

/** A Diameter message with raw AVPs in wire order. */
export interface DiameterMessage {
  version: number;
  flags: MessageFlags;
  commandCode: number;
  applicationId: number;
  hopByHop: number;
  endToEnd: number;
  avps: Avp[];
}

/** A decoded header: everything needed to build an answer even when the AVPs are unreadable. */
export interface DiameterHeader extends Omit<DiameterMessage, 'avps'> {
  /** Message Length field (whole message, header included). */
  length: number;
  /** Reserved flag bits as received (RFC 6733 §3: must be zero, ignored by the receiver). */
  reservedFlags: number;
}

/** Decoder knobs. */
export interface DecodeOptions {
  /** Reject reserved header bits with 5013 instead of ignoring them as RFC 6733 §3 tells receivers to. */
  strictReservedBits?: boolean;
}

/**
 * Reads and checks the 20-octet header.
 * @param buf at least the header; the rest is not looked at.
 * @throws DiameterError TRUNCATED_MESSAGE (no header), UNSUPPORTED_VERSION (5011), INVALID_MESSAGE_LENGTH (5015),
 *   INVALID_HDR_BITS (3008, E on a request), INVALID_BIT_IN_HEADER (5013, reserved bits, strict mode only).
 */
export function decodeHeader(buf: Buffer, options: DecodeOptions = {}): DiameterHeader {
  if (buf.length < HEADER_LENGTH) {
    throw new DiameterError('TRUNCATED_MESSAGE', `message has ${buf.length} octets, a header needs ${HEADER_LENGTH}`);
  }
  const flagBits = buf.readUInt8(4);
  const header: DiameterHeader = {
    version: buf.readUInt8(0),
    length: buf.readUIntBE(1, 3),
    flags: {
      request: (flagBits & CommandFlag.REQUEST) !== 0,
      proxiable: (flagBits & CommandFlag.PROXIABLE) !== 0,
      error: (flagBits & CommandFlag.ERROR) !== 0,
      retransmit: (flagBits & CommandFlag.RETRANSMIT) !== 0,
    },
    reservedFlags: flagBits & CommandFlag.RESERVED,
    commandCode: buf.readUIntBE(5, 3),
    applicationId: buf.readUInt32BE(8),
    hopByHop: buf.readUInt32BE(12),
    endToEnd: buf.readUInt32BE(16),
  };
  if (header.version !== DIAMETER_VERSION) {
    throw new DiameterError('UNSUPPORTED_VERSION', `Diameter version ${header.version} is not supported`, { header });
  }
  if (header.length < HEADER_LENGTH || header.length % 4 !== 0) {
    throw new DiameterError('INVALID_MESSAGE_LENGTH', `Message Length ${header.length} is invalid`, { header });
  }
  if (header.flags.request && header.flags.error) {
    throw new DiameterError('INVALID_HDR_BITS', 'E bit set on a request', { header });
  }
  if (options.strictReservedBits && header.reservedFlags !== 0) {
    throw new DiameterError('INVALID_BIT_IN_HEADER', 'reserved command flag bits set', { header });
  }
  return header;
}

/**
 * Decodes one whole message (exactly Message Length octets).
 * @throws DiameterError only; `header` is set on it whenever the header was readable, `avps` holds the AVPs
 *   decoded before the failure.
 */
export function decodeMessage(buf: Buffer, options: DecodeOptions = {}): DiameterMessage {
  const header = decodeHeader(buf, options);
  if (buf.length !== header.length) {
    const code = buf.length < header.length ? 'TRUNCATED_MESSAGE' : 'INVALID_MESSAGE_LENGTH';
    throw new DiameterError(code, `Message Length ${header.length} but ${buf.length} octets`, { header });
  }
  const avps: Avp[] = [];
  let canonical: boolean;
  try {
    canonical = decodeAvpsInto(buf, HEADER_LENGTH, buf.length, avps);
  } catch (err) {
    if (err instanceof DiameterError) {
      err.header = header;
      err.avps = avps;
    }
    throw err;
  }
  const msg = message(header, header.flags, header.hopByHop, header.endToEnd, avps);
  // Octets as a sender must write them (zero padding, zero reserved AVP flags) may go out again as they are.
  if (canonical) rememberReceived(msg, buf);
  return msg;
}

/**
 * The message with other header fields (identifiers, flags), keeping its received octets for {@link encodeMessage}.
 * @param fields the header fields to change.
 */
export function withHeader(msg: DiameterMessage, fields: Partial<Pick<DiameterMessage, 'hopByHop' | 'endToEnd' | 'flags'>>): DiameterMessage {
  // The octets live on the AVP array (wire.ts), which the copy shares.
  return message(msg, fields.flags ?? msg.flags, fields.hopByHop ?? msg.hopByHop, fields.endToEnd ?? msg.endToEnd, msg.avps);
}

/**
 * A message object, always built with the same properties in the same order: every message then has one hidden class,
 * so the property reads all over lib/diameter stay monomorphic (spreads of differently built objects made them
 * megamorphic, issue #12).
 */
function message(h: Pick<DiameterMessage, 'version' | 'commandCode' | 'applicationId'>, flags: MessageFlags, hopByHop: number, endToEnd: number, avps: Avp[]): DiameterMessage {
  return { version: h.version, flags, commandCode: h.commandCode, applicationId: h.applicationId, hopByHop, endToEnd, avps };
}

/**
 * The message with `extra` appended after its AVPs (a relay's Route-Record): received octets stay in use, the new
 * AVPs are encoded once.
 * @throws DiameterError INVALID_VALUE when an AVP cannot be encoded.
 */
export function withAppendedAvps(msg: DiameterMessage, extra: readonly Avp[]): DiameterMessage {
  const out = message(msg, msg.flags, msg.hopByHop, msg.endToEnd, [...msg.avps, ...extra]);
  keepReceived(msg, out, encodeAvps(extra));
  return out;
}

/**
 * Decodes a sequence of AVPs filling `data` exactly: the data of a Grouped AVP, or a message body.
 * @throws DiameterError INVALID_AVP_LENGTH (5014) when an AVP is shorter than its header, overruns the container, or
 *   the padded AVPs do not add up to the container's length.
 */
export function decodeAvps(data: Buffer): Avp[] {
  const avps: Avp[] = [];
  decodeAvpsInto(data, 0, data.length, avps);
  return avps;
}

/**
 * The four values of AVP flags, shared by every decoded AVP (a fresh object per AVP was a third of the decoder's
 * allocations); frozen, since nothing changes a decoded AVP.
 */
const FLAGS: readonly AvpFlags[] = [
  Object.freeze({ mandatory: false, protected: false }),
  Object.freeze({ mandatory: true, protected: false }),
  Object.freeze({ mandatory: false, protected: true }),
  Object.freeze({ mandatory: true, protected: true }),
];

/** @returns whether every padding octet and reserved AVP flag bit is zero, as RFC 6733 §4.1 has senders write them. */
function decodeAvpsInto(buf: Buffer, start: number, end: number, out: Avp[]): boolean {
  let canonical = true;
  let off = start;
  while (off < end) {
    const left = end - off;
    if (left < AVP_HEADER_LENGTH) throw truncatedAvpHeader(buf, off, end, AVP_HEADER_LENGTH);
    const code = buf.readUInt32BE(off);
    const flagBits = buf.readUInt8(off + 4);
    const length = buf.readUIntBE(off + 5, 3);
    const vendor = (flagBits & AvpFlag.VENDOR) !== 0;
    const headerLength = vendor ? VENDOR_AVP_HEADER_LENGTH : AVP_HEADER_LENGTH;
    if (left < headerLength) throw truncatedAvpHeader(buf, off, end, headerLength);
    const flags = FLAGS[((flagBits & AvpFlag.MANDATORY) !== 0 ? 1 : 0) + ((flagBits & AvpFlag.PROTECTED) !== 0 ? 2 : 0)] as AvpFlags;
    const vendorId = vendor ? buf.readUInt32BE(off + 8) : undefined;
    // RFC 6733 §7.5: for a length below the header or past the container, send the header with an empty payload.
    if (length < headerLength) {
      throw new DiameterError('INVALID_AVP_LENGTH', `AVP ${code} length ${length} is below its header size`, {
        failedAvp: withVendor({ code, flags, data: Buffer.alloc(0) }, vendorId),
      });
    }
    const padded = (length + 3) & ~3;
    if (length > left || padded > left) {
      throw new DiameterError('INVALID_AVP_LENGTH', `AVP ${code} length ${length} overruns its container`, {
        failedAvp: withVendor({ code, flags, data: Buffer.alloc(0) }, vendorId),
      });
    }
    out.push(withVendor({ code, flags, data: buf.subarray(off + headerLength, off + length) }, vendorId));
    // Padding octets are not rejected (senders must zero them, receivers gain nothing by refusing), only noted.
    if ((flagBits & AvpFlag.RESERVED) !== 0) canonical = false;
    for (let p = off + length; p < off + padded; p++) if (buf[p] !== 0) canonical = false;
    off += padded;
  }
  return canonical;
}

function truncatedAvpHeader(buf: Buffer, off: number, end: number, want: number): DiameterError {
  // RFC 6733 §7.1.5 (5014): pad an incomplete header with zeros up to the minimum header length.
  const raw = Buffer.alloc(want);
  buf.copy(raw, 0, off, Math.min(end, off + want));
  const flagBits = raw.readUInt8(4);
  const failedAvp = withVendor(
    {
      code: raw.readUInt32BE(0),
      flags: { mandatory: (flagBits & AvpFlag.MANDATORY) !== 0, protected: (flagBits & AvpFlag.PROTECTED) !== 0 },
      data: Buffer.alloc(0),
    },
    want === VENDOR_AVP_HEADER_LENGTH ? raw.readUInt32BE(8) : undefined,
  );
  return new DiameterError('INVALID_AVP_LENGTH', `truncated AVP header (${end - off} octets left)`, { failedAvp });
}

function withVendor(avp: Avp, vendorId: number | undefined): Avp {
  if (vendorId !== undefined) avp.vendorId = vendorId;
  return avp;
}

/**
 * Octets an AVP takes on the wire, padding included.
 * @param avp the AVP.
 */
export function avpWireLength(avp: Avp): number {
  return (avpLengthField(avp) + 3) & ~3;
}

function avpLengthField(avp: Avp): number {
  return (avp.vendorId === undefined ? AVP_HEADER_LENGTH : VENDOR_AVP_HEADER_LENGTH) + avp.data.length;
}

/**
 * Encodes a message; padding is zero, reserved bits are zero. A decoded message (or one made from it by
 * {@link withHeader} / {@link withAppendedAvps}) is its received octets under a header written from its fields.
 * @throws DiameterError INVALID_VALUE when a field is out of range or the message exceeds 2^24-1 octets.
 */
export function encodeMessage(msg: DiameterMessage): Buffer {
  checkUint('version', msg.version, 0xff);
  checkUint('command code', msg.commandCode, MAX_24BIT);
  checkUint('application id', msg.applicationId, 0xffffffff);
  checkUint('hop-by-hop id', msg.hopByHop, 0xffffffff);
  checkUint('end-to-end id', msg.endToEnd, 0xffffffff);
  const received = receivedLength(msg);
  if (received !== undefined && received <= MAX_24BIT) return encodeFromReceived(msg, received);
  let length = HEADER_LENGTH;
  for (const avp of msg.avps) length += checkedWireLength(avp);
  if (length > MAX_24BIT) throw new DiameterError('INVALID_VALUE', `message of ${length} octets exceeds 2^24-1`);
  // Not zero-filled: the header and every AVP (padding included, writeAvp) are written over all of it.
  const buf = Buffer.allocUnsafe(length);
  writeHeader(buf, msg, length);
  let off = HEADER_LENGTH;
  for (const avp of msg.avps) off = writeAvp(buf, off, avp);
  return buf;
}

/**
 * Encodes one AVP with its padding.
 * @throws DiameterError INVALID_VALUE on out-of-range code, vendor id or length.
 */
export function encodeAvp(avp: Avp): Buffer {
  const buf = Buffer.allocUnsafe(checkedWireLength(avp));
  writeAvp(buf, 0, avp);
  return buf;
}

/**
 * Encodes AVPs back to back: the data of a Grouped AVP.
 * @throws DiameterError INVALID_VALUE on out-of-range fields.
 */
export function encodeAvps(avps: readonly Avp[]): Buffer {
  let length = 0;
  for (const avp of avps) length += checkedWireLength(avp);
  const buf = Buffer.allocUnsafe(length);
  let off = 0;
  for (const avp of avps) off = writeAvp(buf, off, avp);
  return buf;
}

function checkedWireLength(avp: Avp): number {
  checkUint('AVP code', avp.code, 0xffffffff);
  if (avp.vendorId !== undefined) checkUint('vendor id', avp.vendorId, 0xffffffff);
  if (!Buffer.isBuffer(avp.data)) throw new DiameterError('INVALID_VALUE', `AVP ${avp.code} data is not a Buffer`);
  const length = avpLengthField(avp);
  if (length > MAX_24BIT) throw new DiameterError('INVALID_VALUE', `AVP ${avp.code} of ${length} octets is too long`);
  return (length + 3) & ~3;
}

function writeAvp(buf: Buffer, off: number, avp: Avp): number {
  const length = avpLengthField(avp);
  buf.writeUInt32BE(avp.code, off);
  buf.writeUInt8(
    (avp.vendorId === undefined ? 0 : AvpFlag.VENDOR) | (avp.flags.mandatory ? AvpFlag.MANDATORY : 0) |
      (avp.flags.protected ? AvpFlag.PROTECTED : 0),
    off + 4,
  );
  buf.writeUIntBE(length, off + 5, 3);
  let dataOff = off + AVP_HEADER_LENGTH;
  if (avp.vendorId !== undefined) {
    buf.writeUInt32BE(avp.vendorId, dataOff);
    dataOff += 4;
  }
  avp.data.copy(buf, dataOff);
  const end = off + ((length + 3) & ~3);
  // Padding is zero (RFC 6733 §4.1), also in a buffer that was not zero-filled.
  buf.fill(0, off + length, end);
  return end;
}

function checkUint(what: string, value: number, max: number): void {
  if (!Number.isInteger(value) || value < 0 || value > max) {
    throw new DiameterError('INVALID_VALUE', `${what} ${String(value)} is not an integer in 0..${max}`);
  }
}
