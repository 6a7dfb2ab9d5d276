/**
 * RFC 3261 §18.3 on the UE's TCP transport, against a minimal hand-written registrar (no authentication, as a plain
 * RFC 3261 registrar may be): responses are framed by Content-Length whatever the segmentation (a 100 and the 200 in
 * one write, the 200 cut in two), and a connection the registrar closes while the UE is registered ends the
 * registration at once with UE_TRANSPORT instead of at the next refresh.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server, type Socket } from 'node:net';
import { silentLogger } from '../../lib/log.ts';
import { StreamFramer, parseMessage, type SipRequest } from '../../lib/sip/index.ts';
import { UeError } from '../../ue-client/errors.ts';
import { Registration, type RegistrationResult } from '../../ue-client/register.ts';
import { UeAgent } from '../../ue-client/ua.ts';

let server: Server;
const conns: Socket[] = [];

function ok(req: SipRequest, status: string): string {
  const h = req.headers;
  const contact = h.get('contact') ?? '';
  return [`SIP/2.0 ${status}`, `Via: ${h.get('via')}`, `From: ${h.get('from')}`, `To: ${h.get('to')};tag=reg`, `Call-ID: ${h.get('call-id')}`,
    `CSeq: ${h.get('cseq')}`, ...(status.startsWith('200') ? [`Contact: ${contact.replace(/;expires=\d+/, '')};expires=600`] : []), 'Content-Length: 0', '', ''].join('\r\n');
}

before(async () => {
  server = createServer((sock) => {
    conns.push(sock);
    const framer = new StreamFramer();
    sock.on('data', (chunk) => {
      for (const m of framer.push(chunk).messages) {
        const req = parseMessage(m, { datagram: false });
        if (req.kind !== 'request') continue;
        const both = Buffer.from(ok(req, '100 Trying') + ok(req, '200 OK'));
        // One write with two messages, then the second one's tail in a later segment.
        const cut = both.length - 7;
        sock.write(both.subarray(0, cut));
        setTimeout(() => sock.write(both.subarray(cut)), 20);
      }
    });
    sock.on('error', () => undefined);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
});
after(() => {
  for (const c of conns) c.destroy();
  server.close();
});

test('TCP: a 100 and a split 200 are framed; the registrar closing the connection ends the registration with UE_TRANSPORT', async () => {
  const port = (server.address() as { port: number }).port;
  const ue = await UeAgent.start({
    registrar: { host: '127.0.0.1', port }, transport: 'tcp', domain: 'plain.example', impi: 'bob@plain.example', impu: 'sip:bob@plain.example',
    secrets: { password: Buffer.from('unused') }, expires: 600, logger: silentLogger,
  });
  let ended: (o: RegistrationResult | UeError) => void = () => undefined;
  const outcome = new Promise<RegistrationResult | UeError>((resolve) => { ended = resolve; });
  const reg = new Registration(ue, { onRefresh: (o) => ended(o) });
  try {
    const r = await reg.register();
    assert.equal(r.expires, 600);
    assert.equal(r.rspauth, 'no-credentials', 'no challenge, nothing to verify');
    assert.deepEqual(ue.ladder.lines().map((l) => l.replace(/^\s*[\d.]+s\s+/, '')), [
      'UE → registrar  REGISTER', 'UE ← registrar  100 Trying', 'UE ← registrar  200 OK', 'UE registered — expires 600 s',
    ]);
    for (const c of conns) c.destroy();
    const o = await outcome;
    assert.ok(o instanceof UeError && o.code === 'UE_TRANSPORT', String(o));
    assert.match(o.message, /TCP connection to 127\.0\.0\.1:\d+ closed by the peer/);
    assert.equal(reg.current, undefined);
  } finally {
    reg.close();
    await ue.stop();
  }
});
