/**
 * A strict reader of the pcapng files lib/trace writes (little-endian, one section, one interface), for tests that
 * check a trace file is whole at any moment: every block's total length at both ends agrees and the blocks cover
 * the file exactly. Independent of lib/trace: it reads the layout of draft-ietf-opsawg-pcapng itself.
 */
import { readFile } from 'node:fs/promises';

/** One Enhanced Packet Block. */
export interface PacketRecord {
  /** Microseconds since the epoch. */
  micros: bigint;
  /** The packet (exported-PDU tags, then the message). */
  packet: Buffer;
  /** The message after the tags. */
  payload: Buffer;
}

/** What a file holds. */
export interface PcapngFile {
  /** Block types in file order. */
  blocks: number[];
  linkType: number;
  packets: PacketRecord[];
}

/**
 * Reads and checks `file`.
 * @throws Error naming the offset of the first problem (a cut block, lengths that disagree, a bad magic).
 */
export async function readPcapng(file: string): Promise<PcapngFile> {
  const buf = await readFile(file);
  const blocks: number[] = [];
  const packets: PacketRecord[] = [];
  let linkType = -1;
  let off = 0;
  while (off < buf.length) {
    if (off + 12 > buf.length) throw new Error(`${file}: cut block header at ${off}`);
    const type = buf.readUInt32LE(off);
    const total = buf.readUInt32LE(off + 4);
    if (total < 12 || total % 4 !== 0) throw new Error(`${file}: block length ${total} at ${off}`);
    if (off + total > buf.length) throw new Error(`${file}: block at ${off} cut (${total} octets, ${buf.length - off} there)`);
    if (buf.readUInt32LE(off + total - 4) !== total) throw new Error(`${file}: trailing length of the block at ${off} differs`);
    if (off === 0 && (type !== 0x0a0d0d0a || buf.readUInt32LE(8) !== 0x1a2b3c4d)) throw new Error(`${file}: no little-endian section header`);
    if (type === 1) linkType = buf.readUInt16LE(off + 8);
    if (type === 6) {
      const captured = buf.readUInt32LE(off + 20);
      const packet = buf.subarray(off + 28, off + 28 + captured);
      const micros = (BigInt(buf.readUInt32LE(off + 12)) << 32n) | BigInt(buf.readUInt32LE(off + 16));
      packets.push({ micros, packet, payload: packet.subarray(tagsLength(packet)) });
    }
    blocks.push(type);
    off += total;
  }
  return { blocks, linkType, packets };
}

/** Octets of the exported-PDU tags up to and including end-of-options (big-endian tag, length). */
function tagsLength(p: Buffer): number {
  let o = 0;
  while (o + 4 <= p.length) {
    const tag = p.readUInt16BE(o);
    const len = p.readUInt16BE(o + 2);
    o += 4 + len;
    if (tag === 0) return o;
  }
  throw new Error('exported-PDU tags without end-of-options');
}
