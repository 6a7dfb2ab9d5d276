/**
 * RFC 6733 §5.6.4 election: when a CER arrives from a peer we are connecting to at the same time, the responder
 * compares Origin-Hosts (ASCII case-insensitive); the higher one keeps the connection the other side initiated and
 * closes its own, the lower one refuses the incoming CER (CEA 4003 ELECTION_LOST) and keeps its own.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { freePort } from '../helpers/ports.ts';
import { BaseCommand, ResultCode } from '../../lib/diameter/constants.ts';
import { getValue } from '../../lib/diameter/message.ts';
import type { DiameterMessage } from '../../lib/diameter/codec.ts';
import { buildCea } from '../../lib/diameter/peer-messages.ts';
import { CX_APPLICATION } from '../../lib/diameter/node.ts';
import type { DiameterNode } from '../../lib/diameter/node.ts';
import { Nodes, RawPeer, rawCaps, rawServer, sleep } from './harness.ts';

const nodes = new Nodes();
after(() => nodes.closeAll());

/**
 * The node (`local`) connects to a raw listener posing as `remote` and, while its CER waits unanswered, the same
 * `remote` connects to the node: the node must elect.
 */
async function simultaneousOpen(local: string, remote: string): Promise<{ node: DiameterNode; outgoing: RawPeer; heldCer: DiameterMessage; incoming: RawPeer; cea: number; close: () => Promise<void> }> {
  const rawPort = await freePort();
  const caps = rawCaps(remote, 'example.net');
  const raw = await rawServer(rawPort, caps);
  const node = nodes.make({ originHost: local, originRealm: 'example.net', applications: [CX_APPLICATION] });
  const { port } = await node.listen({ host: '127.0.0.1', port: 0 });
  node.addPeer({ host: '127.0.0.1', port: rawPort, originHost: remote });
  const outgoing = await raw.accepted();
  const heldCer = await outgoing.next((m) => m.flags.request && m.commandCode === BaseCommand.CAPABILITIES_EXCHANGE); // Wait-I-CEA
  const incoming = await RawPeer.connect(port, caps);
  const cea = getValue(await incoming.handshake(), 'Result-Code') as number;
  return { node, outgoing, heldCer, incoming, cea, close: raw.close };
}

test('higher Origin-Host wins: keeps the connection the peer initiated, closes its own', async () => {
  const { node, outgoing, incoming, cea, close } = await simultaneousOpen('z-node.example.net', 'b-node.example.net');
  assert.equal(cea, ResultCode.SUCCESS);
  await outgoing.closed;
  assert.equal(incoming.isClosed, false);
  const open = node.peers().filter((p) => p.state === 'open');
  assert.deepEqual(open.map((p) => [p.originHost, p.role]), [['b-node.example.net', 'responder']]);
  incoming.destroy();
  await node.close();
  await close();
});

test('lower Origin-Host loses: CEA 4003 on the incoming connection, its own connection opens', async () => {
  const { node, outgoing, heldCer, incoming, cea, close } = await simultaneousOpen('b-node.example.net', 'z-node.example.net');
  assert.equal(cea, ResultCode.ELECTION_LOST);
  await incoming.closed;
  assert.equal(outgoing.isClosed, false);
  // Now the held CER gets its CEA: the node's own connection opens.
  outgoing.send(buildCea(heldCer, { resultCode: ResultCode.SUCCESS }, rawCaps('z-node.example.net', 'example.net')));
  const up = await node.waitForPeer({ originHost: 'z-node.example.net' });
  assert.equal(up.role, 'initiator');
  await node.close();
  await close();
});

test('the comparison is case-insensitive: a-node < B-NODE', async () => {
  const { node, cea, close, incoming } = await simultaneousOpen('a-node.example.net', 'B-NODE.example.net');
  assert.equal(cea, ResultCode.ELECTION_LOST, 'octet order would make "a" > "B"');
  await incoming.closed;
  await node.close();
  await close();
});

test('two nodes dialing each other converge on one connection, both sides agreeing', async () => {
  const [pa, pb] = [await freePort(), await freePort()];
  const a = nodes.make({ originHost: 'alpha.example.net', originRealm: 'example.net', applications: [CX_APPLICATION] });
  const b = nodes.make({ originHost: 'beta.example.net', originRealm: 'example.net', applications: [CX_APPLICATION] });
  await a.listen({ host: '127.0.0.1', port: pa as number });
  await b.listen({ host: '127.0.0.1', port: pb as number });
  let downs = 0;
  a.events.on('peerDown', () => downs++);
  b.events.on('peerDown', () => downs++);
  a.addPeer({ host: '127.0.0.1', port: pb as number, originHost: 'beta.example.net' });
  b.addPeer({ host: '127.0.0.1', port: pa as number, originHost: 'alpha.example.net' });
  await Promise.all([a.waitForPeer({ originHost: 'beta.example.net' }), b.waitForPeer({ originHost: 'alpha.example.net' })]);
  await sleep(300);
  const openA = a.peers().filter((p) => p.state === 'open');
  const openB = b.peers().filter((p) => p.state === 'open');
  assert.equal(openA.length, 1);
  assert.equal(openB.length, 1);
  assert.notEqual(openA[0]?.role, openB[0]?.role, 'one side initiated the surviving connection, the other accepted it');
  assert.equal(downs, 0, 'no open connection was torn down');
});
