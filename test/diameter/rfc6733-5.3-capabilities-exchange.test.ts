/**
 * RFC 6733 §5.3 capabilities exchange on loopback sockets, both ways: what our CER and CEA advertise (the Cx
 * application as Vendor-Specific-Application-Id {10415, 16777216} and Auth-Application-Id, Supported-Vendor-Id,
 * Host-IP-Address, Product-Name, Origin-State-Id), 5010 when no application is common, identity checks, and a first
 * Cx request over the opened connection.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { freePort } from '../helpers/ports.ts';
import { ApplicationId, ResultCode, VENDOR_3GPP } from '../../lib/diameter/constants.ts';
import { getValue, getValues } from '../../lib/diameter/message.ts';
import { readCea, readCer } from '../../lib/diameter/peer-messages.ts';
import { CX_APPLICATION } from '../../lib/diameter/node.ts';
import { CxCommand, buildMaa, buildMar, readMaa, readMar } from '../../lib/diameter/cx/index.ts';
import { Nodes, RawPeer, rawCaps, rawServer } from './harness.ts';
import { MAR_INPUT, RAND, AUTN, XRES, CK, IK } from './fixtures.ts';

const nodes = new Nodes();
after(() => nodes.closeAll());

function hss(originStateId = 1234): ReturnType<Nodes['make']> {
  const node = nodes.make({ originHost: 'hss.primary.example', originRealm: 'primary.example', applications: [CX_APPLICATION], originStateId });
  node.handle(ApplicationId.CX, CxCommand.MAR, (req) => {
    const mar = readMar(req);
    return buildMaa(req, {
      originHost: 'hss.primary.example', originRealm: 'primary.example', result: { resultCode: ResultCode.SUCCESS },
      userName: mar.userName, publicIdentity: mar.publicIdentity,
      items: [{ itemNumber: 1, scheme: mar.scheme, authenticate: Buffer.concat([RAND, AUTN]), authorization: XRES, ck: CK, ik: IK }],
    });
  });
  return node;
}

test('our CER advertises Cx both ways, Supported-Vendor-Id, Host-IP-Address, Product-Name, Origin-State-Id', async () => {
  const port = await freePort();
  const raw = await rawServer(port, rawCaps('hss.primary.example', 'primary.example'));
  const client = nodes.make({ originHost: 'scscf.partner.example', originRealm: 'partner.example', applications: [CX_APPLICATION], originStateId: 77 });
  client.addPeer({ host: '127.0.0.1', port, originHost: 'hss.primary.example' });
  const peer = await raw.accepted();
  const cerMsg = await peer.acceptCer();
  const cer = readCer(cerMsg);
  assert.equal(cerMsg.flags.proxiable, false);
  assert.equal(cer.originHost, 'scscf.partner.example');
  assert.equal(cer.originRealm, 'partner.example');
  assert.deepEqual(cer.hostIpAddresses, ['127.0.0.1']);
  assert.equal(cer.productName, 'mcx-migrate');
  assert.equal(cer.originStateId, 77);
  assert.deepEqual(cer.supportedVendorIds, [VENDOR_3GPP]);
  assert.deepEqual(cer.authApplicationIds, [ApplicationId.CX]);
  assert.deepEqual(cer.vendorSpecificApplicationIds, [{ vendorId: VENDOR_3GPP, authApplicationId: ApplicationId.CX }]);
  const up = await client.waitForPeer({ originHost: 'hss.primary.example' });
  assert.equal(up.role, 'initiator');
  assert.equal(up.originRealm, 'primary.example');
  await client.close();
  await raw.close();
});

test('a CER gets CEA 2001 listing the Cx application, Proxy bit clear, same identifiers', async () => {
  const node = hss(4321);
  const { port } = await node.listen({ host: '127.0.0.1', port: 0 });
  const peer = await RawPeer.connect(port, rawCaps('scscf.partner.example', 'partner.example'));
  const ceaMsg = await peer.handshake();
  assert.equal(ceaMsg.hopByHop, 0x0c0c0c0c);
  assert.equal(ceaMsg.endToEnd, 0x0e0e0e0e);
  assert.equal(ceaMsg.flags.error, false);
  const cea = readCea(ceaMsg);
  assert.equal(cea.resultCode, ResultCode.SUCCESS);
  assert.equal(getValues(ceaMsg, 'Result-Code').length, 1);
  assert.equal(cea.originHost, 'hss.primary.example');
  assert.equal(cea.originStateId, 4321);
  assert.deepEqual(cea.vendorSpecificApplicationIds, [{ vendorId: VENDOR_3GPP, authApplicationId: ApplicationId.CX }]);
  assert.ok(cea.authApplicationIds?.includes(ApplicationId.CX));
  assert.deepEqual(node.peers().map((p) => [p.originHost, p.role, p.state]), [['scscf.partner.example', 'responder', 'open']]);
  peer.destroy();
});

test('no common application: CEA 5010 and the connection is closed', async () => {
  const node = hss();
  const { port } = await node.listen({ host: '127.0.0.1', port: 0 });
  const peer = await RawPeer.connect(port, rawCaps('acct.example', 'example', [3]));
  const cea = await peer.handshake();
  assert.equal(getValue(cea, 'Result-Code'), ResultCode.NO_COMMON_APPLICATION);
  await peer.closed;
});

test('a peer that is not configured is refused with 3010 when unknown peers are not accepted', async () => {
  const node = nodes.make({ originHost: 'hss.primary.example', originRealm: 'primary.example', applications: [CX_APPLICATION], acceptUnknownPeers: false });
  const { port } = await node.listen({ host: '127.0.0.1', port: 0 });
  const peer = await RawPeer.connect(port, rawCaps('intruder.example', 'example'));
  const cea = await peer.handshake();
  assert.equal(getValue(cea, 'Result-Code'), ResultCode.UNKNOWN_PEER);
  assert.equal(cea.flags.error, true);
  await peer.closed;
});

test('a CEA from another Origin-Host than configured is refused by the initiator', async () => {
  const port = await freePort();
  const raw = await rawServer(port, rawCaps('impostor.primary.example', 'primary.example'));
  const client = nodes.make({ originHost: 'scscf.partner.example', originRealm: 'partner.example', applications: [CX_APPLICATION] });
  client.addPeer({ host: '127.0.0.1', port, originHost: 'hss.primary.example' });
  const peer = await raw.accepted();
  await peer.acceptCer();
  await peer.closed;
  assert.equal(client.peers().filter((p) => p.state === 'open').length, 0);
  await client.close();
  await raw.close();
});

test('node to node: both open, a MAR is answered, binary key material intact', async () => {
  const server = hss();
  const { port } = await server.listen({ host: '127.0.0.1', port: 0 });
  const client = nodes.make({ originHost: 'scscf.partner.example', originRealm: 'partner.example', applications: [CX_APPLICATION] });
  const serverUp = server.events.next('peerUp', (p) => p.originHost === 'scscf.partner.example', 3000);
  client.addPeer({ host: '127.0.0.1', port, originHost: 'hss.primary.example' });
  await client.waitForPeer({ realm: 'primary.example' });
  assert.equal((await serverUp).role, 'responder');
  const { hopByHop: _h, endToEnd: _e, ...input } = MAR_INPUT;
  const answer = await client.request(buildMar({ ...input, sessionId: client.nextSessionId() }), { timeoutMs: 1000 });
  const maa = readMaa(answer);
  assert.equal(maa.result.resultCode, ResultCode.SUCCESS);
  assert.deepEqual(maa.items[0]?.authenticate, Buffer.concat([RAND, AUTN]));
  assert.deepEqual(maa.items[0]?.ck, CK);
  assert.notEqual(answer.endToEnd, 0);
});
