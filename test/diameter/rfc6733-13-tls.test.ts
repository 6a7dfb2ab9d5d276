/**
 * RFC 6733 §13 / §13.1: TLS from the first byte with mutual authentication, using the project PKI (`initPki`). A
 * good pair opens and carries a MAR; a client certified by the other system's CA is refused and the log says who and
 * why; a server whose certificate does not carry the expected host name is refused by the client; an Origin-Host
 * that is not the certificate's name is refused after CER (3010) and after CEA.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { initPki } from '../../certs/issue.ts';
import { loadTlsMaterial } from '../../certs/layout.ts';
import type { TlsMaterial } from '../../certs/layout.ts';
import { ApplicationId, ResultCode } from '../../lib/diameter/constants.ts';
import { CX_APPLICATION } from '../../lib/diameter/node.ts';
import type { DiameterNode } from '../../lib/diameter/node.ts';
import { CxCommand, buildMaa, buildMar, readMaa } from '../../lib/diameter/cx/index.ts';
import { Nodes, captureLogs, sleep } from './harness.ts';
import { MAR_INPUT } from './fixtures.ts';

const nodes = new Nodes();
let root: string;
let dir: string;
const m: Record<string, TlsMaterial> = {};

before(async () => {
  root = await mkdtemp(join(tmpdir(), 'mcx-diameter-tls-'));
  dir = join(root, 'pki');
  await initPki({ dir, systems: [{ name: 'primary', realm: 'primary.example' }, { name: 'partner', realm: 'partner.example' }] });
  m.hss = await loadTlsMaterial(dir, 'primary', 'hss');
  m.mms = await loadTlsMaterial(dir, 'primary', 'mms');
  m.relay = await loadTlsMaterial(dir, 'primary', 'relay', ['partner']);
  m.partnerMms = await loadTlsMaterial(dir, 'partner', 'mms', ['primary']);
  m.partnerRegistrar = await loadTlsMaterial(dir, 'partner', 'registrar', ['primary']);
});
after(async () => {
  await nodes.closeAll();
  await rm(root, { recursive: true, force: true });
});

const tls = (x: TlsMaterial | undefined): { cert: string; key: string; ca: string[] } => ({ cert: x?.cert ?? '', key: x?.key ?? '', ca: x?.ca ?? [] });
const { hopByHop: _h, endToEnd: _e, destinationHost: _d, ...MAR } = MAR_INPUT;

async function server(name: string, material: TlsMaterial | undefined, logger = captureLogs().logger): Promise<{ node: DiameterNode; port: number }> {
  const node = nodes.make({ originHost: name, originRealm: 'primary.example', applications: [CX_APPLICATION], logger });
  node.handle(ApplicationId.CX, CxCommand.MAR, (req) => buildMaa(req, { originHost: name, originRealm: 'primary.example', result: { resultCode: ResultCode.SUCCESS } }));
  const { port } = await node.listen({ host: '127.0.0.1', port: 0, tls: tls(material) });
  return { node, port };
}

function client(name: string, realm: string, logger = captureLogs().logger): DiameterNode {
  return nodes.make({ originHost: name, originRealm: realm, applications: [CX_APPLICATION], logger, reconnect: { initialMs: 2000, maxMs: 2000 } });
}

test('mutual TLS within one system: opens, carries a MAR', async () => {
  const { port } = await server('hss.primary.example', m.hss);
  const c = client('mms.primary.example', 'primary.example');
  c.addPeer({ host: '127.0.0.1', port, originHost: 'hss.primary.example', tls: tls(m.mms) });
  await c.waitForPeer({ originHost: 'hss.primary.example' }, 5000);
  // The MAR is the client's own: a request naming another Origin-Host is refused (design-2.7-peer-admission).
  const maa = readMaa(await c.request(buildMar({ ...MAR, originHost: 'mms.primary.example', originRealm: 'primary.example', sessionId: c.nextSessionId() })));
  assert.equal(maa.result.resultCode, ResultCode.SUCCESS);
});

test('across systems when the server trusts the partner CA (primary relay ← partner MMS)', async () => {
  const { port } = await server('relay.primary.example', m.relay);
  const c = client('mms.partner.example', 'partner.example');
  c.addPeer({ host: '127.0.0.1', port, originHost: 'relay.primary.example', tls: tls(m.partnerMms) });
  await c.waitForPeer({ originHost: 'relay.primary.example' }, 5000);
});

test('a client certified by the other system’s CA is refused, and the log says who and why', async () => {
  const serverLogs = captureLogs();
  const { port } = await server('hss.primary.example', m.hss, serverLogs.logger);
  const c = client('registrar.partner.example', 'partner.example');
  c.addPeer({ host: '127.0.0.1', port, originHost: 'hss.primary.example', tls: tls(m.partnerRegistrar) });
  await assert.rejects(c.waitForPeer({}, 800));
  const refusal = serverLogs.lines().find((l) => typeof l.msg === 'string' && l.msg.includes('refused'));
  assert.ok(refusal, serverLogs.text());
  assert.equal(refusal.level, 40);
  assert.match(String(refusal.msg), /^TLS client 127\.0\.0\.1:\d+ refused: certificate not trusted \((SELF_SIGNED_CERT_IN_CHAIN|UNABLE_TO_GET_ISSUER_CERT_LOCALLY)\)$/);
  assert.equal(refusal.subject, 'registrar.partner.example');
  assert.equal(refusal.issuer, 'partner.example MC root CA');
  assert.equal(c.peers().filter((p) => p.state === 'open').length, 0);
});

test('a server whose certificate does not name the expected host is refused by the client', async () => {
  const { port } = await server('hss.primary.example', m.hss);
  const clientLogs = captureLogs();
  const c = client('mms.primary.example', 'primary.example', clientLogs.logger);
  c.addPeer({ host: '127.0.0.1', port, originHost: 'relay.primary.example', tls: tls(m.mms) });
  await assert.rejects(c.waitForPeer({}, 800));
  const line = clientLogs.lines().find((l) => l.reason === 'ERR_TLS_CERT_ALTNAME_INVALID');
  assert.ok(line, clientLogs.text());
  assert.match(String(line.msg), /^TLS server 127\.0\.0\.1:\d+ refused: ERR_TLS_CERT_ALTNAME_INVALID \(expected relay\.primary\.example\)$/);
});

test('CER whose Origin-Host is not the client certificate’s name → CEA 3010 and close', async () => {
  const serverLogs = captureLogs();
  const { port } = await server('hss.primary.example', m.hss, serverLogs.logger);
  const clientLogs = captureLogs();
  const c = client('hss2.primary.example', 'primary.example', clientLogs.logger); // holds the mms certificate
  c.addPeer({ host: '127.0.0.1', port, originHost: 'hss.primary.example', tls: tls(m.mms) });
  await assert.rejects(c.waitForPeer({}, 800));
  const s = serverLogs.lines().find((l) => l.resultCode === ResultCode.UNKNOWN_PEER);
  assert.ok(s, serverLogs.text());
  assert.match(String(s.msg), /CER from hss2\.primary\.example refused: TLS identity mismatch: Origin-Host hss2\.primary\.example is not among the certificate's DNS names \[mms\.primary\.example, localhost\]/);
  assert.ok(clientLogs.lines().some((l) => /CEA Result-Code 3010/.test(String(l.reason))), clientLogs.text());
});

test('CEA whose Origin-Host is not the server certificate’s name → the initiator closes', async () => {
  const { port } = await server('relay.primary.example', m.hss); // relay identity, hss certificate
  const clientLogs = captureLogs();
  const c = client('mms.primary.example', 'primary.example', clientLogs.logger);
  c.addPeer({ host: '127.0.0.1', port, originHost: 'relay.primary.example', tls: { ...tls(m.mms), servername: 'hss.primary.example' } });
  await assert.rejects(c.waitForPeer({}, 800));
  await sleep(20);
  assert.ok(clientLogs.lines().some((l) => /TLS identity mismatch: Origin-Host relay\.primary\.example/.test(String(l.msg))), clientLogs.text());
});
