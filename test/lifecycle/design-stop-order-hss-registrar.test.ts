/**
 * The stop order of lib/lifecycle.ts on real `mcx` processes, SIGTERM as an operator sends it: first nothing new
 * comes in (the Diameter listener, the admin API and — for the registrar — the SIP listeners refuse connections),
 * then DPR to the Diameter peer (RFC 6733 §5.4; the peer sees the DPR while its connection is still open, and the
 * connection closes only after its DPA), then the store is flushed and closed (its lock file is still held while the
 * DPR waits for its answer, released by the time the process has exited 0 with `<role>: stopped`).
 *
 * The Diameter peer is a hand-driven one (test/diameter/harness.ts) that holds its DPA back while the test looks.
 * Signals outside the steady state go the same way: SIGTERM during the start stops the role once it is up (no ready
 * line, exit 0, store closed); a second signal while the stop waits for a DPA exits at once with 128 + its number.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createSocket } from 'node:dgram';
import { access, mkdtemp, rm } from 'node:fs/promises';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BaseCommand, ResultCode } from '../../lib/diameter/constants.ts';
import type { DiameterMessage } from '../../lib/diameter/codec.ts';
import { getValue } from '../../lib/diameter/message.ts';
import { buildDpa } from '../../lib/diameter/peer-messages.ts';
import { LOCK_FILE } from '../../lib/store/journal.ts';
import { RawPeer, rawCaps, rawServer } from '../diameter/harness.ts';
import { freePort } from '../helpers/ports.ts';
import { startMcx, type Proc } from '../helpers/process.ts';

const exists = (file: string): Promise<boolean> => access(file).then(() => true, () => false);

/** Whether a TCP connection to `port` is refused right now. */
function tcpRefused(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect({ host: '127.0.0.1', port });
    s.once('connect', () => {
      s.destroy();
      resolve(false);
    });
    s.once('error', (e: NodeJS.ErrnoException) => resolve(e.code === 'ECONNREFUSED'));
  });
}

/** Whether a datagram to `port` comes back as port unreachable (ECONNREFUSED on a connected UDP socket). */
function udpRefused(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = createSocket('udp4');
    let again: NodeJS.Timeout | undefined;
    const done = (v: boolean): void => {
      clearTimeout(timer);
      clearTimeout(again);
      s.close();
      resolve(v);
    };
    const timer = setTimeout(() => done(false), 1000);
    s.once('error', (e: NodeJS.ErrnoException) => done(e.code === 'ECONNREFUSED'));
    s.connect(port, '127.0.0.1', () => {
      s.send(Buffer.from('OPTIONS sip:x SIP/2.0\r\n\r\n'));
      // An ICMP port unreachable is reported on the next send on Linux.
      again = setTimeout(() => s.send(Buffer.from('\r\n\r\n')), 100);
    });
  });
}

const isDpr = (m: DiameterMessage): boolean => m.flags.request && m.commandCode === BaseCommand.DISCONNECT_PEER;

/** What was true at the moment the DPR reached the peer. */
interface AtDpr {
  peerConnectionOpen: boolean;
  storeLockHeld: boolean;
  refused: Record<string, boolean>;
}

/**
 * SIGTERMs `proc`, and when `peer` receives the DPR, records what holds at that moment, then answers DPA.
 * @returns that record, and the exit code.
 */
async function stopAndWatch(proc: Proc, peer: RawPeer, stateDir: string, probes: Record<string, () => Promise<boolean>>): Promise<{ at: AtDpr; code: number | null }> {
  const exited = proc.stop('SIGTERM');
  const dpr = await peer.next(isDpr, 10_000);
  const refused: Record<string, boolean> = {};
  for (const [name, probe] of Object.entries(probes)) refused[name] = await probe();
  const at: AtDpr = { peerConnectionOpen: !peer.isClosed, storeLockHeld: await exists(join(stateDir, LOCK_FILE)), refused };
  peer.send(buildDpa(dpr, { resultCode: ResultCode.SUCCESS }, { originHost: 'peer.lifecycle.example', originRealm: 'lifecycle.example' }));
  await peer.closedWithin(5000);
  return { at, code: await exited };
}

