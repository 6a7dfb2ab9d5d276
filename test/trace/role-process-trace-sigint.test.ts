/**
 * `--trace FILE` on a role process (issue #14 item 3): `mcx hss --trace` records its Cx exchange with a peer — CER/CEA,
 * MAR/MAA — with the real addresses and ports; the file can be read while the HSS runs, and SIGINT stops the HSS
 * through its own graceful stop (DPR to the peer, DPA back) before the file is closed, so DPR/DPA are its last
 * records and it ends on a block boundary. A bad `--trace` is named with exit 2 by every role that has it.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildMar, readMaa } from '../../lib/diameter/cx/index.ts';
import { CX_APPLICATION, DiameterNode } from '../../lib/diameter/node.ts';
import { ALICE, K, OPC, REALM } from '../hss/helpers.ts';
import { readPcapng } from '../helpers/pcapng.ts';
import { startMcx, type Proc } from '../helpers/process.ts';
import { traceProblems, traceRows } from '../helpers/tshark.ts';

const HSS_HOST = 'hss.primary.example';
const FIELDS = ['exported_pdu.ipv4_src', 'exported_pdu.src_port', 'exported_pdu.ipv4_dst', 'exported_pdu.dst_port', 'exported_pdu.port_type',
  'diameter.cmd.code', 'diameter.flags.request'];

describe('mcx hss --trace: the Cx exchange of a role process, closed cleanly on SIGINT', () => {
  let dir: string;
  let file: string;
  let hss: Proc;
  let client: DiameterNode;
  let port: number;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'mcx-role-trace-'));
    file = join(dir, 'hss.pcapng');
    await writeFile(join(dir, 'subs.csv'), `impi,impus,k,opc,allowed_partners\n${ALICE.impi},${ALICE.impus.join(' ')},${K},${OPC},partner.example\n`);
    hss = startMcx(['hss', '--listen', '127.0.0.1:0', '--origin-host', HSS_HOST, '--realm', REALM, '--subscribers', join(dir, 'subs.csv'),
      '--state-dir', join(dir, 'state'), '--admin', '127.0.0.1:0', '--trace', file]);
    port = Number((await hss.waitFor(/hss: listening diameter=tcp:\/\/127\.0\.0\.1:(\d+)/, 30_000))[1]);
    client = new DiameterNode({ originHost: 'scscf.partner.example', originRealm: 'partner.example', applications: [CX_APPLICATION] });
    client.addPeer({ host: '127.0.0.1', port, originHost: HSS_HOST });
    await client.waitForPeer({ originHost: HSS_HOST }, 10_000);
  });
  after(async () => {
    await client?.close();
    await hss?.stop('SIGKILL');
    await rm(dir, { recursive: true, force: true });
  });

  test('while it runs: CER/CEA and MAR/MAA between the peer\'s port and the HSS listener, port type TCP', async () => {
    const maa = readMaa(await client.request(buildMar({
      sessionId: 'scscf.partner.example;1;1', originHost: 'scscf.partner.example', originRealm: 'partner.example', destinationRealm: REALM,
      userName: ALICE.impi, publicIdentity: ALICE.impus[0] as string, serverName: 'sip:scscf.partner.example', numberAuthItems: 1, scheme: 'Digest-AKAv1-MD5',
    }), { timeoutMs: 3000 }));
    assert.deepEqual(maa.result, { resultCode: 2001 });
    let rows: string[][] = [];
    for (const deadline = Date.now() + 3000; rows.length < 4 && Date.now() < deadline;) rows = await traceRows(file, 'diameter', FIELDS);
    const peerPort = rows[0]?.[1] as string;
    const up = ['127.0.0.1', peerPort, '127.0.0.1', String(port), '2'];
    const down = ['127.0.0.1', String(port), '127.0.0.1', peerPort, '2'];
    assert.deepEqual(rows, [[...up, '257', '1'], [...down, '257', '0'], [...up, '303', '1'], [...down, '303', '0']]);
  });

  test('SIGINT: "hss: stopped", exit 0; DPR to the peer and its DPA are the last records; the file is whole, 0 Malformed, no warnings', async () => {
    const down = client.events.next('peerDown', () => true, 10_000);
    assert.equal(await hss.stop('SIGINT'), 0, hss.output());
    assert.match((await down).reason, /DPR/);
    assert.match(hss.output(), /^hss: stopped$/m);
    const rows = await traceRows(file, 'diameter', ['diameter.cmd.code', 'diameter.flags.request', 'exported_pdu.src_port']);
    assert.deepEqual(rows.slice(-2).map((r) => r.slice(0, 3)), [['282', '1', String(port)], ['282', '0', rows[0]?.[2] as string]]);
    assert.equal((await readPcapng(file)).packets.length, rows.length);
    assert.deepEqual(await traceProblems(file), { malformed: '', warnings: '', expert: '' });
  });
});

test('a --trace whose folder does not exist is named, exit 2, by mcx hss, relay, mms and registrar', async () => {
  const bad = ['--trace', '/nonexistent-folder/x.pcapng'];
  const runs: Array<[string, string[]]> = [
    ['hss', ['hss', '--origin-host', 'hss.p.example', '--realm', 'p.example', ...bad]],
    ['relay', ['relay', '--listen', '127.0.0.1:0', '--origin-host', 'relay.p.example', '--realm', 'p.example', '--route', 'p.example=127.0.0.1:1', ...bad]],
    ['mms', ['mms', '--role', 'partner', '--listen', '127.0.0.1:0', '--origin-host', 'mms.q.example', '--realm', 'q.example', '--route', 'p.example=127.0.0.1:1', ...bad]],
    ['registrar', ['registrar', '--sip', 'udp:127.0.0.1:0', '--domain', 'q.example', '--hss', '127.0.0.1:1', '--origin-host', 'r.q.example', '--realm', 'q.example', ...bad]],
  ];
  await Promise.all(runs.map(async ([name, args]) => {
    const p = startMcx(args);
    assert.equal(await p.exited, 2, `${name}: ${p.output()}`);
    assert.match(p.output(), /--trace: its folder \/nonexistent-folder does not exist/, name);
  }));
});
