/**
 * DESIGN §2.3/§2.5 at process level and at volume: two `mcx hss` processes (different Origin-Host and listen port)
 * share one real redis-server (appendonly yes, appendfsync always); the subscriber is provisioned through the first
 * process's `--subscribers` CSV only. One Diameter client (lib/diameter DiameterNode) with both HSSes as peers sends
 * 10,000 MARs for that subscriber (1, 2 or 3 vectors each, 64 in flight), alternating Destination-Host between the
 * two. Every AUTN is opened with the subscriber key (lib/aka `openAutn`) to recover its SQN.
 *
 * Asserted: every MAA is 2001 from the HSS it was addressed to, with the vector count asked for and valid MAC-A; the
 * SQNs are all distinct (no SQN handed out twice across processes) and their SEQs are exactly 1..N (none lost or
 * skipped: allocation is one atomic Lua step per MAR); each process served half of the MARs, and its own admin
 * stats count exactly the MARs and vectors it served.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Milenage, seqOf } from '../../lib/aka/index.ts';
import { buildMar, readMaa } from '../../lib/diameter/cx/index.ts';
import { CX_APPLICATION, DiameterNode } from '../../lib/diameter/node.ts';
import type { AdminTarget } from '../../lib/admin/client.ts';
import { adminApi } from '../../lib/admin/hss-api.ts';
import { startMcx, type Proc } from '../helpers/process.ts';
import { startRedisServer, type RedisServer } from '../helpers/redis-server.ts';
import { sqnsOf } from './helpers.ts';

const REALM = 'primary.example';
const IMPI = `load@${REALM}`;
const IMPU = `sip:load@${REALM}`;
const K = randomBytes(16);
const OPC = randomBytes(16);
const HOSTS = [`hss-a.${REALM}`, `hss-b.${REALM}`] as const;

/** MARs sent in total, and at most this many in flight. */
const MARS = 10_000;
const IN_FLIGHT = 64;
/** The whole loop must finish within this (it also bounds a hang: the test fails instead of waiting forever). */
const LOOP_LIMIT_MS = 120_000;
/** Per-request answer timeout of the client (generous: a 2-core machine runs the client, both HSSes and Redis). */
const ANSWER_TIMEOUT_MS = 10_000;

/** Vectors asked for by MAR number `i`: 1, 2, 3, 1, 2, 3, … */
const itemsOf = (i: number): number => (i % 3) + 1;
/** The HSS MAR number `i` is addressed to: alternating. */
const hostOf = (i: number): (typeof HOSTS)[number] => HOSTS[i % 2] as (typeof HOSTS)[number];

interface HssProc {
  proc: Proc;
  host: (typeof HOSTS)[number];
  diameter: { host: string; port: number };
  admin: AdminTarget;
}

