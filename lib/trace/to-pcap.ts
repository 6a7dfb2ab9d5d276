/**
 * A trace file (exported PDUs, writer.ts) as a classic pcap of raw IP packets (LINKTYPE_RAW, 101) for tools that
 * decode only link layers, sngrep among them: each record becomes one IPv4 or IPv6 packet from its source to its
 * destination address, carrying one UDP datagram, or one TCP segment (PSH|ACK, sequence and acknowledgement numbers
 * kept per direction of each connection, so a TCP reader sees an unbroken stream) — what a capture on the wire would
 * show if the legs were not TLS. Checksums are computed. A record too large for one IP packet (above 65,495 octets
 * of payload) is left out and counted.
 */
import { EXP_PDU_PT_TCP, EXP_PDU_PT_UDP, EXP_PDU_TAG_DST_PORT, EXP_PDU_TAG_END_OF_OPT, EXP_PDU_TAG_IPV4_DST, EXP_PDU_TAG_IPV4_SRC,
  EXP_PDU_TAG_IPV6_DST, EXP_PDU_TAG_IPV6_SRC, EXP_PDU_TAG_PORT_TYPE, EXP_PDU_TAG_SRC_PORT } from './exported-pdu.ts';
import { BLOCK_EPB, BLOCK_IDB, BLOCK_SHB, BYTE_ORDER_MAGIC, LINKTYPE_WIRESHARK_UPPER_PDU, SNAPLEN } from './pcapng.ts';

/** LINKTYPE_RAW: the packet begins with the IP header. */
const LINKTYPE_RAW = 101;
const MAX_PAYLOAD = 65_535 - 40;

/** What a conversion did. */
export interface PcapConversion {
  pcap: Buffer;
  packets: number;
  /** Records left out: too large for one IP packet, or without addresses, ports and port type. */
  skipped: number;
}

interface Record {
  micros: number;
  src: Buffer;
  dst: Buffer;
  srcPort: number;
  dstPort: number;
  portType: number;
  payload: Buffer;
}

/**
 * Converts a trace file's bytes.
 * @throws Error for a file that is not a little-endian pcapng of LINKTYPE_WIRESHARK_UPPER_PDU (what lib/trace writes).
 */
export function traceToPcap(file: Buffer): PcapConversion {
  const out: Buffer[] = [pcapHeader()];
  const seq = new Map<string, number>();
  let packets = 0;
  let skipped = 0;
  for (const r of records(file)) {
    if (r.payload.length > MAX_PAYLOAD || (r.portType !== EXP_PDU_PT_UDP && r.portType !== EXP_PDU_PT_TCP) || r.src.length !== r.dst.length) {
      skipped++;
      continue;
    }
    const packet = r.portType === EXP_PDU_PT_UDP ? udpPacket(r) : tcpPacket(r, seq);
    const rec = Buffer.alloc(16);
    rec.writeUInt32LE(Math.floor(r.micros / 1e6), 0);
    rec.writeUInt32LE(r.micros % 1e6, 4);
    rec.writeUInt32LE(packet.length, 8);
    rec.writeUInt32LE(packet.length, 12);
    out.push(rec, packet);
    packets++;
  }
  return { pcap: Buffer.concat(out), packets, skipped };
}

function pcapHeader(): Buffer {
  const h = Buffer.alloc(24);
  h.writeUInt32LE(0xa1b2c3d4, 0);
  h.writeUInt16LE(2, 4);
  h.writeUInt16LE(4, 6);
  h.writeUInt32LE(SNAPLEN, 16);
  h.writeUInt32LE(LINKTYPE_RAW, 20);
  return h;
}

/** The exported-PDU records of a lib/trace file, in file order (records without addresses are skipped by the caller). */
function* records(buf: Buffer): Generator<Record> {
  if (buf.length < 28 || buf.readUInt32LE(0) !== BLOCK_SHB || buf.readUInt32LE(8) !== BYTE_ORDER_MAGIC) {
    throw new Error('not a little-endian pcapng file (a trace of mcx --trace)');
  }
  let off = 0;
  while (off + 12 <= buf.length) {
    const type = buf.readUInt32LE(off);
    const total = buf.readUInt32LE(off + 4);
    if (total < 12 || off + total > buf.length) break; // a cut last block: the file was being written
    if (type === BLOCK_IDB && buf.readUInt16LE(off + 8) !== LINKTYPE_WIRESHARK_UPPER_PDU) {
      throw new Error(`interface of link type ${buf.readUInt16LE(off + 8)}, not exported PDUs (252)`);
    }
    if (type === BLOCK_EPB) {
      const captured = buf.readUInt32LE(off + 20);
      const micros = buf.readUInt32LE(off + 12) * 0x1_0000_0000 + buf.readUInt32LE(off + 16);
      yield parseRecord(buf.subarray(off + 28, off + 28 + captured), micros);
    }
    off += total;
  }
}

