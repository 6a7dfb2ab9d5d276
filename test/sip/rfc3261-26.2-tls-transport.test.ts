/**
 * RFC 3261 §26.2.1 / §18 TLS transport with certificates from the project PKI (`initPki` in a temporary folder):
 * the client verifies the registrar's certificate and name (RFC 5922 §7.2), the server may ask for and verify a
 * client certificate and shows the result to the handler; raw SIP bytes over TLS are framed like TCP.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect as tlsConnect } from 'node:tls';
import { initPki } from '../../certs/issue.ts';
import { certPaths } from '../../certs/layout.ts';
import { SipError } from '../../lib/sip/errors.ts';
import { createRequest } from '../../lib/sip/request.ts';
import { SipStack } from '../../lib/sip/stack.ts';
import { StreamFramer } from '../../lib/sip/transport/framer.ts';
import { loadTlsFiles, tlsClientOptions, tlsServerOptions, type TlsMaterial } from '../../lib/sip/transport/tls.ts';
import { until } from '../helpers/wait.ts';
import { rawRequest, statusLine } from './helpers.ts';

describe('§18 / §26.2 TLS with the project PKI', () => {
  const REALM = 'ims.partner.example';
  let dir: string;
  let registrar: TlsMaterial;
  let client: TlsMaterial;
  let stack: SipStack;
  let port: number;
  const flows: Array<{ authorized?: boolean; cn?: string }> = [];

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'sip-tls-'));
    await initPki({ dir, systems: [{ name: 'partner', realm: REALM }] });
    registrar = await loadTlsFiles(certPaths(dir, 'partner', 'registrar'));
    client = await loadTlsFiles(certPaths(dir, 'partner', 'mms')); // any leaf of the same CA serves as a client cert
    stack = new SipStack({
      tls: [{ host: '127.0.0.1', port: 0, options: { ...tlsServerOptions(registrar), requestCert: true, rejectUnauthorized: false } }],
      onRequest: (_req, tx) => {
        const cn = tx.flow.peerCertificate?.subject?.CN;
        flows.push({ authorized: tx.flow.authorized, cn: Array.isArray(cn) ? cn.join(',') : cn });
        tx.reply(200);
      },
    });
    port = (await stack.start())[0]?.port ?? 0;
  });
  after(async () => {
    await stack.stop();
    await rm(dir, { recursive: true, force: true });
  });

  test('a client verifying the registrar name gets its 200; the server sees the verified client certificate', async (t) => {
    const ue = new SipStack({ tlsClient: tlsClientOptions(registrar.ca, { cert: client.cert, key: client.key }) });
    t.after(() => ue.stop());
    await ue.start();
    const req = createRequest({ method: 'REGISTER', uri: `sip:${REALM}`, from: `sip:alice@${REALM}`, to: `sip:alice@${REALM}`, contact: 'sip:alice@127.0.0.1;transport=tls' });
    const res = await ue.sendRequest(req, { transport: 'TLS', host: '127.0.0.1', port, servername: `registrar.${REALM}` });
    assert.equal(res.status, 200);
    assert.match(res.headers.get('Via') ?? '', /^SIP\/2\.0\/TLS /);
    assert.deepEqual(flows.at(-1), { authorized: true, cn: `mms.${REALM}` });
    await ue.stop();
  });

  test('a name the certificate does not carry fails the handshake: TRANSPORT_ERROR', async (t) => {
    const ue = new SipStack({ tlsClient: tlsClientOptions(registrar.ca) });
    t.after(() => ue.stop());
    await ue.start();
    const req = createRequest({ method: 'OPTIONS', uri: `sip:${REALM}`, from: `sip:a@${REALM}`, to: `sip:${REALM}` });
    await assert.rejects(ue.sendRequest(req, { transport: 'TLS', host: '127.0.0.1', port, servername: 'registrar.elsewhere.example' }),
      (e: unknown) => e instanceof SipError && e.code === 'TRANSPORT_ERROR' && /altnames|Hostname/i.test(e.message));
    await ue.stop();
  });

  test('raw bytes over TLS without a client certificate: answered, flow marked unauthorized', async () => {
    const sock = tlsConnect({ host: '127.0.0.1', port, ca: registrar.ca, servername: 'localhost' });
    sock.unref();
    await new Promise<void>((r, j) => {
      sock.once('secureConnect', () => r());
      sock.once('error', j);
    });
    const framer = new StreamFramer();
    const got: string[] = [];
    sock.on('data', (d: Buffer) => got.push(...framer.push(d).messages.map((m) => m.toString())));
    sock.write(rawRequest({ transport: 'TLS', branch: 'z9hG4bK-tls-raw' }));
    await until(() => got.length > 0, 'the response over TLS', 2000);
    assert.equal(statusLine(got[0] ?? ''), 'SIP/2.0 200 OK');
    assert.equal(flows.at(-1)?.authorized, false);
    sock.destroy();
  });
});
