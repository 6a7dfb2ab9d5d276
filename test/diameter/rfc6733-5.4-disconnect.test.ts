/**
 * RFC 6733 §5.4 DPR/DPA: `close()` sends DPR and waits (bounded) for the DPA; a received DPR is answered with DPA and
 * the connection closed; the node that received DPR (REBOOTING) waits before reconnecting (§5.4.3).
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { freePort } from '../helpers/ports.ts';
import { BaseCommand, DisconnectCause, ResultCode } from '../../lib/diameter/constants.ts';
import { buildDpa, buildDpr, readDpa, readDpr } from '../../lib/diameter/peer-messages.ts';
import { CX_APPLICATION } from '../../lib/diameter/node.ts';
import { Nodes, RawPeer, rawCaps, rawServer } from './harness.ts';

const nodes = new Nodes();
after(() => nodes.closeAll());

const HSS = rawCaps('hss.primary.example', 'primary.example');
const isDpr = (m: { flags: { request: boolean }; commandCode: number }): boolean => m.flags.request && m.commandCode === BaseCommand.DISCONNECT_PEER;

async function connectedClient(dpaMs = 300): Promise<{ node: ReturnType<Nodes['make']>; peer: RawPeer; close: () => Promise<void> }> {
  const port = await freePort();
  const raw = await rawServer(port, HSS);
  const node = nodes.make({ originHost: 'scscf.partner.example', originRealm: 'partner.example', applications: [CX_APPLICATION], timeouts: { dpaMs } });
  node.addPeer({ host: '127.0.0.1', port, originHost: 'hss.primary.example' });
  const peer = await raw.accepted();
  await peer.acceptCer();
  await node.waitForPeer();
  return { node, peer, close: raw.close };
}

test('close() sends DPR (REBOOTING), resolves on the DPA and closes the connection', async () => {
  const { node, peer, close } = await connectedClient(5000);
  const started = Date.now();
  const closing = node.close();
  const dpr = await peer.next(isDpr);
  assert.equal(readDpr(dpr).disconnectCause, DisconnectCause.REBOOTING);
  assert.equal(readDpr(dpr).originHost, 'scscf.partner.example');
  peer.send(buildDpa(dpr, { resultCode: ResultCode.SUCCESS }, HSS));
  await closing;
  assert.ok(Date.now() - started < 1000, 'did not wait for the DPA timeout');
  await peer.closed;
  await close();
});

test('close() is bounded when the DPA never comes', async () => {
  const { node, peer, close } = await connectedClient(250);
  const started = Date.now();
  await node.close();
  const took = Date.now() - started;
  assert.ok(took >= 240 && took < 800, `close took ${took} ms`);
  await peer.closed;
  await close();
});

test('a received DPR is answered with DPA 2001, then the node closes the connection', async () => {
  const node = nodes.make({ originHost: 'hss.primary.example', originRealm: 'primary.example', applications: [CX_APPLICATION] });
  const { port } = await node.listen({ host: '127.0.0.1', port: 0 });
  const peer = await RawPeer.connect(port, rawCaps('scscf.partner.example', 'partner.example'));
  await peer.handshake();
  const down = node.events.next('peerDown', () => true, 2000);
  peer.send(buildDpr({ originHost: 'scscf.partner.example', originRealm: 'partner.example' }, DisconnectCause.BUSY, { hopByHop: 42, endToEnd: 43 }));
  const dpa = await peer.next((m) => !m.flags.request && m.hopByHop === 42);
  assert.equal(readDpa(dpa).resultCode, ResultCode.SUCCESS);
  assert.equal(readDpa(dpa).originHost, 'hss.primary.example');
  assert.match((await down).reason, /DPR.*1/);
  await peer.closed;
});

test('after the peer’s DPR (REBOOTING) the node waits afterDprMs before reconnecting', async () => {
  const port = await freePort();
  const server = nodes.make({ originHost: 'hss.primary.example', originRealm: 'primary.example', applications: [CX_APPLICATION] });
  await server.listen({ host: '127.0.0.1', port });
  const client = nodes.make({
    originHost: 'scscf.partner.example', originRealm: 'partner.example', applications: [CX_APPLICATION],
    reconnect: { initialMs: 20, maxMs: 100, afterDprMs: 700 },
  });
  client.addPeer({ host: '127.0.0.1', port, originHost: 'hss.primary.example' });
  await client.waitForPeer();
  const down = client.events.next('peerDown', () => true, 2000);
  await server.close();
  const tDown = Date.now();
  assert.match((await down).reason, /DPR/);
  const restarted = nodes.make({ originHost: 'hss.primary.example', originRealm: 'primary.example', applications: [CX_APPLICATION] });
  await restarted.listen({ host: '127.0.0.1', port });
  await client.events.next('peerUp', () => true, 3000);
  const waited = Date.now() - tDown;
  assert.ok(waited >= 650 && waited < 1500, `reconnected after ${waited} ms`);
});
