/**
 * tshark as an independent Diameter/SIP decoder: capture on loopback, then read the capture back with the
 * dissectors and count malformed packets and expert warnings.
 */
import { spawn, execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

export interface Capture {
  file: string;
  /** Stops the capture and waits until the file is complete. */
  stop(): Promise<void>;
  /** Deletes the capture file and its folder. */
  remove(): void;
}

/** Starts capturing loopback traffic matching the BPF `filter`; resolves once tshark is capturing. */
export async function startCapture(filter: string): Promise<Capture> {
  const file = join(mkdtempSync(join(tmpdir(), 'mcx-pcap-')), 'capture.pcapng');
  const child = spawn('tshark', ['-i', 'lo', '-f', filter, '-w', file, '-q'], { stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  await new Promise<void>((resolve, reject) => {
    const t = setTimeout(() => reject(new Error('tshark did not start: ' + err)), 10000);
    child.stderr.on('data', (d: Buffer) => {
      err += d.toString();
      if (/Capturing on/.test(err)) {
        clearTimeout(t);
        // tshark says "Capturing on" a little before dumpcap's filter is live: packets of the first moment are lost.
        setTimeout(resolve, 700);
      }
    });
    child.once('exit', () => reject(new Error('tshark exited: ' + err)));
  });
  return {
    file,
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      // give the kernel a moment to hand over the last packets before the capture ends
      await new Promise((r) => setTimeout(r, 300));
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGINT');
      await exited;
    },
    remove() {
      rmSync(dirname(file), { recursive: true, force: true });
    },
  };
}

/** Decodes `file` with Diameter on `port` and returns the text of every packet plus the expert summary. */
export async function decodeDiameter(file: string, port: number): Promise<{ verbose: string; expert: string; fields: string[][] }> {
  const decodeAs = ['-d', `tcp.port==${port},diameter`];
  const verbose = (await run('tshark', ['-r', file, ...decodeAs, '-V'], { maxBuffer: 64 << 20 })).stdout;
  const expert = (await run('tshark', ['-r', file, ...decodeAs, '-q', '-z', 'expert,warn'], { maxBuffer: 16 << 20 })).stdout;
  const fields = await tsharkFields(file, port, 'diameter', ['diameter.cmd.code', 'diameter.flags.request', 'diameter.Result-Code']);
  return { verbose, expert, fields };
}

/**
 * The values of `fields` in every packet of `file` that `protocol` (decoded on `transport` `port`) matches, one row a
 * packet.
 * @param protocol a dissector name for `-d tcp.port==PORT,PROTOCOL` and the display filter (`tls`, `diameter`, `sip`).
 */
export async function tsharkFields(file: string, port: number, protocol: string, fields: string[], transport: 'tcp' | 'udp' = 'tcp'): Promise<string[][]> {
  const args = ['-r', file, '-d', `${transport}.port==${port},${protocol}`, '-Y', protocol, '-T', 'fields', '-E', 'separator=|', ...fields.flatMap((f) => ['-e', f])];
  const out = (await run('tshark', args, { maxBuffer: 16 << 20 })).stdout;
  return out.split('\n').filter(Boolean).map((l) => l.split('|'));
}

/**
 * The values of `fields` in every SIP message to or from `port` over UDP or TCP (a SIP registrar's one port for
 * both), one row a message in capture order; several values of one field (two WWW-Authenticate) joined by `,`.
 */
export async function sipFields(file: string, port: number, fields: string[]): Promise<string[][]> {
  const args = ['-r', file, '-d', `udp.port==${port},sip`, '-d', `tcp.port==${port},sip`, '-Y', 'sip', '-T', 'fields', '-E', 'separator=|', '-E', 'aggregator=,',
    ...fields.flatMap((f) => ['-e', f])];
  const out = (await run('tshark', args, { maxBuffer: 16 << 20 })).stdout;
  return out.split('\n').filter(Boolean).map((l) => l.split('|'));
}

/**
 * The rows of {@link sipFields} without repeats: a UDP retransmission (and its answer again) decodes to the same row,
 * and whether one happens depends on the machine's load, not on the exchange. Give the fields that tell messages
 * apart (CSeq, method or status, Call-ID).
 */
export function withoutRetransmissions(rows: string[][]): string[][] {
  const seen = new Set<string>();
  return rows.filter((r) => {
    const key = r.join('|');
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}

/** The server names (SNI) of the TLS ClientHellos to `port`. */
export async function tlsServerNames(file: string, port: number): Promise<string[]> {
  const args = ['-r', file, '-d', `tcp.port==${port},tls`, '-Y', `tls.handshake.type==1 && tcp.dstport==${port}`, '-T', 'fields', '-e', 'tls.handshake.extensions_server_name'];
  return (await run('tshark', args, { maxBuffer: 16 << 20 })).stdout.split('\n').filter(Boolean);
}

/**
 * A trace file of exported PDUs (lib/trace) read by a bare `tshark -r`, no decode-as, no keys: the values of
 * `fields` in every packet `filter` matches, one row a packet (several values of one field joined by `,`).
 */
export async function traceRows(file: string, filter: string, fields: string[]): Promise<string[][]> {
  const args = ['-r', file, '-Y', filter, '-T', 'fields', '-E', 'separator=|', '-E', 'aggregator=,', ...fields.flatMap((f) => ['-e', f])];
  const out = (await run('tshark', args, { maxBuffer: 16 << 20 })).stdout;
  return out.split('\n').filter(Boolean).map((l) => l.split('|'));
}

/** What a bare `tshark -r` finds wrong in `file`: malformed packets and expert items of severity warning or error. */
export async function traceProblems(file: string): Promise<{ malformed: string; warnings: string; expert: string }> {
  const lines = async (filter: string): Promise<string> => (await run('tshark', ['-r', file, '-Y', filter], { maxBuffer: 16 << 20 })).stdout.trim();
  const expert = (await run('tshark', ['-r', file, '-q', '-z', 'expert,warn'], { maxBuffer: 16 << 20 })).stdout.trim();
  // _ws.expert.severity: 6291456 = warning, 8388608 = error (tshark -G values).
  return { malformed: await lines('_ws.malformed'), warnings: await lines('_ws.expert.severity >= 6291456'), expert };
}