describe('DESIGN §2.5: two mcx hss processes on one Redis, 10,000 MARs over both, no SQN handed out twice', () => {
  let dir: string;
  let redis: RedisServer | undefined;
  const hsses: HssProc[] = [];
  let client: DiameterNode | undefined;

  async function startHssProcess(host: (typeof HOSTS)[number], extra: string[]): Promise<HssProc> {
    const stateDir = join(dir, host);
    const proc = startMcx(['hss', '--listen', '127.0.0.1:0', '--origin-host', host, '--realm', REALM, '--store', (redis as RedisServer).url,
      '--state-dir', stateDir, '--admin', '127.0.0.1:0', ...extra]);
    const started: HssProc = { proc, host, diameter: { host: '', port: 0 }, admin: { url: '', token: '' } };
    hsses.push(started);
    const m = await proc.waitFor(/hss: listening diameter=tcp:\/\/([\d.]+):(\d+) admin=(http:\/\/\S+)/, 30000);
    started.diameter = { host: m[1] as string, port: Number(m[2]) };
    started.admin = { url: m[3] as string, token: (await readFile(join(stateDir, 'admin-token'), 'utf8')).trim() };
    return started;
  }

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'mcx-hss-2x10k-'));
    redis = await startRedisServer();
    await writeFile(join(dir, 'subscribers.csv'), `impi,impus,k,opc,amf\n${IMPI},${IMPU},${K.toString('hex')},${OPC.toString('hex')},8000\n`);
    // The subscriber reaches the shared store through the first process only; the second finds it there.
    await startHssProcess(HOSTS[0], ['--subscribers', join(dir, 'subscribers.csv')]);
    await startHssProcess(HOSTS[1], []);
    client = new DiameterNode({ originHost: `scscf.${REALM}`, originRealm: REALM, applications: [CX_APPLICATION] });
    for (const h of hsses) client.addPeer({ ...h.diameter, originHost: h.host });
    for (const h of hsses) await client.waitForPeer({ originHost: h.host }, 10000);
  });

  after(async () => {
    await client?.close();
    for (const h of hsses) await h.proc.stop();
    await redis?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  test(`${MARS} MARs (1..3 vectors each, ${IN_FLIGHT} in flight) alternating between the two HSSes: all SQNs distinct, SEQ 1..N`, { timeout: LOOP_LIMIT_MS + 60_000 }, async (t) => {
    const node = client as DiameterNode;
    const usim = new Milenage(K, OPC);
    const sqns: bigint[] = [];
    const served = new Map<string, { mars: number; vectors: number }>(HOSTS.map((h) => [h, { mars: 0, vectors: 0 }]));
    const started = Date.now();
    const deadline = started + LOOP_LIMIT_MS;
    let next = 0;

    const worker = async (): Promise<void> => {
      try {
        await sendLoop();
      } catch (e) {
        next = MARS; // the first failure stops every worker
        throw e;
      }
    };
    const sendLoop = async (): Promise<void> => {
      for (;;) {
        const i = next++;
        if (i >= MARS) return;
        if (Date.now() > deadline) throw new Error(`loop over ${LOOP_LIMIT_MS} ms: only ${i} of ${MARS} MARs sent`);
        const host = hostOf(i);
        const n = itemsOf(i);
        const answer = await node.request(buildMar({
          sessionId: node.nextSessionId(`mar${i}`), originHost: `scscf.${REALM}`, originRealm: REALM, destinationRealm: REALM,
          destinationHost: host, userName: IMPI, publicIdentity: IMPU, serverName: `sip:scscf.${REALM}:5060`,
          numberAuthItems: n, scheme: 'Digest-AKAv1-MD5',
        }), { host, timeoutMs: ANSWER_TIMEOUT_MS });
        const maa = readMaa(answer);
        assert.deepEqual(maa.result, { resultCode: 2001 }, `MAR ${i} to ${host}`);
        assert.equal(maa.originHost, host, `MAR ${i} answered by the HSS it was addressed to`);
        assert.equal(maa.items.length, n, `MAR ${i}: ${n} vectors asked for`);
        sqns.push(...sqnsOf(usim, maa, `MAR ${i}`));
        const s = served.get(host) as { mars: number; vectors: number };
        s.mars++;
        s.vectors += n;
      }
    };
    await Promise.all(Array.from({ length: IN_FLIGHT }, () => worker()));
    const elapsed = Date.now() - started;

    const expectedVectors = Array.from({ length: MARS }, (_, i) => itemsOf(i)).reduce((a, b) => a + b, 0);
    assert.equal(sqns.length, expectedVectors, 'one SQN per vector asked for');
    assert.equal(new Set(sqns).size, sqns.length, 'no SQN handed out twice');
    const seqs = sqns.map(seqOf).sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
    assert.equal(seqs[0], 1n, 'the counter started at SEQ 1');
    assert.equal(seqs[seqs.length - 1], BigInt(expectedVectors), 'and ended at SEQ N: no SEQ lost or skipped');
    assert.ok(seqs.every((s, i) => s === BigInt(i + 1)), 'SEQs are exactly 1..N');

    for (const [i, h] of hsses.entries()) {
      const mine = served.get(h.host) as { mars: number; vectors: number };
      assert.equal(mine.mars, MARS / 2, `${h.host} served half of the MARs`);
      const stats = await adminApi.stats(h.admin);
      assert.equal(stats.mar, mine.mars, `${h.host}: its own admin stats count the MARs it answered`);
      assert.equal(stats.vectors_issued, mine.vectors, `${h.host}: and the vectors`);
      assert.equal(stats.errors, 0, `${h.host}: no error answers`);
      assert.equal(stats.store, 'redis');
      t.diagnostic(`HSS ${i + 1} ${h.host}: ${mine.mars} MARs, ${mine.vectors} vectors`);
    }
    t.diagnostic(`${MARS} MARs / ${expectedVectors} vectors in ${elapsed} ms (${Math.round(MARS / (elapsed / 1000))} MAR/s)`);
  });
});
