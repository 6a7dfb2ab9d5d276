/**
 * DESIGN §2.7, the generic admission rules of lib/diameter (admission.ts), on real sockets with the project PKI:
 *
 * - CER: the certificate's `mcx://<realm>/<role>` identity is the peer's; Origin-Realm must be its realm, Origin-Host
 *   one of its DNS names; a leaf whose realm its CA does not vouch for, or without the URI, has no identity; a peer of
 *   another realm must hold an allowed foreign role (default mms). Refusal: CEA 3010 DIAMETER_UNKNOWN_PEER with the E
 *   bit and an Error-Message, a warn line with remote address, subject and reason, connection closed.
 * - CEA: the initiator applies the realm rule to the server's certificate too (not the role rule).
 * - Each request: without Route-Record its Origin-Host/Origin-Realm are the peer's own; Route-Record only from a peer
 *   of the node's realm. Refusal: 5012 with an Error-Message, never handled, never relayed. Plain TCP: the CER values
 *   stand and the same request rules apply.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LEAF_KEY_BITS, LEAF_VALIDITY_YEARS, generateRsaKey, loadRootCa, newCertificate, signLeaf, subjectOf } from '../../certs/ca.ts';
import { initPki, issueTlsCert } from '../../certs/issue.ts';
import { caPaths, loadTlsMaterial, type TlsMaterial } from '../../certs/layout.ts';
import { ApplicationId, ResultCode } from '../../lib/diameter/constants.ts';
import type { DiameterMessage } from '../../lib/diameter/codec.ts';
import { CxCommand, buildMaa, buildMar, readMaa } from '../../lib/diameter/cx/index.ts';
import { buildAvp, getValue } from '../../lib/diameter/message.ts';
import { CX_APPLICATION, type HandlerContext } from '../../lib/diameter/node.ts';
import { Nodes, RawPeer, captureLogs, rawCaps, sleep } from './harness.ts';

const PRIMARY = 'primary.example';
const PARTNER = 'partner.example';
const nodes = new Nodes();
let root: string;
let dir: string;
const m: Record<string, TlsMaterial> = {};

before(async () => {
  root = await mkdtemp(join(tmpdir(), 'mcx-admission-'));
  dir = join(root, 'pki');
  await initPki({ dir, systems: [{ name: 'primary', realm: PRIMARY }, { name: 'partner', realm: PARTNER }] });
  m.relay = await loadTlsMaterial(dir, 'primary', 'relay', ['partner']);
  m.hss = await loadTlsMaterial(dir, 'primary', 'hss');
  m.primaryMms = await loadTlsMaterial(dir, 'primary', 'mms');
  m.primaryRegistrar = await loadTlsMaterial(dir, 'primary', 'registrar');
  m.partnerMms = await loadTlsMaterial(dir, 'partner', 'mms', ['primary']);
  m.partnerRegistrar = await loadTlsMaterial(dir, 'partner', 'registrar', ['primary']);
});
after(async () => {
  await nodes.closeAll();
  await rm(root, { recursive: true, force: true });
});

/** A primary-system node that answers MARs itself and records who sent them. */
async function primaryNode(name: string, material: TlsMaterial | undefined, o: { foreignRoles?: string[]; logs?: ReturnType<typeof captureLogs> } = {}) {
  const seen: Array<{ peer: HandlerContext['peer']; req: DiameterMessage }> = [];
  const node = nodes.make({
    originHost: name, originRealm: PRIMARY, applications: [CX_APPLICATION], logger: (o.logs ?? captureLogs()).logger,
    ...(o.foreignRoles ? { foreignRoles: o.foreignRoles } : {}),
  });
  node.handle(ApplicationId.CX, CxCommand.MAR, (req, ctx) => {
    seen.push({ peer: ctx.peer, req });
    return buildMaa(req, { originHost: name, originRealm: PRIMARY, result: { resultCode: ResultCode.SUCCESS } });
  });
  const { port } = await node.listen({ host: '127.0.0.1', port: 0, ...(material ? { tls: material } : {}) });
  return { node, port, seen };
}

let sessions = 0;
function mar(host: string, realm: string, recorded: string[] = []): DiameterMessage {
  const msg = buildMar({
    sessionId: `${host};1;${++sessions}`, originHost: host, originRealm: realm, destinationRealm: PRIMARY, userName: `alice@${PRIMARY}`,
    publicIdentity: `sip:alice@${PRIMARY}`, serverName: `sip:registrar.${PARTNER}`, numberAuthItems: 1, scheme: 'Digest-AKAv1-MD5',
    hopByHop: 0x100 + sessions, endToEnd: 0x200 + sessions,
  });
  for (const r of recorded) msg.avps.push(buildAvp(['Route-Record', r]));
  return msg;
}

