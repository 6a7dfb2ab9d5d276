/**
 * RFC 3261 §17.1.2.2 on the UE's UDP transport (SIP.js 0.21's client transaction has Timer F but no Timer E): a
 * request is resent at T1, 2·T1, 4·T1 … capped at T2; after a provisional response the running Timer E fires once
 * more and then every T2; a final response stops it; Timer F (64·T1) ends it. The schedule is read on mocked timers
 * from the transport's own tap (which sees every send synchronously), so no wall-clock threshold is involved.
 * Then the test hook: a seeded drop pattern, and a registration through Kamailio with 30 % of the UE's datagrams
 * dropped in both directions, which still completes by retransmission.
 */
import { after, before, describe, mock, test } from 'node:test';
import assert from 'node:assert/strict';
import { createSocket, type Socket } from 'node:dgram';
import { join } from 'node:path';
import { createDropper } from '../../ue-client/transports/drop.ts';
import { UdpTransport } from '../../ue-client/transports/udp.ts';
import { ladderShape, runUe, startKamailioNet, subscriber, subscribersCsv, tempDir, ueFlags, type KamailioNet } from './fixture.ts';

function register(branch: string): string {
  return [`REGISTER sip:ims.mcx.test SIP/2.0`, `Via: SIP/2.0/UDP 127.0.0.1;branch=${branch};rport`, 'Max-Forwards: 70',
    'From: <sip:a@ims.mcx.test>;tag=1', 'To: <sip:a@ims.mcx.test>', 'Call-ID: c1', 'CSeq: 1 REGISTER', 'Content-Length: 0', '', ''].join('\r\n');
}

function response(status: string, branch: string): string {
  return [`SIP/2.0 ${status}`, `Via: SIP/2.0/UDP 127.0.0.1;branch=${branch};rport=1`, 'From: <sip:a@ims.mcx.test>;tag=1',
    'To: <sip:a@ims.mcx.test>;tag=2', 'Call-ID: c1', 'CSeq: 1 REGISTER', 'Content-Length: 0', '', ''].join('\r\n');
}

describe('RFC 3261 §17.1.2.2: Timer E / Timer F in the UE\'s UDP transport', () => {
  let server: Socket;
  let transport: UdpTransport;
  let peer: { address: string; port: number } | undefined;
  /** Mocked-clock times of every send, per branch. */
  const sends = new Map<string, number[]>();
  let delivered: ((raw: string) => void) | undefined;

  before(async () => {
    server = createSocket('udp4');
    server.on('message', (_m, rinfo) => { peer = rinfo; });
    await new Promise<void>((resolve) => server.bind(0, '127.0.0.1', () => resolve()));
    transport = new UdpTransport(undefined, { remote: { host: '127.0.0.1', port: server.address().port }, localHost: '127.0.0.1' });
    await transport.connect();
    transport.onMessage = (raw) => delivered?.(raw);
    transport.addTap((e) => {
      if (e.direction !== 'out') return;
      const b = /branch=([^;]+)/.exec(e.raw)?.[1] ?? '';
      sends.set(b, [...(sends.get(b) ?? []), Date.now()]);
    });
  });
  after(async () => {
    mock.timers.reset();
    await transport?.disconnect();
    server?.close();
  });

  /** Mocked ticks jump the clock to their end before firing, so time advances in 100 ms steps (every due time here is a multiple). */
  function advance(ms: number): void {
    for (let t = 0; t < ms; t += 100) mock.timers.tick(100);
  }

  /** Sends `raw` from the fake registrar and resolves once the transport handed it on. */
  async function answer(raw: string): Promise<void> {
    for (let i = 0; !peer && i < 100; i++) await new Promise((r) => setImmediate(r));
    assert.ok(peer, 'the request reached the server');
    const got = new Promise<void>((resolve) => { delivered = () => resolve(); });
    server.send(raw, peer.port, peer.address);
    await got;
  }

  test('T1, 2·T1, 4·T1 … capped at T2; Timer F stops it at 64·T1 (11 sends in 32 s)', async () => {
    mock.timers.enable({ apis: ['setTimeout', 'Date'], now: 0 });
    try {
      await transport.send(register('z9hG4bKf'));
      advance(40_000);
      assert.deepEqual(sends.get('z9hG4bKf'), [0, 500, 1500, 3500, 7500, 11_500, 15_500, 19_500, 23_500, 27_500, 31_500]);
    } finally {
      mock.timers.reset();
    }
  });

  test('a provisional response: the running Timer E fires once more, then every T2; the final response stops it', async () => {
    mock.timers.enable({ apis: ['setTimeout', 'Date'], now: 0 });
    try {
      await transport.send(register('z9hG4bKp'));
      advance(100);
      await answer(response('100 Trying', 'z9hG4bKp'));
      advance(9_400);
      assert.deepEqual(sends.get('z9hG4bKp'), [0, 500, 4500, 8500]);
      await answer(response('200 OK', 'z9hG4bKp'));
      advance(30_000);
      assert.deepEqual(sends.get('z9hG4bKp'), [0, 500, 4500, 8500], 'nothing after the final response');
    } finally {
      mock.timers.reset();
    }
  });

  test('the drop pattern is seeded: the same seed drops the same datagrams, at about the given share', () => {
    const draw = (seed: string) => {
      const d = createDropper({ fraction: 0.3, seed });
      return Array.from({ length: 10_000 }, (_, i) => d.drop(i % 2 ? 'in' : 'out'));
    };
    const a = draw('ue-drop-61');
    assert.deepEqual(draw('ue-drop-61'), a);
    assert.notDeepEqual(draw('ue-drop-62'), a);
    const share = a.filter(Boolean).length / a.length;
    assert.ok(share > 0.28 && share < 0.32, `dropped share ${share}`);
    assert.throws(() => createDropper({ fraction: 1, seed: 'x' }), RangeError);
  });
});

