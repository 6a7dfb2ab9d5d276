/**
 * The per-message floor of Node I/O on this box (issue #12): what a role pays for a message before any protocol work.
 * A child process echoes every message it receives, paced by this process at `--rate` messages per second, and its
 * CPU (utime + stime from /proc) per message is reported for:
 *
 * - `udp`: a datagram in, 500 octets back (the registrar's REGISTER → response, twice per registration);
 * - `tcp`, `tls`: 300 octets in, echoed on the connection, with 'data' events (how a listener reads) and with
 *   `onread` (how lib/diameter reads its outgoing connections, read-sink.ts), read on the connecting side.
 *
 * The registration chain of the static target crosses ~11.5 such messages per registration (SIPp ↔ registrar 4,
 * and 2.5 on each of the three TLS legs), which is most of its CPU: see bench/README.md.
 *
 * Usage: node --import tsx bench/io-floor.ts [--rate 1000] [--seconds 4]. Prints one JSON object. Needs `openssl`
 * for a throw-away certificate.
 */
import { spawn, spawnSync } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { connect as tcpConnect, createServer as createTcpServer, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { connect as tlsConnect, createServer as createTlsServer, type ConnectionOptions } from 'node:tls';

const { values } = parseArgs({ options: { rate: { type: 'string', default: '1000' }, seconds: { type: 'string', default: '4' }, child: { type: 'string' }, port: { type: 'string' }, dir: { type: 'string' } } });
const RATE = Number(values.rate);
const SECONDS = Number(values.seconds);

/** The echoing child: `udp`, or `<tcp|tls>-<data|onread>` connecting to `--port`. */
function child(kind: string): void {
  if (kind === 'udp') {
    const s = createSocket('udp4');
    const out = Buffer.alloc(500, 0x41);
    s.on('message', (_m, r) => s.send(out, r.port, r.address));
    s.bind(0, '127.0.0.1', () => process.stdout.write(`${s.address().port}\n`));
    return;
  }
  const [proto, how] = kind.split('-');
  const port = Number(values.port);
  // The callback runs once connected, after `sock` is set.
  const onread = how === 'onread' ? { buffer: Buffer.alloc(65536), callback: (n: number, b: Buffer): boolean => { sock.write(Buffer.from(b.subarray(0, n))); return true; } } : undefined;
  const opts = { host: '127.0.0.1', port, ...(onread ? { onread } : {}) };
  const sock: Socket = proto === 'tls'
    ? tlsConnect({ ...opts, ca: readFileSync(join(values.dir as string, 'c.pem')), servername: 'localhost' } as ConnectionOptions)
    : tcpConnect(opts);
  sock.setNoDelay(true);
  if (!onread) sock.on('data', (d: Buffer) => sock.write(d));
  sock.on('error', () => process.exit(1));
}

function cpuMs(pid: number): number {
  const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.split(' ') ?? [];
  return (Number(f[11]) + Number(f[12])) * 10;
}

/** Sends `RATE` per second through `send` for a second of warm-up and `SECONDS` measured; µs of the child's CPU per message. */
async function pace(pid: number, send: () => void): Promise<number> {
  let sent = 0;
  const t0 = performance.now();
  const tick = setInterval(() => {
    const due = Math.floor(((performance.now() - t0) * RATE) / 1000);
    while (sent < due) { send(); sent++; }
  }, 1);
  await new Promise((r) => setTimeout(r, 1000));
  const c0 = cpuMs(pid);
  const n0 = sent;
  await new Promise((r) => setTimeout(r, SECONDS * 1000));
  const us = ((cpuMs(pid) - c0) * 1000) / (sent - n0);
  clearInterval(tick);
  return Math.round(us * 10) / 10;
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'mcx-io-floor-'));
  const node = process.execPath;
  const self = process.argv[1] as string;
  const out: Record<string, number> = {};
  try {
    const cert = spawnSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', join(dir, 'k.pem'), '-out', join(dir, 'c.pem'), '-days', '1', '-subj', '/CN=localhost', '-addext', 'subjectAltName=DNS:localhost'], { stdio: 'ignore' });
    if (cert.status !== 0) throw new Error('openssl could not make a certificate');
    // udp
    const u = spawn(node, ['--import', 'tsx', self, '--child', 'udp'], { stdio: ['ignore', 'pipe', 'inherit'] });
    const port = await new Promise<number>((r) => u.stdout.once('data', (d) => r(Number(String(d)))));
    const c = createSocket('udp4');
    c.on('message', () => undefined);
    await new Promise<void>((r) => c.bind(0, '127.0.0.1', () => r()));
    const dgram = Buffer.alloc(600, 0x42);
    out.udp_us_per_datagram = await pace(u.pid ?? 0, () => c.send(dgram, port, '127.0.0.1'));
    u.kill();
    c.close();
    // tcp / tls, 'data' and onread
    for (const kind of ['tcp-data', 'tcp-onread', 'tls-data', 'tls-onread']) {
      const tls = kind.startsWith('tls');
      let accepted: (s: Socket) => void = () => undefined;
      const got = new Promise<Socket>((r) => (accepted = r));
      const onConn = (s: Socket): void => { s.setNoDelay(true); s.on('data', () => undefined); accepted(s); };
      const server = tls ? createTlsServer({ key: readFileSync(join(dir, 'k.pem')), cert: readFileSync(join(dir, 'c.pem')) }, onConn) : createTcpServer(onConn);
      await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
      const p = (server.address() as { port: number }).port;
      const e = spawn(node, ['--import', 'tsx', self, '--child', kind, '--port', String(p), '--dir', dir], { stdio: 'inherit' });
      const s = await got;
      const msg = Buffer.alloc(300, 0x43);
      out[`${kind.replace('-', '_')}_us_per_message`] = await pace(e.pid ?? 0, () => s.write(msg));
      e.kill();
      s.destroy();
      await new Promise<void>((r) => server.close(() => r()));
    }
    process.stdout.write(`${JSON.stringify({ rate: RATE, seconds: SECONDS, ...out })}\n`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

if (values.child) child(values.child);
else await main();
