/**
 * RFC 3261 §8.1.3 / §10.2.4 / §17.1.2.2 on the UE's side with a scripted UDP registrar: every way a REGISTER can end
 * without a usable 200 ends the operation with a precise {@link UeError}, never a hang — including the responses
 * SIP.js 0.21 discards without telling its Registerer (a top Via whose sent-by was altered, a 200 without our Contact,
 * a 423 without Min-Expires) and Timer F itself (run on mocked timers; SIP.js calls its delegate while the
 * transaction is still in Trying, which must not provoke a second final response).
 */
import { after, before, describe, mock, test } from 'node:test';
import assert from 'node:assert/strict';
import { createSocket, type Socket } from 'node:dgram';
import { silentLogger } from '../../lib/log.ts';
import { parseMessage } from '../../lib/sip/index.ts';
import { UeError } from '../../ue-client/errors.ts';
import { Registration } from '../../ue-client/register.ts';
import { UeAgent } from '../../ue-client/ua.ts';

type Mode = 'via-port' | 'no-contact' | '423-bare' | 'silent';

describe('RFC 3261 §8.1.3: responses the UE cannot use end the registration with a reason', () => {
  let server: Socket;
  let mode: Mode = 'silent';

  before(async () => {
    server = createSocket('udp4');
    server.on('message', (buf, rinfo) => {
      const req = parseMessage(buf);
      if (req.kind !== 'request' || mode === 'silent') return;
      const h = req.headers;
      const via = mode === 'via-port' ? (h.get('via') ?? '').replace(/^SIP\/2\.0\/UDP ([^;]+)/, `SIP/2.0/UDP $1:${rinfo.port}`) : h.get('via');
      const status = mode === '423-bare' ? '423 Interval Too Brief' : '200 OK';
      const contact = mode === 'via-port' ? [`Contact: ${h.get('contact')}`] : ['Contact: <sip:someone-else@192.0.2.1:5060>;expires=600'];
      const text = [`SIP/2.0 ${status}`, `Via: ${via}`, `From: ${h.get('from')}`, `To: ${h.get('to')};tag=x`, `Call-ID: ${h.get('call-id')}`,
        `CSeq: ${h.get('cseq')}`, ...(status.startsWith('200') ? contact : []), 'Content-Length: 0', '', ''].join('\r\n');
      server.send(text, rinfo.port, rinfo.address);
    });
    await new Promise<void>((resolve) => server.bind(0, '127.0.0.1', () => resolve()));
  });
  after(() => {
    mock.timers.reset();
    server?.close();
  });

  async function attempt(m: Mode, o: { mockTimers?: boolean } = {}): Promise<UeError> {
    mode = m;
    const ue = await UeAgent.start({
      registrar: { host: '127.0.0.1', port: server.address().port }, transport: 'udp', domain: 'plain.example', impi: 'carl@plain.example',
      impu: 'sip:carl@plain.example', secrets: { password: Buffer.from('x') }, expires: 600, logger: silentLogger,
    });
    if (o.mockTimers) mock.timers.enable({ apis: ['setTimeout', 'Date'] });
    try {
      const sent = new Promise<void>((resolve) => ue.transport.addTap((e) => e.direction === 'out' && resolve()));
      const pending = new Registration(ue).register().then(() => assert.fail('registered?'), (e: unknown) => e);
      if (o.mockTimers) {
        await sent;
        // Mocked ticks jump to their end before firing, so 100 ms steps keep Timer E and F on their multiples.
        for (let t = 0; t <= 33_000; t += 100) mock.timers.tick(100);
      }
      const err = await pending;
      assert.ok(err instanceof UeError, String(err));
      return err;
    } finally {
      mock.timers.reset();
      await ue.stop();
    }
  }

  test('a 200 whose top Via gained a port is discarded by SIP.js: UE_REJECTED naming the Via, at once', async () => {
    const e = await attempt('via-port');
    assert.equal(e.code, 'UE_REJECTED');
    assert.match(e.message, /200 OK discarded: its top Via sent-by 127\.0\.0\.1:\d+ is not the 127\.0\.0\.1 the UE sent/);
  });

  test('a 200 without our Contact: UE_BINDING (RFC 3261 §10.2.4)', async () => {
    const e = await attempt('no-contact');
    assert.equal(e.code, 'UE_BINDING');
    assert.equal(e.exitStatus, 4);
  });

  test('423 without Min-Expires: UE_REJECTED, not a hang', async () => {
    const e = await attempt('423-bare');
    assert.equal(e.code, 'UE_REJECTED');
    assert.match(e.message, /^423 Interval Too Brief was not usable/);
  });

  test('no answer at all: Timer F (64·T1) ends it as UE_TIMEOUT, with no second final response inside SIP.js', async () => {
    const e = await attempt('silent', { mockTimers: true });
    assert.equal(e.code, 'UE_TIMEOUT');
    assert.match(e.message, /Timer F, 32 s/);
  });
});
