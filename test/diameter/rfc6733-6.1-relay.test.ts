/**
 * RFC 6733 §6.1.8/§6.1.9/§6.2.2 relay agents, two hops inside one system (a relay takes Route-Record only from a peer
 * of its own realm, DESIGN §2.7; design-2.7-peer-admission checks that): client → relay1 → relay2 → HSS. The MAR
 * reaches the HSS with one Route-Record per hop and the client's end-to-end id; the answer comes back with the
 * client's hop-by-hop id. Loops answer 3005; no route, and an upstream timeout, answer 3002 (E bit); non-proxiable
 * requests are not relayed; relays advertise the Relay application 0xFFFFFFFF.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { ApplicationId, ResultCode } from '../../lib/diameter/constants.ts';
import type { DiameterMessage } from '../../lib/diameter/codec.ts';
import { buildAvp, getValue, getValues } from '../../lib/diameter/message.ts';
import { CX_APPLICATION } from '../../lib/diameter/node.ts';
import { CxCommand, buildMaa, buildMar, readMar } from '../../lib/diameter/cx/index.ts';
import { readCea } from '../../lib/diameter/peer-messages.ts';
import { Nodes, RawPeer, rawCaps } from './harness.ts';
import { MAR_INPUT } from './fixtures.ts';

const nodes = new Nodes();
const seen: DiameterMessage[] = [];
let client: RawPeer;
let cea: DiameterMessage;

before(async () => {
  const hss = nodes.make({ originHost: 'hss.primary.example', originRealm: 'primary.example', applications: [CX_APPLICATION] });
  hss.handle(ApplicationId.CX, CxCommand.MAR, (req) => {
    seen.push(req);
    const mar = readMar(req);
    if (mar.userName.startsWith('slow')) return new Promise<DiameterMessage>((resolve) => setTimeout(() => resolve(buildMaa(req, { originHost: 'hss.primary.example', originRealm: 'primary.example', result: { resultCode: ResultCode.SUCCESS } })), 800));
    return buildMaa(req, { originHost: 'hss.primary.example', originRealm: 'primary.example', result: { resultCode: ResultCode.SUCCESS }, userName: mar.userName });
  });
  const hssPort = (await hss.listen({ host: '127.0.0.1', port: 0 })).port;
  const relay2 = nodes.make({ originHost: 'relay2.primary.example', originRealm: 'primary.example', relay: true });
  const r2Port = (await relay2.listen({ host: '127.0.0.1', port: 0 })).port;
  relay2.addPeer({ host: '127.0.0.1', port: hssPort, originHost: 'hss.primary.example' });
  const relay1 = nodes.make({
    originHost: 'relay1.primary.example', originRealm: 'primary.example', relay: { timeoutMs: 300 },
    routes: { 'primary.example': ['relay2.primary.example'] },
  });
  const r1Port = (await relay1.listen({ host: '127.0.0.1', port: 0 })).port;
  relay1.addPeer({ host: '127.0.0.1', port: r2Port, originHost: 'relay2.primary.example' });
  await relay2.waitForPeer({ originHost: 'hss.primary.example' });
  await relay1.waitForPeer({ originHost: 'relay2.primary.example' });
  client = await RawPeer.connect(r1Port, rawCaps('scscf.primary.example', 'primary.example'));
  cea = await client.handshake();
});
after(async () => {
  client.destroy();
  await nodes.closeAll();
});

const { destinationHost: _d, ...BASE } = MAR_INPUT;
function mar(hopByHop: number, extra: Partial<typeof BASE> = {}): DiameterMessage {
  return buildMar({ ...BASE, originHost: 'scscf.primary.example', originRealm: 'primary.example', ...extra, hopByHop, endToEnd: 0x7700 + hopByHop });
}
async function exchange(msg: DiameterMessage): Promise<DiameterMessage> {
  client.send(msg);
  return client.next((m) => !m.flags.request && m.hopByHop === msg.hopByHop, 3000);
}

test('relays advertise the Relay application 0xFFFFFFFF in CEA', () => {
  assert.equal(readCea(cea).resultCode, ResultCode.SUCCESS);
  assert.ok(readCea(cea).authApplicationIds?.includes(ApplicationId.RELAY));
});

test('two hops: Route-Record appended per hop, end-to-end kept, original hop-by-hop restored in the answer', async () => {
  const answer = await exchange(mar(0x0badf00d));
  assert.equal(answer.hopByHop, 0x0badf00d);
  assert.equal(answer.endToEnd, 0x7700 + 0x0badf00d);
  assert.equal(getValue(answer, 'Result-Code'), ResultCode.SUCCESS);
  assert.equal(getValue(answer, 'Origin-Host'), 'hss.primary.example');
  const atHss = seen.at(-1) as DiameterMessage;
  assert.deepEqual(getValues(atHss, 'Route-Record'), ['scscf.primary.example', 'relay1.primary.example']);
  assert.equal(atHss.endToEnd, 0x7700 + 0x0badf00d);
  assert.notEqual(atHss.hopByHop, 0x0badf00d);
  assert.equal(getValue(atHss, 'Origin-Host'), 'scscf.primary.example', 'relays do not touch Origin-Host');
});

test('loop: our identity already in Route-Record → 3005 with the E bit; a crossed peer is not used again (3002)', async () => {
  const own = mar(0x3005);
  own.avps.push(buildAvp(['Route-Record', 'relay1.primary.example']));
  const a = await exchange(own);
  assert.equal(getValue(a, 'Result-Code'), ResultCode.LOOP_DETECTED);
  assert.equal(getValue(a, 'Origin-Host'), 'relay1.primary.example');
  assert.equal(a.flags.error, true);
  // A peer already crossed is never chosen again: with relay2 in Route-Record, relay1 has nowhere to go.
  const further = mar(0x3006);
  further.avps.push(buildAvp(['Route-Record', 'RELAY2.primary.example']));
  const b = await exchange(further);
  assert.equal(getValue(b, 'Result-Code'), ResultCode.UNABLE_TO_DELIVER);
  assert.equal(getValue(b, 'Origin-Host'), 'relay1.primary.example');
  assert.equal(b.hopByHop, 0x3006);
});

test('no route for the Destination-Realm → 3002 with the E bit', async () => {
  const a = await exchange(mar(0x3002, { destinationRealm: 'nowhere.example' }));
  assert.equal(getValue(a, 'Result-Code'), ResultCode.UNABLE_TO_DELIVER);
  assert.equal(a.flags.error, true);
  assert.equal(getValue(a, 'Origin-Host'), 'relay1.primary.example');
});

test('upstream timeout (relay timeout 300 ms) → 3002 on time', async () => {
  const started = Date.now();
  const a = await exchange(mar(0x3003, { userName: 'slow@primary.example' }));
  const took = Date.now() - started;
  assert.equal(getValue(a, 'Result-Code'), ResultCode.UNABLE_TO_DELIVER);
  assert.ok(took >= 295 && took < 450, `3002 after ${took} ms`);
  assert.match(getValue(a, 'Error-Message') ?? '', /within 300 ms/);
});

test('a non-proxiable request is not relayed', async () => {
  const before = seen.length;
  const m = mar(0x3004);
  m.flags.proxiable = false;
  const a = await exchange(m);
  assert.equal(a.flags.error, true);
  assert.equal(getValue(a, 'Origin-Host'), 'relay1.primary.example');
  assert.equal(seen.length, before);
});
