/**
 * The three pcapng blocks a trace file needs (draft-ietf-opsawg-pcapng §4.1, §4.2, §4.3): one Section Header Block,
 * one Interface Description Block, then an Enhanced Packet Block per record. Written little-endian (the Byte-Order
 * Magic tells readers so); every block is padded to 32 bits and ends with its total length repeated, so a file that
 * ends on a block boundary is a complete, readable capture.
 *
 * Why no library: npm has readers and libpcap bindings, none a maintained pure writer of pcapng, and these are three
 * fixed layouts.
 */

/** Block Type of the Section Header Block (§4.1): a palindrome, the same in either byte order. */
export const BLOCK_SHB = 0x0a0d0d0a;
/** Block Type of the Interface Description Block (§4.2). */
export const BLOCK_IDB = 0x00000001;
/** Block Type of the Enhanced Packet Block (§4.3). */
export const BLOCK_EPB = 0x00000006;
/** Byte-Order Magic of the SHB. */
export const BYTE_ORDER_MAGIC = 0x1a2b3c4d;
/** LINKTYPE_WIRESHARK_UPPER_PDU: each packet starts with exported-PDU tags naming its dissector (exported-pdu.ts). */
export const LINKTYPE_WIRESHARK_UPPER_PDU = 252;
/**
 * Largest packet kept whole: Wireshark refuses records above 262144 octets (WTAP_MAX_PACKET_SIZE_STANDARD), so a
 * bigger message is cut there (captured length below original length) and the file stays readable.
 */
export const SNAPLEN = 262_144;

const OPT_ENDOFOPT = 0;
/** `shb_userappl` (§4.1): the application that wrote the section. */
const OPT_SHB_USERAPPL = 4;
/** `if_name` (§4.2). */
const OPT_IF_NAME = 2;
/** `if_tsresol` (§4.2): 6 = microseconds, also the default; written so no reader has to assume it. */
const OPT_IF_TSRESOL = 9;

/** Octets of padding that bring `n` to a multiple of 4. */
function pad4(n: number): number {
  return (4 - (n % 4)) % 4;
}

/** Options as code, value pairs, then opt_endofopt (§3.5): each value padded to 32 bits. */
function options(list: ReadonlyArray<[number, Buffer]>): Buffer {
  const size = list.reduce((n, [, v]) => n + 4 + v.length + pad4(v.length), 0) + 4;
  const out = Buffer.alloc(size);
  let o = 0;
  for (const [code, value] of list) {
    out.writeUInt16LE(code, o);
    out.writeUInt16LE(value.length, o + 2);
    value.copy(out, o + 4);
    o += 4 + value.length + pad4(value.length);
  }
  out.writeUInt16LE(OPT_ENDOFOPT, o);
  return out;
}

/** A block: type, total length, body, total length again. The body must already be a multiple of 4 octets. */
function block(type: number, body: Buffer): Buffer {
  const total = 12 + body.length;
  const out = Buffer.alloc(total);
  out.writeUInt32LE(type, 0);
  out.writeUInt32LE(total, 4);
  body.copy(out, 8);
  out.writeUInt32LE(total, total - 4);
  return out;
}

/**
 * The Section Header Block: version 1.0, section length -1 (not known: the file grows while it is read).
 * @param application `shb_userappl`, e.g. `mcx-migrate 0.1.0`.
 */
export function sectionHeaderBlock(application: string): Buffer {
  const fixed = Buffer.alloc(16);
  fixed.writeUInt32LE(BYTE_ORDER_MAGIC, 0);
  fixed.writeUInt16LE(1, 4);
  fixed.writeUInt16LE(0, 6);
  fixed.writeBigInt64LE(-1n, 8);
  return block(BLOCK_SHB, Buffer.concat([fixed, options([[OPT_SHB_USERAPPL, Buffer.from(application, 'utf8')]])]));
}

/**
 * The Interface Description Block of interface 0.
 * @param linkType the LINKTYPE of every packet (252 here).
 * @param name `if_name`.
 */
export function interfaceDescriptionBlock(linkType: number, name: string): Buffer {
  const fixed = Buffer.alloc(8);
  fixed.writeUInt16LE(linkType, 0);
  fixed.writeUInt32LE(SNAPLEN, 4);
  return block(BLOCK_IDB, Buffer.concat([fixed, options([[OPT_IF_NAME, Buffer.from(name, 'utf8')], [OPT_IF_TSRESOL, Buffer.from([6])]])]));
}

/**
 * An Enhanced Packet Block of interface 0, its packet made of `head` then `data` (copied: the caller's buffers may
 * be reused once this returns). The captured part is cut at {@link SNAPLEN}; the original length is the whole.
 * @param micros timestamp, whole microseconds since 1970-01-01 UTC (a number: 53 bits hold them until the year 2255).
 * @param head the link-layer header (the exported-PDU tags).
 * @param data the message.
 */
export function enhancedPacketBlock(micros: number, head: Buffer, data: Buffer): Buffer {
  const original = head.length + data.length;
  const captured = Math.min(original, SNAPLEN);
  const total = 32 + captured + pad4(captured);
  // Not zero-filled: every octet is written below (the padding explicitly), and this runs once per message.
  const out = Buffer.allocUnsafe(total);
  out.writeUInt32LE(BLOCK_EPB, 0);
  out.writeUInt32LE(total, 4);
  out.writeUInt32LE(0, 8);
  out.writeUInt32LE(Math.floor(micros / 0x1_0000_0000), 12);
  out.writeUInt32LE(micros % 0x1_0000_0000, 16);
  out.writeUInt32LE(captured, 20);
  out.writeUInt32LE(original, 24);
  const h = Math.min(head.length, captured);
  head.copy(out, 28, 0, h);
  data.copy(out, 28 + h, 0, captured - h);
  out.fill(0, 28 + captured, total - 4);
  out.writeUInt32LE(total, total - 4);
  return out;
}
