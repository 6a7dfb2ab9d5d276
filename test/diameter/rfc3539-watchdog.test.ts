/**
 * RFC 3539 §3.4 application-layer watchdog over RFC 6733 DWR/DWA (§5.5), with a small Tw: DWRs are always answered;
 * an idle connection sends a DWR after Tw; traffic postpones it; a peer that stops answering goes SUSPECT after
 * 2 Tw and DOWN (closed) after 3 Tw, and the node reconnects.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { freePort } from '../helpers/ports.ts';
import { BaseCommand, ResultCode } from '../../lib/diameter/constants.ts';
import { getValue } from '../../lib/diameter/message.ts';
import { buildDwa, buildDwr, readDwa } from '../../lib/diameter/peer-messages.ts';
import { CX_APPLICATION } from '../../lib/diameter/node.ts';
import { Watchdog } from '../../lib/diameter/watchdog.ts';
import { Nodes, RawPeer, rawCaps, rawServer, sleep } from './harness.ts';

const nodes = new Nodes();
after(() => nodes.closeAll());

const TW = 200;
const HSS = rawCaps('hss.primary.example', 'primary.example');
const isDwr = (m: { flags: { request: boolean }; commandCode: number }): boolean => m.flags.request && m.commandCode === BaseCommand.DEVICE_WATCHDOG;

test('a DWR is answered with DWA 2001, same identifiers, our Origin-Host and Origin-State-Id', async () => {
  const node = nodes.make({ originHost: 'hss.primary.example', originRealm: 'primary.example', applications: [CX_APPLICATION], originStateId: 99 });
  const { port } = await node.listen({ host: '127.0.0.1', port: 0 });
  const peer = await RawPeer.connect(port, rawCaps('scscf.partner.example', 'partner.example'));
  await peer.handshake();
  peer.send(buildDwr({ originHost: 'scscf.partner.example', originRealm: 'partner.example' }, { hopByHop: 0xabcdef01, endToEnd: 0x1234 }));
  const dwa = await peer.next((m) => !m.flags.request && m.hopByHop === 0xabcdef01);
  assert.equal(dwa.endToEnd, 0x1234);
  assert.equal(dwa.flags.proxiable, false);
  const body = readDwa(dwa);
  assert.equal(body.resultCode, ResultCode.SUCCESS);
  assert.equal(body.originHost, 'hss.primary.example');
  assert.equal(body.originStateId, 99);
  peer.destroy();
});

test('idle for Tw → DWR; traffic postpones it', async () => {
  const port = await freePort();
  const raw = await rawServer(port, HSS);
  const node = nodes.make({ originHost: 'scscf.partner.example', originRealm: 'partner.example', applications: [CX_APPLICATION], watchdog: { twMs: TW, jitterMs: 0 } });
  node.addPeer({ host: '127.0.0.1', port, originHost: 'hss.primary.example' });
  const peer = await raw.accepted();
  peer.answerDwr = false;
  await peer.acceptCer();
  await node.waitForPeer();
  const opened = Date.now();
  // Keep the connection busy for 1.5 Tw: each DWR of ours resets its timer.
  for (let i = 0; i < 3; i++) {
    await sleep(TW / 2);
    peer.send(buildDwr(HSS, { hopByHop: 100 + i, endToEnd: 100 + i }));
  }
  const dwr = await peer.next(isDwr, 2000);
  const elapsed = Date.now() - opened;
  assert.ok(elapsed >= 1.5 * TW + TW - 30, `DWR after ${elapsed} ms, expected ≥ ${2.5 * TW - 30}`);
  assert.ok(elapsed < 2.5 * TW + 150, `DWR after ${elapsed} ms`);
  assert.equal(getValue(dwr, 'Origin-Host'), 'scscf.partner.example');
  peer.send(buildDwa(dwr, { resultCode: ResultCode.SUCCESS }, HSS));
  await node.close();
  await raw.close();
});

test('a silent peer: DWR after Tw, SUSPECT after 2 Tw, DOWN and closed after 3 Tw, then reconnect', async () => {
  const port = await freePort();
  const raw = await rawServer(port, HSS);
  const node = nodes.make({ originHost: 'scscf.partner.example', originRealm: 'partner.example', applications: [CX_APPLICATION], watchdog: { twMs: TW, jitterMs: 0 } });
  const suspect = node.events.next('peerSuspect', () => true, 3000);
  const down = node.events.next('peerDown', () => true, 3000);
  node.addPeer({ host: '127.0.0.1', port, originHost: 'hss.primary.example' });
  const peer = await raw.accepted();
  peer.answerDwr = false;
  await peer.acceptCer();
  await node.waitForPeer();
  const opened = Date.now();
  await peer.next(isDwr, 2000);
  await suspect;
  const tSuspect = Date.now() - opened;
  assert.ok(tSuspect >= 2 * TW - 30 && tSuspect < 2 * TW + 150, `SUSPECT after ${tSuspect} ms`);
  assert.deepEqual(node.peers().map((p) => p.health), ['suspect']);
  const gone = await down;
  const tDown = Date.now() - opened;
  assert.ok(tDown >= 3 * TW - 30 && tDown < 3 * TW + 150, `DOWN after ${tDown} ms`);
  assert.match(gone.reason, /watchdog/);
  await peer.closed;
  const again = await raw.accepted();
  await again.acceptCer();
  await node.waitForPeer({ originHost: 'hss.primary.example' }, 2000);
  await node.close();
  await raw.close();
});

test('the jitter keeps every interval within Tw ± jitter', () => {
  const intervals: number[] = [];
  const realSetTimeout = globalThis.setTimeout;
  let value = 0;
  const wd = new Watchdog({ twMs: 30_000 }, { sendDwr: () => undefined, suspect: () => undefined, recover: () => undefined, down: () => undefined }, () => value);
  globalThis.setTimeout = ((fn: () => void, ms: number) => {
    intervals.push(ms);
    return realSetTimeout(fn, 1e9);
  }) as typeof setTimeout;
  try {
    for (value of [0, 0.5, 0.999999]) wd.start();
  } finally {
    globalThis.setTimeout = realSetTimeout;
    wd.stop();
  }
  assert.deepEqual(intervals, [28_000, 30_000, 32_000]);
});