describe('RFC 3261 §17.1.2.2 end to end: 30 % of the UE\'s datagrams dropped, registration through Kamailio still completes', () => {
  let tmp: Awaited<ReturnType<typeof tempDir>>;
  let net: KamailioNet;
  const REALM = 'ims.mcx.test';
  const lossy = subscriber('lossy', REALM);

  before(async () => {
    tmp = await tempDir('mcx-ue-drop-');
    net = await startKamailioNet(tmp.dir, REALM, subscribersCsv([lossy]));
  });
  after(async () => {
    await net?.close();
    await tmp?.remove();
  });

  // Seed ue-drop-61 eats the first REGISTER and the first answer to its retransmission, among others.
  test('register + de-register with --test-drop 0.3:ue-drop-61 (bounded to 60 s)', { timeout: 60_000 }, async () => {
    const r = await runUe(ueFlags(lossy, REALM, `127.0.0.1:${net.sipPort}`, join(tmp.dir, 'lossy.json'), { expires: 600, 'test-drop': '0.3:ue-drop-61' }));
    assert.equal(r.status, 0, `${r.out.join('\n')}\n${r.err.join('\n')}${net.diag()}`);
    const shape = ladderShape(r.ladder);
    assert.deepEqual(shape.slice(0, 2), ['→ REGISTER', '← 401'], r.ladder.join('\n'));
    assert.ok(shape.includes('registered') && r.out.includes('deregistered'), r.ladder.join('\n'));
    const counts = r.ladder.map((l) => /\[×(\d+)(?:, (\d+) dropped)?\]/.exec(l)).map((m) => ({ sent: Number(m?.[1] ?? 1), dropped: Number(m?.[2] ?? 0) }));
    assert.ok((counts[0]?.dropped ?? 0) >= 1 && (counts[0]?.sent ?? 0) >= 2, `the first REGISTER was lost and retransmitted: ${r.ladder[0]}`);
    const dropped = counts.reduce((n, c) => n + c.dropped, 0);
    assert.ok(dropped >= 3, `datagrams dropped on the way: ${dropped}\n${r.ladder.join('\n')}`);
  });
});
