/**
 * RFC 6733 §5.5.4 failover and failback, §6.1 routing, and the node's request timeouts: requests go to the first
 * open peer of the realm's route; a pending request whose connection is lost (or turns SUSPECT) is re-sent to the
 * next peer with the T bit, the same end-to-end id and a new hop-by-hop id; a peer that comes back is reconnected
 * with back-off and preferred again; timeouts fire on time (the registrar's 504 within 2 s depends on it).
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { freePort } from '../helpers/ports.ts';
import { ApplicationId, BaseCommand, ResultCode } from '../../lib/diameter/constants.ts';
import type { DiameterMessage } from '../../lib/diameter/codec.ts';
import { CX_APPLICATION, isDiameterNodeError } from '../../lib/diameter/node.ts';
import type { DiameterNode } from '../../lib/diameter/node.ts';
import { CxCommand, buildMaa, buildMar, readMaa } from '../../lib/diameter/cx/index.ts';
import { Nodes, rawCaps, rawServer, sleep } from './harness.ts';
import { MAR_INPUT } from './fixtures.ts';

const nodes = new Nodes();
after(() => nodes.closeAll());

const REALM = 'primary.example';
const { hopByHop: _h, endToEnd: _e, destinationHost: _d, ...MAR } = MAR_INPUT;

/** An HSS node recording what it received; `hang` leaves requests unanswered. */
function hss(name: string, seen: DiameterMessage[] = [], hang = false): DiameterNode {
  const node = nodes.make({ originHost: name, originRealm: REALM, applications: [CX_APPLICATION] });
  node.handle(ApplicationId.CX, CxCommand.MAR, (req) => {
    seen.push(req);
    if (hang) return new Promise<DiameterMessage>(() => undefined);
    return buildMaa(req, { originHost: name, originRealm: REALM, result: { resultCode: ResultCode.SUCCESS } });
  });
  return node;
}

function client(options: { twMs?: number } = {}): DiameterNode {
  return nodes.make({
    originHost: 'scscf.partner.example', originRealm: 'partner.example', applications: [CX_APPLICATION],
    ...(options.twMs ? { watchdog: { twMs: options.twMs, jitterMs: 0 } } : {}),
  });
}

const mar = (node: DiameterNode): DiameterMessage => buildMar({ ...MAR, sessionId: node.nextSessionId() });

async function expectNodeError(p: Promise<unknown>, code: string): Promise<void> {
  await assert.rejects(p, (err: unknown) => isDiameterNodeError(err) && err.code === code);
}

test('request timeout fires on time: 300 ms and the registrar’s 1.5 s', async () => {
  const server = hss('hss1.primary.example', [], true);
  const { port } = await server.listen({ host: '127.0.0.1', port: 0 });
  const c = client();
  c.addPeer({ host: '127.0.0.1', port, originHost: 'hss1.primary.example' });
  await c.waitForPeer();
  for (const timeoutMs of [300, 1500]) {
    const started = performance.now();
    await expectNodeError(c.request(mar(c), { timeoutMs }), 'ERR_DIAMETER_TIMEOUT');
    const took = performance.now() - started;
    assert.ok(took >= timeoutMs - 2 && took < timeoutMs + 400, `timeout ${timeoutMs} fired after ${took.toFixed(1)} ms`);
  }
});

test('no open peer for the realm: ERR_DIAMETER_NO_PEER at once', async () => {
  const c = client();
  const started = Date.now();
  await expectNodeError(c.request(mar(c), { timeoutMs: 1000 }), 'ERR_DIAMETER_NO_PEER');
  await expectNodeError(c.request(mar(c), { realm: 'elsewhere.example' }), 'ERR_DIAMETER_NO_PEER');
  assert.ok(Date.now() - started < 100);
});

test('primary down: the realm route’s next peer takes the request; Destination-Host picks a peer directly', async () => {
  const [deadPort] = [await freePort()];
  const seen2: DiameterMessage[] = [];
  const h2 = hss('hss2.primary.example', seen2);
  const h3 = hss('hss3.primary.example');
  const p2 = (await h2.listen({ host: '127.0.0.1', port: 0 })).port;
  const p3 = (await h3.listen({ host: '127.0.0.1', port: 0 })).port;
  const c = client();
  c.addRoute(REALM, ['hss1.primary.example', 'hss2.primary.example', 'hss3.primary.example']);
  c.addPeer({ host: '127.0.0.1', port: deadPort as number, originHost: 'hss1.primary.example' });
  c.addPeer({ host: '127.0.0.1', port: p3, originHost: 'hss3.primary.example' });
  c.addPeer({ host: '127.0.0.1', port: p2, originHost: 'hss2.primary.example' });
  await c.waitForPeer({ originHost: 'hss2.primary.example' });
  await c.waitForPeer({ originHost: 'hss3.primary.example' });
  assert.equal(readMaa(await c.request(mar(c))).originHost, 'hss2.primary.example');
  assert.equal(readMaa(await c.request(mar(c), { host: 'hss3.primary.example' })).originHost, 'hss3.primary.example');
  assert.equal(seen2.length, 1);
});

