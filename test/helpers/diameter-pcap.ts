/**
 * tshark as an independent judge of what we encode: messages go into a pcap (LINKTYPE_RAW, IPv4/TCP, one segment per
 * message, requests towards port 3868, sequence numbers right) and come back through the Diameter dissector.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { encodeMessage, type DiameterMessage } from '../../lib/diameter/codec.ts';

/** A pcap of one TCP connection carrying each message in its own segment. */
export function diameterPcap(messages: DiameterMessage[]): Buffer {
  const parts: Buffer[] = [Buffer.from('d4c3b2a1020004000000000000000000ffff000065000000', 'hex')];
  const seq = { up: 1000, down: 5000 };
  messages.forEach((m, i) => {
    const payload = encodeMessage(m);
    const up = m.flags.request;
    const ip = Buffer.alloc(40);
    ip.writeUInt8(0x45, 0);
    ip.writeUInt16BE(40 + payload.length, 2);
    ip.writeUInt8(64, 8);
    ip.writeUInt8(6, 9);
    Buffer.from(up ? [10, 0, 0, 1, 10, 0, 0, 2] : [10, 0, 0, 2, 10, 0, 0, 1]).copy(ip, 12);
    ip.writeUInt16BE(up ? 40000 : 3868, 20);
    ip.writeUInt16BE(up ? 3868 : 40000, 22);
    ip.writeUInt32BE(up ? seq.up : seq.down, 24);
    ip.writeUInt32BE(up ? seq.down : seq.up, 28);
    ip.writeUInt8(0x50, 32);
    ip.writeUInt8(0x18, 33); // PSH ACK
    ip.writeUInt16BE(65535, 34);
    if (up) seq.up += payload.length;
    else seq.down += payload.length;
    const rec = Buffer.alloc(16);
    rec.writeUInt32LE(1700000000 + i, 0);
    rec.writeUInt32LE(ip.length + payload.length, 8);
    rec.writeUInt32LE(ip.length + payload.length, 12);
    parts.push(rec, ip, payload);
  });
  return Buffer.concat(parts);
}

export interface Dissection {
  /** How many packets tshark recognised as Diameter. */
  diameterPackets: number;
  /** `tshark -V` text of the whole capture. */
  detail: string;
  /** The Warning/Error expert-info lines, trimmed. */
  expert: string[];
}

/** Dissects `messages` with tshark and returns what it said. */
export function dissectDiameter(messages: DiameterMessage[]): Dissection {
  const dir = mkdtempSync(join(tmpdir(), 'mcx-pcap-'));
  try {
    const file = join(dir, 'messages.pcap');
    writeFileSync(file, diameterPcap(messages));
    const summary = execFileSync('tshark', ['-r', file, '-Y', 'diameter'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
    const detail = execFileSync('tshark', ['-r', file, '-V', '-o', 'tcp.check_checksum:FALSE'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'], maxBuffer: 64 << 20 });
    const expert = detail.split('\n').filter((l) => /\[Expert Info \((Warning|Error)/.test(l)).map((l) => l.trim());
    return { diameterPackets: summary.trim() ? summary.trim().split('\n').length : 0, detail, expert };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
