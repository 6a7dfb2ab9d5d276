/**
 * RFC 3261 §9.2 (server behaviour of CANCEL), over real loopback sockets with real bytes: a CANCEL whose transaction
 * (same branch and sent-by, §17.2.3, as if it were the original method) exists — pending at the TU, or Completed on
 * UDP — is answered 200 and changes nothing for it ("no impact on the processing of transactions with any other
 * method" than INVITE); one that names no transaction here gets 481. The TU answers the CANCEL with the stack's
 * lookup (SipStack.cancelStatus), the CANCEL's own transaction absorbs a retransmission, and only the CANCEL's
 * sender's transactions can match on UDP [DESIGN §2.1].
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { SipRequest } from '../../lib/sip/message.ts';
import { SipStack } from '../../lib/sip/stack.ts';
import type { ServerTransaction } from '../../lib/sip/transaction/server.ts';
import { until } from '../helpers/wait.ts';
import { TcpPeer, UdpPeer, headerValue, rawRequest, statusLine } from './helpers.ts';

describe('§9.2 CANCEL at the server', () => {
  let stack: SipStack;
  let udpPort: number;
  let tcpPort: number;
  const seen: Array<{ req: SipRequest; tx: ServerTransaction }> = [];
  let cancels = 0;
  let hold = false;

  before(async () => {
    stack = new SipStack({
      udp: [{ host: '127.0.0.1', port: 0 }],
      tcp: [{ host: '127.0.0.1', port: 0 }],
      onRequest: (req, tx) => {
        if (req.method === 'CANCEL') {
          cancels++;
          tx.reply(stack.cancelStatus(req, tx));
          return;
        }
        seen.push({ req, tx });
        if (!hold) tx.reply(200);
      },
    });
    const bound = await stack.start();
    udpPort = bound.find((b) => b.transport === 'UDP')?.port ?? 0;
    tcpPort = bound.find((b) => b.transport === 'TCP')?.port ?? 0;
  });
  after(() => stack.stop());

  /** A CANCEL of `original`: the same Request-URI, Call-ID, From, To, CSeq number and top Via (§9.1). */
  const cancelOf = (original: string): string => {
    const method = original.slice(0, original.indexOf(' '));
    return original.replace(`${method} `, 'CANCEL ').replace(`CSeq: 1 ${method}`, 'CSeq: 1 CANCEL');
  };

  test('no such transaction: 481 Call/Transaction Does Not Exist, with the CANCEL\'s own Via, Call-ID and CSeq', async () => {
    seen.length = 0;
    const before = cancels;
    const peer = await UdpPeer.open();
    try {
      peer.send(cancelOf(rawRequest({ viaPort: peer.port, branch: 'z9hG4bK-cancel-none', callId: 'cancel-none@test' })), udpPort);
      const [res] = await peer.waitFor(1);
      assert.equal(statusLine(res as string), 'SIP/2.0 481 Call/Transaction Does Not Exist');
      assert.equal(headerValue(res as string, 'CSeq'), '1 CANCEL');
      assert.equal(headerValue(res as string, 'Call-ID'), 'cancel-none@test');
      assert.match(headerValue(res as string, 'Via') ?? '', /branch=z9hG4bK-cancel-none/);
      assert.equal(cancels, before + 1, 'the TU answered it');
      assert.equal(seen.length, 0);
    } finally {
      await peer.close();
    }
  });

  for (const method of ['REGISTER', 'OPTIONS']) {
    test(`a ${method} still at the TU: 200 to the CANCEL, and the ${method} goes on to its own final response`, async () => {
      seen.length = 0;
      hold = true;
      const peer = await UdpPeer.open();
      try {
        const original = rawRequest({ method, viaPort: peer.port, branch: `z9hG4bK-cancel-pending-${method}`, callId: `cancel-pending-${method}@test` });
        peer.send(original, udpPort);
        await until(() => seen.length === 1, `the ${method} at the TU`);
        peer.send(cancelOf(original), udpPort);
        const [res] = await peer.waitFor(1);
        assert.equal(statusLine(res as string), 'SIP/2.0 200 OK');
        assert.equal(headerValue(res as string, 'CSeq'), '1 CANCEL');
        assert.equal(seen.length, 1, `the TU saw the ${method} only`);
        seen[0]?.tx.reply(200);
        const all = await peer.waitFor(2);
        assert.equal(statusLine(all[1] as string), 'SIP/2.0 200 OK');
        assert.equal(headerValue(all[1] as string, 'CSeq'), `1 ${method}`);
      } finally {
        hold = false;
        await peer.close();
      }
    });
  }

  test('a REGISTER already answered (Completed on UDP): 200; a retransmitted CANCEL gets the same answer again', async () => {
    seen.length = 0;
    const peer = await UdpPeer.open();
    try {
      const register = rawRequest({ viaPort: peer.port, branch: 'z9hG4bK-cancel-done', callId: 'cancel-done@test' });
      peer.send(register, udpPort);
      await peer.waitFor(1);
      const cancel = cancelOf(register);
      peer.send(cancel, udpPort);
      const absorbed = stack.stats.retransmissionsAbsorbed;
      const [, first] = await peer.waitFor(2);
      assert.equal(statusLine(first as string), 'SIP/2.0 200 OK');
      assert.equal(headerValue(first as string, 'CSeq'), '1 CANCEL');
      peer.send(cancel, udpPort);
      const [, , again] = await peer.waitFor(3);
      assert.equal(again, first, 'the CANCEL\'s own final response, re-sent');
      assert.equal(stack.stats.retransmissionsAbsorbed, absorbed + 1, 'not a second CANCEL at the TU');
      assert.equal(seen.length, 1);
    } finally {
      await peer.close();
    }
  });

  test('on UDP the same branch from another source names no transaction of its own: 481 [DESIGN §2.1]', async () => {
    seen.length = 0;
    hold = true;
    const owner = await UdpPeer.open();
    const other = await UdpPeer.open();
    try {
      const register = rawRequest({ viaPort: owner.port, branch: 'z9hG4bK-cancel-other', callId: 'cancel-other@test' });
      owner.send(register, udpPort);
      await until(() => seen.length === 1, 'the REGISTER at the TU');
      // The CANCEL claims the owner's Via but comes from another port: responses go to the Via (rport absent), so
      // listen where the Via says, i.e. at the owner.
      other.send(cancelOf(register), udpPort);
      const [res] = await owner.waitFor(1);
      assert.equal(statusLine(res as string), 'SIP/2.0 481 Call/Transaction Does Not Exist');
      seen[0]?.tx.reply(200);
      await owner.waitFor(2);
    } finally {
      hold = false;
      await owner.close();
      await other.close();
    }
  });

  test('over TCP: the pending REGISTER is found (200); once answered its transaction is gone (Timer J is 0), so 481', async () => {
    seen.length = 0;
    hold = true;
    const peer = await TcpPeer.open(tcpPort);
    try {
      const register = rawRequest({ transport: 'TCP', branch: 'z9hG4bK-cancel-tcp', callId: 'cancel-tcp@test' });
      peer.socket.write(register);
      await until(() => seen.length === 1, 'the REGISTER at the TU');
      peer.socket.write(cancelOf(register));
      await peer.until(() => peer.messages.length === 1);
      assert.equal(statusLine(peer.messages[0] as string), 'SIP/2.0 200 OK');
      assert.equal(headerValue(peer.messages[0] as string, 'CSeq'), '1 CANCEL');
      seen[0]?.tx.reply(200);
      await peer.until(() => peer.messages.length === 2);
      assert.equal(headerValue(peer.messages[1] as string, 'CSeq'), '1 REGISTER');
      // The same CANCEL again is a new transaction (the first ended with its response), and the REGISTER is gone.
      peer.socket.write(cancelOf(register));
      await peer.until(() => peer.messages.length === 3);
      assert.equal(statusLine(peer.messages[2] as string), 'SIP/2.0 481 Call/Transaction Does Not Exist');
      assert.equal(seen.length, 1, 'the TU saw the REGISTER only');
    } finally {
      hold = false;
      peer.socket.destroy();
    }
  });
});
