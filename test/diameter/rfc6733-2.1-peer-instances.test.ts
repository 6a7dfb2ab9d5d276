/**
 * RFC 6733 §2.1: one transport connection per peer "unless multiple instances exist on the peer, in which case a
 * separate connection per process is allowed" — `mcx <role> --workers N` runs N processes with one Origin-Host, each
 * connecting on its own. A node accepts a further connection of an identity it does not connect to itself, keeps
 * both, sends requests for that identity over an open one, and reports the identity down only with its last
 * connection. A peer it connects to (configured) still gets one connection: a second one of that identity is refused.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { ApplicationId, ResultCode } from '../../lib/diameter/constants.ts';
import type { DiameterMessage } from '../../lib/diameter/codec.ts';
import { CX_APPLICATION, isDiameterNodeError, type DiameterNode } from '../../lib/diameter/node.ts';
import { CxCommand, buildMaa, buildMar, readMaa } from '../../lib/diameter/cx/index.ts';
import { Nodes, sleep } from './harness.ts';
import { MAR_INPUT } from './fixtures.ts';

const nodes = new Nodes();
after(() => nodes.closeAll());

const INSTANCE = 'registrar.partner.example';
const { hopByHop: _h, endToEnd: _e, destinationHost: _d, ...MAR } = MAR_INPUT;

/** A node answering MARs with 2001, counting them. */
function answering(originHost: string, originRealm: string, seen: { n: number }): DiameterNode {
  const node = nodes.make({ originHost, originRealm, applications: [CX_APPLICATION] });
  node.handle(ApplicationId.CX, CxCommand.MAR, (req: DiameterMessage) => {
    seen.n++;
    return buildMaa(req, { originHost, originRealm, result: { resultCode: ResultCode.SUCCESS } });
  });
  return node;
}

/** A MAR from `from` to `to` (host and realm). */
function marTo(from: DiameterNode, to: { host: string; realm: string }): DiameterMessage {
  return buildMar({ ...MAR, sessionId: from.nextSessionId(), originHost: from.originHost, originRealm: from.originRealm, destinationRealm: to.realm, destinationHost: to.host });
}

test('two instances of one Origin-Host both connect; requests reach the identity until its last connection closes; one peerDown', async () => {
  const served = { n: 0 };
  const server = answering('mms.partner.example', 'partner.example', served);
  const { port } = await server.listen({ host: '127.0.0.1', port: 0 });
  const downs: string[] = [];
  server.events.on('peerDown', (p) => void downs.push(p.originHost));
  const seen = [{ n: 0 }, { n: 0 }];
  const instances = seen.map((s) => answering(INSTANCE, 'partner.example', s));
  for (const i of instances) {
    i.addPeer({ host: '127.0.0.1', port, originHost: 'mms.partner.example' });
    await i.waitForPeer({ originHost: 'mms.partner.example' }, 5000);
  }
  assert.equal(server.peers().filter((p) => p.originHost === INSTANCE && p.state === 'open').length, 2, 'both connections open at the server');
  for (const i of instances) {
    const a = readMaa(await i.request(marTo(i, { host: 'mms.partner.example', realm: 'partner.example' }), { timeoutMs: 2000 }));
    assert.deepEqual(a.result, { resultCode: 2001 }, 'each instance is served');
  }
  assert.equal(served.n, 2);

  const toInstance = async (): Promise<void> => {
    const a = readMaa(await server.request(marTo(server, { host: INSTANCE, realm: 'partner.example' }), { host: INSTANCE, timeoutMs: 2000 }));
    assert.deepEqual(a.result, { resultCode: 2001 });
  };
  await toInstance();
  const first = seen.findIndex((s) => s.n === 1);
  assert.ok(first >= 0, 'one instance answered the request for the identity');
  await (instances[first] as DiameterNode).close();
  await sleep(100);
  assert.deepEqual(downs, [], 'the identity is not down while another instance is connected');
  await toInstance();
  assert.equal((seen[1 - first] as { n: number }).n, 1, 'the other instance took over');

  await (instances[1 - first] as DiameterNode).close();
  await sleep(100);
  assert.deepEqual(downs, [INSTANCE], 'down once, with its last connection');
  await assert.rejects(server.request(marTo(server, { host: INSTANCE, realm: 'partner.example' }), { host: INSTANCE, timeoutMs: 500 }),
    (err: unknown) => isDiameterNodeError(err) && err.code === 'ERR_DIAMETER_NO_PEER');
});

test('a configured peer keeps one connection: a second connection in with its Origin-Host is refused', async () => {
  const target = answering('hss-x.primary.example', 'primary.example', { n: 0 });
  const { port: targetPort } = await target.listen({ host: '127.0.0.1', port: 0 });
  const server = answering('relay-x.primary.example', 'primary.example', { n: 0 });
  const { port } = await server.listen({ host: '127.0.0.1', port: 0 });
  server.addPeer({ host: '127.0.0.1', port: targetPort, originHost: 'hss-x.primary.example' });
  await server.waitForPeer({ originHost: 'hss-x.primary.example' }, 5000);
  // Another node claiming the configured peer's identity connects in.
  const impostor = answering('hss-x.primary.example', 'primary.example', { n: 0 });
  impostor.addPeer({ host: '127.0.0.1', port, originHost: 'relay-x.primary.example' });
  await assert.rejects(impostor.waitForPeer({ originHost: 'relay-x.primary.example' }, 1000));
  assert.equal(server.peers().filter((p) => p.originHost === 'hss-x.primary.example' && p.state === 'open').length, 1);
});
