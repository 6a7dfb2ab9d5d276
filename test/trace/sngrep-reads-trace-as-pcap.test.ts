/**
 * sngrep and a trace file: sngrep 1.6 decodes only the link layers it knows and refuses LINKTYPE_WIRESHARK_UPPER_PDU
 * ("Unable to handle linktype 252", what README says), so `mcx trace pcap IN OUT` rewrites a trace as raw IP packets
 * — UDP datagrams and TCP segments with their checksums and unbroken sequence numbers, IPv4 and IPv6 — and sngrep then
 * finds every SIP message (`sngrep -N -I OUT -O SIP.pcap` keeps the SIP packets it parsed). tshark reads the
 * converted file with checksum validation on: no warnings.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawnSync } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { TraceWriter } from '../../lib/trace/writer.ts';
import { startMcx } from '../helpers/process.ts';

const run = promisify(execFile);
let dir: string;
let trace: string;

const request = (method: string, callId: string, transport: string, cseq: number): Buffer => Buffer.from(`${method} sip:partner.example SIP/2.0\r\n`
  + `Via: SIP/2.0/${transport} 127.0.0.1:5062;branch=z9hG4bK${callId}${cseq};rport\r\nMax-Forwards: 70\r\nFrom: <sip:a@partner.example>;tag=1\r\n`
  + `To: <sip:a@partner.example>\r\nCall-ID: ${callId}\r\nCSeq: ${cseq} ${method}\r\nContact: <sip:a@127.0.0.1:5062>\r\nContent-Length: 0\r\n\r\n`);
const response = (status: string, callId: string, transport: string, cseq: number): Buffer => Buffer.from(`SIP/2.0 ${status}\r\n`
  + `Via: SIP/2.0/${transport} 127.0.0.1:5062;branch=z9hG4bK${callId}${cseq};rport=5062;received=127.0.0.1\r\nFrom: <sip:a@partner.example>;tag=1\r\n`
  + `To: <sip:a@partner.example>;tag=2\r\nCall-ID: ${callId}\r\nCSeq: ${cseq} REGISTER\r\nContent-Length: 0\r\n\r\n`);

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'mcx-trace-sngrep-'));
  trace = join(dir, 'trace.pcapng');
  const w = await TraceWriter.open(trace);
  w.record('sip', 'udp', 'in', '127.0.0.1', 5062, '127.0.0.1', 5060, request('REGISTER', 'udp-1', 'UDP', 1));
  w.record('sip', 'udp', 'out', '127.0.0.1', 5060, '127.0.0.1', 5062, response('401 Unauthorized', 'udp-1', 'UDP', 1));
  for (let i = 1; i <= 2; i++) {
    w.record('sip', 'tcp', 'in', '127.0.0.1', 40100, '127.0.0.1', 5061, request('REGISTER', 'tcp-1', 'TLS', i));
    w.record('sip', 'tcp', 'out', '127.0.0.1', 5061, '127.0.0.1', 40100, response(i === 1 ? '401 Unauthorized' : '200 OK', 'tcp-1', 'TLS', i));
  }
  w.record('sip', 'udp', 'in', '::1', 5062, '::1', 5060, request('REGISTER', 'udp6-1', 'UDP', 1));
  w.record('sip', 'udp', 'out', '::1', 5060, '::1', 5062, response('200 OK', 'udp6-1', 'UDP', 1));
  await w.close();
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

test('sngrep refuses the trace itself: LINKTYPE_WIRESHARK_UPPER_PDU (252) is not a link layer it decodes', () => {
  assert.equal(spawnSync('sngrep', ['-V']).error, undefined, 'sngrep is needed: the test command installs the Debian package sngrep');
  const r = spawnSync('sngrep', ['-N', '-q', '-I', trace, '-O', join(dir, 'refused.pcap')], { encoding: 'utf8', timeout: 20_000, stdio: ['ignore', 'pipe', 'pipe'] });
  assert.notEqual(r.status, 0);
  assert.match(`${r.stdout}${r.stderr}`, /Unable to handle linktype 252/);
});

test('mcx trace pcap: raw IP packets that tshark reads with checksums checked, no warnings, the SIP messages with their ports', async () => {
  const out = join(dir, 'trace.pcap');
  const p = startMcx(['trace', 'pcap', trace, out]);
  assert.equal(await p.exited, 0, p.output());
  assert.match(p.output(), /^trace: 8 packets written to \S+trace\.pcap$/m);
  const checks = ['-o', 'ip.check_checksum:TRUE', '-o', 'udp.check_checksum:TRUE', '-o', 'tcp.check_checksum:TRUE'];
  const rows = (await run('tshark', ['-r', out, ...checks, '-d', 'tcp.port==5061,sip', '-T', 'fields', '-E', 'separator=|', '-e', 'ip.src', '-e', 'ipv6.src',
    '-e', 'udp.srcport', '-e', 'tcp.srcport', '-e', 'tcp.dstport', '-e', 'sip.Call-ID', '-e', 'sip.CSeq.seq'])).stdout.trim().split('\n').map((l) => l.split('|'));
  assert.deepEqual(rows, [
    ['127.0.0.1', '', '5062', '', '', 'udp-1', '1'], ['127.0.0.1', '', '5060', '', '', 'udp-1', '1'],
    ['127.0.0.1', '', '', '40100', '5061', 'tcp-1', '1'], ['127.0.0.1', '', '', '5061', '40100', 'tcp-1', '1'],
    ['127.0.0.1', '', '', '40100', '5061', 'tcp-1', '2'], ['127.0.0.1', '', '', '5061', '40100', 'tcp-1', '2'],
    ['', '::1', '5062', '', '', 'udp6-1', '1'], ['', '::1', '5060', '', '', 'udp6-1', '1'],
  ]);
  const warnings = (await run('tshark', ['-r', out, ...checks, '-d', 'tcp.port==5061,sip', '-Y', '_ws.expert.severity >= 6291456 || _ws.malformed || tcp.analysis.flags'])).stdout;
  assert.equal(warnings.trim(), '');
});

test('sngrep -I on the converted file finds every SIP message, UDP and TCP, IPv4 and IPv6', async () => {
  const out = join(dir, 'for-sngrep.pcap');
  assert.equal(await startMcx(['trace', 'pcap', trace, out]).exited, 0);
  const kept = join(dir, 'sngrep-sip.pcap');
  const r = spawnSync('sngrep', ['-N', '-q', '-I', out, '-O', kept], { encoding: 'utf8', timeout: 20_000, stdio: ['ignore', 'pipe', 'pipe'] });
  assert.equal(r.status, 0, `${r.stdout}${r.stderr}`);
  const ids = (await run('tshark', ['-r', kept, '-d', 'tcp.port==5061,sip', '-Y', 'sip', '-T', 'fields', '-e', 'sip.Call-ID'])).stdout.trim().split('\n');
  assert.deepEqual(ids.sort(), ['tcp-1', 'tcp-1', 'tcp-1', 'tcp-1', 'udp-1', 'udp-1', 'udp6-1', 'udp6-1']);
});

test('mcx trace pcap names a file that is not a trace (exit 2)', async () => {
  const notTrace = join(dir, 'not-a-trace.pcap');
  await writeFile(notTrace, Buffer.from('d4c3b2a1020004000000000000000000ffff000065000000', 'hex'));
  const p = startMcx(['trace', 'pcap', notTrace, join(dir, 'x.pcap')]);
  assert.equal(await p.exited, 2);
  assert.match(p.output(), /not a little-endian pcapng file/);
});
