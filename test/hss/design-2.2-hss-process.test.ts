/**
 * DESIGN §2.2/§2.3 end to end: `mcx hss` as a real process (subscribers from CSV, memory store in a temp state
 * dir), a Diameter client built from lib/diameter connecting over TCP (CER/CEA), MAR → MAA with vectors the USIM
 * accepts, SAR → SAA with User-Data, an unknown user → Experimental 5001, the admin API and `mcx hss subscriber`
 * against the running process, and SIGTERM → DPR to the peer, exit 0.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Milenage, openAutn } from '../../lib/aka/index.ts';
import { buildMar, buildSar, readCxResult, readMaa, readSaa } from '../../lib/diameter/cx/index.ts';
import { CX_APPLICATION, DiameterNode } from '../../lib/diameter/node.ts';
import type { AdminTarget } from '../../lib/admin/client.ts';
import { adminApi } from '../../lib/admin/hss-api.ts';
import { startMcx, type Proc } from '../helpers/process.ts';
import { ALICE, K, OPC, REALM } from './helpers.ts';

const HSS_HOST = 'hss.primary.example';

const mcx = (args: string[]): Proc => startMcx(args);

describe('design §2.2 mcx hss as a process, Cx over TCP', () => {
  let dir: string;
  let hss: Proc;
  let client: DiameterNode;
  let admin: AdminTarget;
  let diameter: { host: string; port: number };
  const sessions = { n: 0 };
  const routing = () => ({
    sessionId: `scscf.partner.example;1;${++sessions.n}`, originHost: 'scscf.partner.example', originRealm: 'partner.example',
    destinationRealm: REALM,
  });

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'mcx-hss-proc-'));
    await writeFile(join(dir, 'subs.csv'), `impi,impus,k,opc,allowed_partners\n${ALICE.impi},${ALICE.impus.join(' ')},${K},${OPC},partner.example\n`);
    hss = mcx(['hss', '--listen', '127.0.0.1:0', '--origin-host', HSS_HOST, '--realm', REALM, '--subscribers', join(dir, 'subs.csv'),
      '--state-dir', join(dir, 'state'), '--admin', '127.0.0.1:0', '--rand-policy', 'sipp361']);
    const m = await hss.waitFor(/hss: listening diameter=tcp:\/\/([\d.]+):(\d+) admin=(http:\/\/\S+)/, 30000);
    diameter = { host: m[1] as string, port: Number(m[2]) };
    admin = { url: m[3] as string, token: (await readFile(join(dir, 'state', 'admin-token'), 'utf8')).trim() };
    client = new DiameterNode({ originHost: 'scscf.partner.example', originRealm: 'partner.example', applications: [CX_APPLICATION] });
    client.addPeer({ ...diameter, originHost: HSS_HOST });
    await client.waitForPeer({ originHost: HSS_HOST }, 10000);
  });
  after(async () => {
    await client?.close();
    await hss?.stop('SIGKILL');
    await rm(dir, { recursive: true, force: true });
  });

  test('MAR over TCP → MAA 2001 with 2 vectors that open with the subscriber key, RES without 0x00 (sipp361)', async () => {
    const answer = await client.request(buildMar({
      ...routing(), userName: ALICE.impi, publicIdentity: ALICE.impus[0] as string, serverName: 'sip:scscf.partner.example',
      numberAuthItems: 2, scheme: 'Digest-AKAv1-MD5',
    }), { timeoutMs: 3000 });
    const maa = readMaa(answer);
    assert.deepEqual(maa.result, { resultCode: 2001 });
    assert.equal(maa.items.length, 2);
    const usim = new Milenage(Buffer.from(K, 'hex'), Buffer.from(OPC, 'hex'));
    for (const item of maa.items) {
      const ra = item.authenticate as Buffer;
      assert.ok(openAutn(usim, ra.subarray(0, 16), ra.subarray(16)).macValid);
      assert.ok(!(item.authorization as Buffer).includes(0));
    }
  });

  test('unknown IMPI over TCP → Experimental-Result 5001 (vendor 10415)', async () => {
    const answer = await client.request(buildMar({
      ...routing(), userName: 'nobody@primary.example', publicIdentity: 'sip:nobody@primary.example', serverName: 'sip:scscf.partner.example',
      numberAuthItems: 1, scheme: 'Digest-AKAv1-MD5',
    }), { timeoutMs: 3000 });
    assert.deepEqual(readCxResult(answer), { experimentalResult: { vendorId: 10415, code: 5001 } });
  });

  test('SAR REGISTRATION over TCP → SAA 2001 with IMSSubscription User-Data', async () => {
    const saa = readSaa(await client.request(buildSar({
      ...routing(), userName: ALICE.impi, publicIdentities: [ALICE.impus[0] as string], serverName: 'sip:scscf.primary.example',
      serverAssignmentType: 1, userDataAlreadyAvailable: 0,
    }), { timeoutMs: 3000 }));
    assert.deepEqual(saa.result, { resultCode: 2001 });
    assert.match((saa.userData as Buffer).toString(), /<IMSSubscription[^>]*><PrivateID>alice@primary.example<\/PrivateID>/);
  });

  test('admin API of the process: stats count the vectors, listing shows no secret', async () => {
    const stats = await adminApi.stats(admin);
    assert.equal(stats.vectors_issued, 2);
    assert.equal(stats.rand_policy, 'sipp361');
    assert.equal(typeof stats.sipp361_redraws, 'number');
    const { subscribers } = await adminApi.list(admin);
    assert.deepEqual(subscribers.map((s) => s.impi), [ALICE.impi]);
    assert.ok(!JSON.stringify(subscribers).includes(K));
    await assert.rejects(adminApi.list({ ...admin, token: `${admin.token}x` }), (e: unknown) => (e as { status?: number }).status === 401);
  });

  test('mcx hss subscriber add / list through the admin API of the running process', async () => {
    const tokenFile = join(dir, 'state', 'admin-token');
    const add = mcx(['hss', 'subscriber', 'add', '--admin', admin.url, '--admin-token-file', tokenFile, '--impi', 'bob@primary.example',
      '--impu', 'sip:bob@primary.example', '--k', K, '--opc', OPC, '--amf', '8000']);
    assert.equal(await add.exited, 0, add.output());
    assert.match(add.output(), /"impi":"bob@primary.example".*"k_set":true/);
    const bad = mcx(['hss', 'subscriber', 'add', '--admin', admin.url, '--admin-token-file', tokenFile, '--impi', 'x@primary.example',
      '--impu', 'sip:x@primary.example', '--k', 'nothex']);
    assert.equal(await bad.exited, 2);
    assert.match(bad.output(), /--k: must be 32 hex digits/);
    const list = mcx(['hss', 'subscriber', 'list', '--admin', admin.url, '--admin-token-file', tokenFile]);
    assert.equal(await list.exited, 0, list.output());
    assert.deepEqual(list.output().trim().split('\n').map((l) => (JSON.parse(l) as { impi: string }).impi), [ALICE.impi, 'bob@primary.example']);
  });

  test('SIGTERM: the HSS sends DPR (the peer goes down with the DPR reason), prints "hss: stopped", exits 0', async () => {
    const down = client.events.next('peerDown', () => true, 10000);
    const code = await hss.stop('SIGTERM');
    assert.match((await down).reason, /DPR/);
    assert.equal(code, 0);
    assert.match(hss.output(), /hss: stopped/);
  });
});

test('mcx hss with bad options names every bad one and exits 2', async () => {
  const p = mcx(['hss', '--listen', 'nowhere', '--rand-policy', 'fast', '--store', 'mongodb://x']);
  assert.equal(await p.exited, 2);
  for (const field of ['--listen', '--origin-host', '--realm', '--rand-policy', '--store']) assert.match(p.output(), new RegExp(`${field}: `), field);
});