test('connection lost with a request pending: re-sent to the failover peer with T, same end-to-end, new hop-by-hop; failback after reconnect', async () => {
  const p1 = await freePort();
  const raw = await rawServer(p1, rawCaps('hss1.primary.example', REALM));
  const seen2: DiameterMessage[] = [];
  const h2 = hss('hss2.primary.example', seen2);
  const p2 = (await h2.listen({ host: '127.0.0.1', port: 0 })).port;
  const c = client();
  c.addPeer({ host: '127.0.0.1', port: p1, originHost: 'hss1.primary.example' });
  c.addPeer({ host: '127.0.0.1', port: p2, originHost: 'hss2.primary.example' });
  const peer1 = await raw.accepted();
  await peer1.acceptCer();
  await c.waitForPeer({ originHost: 'hss1.primary.example' });
  await c.waitForPeer({ originHost: 'hss2.primary.example' });
  const failover = c.events.next('failover', () => true, 2000);
  const pending = c.request(mar(c), { timeoutMs: 2000 });
  const first = await peer1.next((m) => m.flags.request && m.commandCode === CxCommand.MAR);
  assert.equal(first.flags.retransmit, false);
  peer1.destroy();
  const answer = await pending;
  assert.equal(readMaa(answer).originHost, 'hss2.primary.example');
  const resent = seen2[0] as DiameterMessage;
  assert.equal(resent.flags.retransmit, true, 'T bit set on the re-sent request');
  assert.equal(resent.endToEnd, first.endToEnd, 'same end-to-end id');
  assert.notEqual(resent.hopByHop, first.hopByHop, 'hop-by-hop of the new connection');
  assert.equal(answer.endToEnd, first.endToEnd);
  assert.equal((await failover).from, 'hss1.primary.example');
  // hss1 comes back: reconnect with back-off, and it is preferred again (addPeer order).
  await raw.close();
  const h1 = hss('hss1.primary.example');
  await h1.listen({ host: '127.0.0.1', port: p1 });
  await c.waitForPeer({ originHost: 'hss1.primary.example' }, 3000);
  assert.equal(readMaa(await c.request(mar(c))).originHost, 'hss1.primary.example');
});

test('watchdog SUSPECT moves a pending request to the failover peer before the connection is closed', async () => {
  const p1 = await freePort();
  const raw = await rawServer(p1, rawCaps('hss1.primary.example', REALM));
  const h2 = hss('hss2.primary.example');
  const p2 = (await h2.listen({ host: '127.0.0.1', port: 0 })).port;
  const c = client({ twMs: 150 });
  c.addPeer({ host: '127.0.0.1', port: p1, originHost: 'hss1.primary.example' });
  c.addPeer({ host: '127.0.0.1', port: p2, originHost: 'hss2.primary.example' });
  const peer1 = await raw.accepted();
  peer1.answerDwr = false;
  await peer1.acceptCer();
  await c.waitForPeer({ originHost: 'hss1.primary.example' });
  await c.waitForPeer({ originHost: 'hss2.primary.example' });
  const started = Date.now();
  const answer = await c.request(mar(c), { timeoutMs: 3000 });
  const took = Date.now() - started;
  assert.equal(readMaa(answer).originHost, 'hss2.primary.example');
  assert.ok(took >= 150 && took < 600, `failed over after ${took} ms`);
  assert.ok(!peer1.isClosed || took >= 400, 'the suspect connection was not closed first');
  await peer1.next((m) => m.flags.request && m.commandCode === BaseCommand.DEVICE_WATCHDOG, 1000);
  await sleep(10);
  await raw.close();
});

test('reconnection backs off exponentially (jittered) up to the maximum', async () => {
  const port = await freePort();
  const attempts: number[] = [];
  const raw = await rawServer(port);
  raw.server.on('connection', (s) => {
    attempts.push(performance.now());
    s.destroy(); // refuse before CER: the peer never opens, so the back-off keeps growing
  });
  const c = nodes.make({
    originHost: 'scscf.partner.example', originRealm: 'partner.example', applications: [CX_APPLICATION],
    reconnect: { initialMs: 40, maxMs: 320 },
  });
  c.addPeer({ host: '127.0.0.1', port, originHost: 'hss1.primary.example' });
  await sleep(1600);
  await c.close();
  await raw.close();
  const gaps = attempts.slice(1).map((t, i) => t - (attempts[i] as number));
  const bases = [40, 80, 160, 320, 320, 320];
  assert.ok(gaps.length >= 5, `only ${gaps.length + 1} attempts`);
  gaps.slice(0, bases.length).forEach((gap, i) => {
    const base = bases[i] as number;
    assert.ok(gap >= base / 2 - 5 && gap <= base + 250, `gap ${i} = ${gap.toFixed(0)} ms, base ${base}`);
  });
});
