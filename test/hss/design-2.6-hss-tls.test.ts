/**
 * DESIGN §2.2/§2.6: the HSS with certificates from `certs/` — Diameter over mutual TLS (a peer with a certificate of
 * the primary CA gets an MAA; a peer of another system's CA is refused) and the admin API over HTTPS.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { initPki } from '../../certs/issue.ts';
import { certPaths, loadTlsMaterial } from '../../certs/layout.ts';
import { buildMar, readMaa } from '../../lib/diameter/cx/index.ts';
import { CX_APPLICATION, DiameterNode } from '../../lib/diameter/node.ts';
import { adminApi } from '../../lib/admin/hss-api.ts';
import { startMcx, type Proc } from '../helpers/process.ts';
import { ALICE, K, OPC } from './helpers.ts';

const REALM = 'primary.example';

const mcx = (args: string[]): Proc => startMcx(args);

describe('design §2.6 HSS over mutual TLS with the certs/ PKI', () => {
  let dir: string;
  let hss: Proc;
  let url: { host: string; port: number };
  let adminUrl: string;
  const clients: DiameterNode[] = [];

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'mcx-hss-tls-'));
    await initPki({ dir: join(dir, 'pki'), systems: [{ name: 'primary', realm: REALM }, { name: 'partner', realm: 'partner.example' }] });
    await writeFile(join(dir, 'subs.csv'), `impi,impus,k,opc,allowed_partners\n${ALICE.impi},${ALICE.impus[0]},${K},${OPC},partner.example\n`);
    const p = certPaths(join(dir, 'pki'), 'primary', 'hss');
    hss = mcx(['hss', '--listen', '127.0.0.1:0', '--origin-host', `hss.${REALM}`, '--realm', REALM, '--state-dir', join(dir, 'state'),
      '--admin', '127.0.0.1:0', '--subscribers', join(dir, 'subs.csv'), '--tls-cert', p.cert, '--tls-key', p.key, '--tls-ca', p.ca]);
    const m = await hss.waitFor(/hss: listening diameter=tls:\/\/([\d.]+):(\d+) admin=(https:\/\/\S+)/, 30000);
    url = { host: m[1] as string, port: Number(m[2]) };
    adminUrl = m[3] as string;
  });
  after(async () => {
    for (const c of clients) await c.close();
    await hss?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  async function client(system: string, realm: string): Promise<DiameterNode> {
    const tls = await loadTlsMaterial(join(dir, 'pki'), system, 'relay', system === 'primary' ? [] : ['primary']);
    const c = new DiameterNode({ originHost: `relay.${realm}`, originRealm: realm, applications: [CX_APPLICATION] });
    clients.push(c);
    c.addPeer({ ...url, originHost: `hss.${REALM}`, tls });
    return c;
  }

  test('a primary-CA peer: CER/CEA over TLS, then MAR → MAA 2001', async () => {
    const c = await client('primary', REALM);
    await c.waitForPeer({ originHost: `hss.${REALM}` }, 10000);
    const maa = readMaa(await c.request(buildMar({
      sessionId: `relay.${REALM};1;1`, originHost: `relay.${REALM}`, originRealm: REALM, destinationRealm: REALM,
      userName: ALICE.impi, publicIdentity: ALICE.impus[0] as string, serverName: 'sip:scscf.primary.example', numberAuthItems: 1,
      scheme: 'Digest-AKAv1-MD5',
    }), { timeoutMs: 3000 }));
    assert.deepEqual(maa.result, { resultCode: 2001 });
    assert.equal(maa.items.length, 1);
  });

  test('a peer whose certificate the HSS does not trust (partner CA) never gets an open connection', async () => {
    const c = await client('partner', 'partner.example');
    await assert.rejects(c.waitForPeer({ originHost: `hss.${REALM}` }, 2000));
  });

  test('the admin API is served over HTTPS with the same certificate', async () => {
    assert.match(adminUrl, /^https:/);
    const token = (await readFile(join(dir, 'state', 'admin-token'), 'utf8')).trim();
    const ca = [await readFile(certPaths(join(dir, 'pki'), 'primary', 'hss').ca, 'utf8')];
    const { subscribers } = await adminApi.list({ url: adminUrl, token, ca });
    assert.deepEqual(subscribers.map((s) => s.impi), [ALICE.impi]);
  });
});
