/**
 * lib/http, the one HTTP(S) client, against real local servers (node:https / node:http / node:net on loopback, the
 * test PKI of certs/): JSON both ways with a bearer token; a non-2xx JSON error body becomes ERR_HTTP_STATUS with
 * `error`, `error_description` and the whole body; a non-JSON answer ERR_HTTP_BAD_JSON; the overall deadline holds
 * against a server trickling bytes; the connect timeout against a server that never finishes the TLS handshake;
 * answers over the size limit are refused (declared or chunked); mutual TLS is accepted with the partner CA's
 * certificate and refused with a certificate of another CA, or none; a server certificate of a CA not trusted is
 * refused before any request reaches it; a closed port is ERR_HTTP_UNREACHABLE; an abort is ERR_HTTP_ABORTED;
 * `httpsOnly` refuses http: without connecting.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { createServer as createHttpServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { createServer, type Server } from 'node:https';
import { createServer as createNetServer, type Server as NetServer, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';
import type { TLSSocket } from 'node:tls';
import { certPaths } from '../../certs/layout.ts';
import { HttpError, type HttpErrorCode } from '../../lib/http/errors.ts';
import { requestJson } from '../../lib/http/json.ts';
import { DEFAULT_MAX_BODY_BYTES, httpRequest } from '../../lib/http/request.ts';
import { makePki, type TestPki } from '../idms/helpers.ts';
import { freePort } from '../helpers/ports.ts';

type Handler = (req: IncomingMessage & { bodyText: string }, res: ServerResponse) => void;

interface Running {
  url: string;
  /** Requests that reached HTTP (past any TLS handshake). */
  requests: string[];
  close(): Promise<void>;
}

const port = (s: Server | NetServer | ReturnType<typeof createHttpServer>): number => (s.address() as AddressInfo).port;

function closer(s: Server | ReturnType<typeof createHttpServer>): () => Promise<void> {
  return () => new Promise((resolve) => {
    s.closeAllConnections();
    s.close(() => resolve());
  });
}

function listen<S extends Server | NetServer | ReturnType<typeof createHttpServer>>(s: S): Promise<S> {
  return new Promise((resolve) => s.listen(0, '127.0.0.1', () => resolve(s)));
}

function withBody(requests: string[], handle: Handler) {
  return (req: IncomingMessage, res: ServerResponse): void => {
    requests.push(`${req.method} ${req.url}`);
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => handle(Object.assign(req, { bodyText: Buffer.concat(chunks).toString('utf8') }), res));
  };
}

function httpError(code: HttpErrorCode, check: (e: HttpError) => void = () => undefined): (e: unknown) => boolean {
  return (e) => {
    assert.ok(e instanceof HttpError, String(e));
    assert.equal(e.code, code, e.message);
    check(e);
    return true;
  };
}

