/**
 * The bytes of a trace file, against hand-written expectations: the pcapng Section Header, Interface Description
 * and Enhanced Packet Blocks (draft-ietf-opsawg-pcapng §3.1 block layout, §3.5 options, §4.1 SHB, §4.2 IDB, §4.3
 * EPB), little-endian, 32-bit padded, total length at both ends; and Wireshark's exported-PDU tags
 * (wsutil/exported_pdu_tlvs.h: big-endian tag/length, NUL-padded dissector name, IPv4/IPv6 addresses, port type,
 * 4-octet ports, end of options).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { EXP_PDU_PT_TCP, EXP_PDU_PT_UDP, exportedPduTags, ipAddressBytes } from '../../lib/trace/exported-pdu.ts';
import { LINKTYPE_WIRESHARK_UPPER_PDU, SNAPLEN, enhancedPacketBlock, interfaceDescriptionBlock, sectionHeaderBlock } from '../../lib/trace/pcapng.ts';

const hex = (s: string): string => s.replace(/\s+/g, '');

test('pcapng §4.1: SHB — type, total length, byte-order magic, version 1.0, section length -1, shb_userappl padded, opt_endofopt', () => {
  assert.equal(sectionHeaderBlock('mcx').toString('hex'), hex(`
    0a0d0d0a 28000000
    4d3c2b1a 0100 0000 ffffffff ffffffff
    0400 0300 6d637800
    0000 0000
    28000000`));
});

test('pcapng §4.2: IDB — LINKTYPE_WIRESHARK_UPPER_PDU (252), reserved 0, snaplen 262144, if_name, if_tsresol 6 (µs)', () => {
  assert.equal(LINKTYPE_WIRESHARK_UPPER_PDU, 252);
  assert.equal(interfaceDescriptionBlock(LINKTYPE_WIRESHARK_UPPER_PDU, 'mcx-trace').toString('hex'), hex(`
    01000000 30000000
    fc00 0000 00000400
    0200 0900 6d63782d 74726163 65000000
    0900 0100 06000000
    0000 0000
    30000000`));
});

test('pcapng §4.3: EPB — interface 0, timestamp high/low words, captured = original length, data padded to 32 bits', () => {
  const b = enhancedPacketBlock(0x0005f2a1b3c4d5e6, Buffer.from('ab'), Buffer.from('cde'));
  assert.equal(b.toString('hex'), hex(`
    06000000 28000000
    00000000
    a1f20500 e6d5c4b3
    05000000 05000000
    61626364 65000000
    28000000`));
});

test('pcapng §4.3: EPB — a message above the snap length is cut there, its original length kept', () => {
  const b = enhancedPacketBlock(1, Buffer.alloc(8, 1), Buffer.alloc(SNAPLEN, 2));
  assert.equal(b.readUInt32LE(20), SNAPLEN);
  assert.equal(b.readUInt32LE(24), SNAPLEN + 8);
  assert.equal(b.length, 32 + SNAPLEN);
  assert.equal(b.readUInt32LE(b.length - 4), b.length);
});

test('exported PDU: SIP over UDP between IPv4 endpoints — dissector "sip" NUL-padded, addresses, port type 3, ports, end', () => {
  const t = exportedPduTags('sip', EXP_PDU_PT_UDP, { ip: ipAddressBytes('127.0.0.1') as Buffer, port: 5060 }, { ip: ipAddressBytes('10.0.0.2') as Buffer, port: 40000 });
  assert.equal(t.toString('hex'), hex(`
    000c 0004 73697000
    0014 0004 7f000001
    0015 0004 0a000002
    0018 0004 00000003
    0019 0004 000013c4
    001a 0004 00009c40
    0000 0000`));
});

test('exported PDU: Diameter over TCP between IPv6 endpoints — "diameter" (8 octets, no padding), tags 22/23, port type 2', () => {
  const t = exportedPduTags('diameter', EXP_PDU_PT_TCP, { ip: ipAddressBytes('::1') as Buffer, port: 3868 }, { ip: ipAddressBytes('2001:db8::a:1') as Buffer, port: 3869 });
  assert.equal(t.toString('hex'), hex(`
    000c 0008 6469616d 65746572
    0016 0010 00000000 00000000 00000000 00000001
    0017 0010 20010db8 00000000 00000000 000a0001
    0018 0004 00000002
    0019 0004 00000f1c
    001a 0004 00000f1d
    0000 0000`));
});

test('exported PDU addresses: IPv4-mapped IPv6 is IPv4, brackets and zone ids are dropped, an embedded IPv4 tail is read, names are refused', () => {
  assert.equal(ipAddressBytes('::ffff:127.0.0.1')?.toString('hex'), '7f000001');
  assert.equal(ipAddressBytes('[fe80::1%lo]')?.toString('hex'), 'fe800000000000000000000000000001');
  assert.equal(ipAddressBytes('64:ff9b::192.0.2.33')?.toString('hex'), '0064ff9b0000000000000000c0000221');
  assert.equal(ipAddressBytes('1:2:3:4:5:6:7:8')?.toString('hex'), '00010002000300040005000600070008');
  assert.equal(ipAddressBytes('::')?.toString('hex'), '0'.repeat(32));
  assert.equal(ipAddressBytes('localhost'), undefined);
  assert.equal(ipAddressBytes(''), undefined);
});