function parseRecord(p: Buffer, micros: number): Record {
  const r: Record = { micros, src: Buffer.alloc(0), dst: Buffer.alloc(0), srcPort: 0, dstPort: 0, portType: -1, payload: Buffer.alloc(0) };
  let o = 0;
  while (o + 4 <= p.length) {
    const tag = p.readUInt16BE(o);
    const len = p.readUInt16BE(o + 2);
    const v = p.subarray(o + 4, o + 4 + len);
    o += 4 + len;
    if (tag === EXP_PDU_TAG_END_OF_OPT) break;
    if (tag === EXP_PDU_TAG_IPV4_SRC || tag === EXP_PDU_TAG_IPV6_SRC) r.src = v;
    else if (tag === EXP_PDU_TAG_IPV4_DST || tag === EXP_PDU_TAG_IPV6_DST) r.dst = v;
    else if (tag === EXP_PDU_TAG_PORT_TYPE && len === 4) r.portType = v.readUInt32BE(0);
    else if (tag === EXP_PDU_TAG_SRC_PORT && len === 4) r.srcPort = v.readUInt32BE(0);
    else if (tag === EXP_PDU_TAG_DST_PORT && len === 4) r.dstPort = v.readUInt32BE(0);
  }
  r.payload = p.subarray(o);
  return r;
}

/** The IP header for `length` octets of transport data of `protocol` (17 UDP, 6 TCP). */
function ipHeader(r: Record, protocol: number, length: number): Buffer {
  if (r.src.length === 4) {
    const h = Buffer.alloc(20);
    h.writeUInt8(0x45, 0);
    h.writeUInt16BE(20 + length, 2);
    h.writeUInt16BE(0x4000, 6); // don't fragment
    h.writeUInt8(64, 8);
    h.writeUInt8(protocol, 9);
    r.src.copy(h, 12);
    r.dst.copy(h, 16);
    h.writeUInt16BE(checksum([h]), 10);
    return h;
  }
  const h = Buffer.alloc(40);
  h.writeUInt32BE(0x60000000, 0);
  h.writeUInt16BE(length, 4);
  h.writeUInt8(protocol, 6);
  h.writeUInt8(64, 7);
  r.src.copy(h, 8);
  r.dst.copy(h, 24);
  return h;
}

/** The pseudo-header of the transport checksum (RFC 768, RFC 793, RFC 8200 §8.1). */
function pseudoHeader(r: Record, protocol: number, length: number): Buffer {
  const tail = Buffer.alloc(r.src.length === 4 ? 4 : 8);
  if (r.src.length === 4) {
    tail.writeUInt8(protocol, 1);
    tail.writeUInt16BE(length, 2);
  } else {
    tail.writeUInt32BE(length, 0);
    tail.writeUInt8(protocol, 7);
  }
  return Buffer.concat([r.src, r.dst, tail]);
}

function udpPacket(r: Record): Buffer {
  const length = 8 + r.payload.length;
  const u = Buffer.alloc(8);
  u.writeUInt16BE(r.srcPort, 0);
  u.writeUInt16BE(r.dstPort, 2);
  u.writeUInt16BE(length, 4);
  u.writeUInt16BE(checksum([pseudoHeader(r, 17, length), u, r.payload]) || 0xffff, 6);
  return Buffer.concat([ipHeader(r, 17, length), u, r.payload]);
}

function tcpPacket(r: Record, seq: Map<string, number>): Buffer {
  const src = `${r.src.toString('hex')}:${r.srcPort}`;
  const dst = `${r.dst.toString('hex')}:${r.dstPort}`;
  const mine = seq.get(`${src}>${dst}`) ?? 1;
  const theirs = seq.get(`${dst}>${src}`) ?? 1;
  seq.set(`${src}>${dst}`, (mine + r.payload.length) >>> 0);
  const length = 20 + r.payload.length;
  const t = Buffer.alloc(20);
  t.writeUInt16BE(r.srcPort, 0);
  t.writeUInt16BE(r.dstPort, 2);
  t.writeUInt32BE(mine, 4);
  t.writeUInt32BE(theirs, 8);
  t.writeUInt8(5 << 4, 12);
  t.writeUInt8(0x18, 13); // PSH, ACK
  t.writeUInt16BE(65_535, 14);
  t.writeUInt16BE(checksum([pseudoHeader(r, 6, length), t, r.payload]), 16);
  return Buffer.concat([ipHeader(r, 6, length), t, r.payload]);
}

/** The Internet checksum (RFC 1071) of the concatenated parts. */
function checksum(parts: Buffer[]): number {
  let sum = 0;
  let odd: number | undefined;
  for (const p of parts) {
    let i = 0;
    if (odd !== undefined && p.length > 0) {
      sum += (odd << 8) | (p[0] as number);
      odd = undefined;
      i = 1;
    }
    for (; i + 1 < p.length; i += 2) sum += ((p[i] as number) << 8) | (p[i + 1] as number);
    if (i < p.length) odd = p[i] as number;
  }
  if (odd !== undefined) sum += odd << 8;
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  return ~sum & 0xffff;
}
