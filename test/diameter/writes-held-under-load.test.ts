/**
 * Issue #12, `writeHoldMs` of a Diameter node (the registrar's `--cx-batch-ms`), on a real connection: once a link's
 * requests have come faster than two per hold, the next ones wait for the hold and reach the peer together, in one
 * read; a node without it sends each turn's requests when the turn ends. lib/cork.ts's own behaviour (idle writes not
 * held, a pause forgetting the load) is in writes-per-event-loop-turn.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { freePort } from '../helpers/ports.ts';
import type { DiameterMessage } from '../../lib/diameter/codec.ts';
import { CX_APPLICATION } from '../../lib/diameter/node.ts';
import type { DiameterNode } from '../../lib/diameter/node.ts';
import { buildMar } from '../../lib/diameter/cx/index.ts';
import { getValue } from '../../lib/diameter/message.ts';
import { Nodes, rawCaps, rawServer, type RawPeer } from './harness.ts';
import { MAR_INPUT } from './fixtures.ts';
import { turn } from '../helpers/wait.ts';

const nodes = new Nodes();
after(() => nodes.closeAll());

const { hopByHop: _h, endToEnd: _e, ...MAR } = MAR_INPUT;
const HOLD = 150;
const BURST = 60;

const mar = (node: DiameterNode): DiameterMessage => buildMar({ ...MAR, sessionId: node.nextSessionId() });

/** A client node with `writeHoldMs` connected to a raw HSS that never answers; every chunk the HSS reads is timed. */
async function connected(writeHoldMs: number): Promise<{ node: DiameterNode; peer: RawPeer; chunks: number[]; close: () => Promise<void> }> {
  const port = await freePort();
  const hss = rawCaps('hss.primary.example', 'primary.example');
  const raw = await rawServer(port, hss);
  const node = nodes.make({ originHost: 'scscf.partner.example', originRealm: 'partner.example', applications: [CX_APPLICATION], writeHoldMs });
  node.addPeer({ host: '127.0.0.1', port, originHost: 'hss.primary.example' });
  const peer = await raw.accepted();
  await peer.acceptCer();
  await node.waitForPeer();
  const chunks: number[] = [];
  peer.socket.on('data', () => chunks.push(performance.now()));
  return { node, peer, chunks, close: async () => { await node.close(); await raw.close(); } };
}

/** Sends a burst (which teaches the link the load), then one request in each of two turns; when each reached the peer. */
async function twoAfterBurst(writeHoldMs: number): Promise<{ chunks: number; waitedMs: number }> {
  const { node, peer, chunks, close } = await connected(writeHoldMs);
  try {
    const unanswered = (m: DiameterMessage): void => void node.request(m, { timeoutMs: 5000 }).catch(() => undefined);
    for (let i = 0; i < BURST; i++) unanswered(mar(node));
    for (let i = 0; i < BURST; i++) await peer.next((m) => m.flags.request);
    chunks.length = 0;
    const a = mar(node);
    const b = mar(node);
    const sent = performance.now();
    unanswered(a);
    await turn();
    unanswered(b);
    const got = [await peer.next((m) => m.flags.request), await peer.next((m) => m.flags.request)];
    assert.deepEqual(got.map((m) => getValue(m, 'Session-Id')), [getValue(a, 'Session-Id'), getValue(b, 'Session-Id')], 'in order');
    return { chunks: chunks.length, waitedMs: (chunks[0] ?? Infinity) - sent };
  } finally {
    await close();
  }
}

test('with writeHoldMs, requests after a burst wait for the hold and reach the peer in one read', async () => {
  const r = await twoAfterBurst(HOLD);
  assert.equal(r.chunks, 1, 'both in one read');
  assert.ok(r.waitedMs >= HOLD - 10, `the first left after ${r.waitedMs.toFixed(1)} ms, not after the ${HOLD} ms hold`);
  assert.ok(r.waitedMs < HOLD + 500, `and not much later: ${r.waitedMs.toFixed(1)} ms`);
});

test('without it (the default), each turn\'s request leaves when its turn ends', async () => {
  const r = await twoAfterBurst(0);
  assert.ok(r.waitedMs < HOLD - 10, `the first left after ${r.waitedMs.toFixed(1)} ms`);
});
