/**
 * The link-layer header of LINKTYPE_WIRESHARK_UPPER_PDU packets: Wireshark's exported-PDU tags, each a 2-octet
 * big-endian tag, a 2-octet big-endian length and the value, ended by tag 0 with length 0. Tag numbers and value
 * layouts are those of Wireshark's `wsutil/exported_pdu_tlvs.h` (the same numbers as `epan/exported_pdu.h` of older
 * releases): the dissector to call (12), the source and destination address (20/21 IPv4, 22/23 IPv6), the port
 * type (24: EXP_PDU_PT_TCP 2, EXP_PDU_PT_UDP 3) and the ports (25/26, 4 octets each). Strings are padded with NUL
 * to 32 bits and the padding counted in the length, as Wireshark's own writer does (its reader takes the value as a
 * NUL-padded string). With addresses and ports set, Wireshark shows the real endpoints and matches Diameter answers
 * to requests per connection, whatever port a peer listens on.
 */
import { isIP } from 'node:net';

export const EXP_PDU_TAG_END_OF_OPT = 0;
export const EXP_PDU_TAG_DISSECTOR_NAME = 12;
export const EXP_PDU_TAG_IPV4_SRC = 20;
export const EXP_PDU_TAG_IPV4_DST = 21;
export const EXP_PDU_TAG_IPV6_SRC = 22;
export const EXP_PDU_TAG_IPV6_DST = 23;
export const EXP_PDU_TAG_PORT_TYPE = 24;
export const EXP_PDU_TAG_SRC_PORT = 25;
export const EXP_PDU_TAG_DST_PORT = 26;
/** EXP_PDU_PT_TCP: TLS connections are TCP ones too (the trace is of what TLS carries). */
export const EXP_PDU_PT_TCP = 2;
export const EXP_PDU_PT_UDP = 3;

/** The registered Wireshark dissectors a record names: `sip` and `diameter` take one whole message each. */
export type DissectorName = 'sip' | 'diameter';

/**
 * The 4 or 16 octets of an IP address (IPv4-mapped IPv6 `::ffff:a.b.c.d` as IPv4, which is what it is on the wire of
 * a dual-stack socket); undefined when `address` is not an IP address.
 * @param address textual IPv4 or IPv6 address, brackets and zone id allowed.
 */
export function ipAddressBytes(address: string): Buffer | undefined {
  let a = address.charCodeAt(0) === 91 ? address.slice(1, -1) : address;
  const zone = a.indexOf('%');
  if (zone >= 0) a = a.slice(0, zone);
  const family = isIP(a);
  if (family === 4) return Buffer.from(a.split('.').map(Number));
  if (family !== 6) return undefined;
  const lower = a.toLowerCase();
  if (lower.startsWith('::ffff:') && lower.includes('.') && isIP(lower.slice(7)) === 4) return ipAddressBytes(lower.slice(7));
  const groups = (s: string): number[] => {
    if (s === '') return [];
    const out: number[] = [];
    for (const part of s.split(':')) {
      if (part.includes('.')) {
        const [b0, b1, b2, b3] = part.split('.').map(Number) as [number, number, number, number];
        out.push((b0 << 8) | b1, (b2 << 8) | b3);
      } else {
        out.push(parseInt(part, 16));
      }
    }
    return out;
  };
  const gap = lower.indexOf('::');
  const head = groups(gap < 0 ? lower : lower.slice(0, gap));
  const tail = gap < 0 ? [] : groups(lower.slice(gap + 2));
  const all = [...head, ...new Array<number>(8 - head.length - tail.length).fill(0), ...tail];
  const out = Buffer.alloc(16);
  all.forEach((g, i) => out.writeUInt16BE(g, i * 2));
  return out;
}

/** One endpoint of a record: the address octets ({@link ipAddressBytes}) and the port. */
export interface PduEndpoint {
  ip: Buffer;
  port: number;
}

function tag(out: Buffer, o: number, code: number, value: Buffer, length = value.length): number {
  out.writeUInt16BE(code, o);
  out.writeUInt16BE(length, o + 2);
  value.copy(out, o + 4);
  return o + 4 + length;
}

function u32Tag(out: Buffer, o: number, code: number, value: number): number {
  out.writeUInt16BE(code, o);
  out.writeUInt16BE(4, o + 2);
  out.writeUInt32BE(value, o + 4);
  return o + 8;
}

/**
 * The exported-PDU tags of one message, in the numerical order Wireshark writes them: dissector name, source and
 * destination address, port type, source and destination port, end of options.
 * @param dissector `sip` or `diameter`.
 * @param portType {@link EXP_PDU_PT_UDP} or {@link EXP_PDU_PT_TCP}.
 */
export function exportedPduTags(dissector: DissectorName, portType: number, src: PduEndpoint, dst: PduEndpoint): Buffer {
  const name = Buffer.from(dissector, 'latin1');
  const nameLength = name.length + ((4 - (name.length % 4)) % 4);
  const out = Buffer.alloc(4 + nameLength + 4 + src.ip.length + 4 + dst.ip.length + 3 * 8 + 4);
  let o = tag(out, 0, EXP_PDU_TAG_DISSECTOR_NAME, name, nameLength);
  o = tag(out, o, src.ip.length === 4 ? EXP_PDU_TAG_IPV4_SRC : EXP_PDU_TAG_IPV6_SRC, src.ip);
  o = tag(out, o, dst.ip.length === 4 ? EXP_PDU_TAG_IPV4_DST : EXP_PDU_TAG_IPV6_DST, dst.ip);
  o = u32Tag(out, o, EXP_PDU_TAG_PORT_TYPE, portType);
  o = u32Tag(out, o, EXP_PDU_TAG_SRC_PORT, src.port);
  o = u32Tag(out, o, EXP_PDU_TAG_DST_PORT, dst.port);
  out.writeUInt16BE(EXP_PDU_TAG_END_OF_OPT, o);
  return out;
}
