/**
 * RFC 3581 (symmetric response routing) with RFC 3261 §18.2.1/§18.2.2, on real loopback sockets: `rport` filled
 * with the source port and `received` added even when the sent-by matches; the response then goes to the source
 * port, not the Via port. Without `rport` the response goes to `received` (or the sent-by host) at the Via port.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { parseVia } from '../../lib/sip/headers/via.ts';
import { SipStack } from '../../lib/sip/stack.ts';
import { reconnectTarget, stampVia, udpResponseTarget } from '../../lib/sip/transport/routing.ts';
import { TcpPeer, UdpPeer, headerValue, rawRequest, statusLine } from './helpers.ts';

describe('RFC 3581 §4 server behaviour (unit)', () => {
  test('bare rport: filled in, and received added although the host matches', () => {
    const v = parseVia('SIP/2.0/UDP 10.1.1.1:4540;rport;branch=z9hG4bKkjshdyff');
    assert.equal(stampVia(v, '192.0.2.1', 9988), true);
    assert.equal(v.toString(), 'SIP/2.0/UDP 10.1.1.1:4540;rport=9988;branch=z9hG4bKkjshdyff;received=192.0.2.1');
    assert.deepEqual(udpResponseTarget(v), { address: '192.0.2.1', port: 9988 });
    const same = parseVia('SIP/2.0/UDP 192.0.2.1:4540;rport;branch=z9hG4bK1');
    stampVia(same, '192.0.2.1', 4540);
    assert.equal(same.received, '192.0.2.1');
  });

  test('§18.2.1 without rport: received only when the host differs (always for a name)', () => {
    const same = parseVia('SIP/2.0/UDP 192.0.2.1:5062;branch=z9hG4bK1');
    assert.equal(stampVia(same, '192.0.2.1', 40000), false);
    assert.deepEqual(udpResponseTarget(same), { address: '192.0.2.1', port: 5062 });
    const name = parseVia('SIP/2.0/UDP ue.example.com;branch=z9hG4bK1');
    stampVia(name, '192.0.2.7', 40000);
    assert.deepEqual(udpResponseTarget(name), { address: '192.0.2.7', port: 5060 });
    const v6 = parseVia('SIP/2.0/TLS [2001:db8::1];branch=z9hG4bK1');
    stampVia(v6, '::ffff:192.0.2.9', 40000);
    assert.equal(v6.received, '192.0.2.9');
    assert.deepEqual(reconnectTarget(v6), { address: '192.0.2.9', port: 5061 });
  });

  test('maddr wins for UDP (§18.2.2)', () => {
    const v = parseVia('SIP/2.0/UDP h:5070;maddr=239.255.255.1;received=192.0.2.1;branch=z9hG4bK1');
    assert.deepEqual(udpResponseTarget(v), { address: '239.255.255.1', port: 5070 });
  });
});

describe('RFC 3581 over loopback', () => {
  let stack: SipStack;
  let udpPort: number;
  let tcpPort: number;

  before(async () => {
    stack = new SipStack({
      udp: [{ host: '127.0.0.1', port: 0 }],
      tcp: [{ host: '127.0.0.1', port: 0 }],
      onRequest: (_req, tx) => {
        tx.reply(200);
      },
    });
    const b = await stack.start();
    udpPort = b.find((x) => x.transport === 'UDP')?.port ?? 0;
    tcpPort = b.find((x) => x.transport === 'TCP')?.port ?? 0;
  });
  after(() => stack.stop());

  test('with rport the response goes to the source port, not the Via port', async () => {
    const src = await UdpPeer.open();
    const viaPortPeer = await UdpPeer.open();
    const sent = stack.stats.messagesSent;
    src.send(rawRequest({ viaPort: viaPortPeer.port, viaParams: ';rport', branch: 'z9hG4bK-rport-1' }), udpPort);
    const [res] = await src.waitFor(1);
    assert.equal(statusLine(res ?? ''), 'SIP/2.0 200 OK');
    assert.equal(headerValue(res ?? '', 'Via'), `SIP/2.0/UDP 127.0.0.1:${viaPortPeer.port};branch=z9hG4bK-rport-1;rport=${src.port};received=127.0.0.1`);
    // The stack answers within the handler: by the time the 200 is here, everything it sent for the request is sent.
    assert.equal(stack.stats.messagesSent, sent + 1, 'one response, the one the source got');
    assert.equal(viaPortPeer.received.length, 0);
    await Promise.all([src.close(), viaPortPeer.close()]);
  });

  test('without rport the response goes to the Via sent-by port (§18.2.2)', async () => {
    const src = await UdpPeer.open();
    const viaPortPeer = await UdpPeer.open();
    const sent = stack.stats.messagesSent;
    src.send(rawRequest({ viaPort: viaPortPeer.port, branch: 'z9hG4bK-norport-1' }), udpPort);
    const [res] = await viaPortPeer.waitFor(1);
    assert.equal(headerValue(res ?? '', 'Via'), `SIP/2.0/UDP 127.0.0.1:${viaPortPeer.port};branch=z9hG4bK-norport-1`, 'no received: host matched');
    assert.equal(stack.stats.messagesSent, sent + 1, 'one response, the one the Via port got');
    assert.equal(src.received.length, 0);
    await Promise.all([src.close(), viaPortPeer.close()]);
  });

  test('a sent-by naming another host: received added, response to the source address at the Via port', async () => {
    const peer = await UdpPeer.open();
    peer.send(rawRequest({ viaHost: 'ue.partner.example', viaPort: peer.port, branch: 'z9hG4bK-name-1' }), udpPort);
    const [res] = await peer.waitFor(1);
    assert.equal(headerValue(res ?? '', 'Via'), `SIP/2.0/UDP ue.partner.example:${peer.port};branch=z9hG4bK-name-1;received=127.0.0.1`);
    await peer.close();
  });

  test('TCP: rport and received filled as well; the response comes back on the connection', async () => {
    const peer = await TcpPeer.open(tcpPort);
    peer.socket.write(rawRequest({ transport: 'TCP', viaPort: 5999, viaParams: ';rport', branch: 'z9hG4bK-tcp-rport' }));
    await peer.until(() => peer.messages.length === 1);
    assert.equal(headerValue(peer.messages[0] ?? '', 'Via'),
      `SIP/2.0/TCP 127.0.0.1:5999;branch=z9hG4bK-tcp-rport;rport=${peer.socket.localPort};received=127.0.0.1`);
    peer.socket.destroy();
  });
});