async function exchange(peer: RawPeer, msg: DiameterMessage): Promise<DiameterMessage> {
  peer.send(msg);
  return peer.next((a) => !a.flags.request && a.hopByHop === msg.hopByHop);
}

/** CER over TLS with `material`, claiming `host`/`realm`; the CEA and what happened to the connection. */
async function cer(port: number, material: { cert: string; key: string; ca: string[] }, host: string, realm: string): Promise<{ cea: DiameterMessage; peer: RawPeer }> {
  const peer = await RawPeer.connectTls(port, material, rawCaps(host, realm));
  return { cea: await peer.handshake(), peer };
}

function assertRefused(cea: DiameterMessage, reason: RegExp): void {
  assert.equal(getValue(cea, 'Result-Code'), ResultCode.UNKNOWN_PEER);
  assert.equal(cea.flags.error, true, 'a 3xxx CEA carries the E bit (RFC 6733 §7.1.3)');
  assert.match(getValue(cea, 'Error-Message') ?? '', reason);
}

describe('design §2.7 CER: the certificate says who the peer is', () => {
  test('Origin-Realm other than the certificate\'s realm → CEA 3010, warn line with remote, subject and reason, closed', async () => {
    const logs = captureLogs();
    const { port } = await primaryNode(`relay.${PRIMARY}`, m.relay, { logs });
    const { cea, peer } = await cer(port, m.partnerMms as TlsMaterial, `mms.${PARTNER}`, PRIMARY);
    assertRefused(cea, /Origin-Realm primary\.example is not the certificate's realm partner\.example/);
    await peer.closedWithin();
    const line = logs.lines().find((l) => l.resultCode === ResultCode.UNKNOWN_PEER);
    assert.ok(line, logs.text());
    assert.equal(line.level, 40);
    assert.match(String(line.remote), /^127\.0\.0\.1:\d+$/);
    assert.equal(line.subject, `CN=mms.${PARTNER}, OU=mms, O=mcx-migrate partner MC system`);
    assert.match(String(line.msg), /^CER from mms\.partner\.example refused: TLS identity mismatch: Origin-Realm primary\.example/);
    // Positive control: the same certificate with its own realm opens.
    const honest = await cer(port, m.partnerMms as TlsMaterial, `mms.${PARTNER}`, PARTNER);
    assert.equal(getValue(honest.cea, 'Result-Code'), ResultCode.SUCCESS);
    honest.peer.destroy();
  });

  test('a leaf of a realm its CA does not vouch for (the partner CA minting a primary-realm MMS) has no identity → 3010', async () => {
    const { port } = await primaryNode(`relay.${PRIMARY}`, m.relay);
    const partnerCa = loadRootCa(await readFile(caPaths(dir, 'partner').cert, 'utf8'), await readFile(caPaths(dir, 'partner').key, 'utf8'));
    const forged = issueTlsCert(partnerCa, 'partner', PRIMARY, 'mms', await generateRsaKey(LEAF_KEY_BITS), new Date(), `mms.${PRIMARY}`);
    const { cea, peer } = await cer(port, { cert: forged.certPem, key: forged.key.privateKeyPem, ca: m.partnerMms?.ca ?? [] }, `mms.${PRIMARY}`, PRIMARY);
    assertRefused(cea, /names realm primary\.example but its CA vouches for partner\.example/);
    await peer.closedWithin();
  });

  test('a certificate without the mcx:// identity URI → 3010 saying so', async () => {
    const { port } = await primaryNode(`relay.${PRIMARY}`, m.relay);
    const partnerCa = loadRootCa(await readFile(caPaths(dir, 'partner').cert, 'utf8'), await readFile(caPaths(dir, 'partner').key, 'utf8'));
    const key = await generateRsaKey(LEAF_KEY_BITS);
    const cert = newCertificate(key.publicKey, new Date(), LEAF_VALIDITY_YEARS);
    cert.setSubject(subjectOf(`mms.${PARTNER}`, 'partner'));
    const pem = signLeaf(partnerCa, cert, [
      { name: 'keyUsage', digitalSignature: true, keyEncipherment: true, critical: true }, { name: 'extKeyUsage', serverAuth: true, clientAuth: true },
      { name: 'subjectAltName', altNames: [{ type: 2, value: `mms.${PARTNER}` }] },
    ]);
    const { cea } = await cer(port, { cert: pem, key: key.privateKeyPem, ca: m.partnerMms?.ca ?? [] }, `mms.${PARTNER}`, PARTNER);
    assertRefused(cea, /carries no mcx:\/\/ identity URI .*mcx certs init --force/);
  });

  test('across realms only an allowed foreign role: partner registrar → 3010, partner MMS → 2001; foreignRoles widens it; own realm: any role', async () => {
    const { port } = await primaryNode(`relay.${PRIMARY}`, m.relay);
    const registrar = await cer(port, m.partnerRegistrar as TlsMaterial, `registrar.${PARTNER}`, PARTNER);
    assertRefused(registrar.cea, /a peer of realm partner\.example may act here only as mms; its certificate is for role registrar/);
    const mms = await cer(port, m.partnerMms as TlsMaterial, `mms.${PARTNER}`, PARTNER);
    assert.equal(getValue(mms.cea, 'Result-Code'), ResultCode.SUCCESS);
    mms.peer.destroy();
    const own = await cer(port, { ...(m.primaryRegistrar as TlsMaterial), ca: m.relay?.ca ?? [] }, `registrar.${PRIMARY}`, PRIMARY);
    assert.equal(getValue(own.cea, 'Result-Code'), ResultCode.SUCCESS, 'a peer of the own realm may hold any role');
    own.peer.destroy();
    const wide = await primaryNode(`relay2.${PRIMARY}`, m.relay, { foreignRoles: ['mms', 'registrar'] });
    const admitted = await cer(wide.port, m.partnerRegistrar as TlsMaterial, `registrar.${PARTNER}`, PARTNER);
    assert.equal(getValue(admitted.cea, 'Result-Code'), ResultCode.SUCCESS);
    admitted.peer.destroy();
  });

  test('CEA: the initiator refuses a server whose Origin-Realm is not its certificate\'s realm (no role rule on this side)', async () => {
    // A server with the primary HSS certificate that claims the partner realm.
    const liar = nodes.make({ originHost: `hss.${PRIMARY}`, originRealm: PARTNER, applications: [CX_APPLICATION], foreignRoles: ['mms', 'hss'] });
    const { port } = await liar.listen({ host: '127.0.0.1', port: 0, tls: { ...(m.hss as TlsMaterial) } });
    const logs = captureLogs();
    const client = nodes.make({ originHost: `mms.${PRIMARY}`, originRealm: PRIMARY, applications: [CX_APPLICATION], logger: logs.logger, reconnect: { initialMs: 5000, maxMs: 5000 } });
    client.addPeer({ host: '127.0.0.1', port, originHost: `hss.${PRIMARY}`, tls: m.primaryMms as TlsMaterial });
    await assert.rejects(client.waitForPeer({}, 800));
    await sleep(20);
    assert.ok(logs.lines().some((l) => /refused: TLS identity mismatch: Origin-Realm partner\.example is not the certificate's realm primary\.example/.test(String(l.msg))), logs.text());
    // Positive control: the partner MMS connecting to the honest primary relay (a foreign hss server would be fine too).
    const { port: relayPort } = await primaryNode(`relay.${PRIMARY}`, m.relay);
    const partner = nodes.make({ originHost: `mms.${PARTNER}`, originRealm: PARTNER, applications: [CX_APPLICATION] });
    partner.addPeer({ host: '127.0.0.1', port: relayPort, originHost: `relay.${PRIMARY}`, tls: m.partnerMms as TlsMaterial });
    await partner.waitForPeer({ originHost: `relay.${PRIMARY}` }, 5000);
  });
});

describe('design §2.7 each request: the peer\'s own, or relayed by an agent of this system', () => {
  let node: Awaited<ReturnType<typeof primaryNode>>;
  let partner: RawPeer;
  before(async () => {
    node = await primaryNode(`relay.${PRIMARY}`, m.relay);
    partner = (await cer(node.port, m.partnerMms as TlsMaterial, `mms.${PARTNER}`, PARTNER)).peer;
  });
  after(() => partner.destroy());

  test('another Origin-Host or Origin-Realm than in the CER → 5012 with an Error-Message, not handled; its own → 2001', async () => {
    const before = node.seen.length;
    for (const [host, realm, why] of [
      [`registrar.${PARTNER}`, PARTNER, /Origin-Host registrar\.partner\.example is not the peer's own \(mms\.partner\.example, from its CER\)/],
      [`mms.${PARTNER}`, PRIMARY, /Origin-Realm primary\.example is not the peer's own \(partner\.example, from its CER\)/],
      [`mms.${PRIMARY}`, PRIMARY, /Origin-Host mms\.primary\.example is not the peer's own/],
    ] as const) {
      const a = await exchange(partner, mar(host, realm));
      assert.equal(getValue(a, 'Result-Code'), ResultCode.UNABLE_TO_COMPLY);
      assert.match(getValue(a, 'Error-Message') ?? '', why);
      assert.equal(getValue(a, 'Origin-Host'), `relay.${PRIMARY}`);
    }
    assert.equal(node.seen.length, before, 'no refused request reached the handler');
    const ok = await exchange(partner, mar(`mms.${PARTNER}`, PARTNER));
    assert.equal(getValue(ok, 'Result-Code'), ResultCode.SUCCESS);
    assert.deepEqual(node.seen.map((s) => [s.peer.originHost, s.peer.originRealm, s.peer.role, s.peer.certified]).at(-1), [`mms.${PARTNER}`, PARTNER, 'mms', true]);
  });

  test('Route-Record from a peer of another realm → 5012, not handled; from a peer of the own realm → handled', async () => {
    const before = node.seen.length;
    const spoof = await exchange(partner, mar(`mms.${PARTNER}`, PARTNER, [`mms.${PRIMARY}`]));
    assert.equal(getValue(spoof, 'Result-Code'), ResultCode.UNABLE_TO_COMPLY);
    assert.match(getValue(spoof, 'Error-Message') ?? '', /peer mms\.partner\.example of realm partner\.example may not relay into realm primary\.example/);
    assert.equal(node.seen.length, before);
    const inside = (await cer(node.port, { ...(m.primaryMms as TlsMaterial), ca: m.relay?.ca ?? [] }, `mms.${PRIMARY}`, PRIMARY)).peer;
    try {
      const relayed = await exchange(inside, mar(`mms.${PARTNER}`, PARTNER, [`mms.${PARTNER}`]));
      assert.equal(getValue(relayed, 'Result-Code'), ResultCode.SUCCESS);
      assert.equal(node.seen.length, before + 1);
    } finally {
      inside.destroy();
    }
  });

  test('a relay agent never forwards a refused request (Route-Record spoof from another realm)', async () => {
    const hss = await primaryNode(`hss.${PRIMARY}`, undefined);
    const relay = nodes.make({ originHost: `relay9.${PRIMARY}`, originRealm: PRIMARY, relay: true });
    const { port } = await relay.listen({ host: '127.0.0.1', port: 0, tls: m.relay as TlsMaterial });
    relay.addPeer({ host: '127.0.0.1', port: hss.port, originHost: `hss.${PRIMARY}` });
    await relay.waitForPeer({ originHost: `hss.${PRIMARY}` });
    const p = (await cer(port, m.partnerMms as TlsMaterial, `mms.${PARTNER}`, PARTNER)).peer;
    try {
      const refused = await exchange(p, mar(`mms.${PARTNER}`, PARTNER, [`mms.${PRIMARY}`]));
      assert.equal(getValue(refused, 'Result-Code'), ResultCode.UNABLE_TO_COMPLY);
      assert.equal(hss.seen.length, 0, 'nothing reached the HSS');
      const fine = await exchange(p, mar(`mms.${PARTNER}`, PARTNER));
      assert.equal(getValue(fine, 'Result-Code'), ResultCode.SUCCESS);
      assert.deepEqual(hss.seen.map((s) => s.peer.originHost), [`relay9.${PRIMARY}`]);
    } finally {
      p.destroy();
    }
  });

  test('plain TCP: the CER values stand (no role, not certified) and the same request rules apply', async () => {
    const tcp = await primaryNode(`hss.${PRIMARY}`, undefined);
    const p = await RawPeer.connect(tcp.port, rawCaps(`relay.${PRIMARY}`, PRIMARY));
    try {
      assert.equal(getValue(await p.handshake(), 'Result-Code'), ResultCode.SUCCESS);
      const wrong = await exchange(p, mar(`mms.${PARTNER}`, PARTNER));
      assert.equal(getValue(wrong, 'Result-Code'), ResultCode.UNABLE_TO_COMPLY);
      const relayed = readMaa(await exchange(p, mar(`mms.${PARTNER}`, PARTNER, [`mms.${PARTNER}`])));
      assert.equal(relayed.result.resultCode, ResultCode.SUCCESS);
      assert.deepEqual(tcp.seen.map((s) => [s.peer.originHost, s.peer.role, s.peer.certified]), [[`relay.${PRIMARY}`, undefined, false]]);
    } finally {
      p.destroy();
    }
  });
});