describe('lifecycle on SIGTERM: listeners refuse, then DPR, then the store closes (mcx hss, mcx registrar)', () => {
  let dir: string;
  const procs: Proc[] = [];
  const closers: Array<() => Promise<void>> = [];

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'mcx-lifecycle-'));
  });
  after(async () => {
    for (const c of closers) await c().catch(() => undefined);
    for (const p of procs) await p.stop('SIGKILL');
    await rm(dir, { recursive: true, force: true });
  });

  test('mcx hss: at the DPR its Diameter listener and admin API refuse, its store is still open; after the DPA it exits 0, store closed', async () => {
    const stateDir = join(dir, 'hss');
    const hss = startMcx(['hss', '--listen', '127.0.0.1:0', '--origin-host', 'hss.primary.example', '--realm', 'primary.example',
      '--state-dir', stateDir, '--admin', '127.0.0.1:0']);
    procs.push(hss);
    const m = await hss.waitFor(/hss: listening diameter=tcp:\/\/[\d.]+:(\d+) admin=http:\/\/[\d.]+:(\d+)/, 30_000);
    const [diameter, admin] = [Number(m[1]), Number(m[2])];
    const peer = await RawPeer.connect(diameter, rawCaps('scscf.primary.example', 'primary.example'));
    closers.push(async () => peer.destroy());
    assert.equal(getValue(await peer.handshake(), 'Result-Code'), ResultCode.SUCCESS);
    assert.equal(await exists(join(stateDir, LOCK_FILE)), true, 'the running HSS holds its store lock');

    const { at, code } = await stopAndWatch(hss, peer, stateDir, { diameter: () => tcpRefused(diameter), admin: () => tcpRefused(admin) });
    assert.deepEqual(at, { peerConnectionOpen: true, storeLockHeld: true, refused: { diameter: true, admin: true } });
    assert.equal(code, 0);
    assert.match(hss.output(), /hss: stopped/);
    assert.equal(await exists(join(stateDir, LOCK_FILE)), false, 'the store was closed (lock released) after the DPR');
  });

  test('mcx registrar: at the DPR to its HSS peer its SIP (UDP, TCP) and admin listeners refuse, its store is still open; then exit 0, store closed', async () => {
    const stateDir = join(dir, 'registrar');
    const hss = await rawServer(0, rawCaps('hss.partner.example', 'partner.example'));
    closers.push(() => hss.close());
    const hssPort = (hss.server.address() as { port: number }).port;
    const registrar = startMcx(['registrar', '--sip', 'udp:127.0.0.1:0,tcp:127.0.0.1:0', '--domain', 'partner.example', '--hss', `127.0.0.1:${hssPort}`,
      '--origin-host', 'registrar.partner.example', '--realm', 'partner.example', '--state-dir', stateDir, '--admin', '127.0.0.1:0']);
    procs.push(registrar);
    const peer = await hss.accepted();
    await peer.acceptCer();
    const m = await registrar.waitFor(/registrar: listening sip=udp:\/\/[\d.]+:(\d+),tcp:\/\/[\d.]+:(\d+) diameter-peers=\S+ admin=http:\/\/[\d.]+:(\d+)/, 30_000);
    const [udp, tcp, admin] = [Number(m[1]), Number(m[2]), Number(m[3])];
    assert.equal(await exists(join(stateDir, LOCK_FILE)), true, 'the running registrar holds its store lock');

    const { at, code } = await stopAndWatch(registrar, peer, stateDir, { sipUdp: () => udpRefused(udp), sipTcp: () => tcpRefused(tcp), admin: () => tcpRefused(admin) });
    assert.deepEqual(at, { peerConnectionOpen: true, storeLockHeld: true, refused: { sipUdp: true, sipTcp: true, admin: true } });
    assert.equal(code, 0);
    assert.match(registrar.output(), /registrar: stopped/);
    assert.equal(await exists(join(stateDir, LOCK_FILE)), false, 'the store was closed (lock released) after the DPR');
  });

  test('SIGTERM during the start (the registrar waiting for its HSS peer): no ready line, stopped once up, exit 0, store closed', async () => {
    const stateDir = join(dir, 'registrar-early');
    // Nothing listens there: the start waits (2 × the Diameter timeout) for a peer that never opens.
    const registrar = startMcx(['registrar', '--sip', 'udp:127.0.0.1:0', '--domain', 'partner.example', '--hss', `127.0.0.1:${await freePort()}`,
      '--origin-host', 'registrar.partner.example', '--realm', 'partner.example', '--state-dir', stateDir]);
    procs.push(registrar);
    await registrar.waitFor(/"msg":"sip stack listening"/, 30_000);
    assert.equal(await registrar.stop('SIGTERM'), 0);
    assert.doesNotMatch(registrar.output(), /registrar: listening/);
    assert.match(registrar.output(), /registrar: stopped/);
    assert.equal(await exists(join(stateDir, LOCK_FILE)), false);
  });

  test('a second signal while the stop waits for a DPA: exit at once with 128 + its number (SIGINT: 130)', async () => {
    const stateDir = join(dir, 'hss-impatient');
    const hss = startMcx(['hss', '--listen', '127.0.0.1:0', '--origin-host', 'hss.primary.example', '--realm', 'primary.example',
      '--state-dir', stateDir, '--admin', '127.0.0.1:0']);
    procs.push(hss);
    const m = await hss.waitFor(/hss: listening diameter=tcp:\/\/[\d.]+:(\d+)/, 30_000);
    const peer = await RawPeer.connect(Number(m[1]), rawCaps('scscf.primary.example', 'primary.example'));
    closers.push(async () => peer.destroy());
    await peer.handshake();
    hss.child.kill('SIGTERM');
    await peer.next(isDpr, 10_000);
    // The DPA is never sent: the stop would wait for it.
    const t0 = performance.now();
    hss.child.kill('SIGINT');
    assert.equal(await hss.exited, 130);
    assert.ok(performance.now() - t0 < 1000, 'exited without waiting for the DPA');
    assert.match(hss.output(), /hss: SIGINT while stopping; exiting at once/);
  });
});