describe('lib/http client', () => {
  let pki: TestPki;
  const open: Array<() => Promise<void>> = [];
  let tls: { primary: { cert: string; key: string }; partner: { cert: string; key: string } };

  before(async () => {
    pki = await makePki();
    const read = async (system: 'primary' | 'partner') => {
      const p = certPaths(pki.dir, system, 'mms');
      return { cert: await readFile(p.cert, 'utf8'), key: await readFile(p.key, 'utf8') };
    };
    tls = { primary: await read('primary'), partner: await read('partner') };
  });
  after(async () => {
    await Promise.all(open.map((c) => c()));
    await pki?.remove();
  });

  /** An HTTPS server with the primary MMS certificate; `clientCa`: mutual TLS, a client certificate of it required. */
  async function https(handle: Handler, clientCa?: string): Promise<Running> {
    const requests: string[] = [];
    const s = await listen(createServer({
      ...tls.primary, minVersion: 'TLSv1.2', ...(clientCa ? { ca: clientCa, requestCert: true, rejectUnauthorized: true } : {}),
    }, withBody(requests, handle)));
    open.push(closer(s));
    return { url: `https://127.0.0.1:${port(s)}`, requests, close: closer(s) };
  }

  test('JSON both ways: the body, the bearer token and accept are sent; a 2xx answer is parsed', async () => {
    const srv = await https((req, res) => {
      res.writeHead(201, { 'content-type': 'application/json' }).end(JSON.stringify({
        auth: req.headers.authorization, type: req.headers['content-type'], accept: req.headers.accept, got: JSON.parse(req.bodyText) as unknown,
      }));
    });
    const r = await requestJson<Record<string, unknown>>(`${srv.url}/things?x=1`, { method: 'POST', json: { a: [1, 'b'] }, bearer: 'tok-123', tls: { ca: pki.ca.primary } });
    assert.equal(r.status, 201);
    assert.deepEqual(r.json, { auth: 'Bearer tok-123', type: 'application/json', accept: 'application/json', got: { a: [1, 'b'] } });
    assert.deepEqual(srv.requests, ['POST /things?x=1']);
  });

  test('an error answer is ERR_HTTP_STATUS with its status, error, error_description and whole JSON body', async () => {
    const srv = await https((_req, res) => {
      res.writeHead(400, { 'content-type': 'application/json' }).end(JSON.stringify({
        error: 'invalid_request', error_description: 'impi: is required', problems: [{ line: 3, message: 'x' }],
      }));
    });
    await assert.rejects(requestJson(`${srv.url}/admin/v1/subscribers?secret=1`, { method: 'POST', json: {}, tls: { ca: pki.ca.primary } }),
      httpError('ERR_HTTP_STATUS', (e) => {
        assert.equal(e.status, 400);
        assert.equal(e.error, 'invalid_request');
        assert.equal(e.errorDescription, 'impi: is required');
        assert.deepEqual(e.body?.problems, [{ line: 3, message: 'x' }]);
        assert.equal(e.message, `POST ${srv.url}/admin/v1/subscribers: HTTP 400 invalid_request (impi: is required)`, 'the query is not in the message');
      }));
    // 204: no body, no JSON needed.
    const empty = await https((_req, res) => res.writeHead(204).end());
    assert.deepEqual((await requestJson(empty.url, { method: 'DELETE', tls: { ca: pki.ca.primary } })).json, undefined);
  });

  test('an answer that is not JSON is ERR_HTTP_BAD_JSON, whatever its status', async () => {
    const srv = await https((req, res) => res.writeHead(req.url === '/ok' ? 200 : 502, { 'content-type': 'text/html' }).end('<html>proxy</html>'));
    for (const [path, status] of [['/ok', 200], ['/bad', 502]] as const) {
      await assert.rejects(requestJson(`${srv.url}${path}`, { tls: { ca: pki.ca.primary } }),
        httpError('ERR_HTTP_BAD_JSON', (e) => assert.equal(e.status, status)));
    }
  });

  test('the deadline is for the whole request: a server trickling a byte every 100 ms is cut off', async () => {
    const srv = await https((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      const t = setInterval(() => res.write(' '), 100);
      res.on('close', () => clearInterval(t));
    });
    const t0 = Date.now();
    await assert.rejects(httpRequest(`${srv.url}/slow`, { tls: { ca: pki.ca.primary }, timeoutMs: 600 }),
      httpError('ERR_HTTP_TIMEOUT', (e) => assert.equal(e.message, `GET ${srv.url}/slow: no complete answer within 0.6 s`)));
    const ms = Date.now() - t0;
    assert.ok(ms >= 550 && ms < 2000, `${ms} ms`);
  });

  test('the connect timeout: a server that accepts TCP but never finishes the TLS handshake', async () => {
    const sockets: Socket[] = [];
    const silent = await listen(createNetServer((s) => sockets.push(s)));
    open.push(() => new Promise((resolve) => {
      for (const s of sockets) s.destroy();
      silent.close(() => resolve());
    }));
    const t0 = Date.now();
    await assert.rejects(httpRequest(`https://127.0.0.1:${port(silent)}/`, { tls: { ca: pki.ca.primary }, connectTimeoutMs: 300, timeoutMs: 5000 }),
      httpError('ERR_HTTP_TIMEOUT', (e) => assert.match(e.message, /no connection within the connect timeout/)));
    const ms = Date.now() - t0;
    assert.ok(ms >= 250 && ms < 2000, `${ms} ms: the connect timeout, not the 5 s deadline`);
  });

  test(`answers over the size limit (default ${DEFAULT_MAX_BODY_BYTES} bytes) are refused, with or without content-length`, async () => {
    const big = Buffer.alloc(2 * DEFAULT_MAX_BODY_BYTES, 0x20);
    const srv = await https((req, res) => {
      if (req.url === '/declared') return res.writeHead(200, { 'content-length': big.length }).end(big);
      res.writeHead(200);
      // Chunked: no length to refuse up front, the limit is counted as it arrives.
      for (let i = 0; i < 4; i++) res.write(big.subarray(0, big.length / 4));
      res.end();
    });
    for (const path of ['/declared', '/chunked']) {
      await assert.rejects(httpRequest(`${srv.url}${path}`, { tls: { ca: pki.ca.primary } }),
        httpError('ERR_HTTP_TOO_LARGE', (e) => assert.match(e.message, new RegExp(`GET .*${path}: HTTP 200 body larger than ${DEFAULT_MAX_BODY_BYTES} bytes`))));
    }
    const small = await https((_req, res) => res.writeHead(200).end('x'.repeat(101)));
    await assert.rejects(httpRequest(small.url, { tls: { ca: pki.ca.primary }, maxBodyBytes: 100 }), httpError('ERR_HTTP_TOO_LARGE'));
    assert.equal((await httpRequest(small.url, { tls: { ca: pki.ca.primary }, maxBodyBytes: 101 })).body.length, 101, 'exactly the limit is fine');
  });

  test('mutual TLS: the partner CA\'s certificate is accepted; another CA\'s certificate, or none, is refused', async () => {
    const srv = await https((req, res) => {
      const peer = (req.socket as TLSSocket).getPeerCertificate();
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ cn: peer.subject?.CN }));
    }, pki.ca.partner);
    const ok = await requestJson<{ cn: string }>(srv.url, { tls: { ca: pki.ca.primary, ...tls.partner } });
    assert.equal(ok.json?.cn, 'mms.partner.example');
    await assert.rejects(requestJson(srv.url, { tls: { ca: pki.ca.primary, ...tls.primary } }),
      httpError('ERR_HTTP_TLS', (e) => assert.match(e.message, /refuses this client's certificate/)));
    // Without a certificate of its own the client cannot tell this close from any other: no answer, no request.
    await assert.rejects(requestJson(srv.url, { tls: { ca: pki.ca.primary } }), httpError('ERR_HTTP_UNREACHABLE'));
    assert.equal(srv.requests.length, 1, 'only the trusted client got a request through');
  });

  test('a server certificate of an untrusted CA is refused before any request reaches it (validation is always on)', async () => {
    const srv = await https((_req, res) => res.writeHead(200).end('{}'));
    await assert.rejects(requestJson(srv.url, { tls: { ca: pki.ca.partner } }),
      httpError('ERR_HTTP_TLS', (e) => assert.match(e.message, /certificate/i)));
    await assert.rejects(requestJson(srv.url), httpError('ERR_HTTP_TLS'), 'the system CAs do not vouch for the test PKI');
    assert.deepEqual(srv.requests, []);
  });

  test('a closed port is ERR_HTTP_UNREACHABLE naming the cause', async () => {
    const p = await freePort();
    await assert.rejects(httpRequest(`https://127.0.0.1:${p}/x`, { tls: { ca: pki.ca.primary } }),
      httpError('ERR_HTTP_UNREACHABLE', (e) => assert.match(e.message, new RegExp(`^GET https://127\\.0\\.0\\.1:${p}/x: .*ECONNREFUSED`))));
  });

  test('plain HTTP for loopback admin APIs; httpsOnly refuses it without connecting; an abort ends the request', async () => {
    const requests: string[] = [];
    const plain = await listen(createHttpServer(withBody(requests, (req, res) => {
      if (req.url === '/hang') return;
      res.writeHead(200, { 'content-type': 'text/csv', 'set-cookie': ['a=1', 'b=2'] }).end(req.bodyText);
    })));
    open.push(closer(plain));
    const url = `http://127.0.0.1:${port(plain)}`;
    const r = await httpRequest(`${url}/import`, { method: 'POST', text: { body: 'impi,impus\n', contentType: 'text/csv' } });
    assert.deepEqual([r.status, r.body, r.headers['set-cookie']], [200, 'impi,impus\n', ['a=1', 'b=2']]);
    await assert.rejects(httpRequest(`${url}/import`, { httpsOnly: true }), httpError('ERR_HTTP_URL'));
    await assert.rejects(httpRequest('ftp://127.0.0.1/x'), httpError('ERR_HTTP_URL'));
    const ac = new AbortController();
    setTimeout(() => ac.abort(), 200);
    const t0 = Date.now();
    await assert.rejects(httpRequest(`${url}/hang`, { signal: ac.signal }), httpError('ERR_HTTP_ABORTED'));
    assert.ok(Date.now() - t0 < 2000);
    assert.deepEqual(requests, ['POST /import', 'GET /hang'], 'httpsOnly sent nothing');
  });
});
