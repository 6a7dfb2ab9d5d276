/**
 * lib/trace's writer as a file: valid (whole blocks) at any moment, each record on disk within a second without a
 * close, at most one write per event-loop turn, a bounded queue, a message recorded once when two roles of one
 * process see it, a clear error for a path that cannot be created, and what tshark makes of it — the real endpoints,
 * the `sip` and `diameter` dissectors, 0 Malformed, no expert warnings (and the same checks catching a broken record,
 * so they can fail).
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { open, mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { encodeMessage } from '../../lib/diameter/codec.ts';
import { buildCer } from '../../lib/diameter/peer-messages.ts';
import { CX_APPLICATION, localCapabilities } from '../../lib/diameter/capabilities.ts';
import { TraceWriter } from '../../lib/trace/writer.ts';
import { readPcapng } from '../helpers/pcapng.ts';
import { traceProblems, traceRows } from '../helpers/tshark.ts';

let dir: string;
before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'mcx-trace-writer-'));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

const REGISTER = Buffer.from('REGISTER sip:partner.example SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:5062;branch=z9hG4bKw1;rport\r\nMax-Forwards: 70\r\n'
  + 'From: <sip:a@partner.example>;tag=1\r\nTo: <sip:a@partner.example>\r\nCall-ID: writer-1\r\nCSeq: 1 REGISTER\r\n'
  + 'Contact: <sip:a@127.0.0.1:5062>\r\nExpires: 600\r\nContent-Length: 0\r\n\r\n');

function cer(): Buffer {
  const id = { originHost: 'registrar.partner.example', originRealm: 'partner.example', applications: [CX_APPLICATION], relay: false, originStateId: 1, productName: 'mcx', vendorId: 0 };
  return encodeMessage(buildCer(localCapabilities(id, '127.0.0.1'), { hopByHop: 7, endToEnd: 9 }));
}

test('a new file is a valid empty capture: SHB then IDB of LINKTYPE_WIRESHARK_UPPER_PDU, mode 0600', async () => {
  const w = await TraceWriter.open(join(dir, 'empty.pcapng'));
  const f = await readPcapng(w.path);
  assert.deepEqual(f.blocks, [0x0a0d0d0a, 1]);
  assert.equal(f.linkType, 252);
  assert.equal((await stat(w.path)).mode & 0o777, 0o600);
  await w.close();
});

test('each record is in the file, as a whole block, within a second — no close, no explicit flush', async () => {
  const w = await TraceWriter.open(join(dir, 'soon.pcapng'));
  const t0 = Date.now();
  w.record('sip', 'udp', 'in', '127.0.0.1', 5062, '127.0.0.1', 5060, REGISTER);
  let packets = 0;
  while (packets === 0 && Date.now() - t0 < 1000) {
    await new Promise((r) => setTimeout(r, 10));
    packets = (await readPcapng(w.path)).packets.length;
  }
  assert.equal(packets, 1, `the record reached the file after ${Date.now() - t0} ms`);
  await w.close();
});

test('records of one event-loop turn reach the file in one write; three turns, at most three writes', async () => {
  const w = await TraceWriter.open(join(dir, 'batch.pcapng'));
  // FileHandle's class is not exported: count the writes through its prototype.
  const probe = await open(join(dir, 'probe'), 'w');
  const proto = Object.getPrototypeOf(probe) as { write: (...a: unknown[]) => Promise<unknown> };
  await probe.close();
  const original = proto.write;
  let writes = 0;
  proto.write = function (this: unknown, ...a: unknown[]) {
    writes++;
    return original.apply(this, a);
  };
  try {
    for (let i = 0; i < 500; i++) w.record('sip', 'udp', 'in', '127.0.0.1', 5062 + (i % 7), '127.0.0.1', 5060, REGISTER);
    await w.flushed();
    assert.equal(writes, 1);
    writes = 0;
    for (let turn = 0; turn < 3; turn++) {
      for (let i = 0; i < 50; i++) w.record('sip', 'udp', 'in', '127.0.0.1', 6000 + i, '127.0.0.1', 5060, REGISTER);
      await new Promise((r) => setImmediate(r));
    }
    await w.flushed();
    assert.ok(writes >= 1 && writes <= 3, `${writes} writes`);
  } finally {
    proto.write = original;
  }
  await w.close();
  assert.equal((await readPcapng(w.path)).packets.length, 650);
  assert.equal(w.records, 650);
});

test('a message one role of the process sent and another received is recorded once; the other direction is its own record', async () => {
  const w = await TraceWriter.open(join(dir, 'dedupe.pcapng'));
  const d = cer();
  w.record('diameter', 'tcp', 'out', '127.0.0.1', 40001, '127.0.0.1', 3868, d);
  w.record('diameter', 'tcp', 'in', '127.0.0.1', 40001, '127.0.0.1', 3868, d);
  // IPv4-mapped on one side, plain on the other: the same connection.
  w.record('diameter', 'tcp', 'in', '::ffff:127.0.0.1', 40001, '127.0.0.1', 3868, d);
  w.record('diameter', 'tcp', 'in', '127.0.0.1', 3868, '127.0.0.1', 40001, d);
  w.record('diameter', 'tcp', 'in', '127.0.0.1', 40002, '127.0.0.1', 3868, d);
  await w.close();
  assert.equal((await readPcapng(w.path)).packets.length, 3);
});

test('the queue is bounded: beyond it records are dropped and counted, and the file stays whole', async () => {
  const w = await TraceWriter.open(join(dir, 'bounded.pcapng'), { maxPendingBytes: 2000 });
  for (let i = 0; i < 100; i++) w.record('sip', 'udp', 'in', '127.0.0.1', 5062, '127.0.0.1', 5060, REGISTER);
  await w.close();
  const f = await readPcapng(w.path);
  assert.ok(w.dropped > 0 && w.records > 0, `${w.records} written, ${w.dropped} dropped`);
  assert.equal(w.records + w.dropped, 100);
  assert.equal(f.packets.length, w.records);
});

test('close is idempotent, records after it are ignored, the file ends on a block boundary', async () => {
  const w = await TraceWriter.open(join(dir, 'closed.pcapng'));
  w.record('sip', 'udp', 'in', '127.0.0.1', 5062, '127.0.0.1', 5060, REGISTER);
  await Promise.all([w.close(), w.close()]);
  w.record('sip', 'udp', 'in', '127.0.0.1', 5062, '127.0.0.1', 5060, REGISTER);
  await w.close();
  assert.equal((await readPcapng(w.path)).packets.length, 1);
});

test('a path that cannot be created is a configuration error naming --trace and the reason', async () => {
  await assert.rejects(TraceWriter.open(join(dir, 'no-such-folder', 'x.pcapng')), (e: Error) => {
    assert.equal(e.name, 'ConfigFileError');
    assert.match(e.message, /^--trace \S+x\.pcapng: ENOENT$/);
    return true;
  });
});

test('bare tshark -r: SIP over UDP and TCP, IPv4 and IPv6, and Diameter decoded with the real endpoints, 0 Malformed, no warnings', async () => {
  const w = await TraceWriter.open(join(dir, 'tshark.pcapng'));
  w.record('sip', 'udp', 'in', '127.0.0.1', 5062, '127.0.0.1', 5060, REGISTER);
  w.record('sip', 'tcp', 'out', '::1', 5061, '::1', 40123, REGISTER);
  w.record('diameter', 'tcp', 'out', '127.0.0.1', 40001, '127.0.0.2', 13868, cer());
  await w.close();
  assert.deepEqual(await traceRows(w.path, 'sip', ['exported_pdu.ipv4_src', 'exported_pdu.ipv6_src', 'exported_pdu.src_port', 'exported_pdu.dst_port', 'exported_pdu.port_type', 'sip.Method', 'sip.Call-ID']), [
    ['127.0.0.1', '', '5062', '5060', '3', 'REGISTER', 'writer-1'],
    ['', '::1', '5061', '40123', '2', 'REGISTER', 'writer-1'],
  ]);
  assert.deepEqual(await traceRows(w.path, 'diameter', ['exported_pdu.ipv4_src', 'exported_pdu.ipv4_dst', 'exported_pdu.dst_port', 'diameter.cmd.code', 'diameter.Origin-Host']), [
    ['127.0.0.1', '127.0.0.2', '13868', '257', 'registrar.partner.example'],
  ]);
  assert.deepEqual(await traceProblems(w.path), { malformed: '', warnings: '', expert: '' });
});

test('the same checks catch a broken record: a Diameter header longer than its message is Malformed', async () => {
  const w = await TraceWriter.open(join(dir, 'broken.pcapng'));
  w.record('diameter', 'tcp', 'in', '127.0.0.1', 3868, '127.0.0.1', 40000, cer().subarray(0, 40));
  await w.close();
  const p = await traceProblems(w.path);
  assert.notEqual(p.malformed, '');
  assert.match(p.expert, /Malformed/);
});
