/**
 * RFC 6733 §2.6 (peer table) and §5.2 (a configured peer that cannot be reached is retried): a node reports each
 * configured peer without an open connection — being connected or waiting for its next try, how many attempts
 * failed and why — until a connection opens, and again once it is lost. The testbed's status page lists these as
 * the roles' peers that are down.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { CX_APPLICATION } from '../../lib/diameter/node.ts';
import { freePort } from '../helpers/ports.ts';
import { Nodes, sleep } from './harness.ts';

const nodes = new Nodes();
after(() => nodes.closeAll());

/** Polls `cond` every 20 ms for at most `ms`. */
async function until(cond: () => boolean, ms: number, what: string): Promise<void> {
  for (const end = Date.now() + ms; !cond(); await sleep(20)) if (Date.now() > end) assert.fail(`${what} within ${ms} ms`);
}

test('a configured peer that refuses connections is reported down with its failed attempts and reason, and no longer once it opens; again after it goes', async () => {
  const port = await freePort();
  const client = nodes.make({ originHost: 'registrar.partner.example', originRealm: 'partner.example', applications: [CX_APPLICATION] });
  client.addPeer({ host: '127.0.0.1', port, originHost: 'mms.partner.example' });
  await until(() => (client.unconnectedPeers()[0]?.failedAttempts ?? 0) >= 2, 5000, 'two failed attempts');
  const [down] = client.unconnectedPeers();
  assert.equal(down?.target, `127.0.0.1:${port}`);
  assert.equal(down?.originHost, 'mms.partner.example');
  assert.equal(down?.lastError, 'ECONNREFUSED');
  assert.ok(down?.state === 'waiting' || down?.state === 'connecting');
  assert.equal(client.peers().filter((p) => p.state === 'open').length, 0);

  const server = nodes.make({ originHost: 'mms.partner.example', originRealm: 'partner.example', applications: [CX_APPLICATION] });
  await server.listen({ host: '127.0.0.1', port });
  await client.waitForPeer({ originHost: 'mms.partner.example' }, 5000);
  assert.deepEqual(client.unconnectedPeers(), [], 'open: not reported down');

  await server.close();
  await until(() => client.unconnectedPeers().length === 1, 5000, 'reported down again after the peer closed');
  assert.equal(client.unconnectedPeers()[0]?.target, `127.0.0.1:${port}`);
});
