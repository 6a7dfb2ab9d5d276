/**
 * DESIGN §2.3/§2.5 (issue #15 item 2): `mcx hss --workers 2` — two HSS processes on one Diameter port (SO_REUSEPORT:
 * each connection is one worker's) and one real redis-server (appendonly yes, appendfsync always). Diameter clients
 * (lib/diameter nodes, each its own Origin-Host) connect until both workers hold some of them (read from the workers'
 * "Diameter peer open" lines); then 2,000 MARs for one subscriber (1–3 vectors each, 32 in flight) go over all of
 * them at once. Every AUTN is opened with the subscriber key to recover its SQN.
 *
 * Asserted: every MAA is 2001 with the vectors asked for and a valid MAC-A; the SQNs are all distinct and their SEQs
 * exactly 1..N (allocation is one atomic Lua step per MAR, whichever process runs it); both workers answered MARs
 * (their debug lines), and `/admin/v1/stats` on the shared admin address counts all of them, each worker's share beside
 * the sum. Then worker 2 is killed (SIGKILL): the supervisor starts another, its clients reconnect, and
 * 200 further MARs still never repeat an SQN; SIGTERM stops the group (exit 0, `hss: stopped`).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { adminRequest } from '../../lib/admin/client.ts';
import { Milenage, seqOf } from '../../lib/aka/index.ts';
import { buildMar, readMaa } from '../../lib/diameter/cx/index.ts';
import { CX_APPLICATION, DiameterNode } from '../../lib/diameter/node.ts';
import { WORKER_ANSWER_MS } from '../../lib/workers/poll.ts';
import { startMcx, type Proc } from '../helpers/process.ts';
import { startRedisServer, type RedisServer } from '../helpers/redis-server.ts';
import { until } from '../helpers/wait.ts';
import { sqnsOf } from './helpers.ts';

const REALM = 'primary.example';
const HSS_HOST = `hss.${REALM}`;
const IMPI = `load@${REALM}`;
const IMPU = `sip:load@${REALM}`;
const K = randomBytes(16);
const OPC = randomBytes(16);
const MARS = 2000;
const IN_FLIGHT = 32;
/** Most client connections opened while waiting for both workers to hold one (all on one worker: p = 2^-31). */
const MAX_CLIENTS = 32;
const LOOP_LIMIT_MS = 120_000;
const itemsOf = (i: number): number => (i % 3) + 1;

describe('DESIGN §2.5: mcx hss --workers 2 on one port and one Redis hand out unique SQNs under concurrent MARs', () => {
  let dir: string;
  let redis: RedisServer | undefined;
  let hss: Proc | undefined;
  let port = 0;
  let adminUrl = '';
  const clients: DiameterNode[] = [];
  const sqns: bigint[] = [];
  const usim = new Milenage(K, OPC);

  /** Which worker took the connection of `client` (its "Diameter peer open" line). */
  async function workerOf(host: string): Promise<number> {
    const m = await (hss as Proc).waitFor(new RegExp(`"worker":(\\d)[^\\n]*"peer":"${host.replace(/\./g, '\\.')}"[^\\n]*"msg":"Diameter peer open"`), 10_000);
    return Number(m[1]);
  }

  async function connect(i: number): Promise<{ node: DiameterNode; worker: number }> {
    const host = `scscf-${i}.${REALM}`;
    const node = new DiameterNode({ originHost: host, originRealm: REALM, applications: [CX_APPLICATION], reconnect: { initialMs: 50, maxMs: 200 } });
    clients.push(node);
    node.addPeer({ host: '127.0.0.1', port, originHost: HSS_HOST });
    await node.waitForPeer({ originHost: HSS_HOST }, 10_000);
    return { node, worker: await workerOf(host) };
  }

  /** `count` MARs spread over every client, `IN_FLIGHT` at a time; their SQNs are added to `sqns`. */
  async function mars(count: number, timeoutMs: number): Promise<void> {
    const deadline = Date.now() + LOOP_LIMIT_MS;
    let next = 0;
    const loop = async (): Promise<void> => {
      for (let i = next++; i < count; i = next++) {
        if (Date.now() > deadline) throw new Error(`loop over ${LOOP_LIMIT_MS} ms: ${i} of ${count} MARs sent`);
        const node = clients[i % clients.length] as DiameterNode;
        const n = itemsOf(i);
        const maa = readMaa(await node.request(buildMar({
          sessionId: node.nextSessionId(`mar${i}`), originHost: node.originHost, originRealm: REALM, destinationRealm: REALM,
          userName: IMPI, publicIdentity: IMPU, serverName: `sip:${node.originHost}:5060`, numberAuthItems: n, scheme: 'Digest-AKAv1-MD5',
        }), { timeoutMs }));
        assert.deepEqual(maa.result, { resultCode: 2001 }, `MAR ${i}`);
        assert.equal(maa.items.length, n, `MAR ${i}: ${n} vectors asked for`);
        sqns.push(...sqnsOf(usim, maa, `MAR ${i}`));
      }
    };
    await Promise.all(Array.from({ length: IN_FLIGHT }, () => loop().catch((e: unknown) => {
      next = count;
      throw e;
    })));
  }

  function assertUniqueFromOne(): void {
    assert.equal(new Set(sqns).size, sqns.length, 'no SQN handed out twice');
    const seqs = sqns.map(seqOf).sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
    assert.ok(seqs.every((s, i) => s === BigInt(i + 1)), `SEQs are exactly 1..${seqs.length}`);
  }

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'mcx-hss-workers-'));
    redis = await startRedisServer();
    await writeFile(join(dir, 'subscribers.csv'), `impi,impus,k,opc,amf\n${IMPI},${IMPU},${K.toString('hex')},${OPC.toString('hex')},8000\n`);
    hss = startMcx(['hss', '--workers', '2', '--listen', '127.0.0.1:0', '--origin-host', HSS_HOST, '--realm', REALM, '--store', redis.url,
      '--state-dir', join(dir, 'hss'), '--admin', '127.0.0.1:0', '--subscribers', join(dir, 'subscribers.csv')],
    { env: { ...process.env, MCX_LOG_LEVEL: 'debug' } });
    const ready = await hss.waitFor(/hss: listening diameter=tcp:\/\/127\.0\.0\.1:(\d+) admin=(http:\/\/\S+)\n/, 60_000);
    port = Number(ready[1]);
    adminUrl = ready[2] as string;
  });

  after(async () => {
    for (const c of clients) await c.close();
    await hss?.stop('SIGKILL');
    await redis?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  test(`${MARS} MARs over connections held by both workers: all SQNs distinct, SEQ 1..N, both workers answered`, { timeout: LOOP_LIMIT_MS + 60_000 }, async () => {
    const held = new Set<number>();
    for (let i = 0; i < MAX_CLIENTS && held.size < 2; i++) held.add((await connect(i)).worker);
    assert.deepEqual([...held].sort(), [1, 2], 'client connections on both workers');
    await mars(MARS, 10_000);
    const vectors = Array.from({ length: MARS }, (_, i) => itemsOf(i)).reduce((a, b) => a + b, 0);
    assert.equal(sqns.length, vectors, 'one SQN per vector asked for');
    assertUniqueFromOne();
    const answered = (w: number): number => (hss as Proc).output().split('\n')
      .filter((l) => l.includes(`"worker":${w},`) && l.includes('"msg":"MAR: vectors issued')).length;
    // A worker's log line may trail its answer through the pipe.
    await until(() => answered(1) + answered(2) >= MARS, 'a debug line per MAR', 10_000);
    assert.ok(answered(1) > 0 && answered(2) > 0, `MARs answered by worker 1: ${answered(1)}, worker 2: ${answered(2)}`);
    assert.equal(answered(1) + answered(2), MARS);
    // The admin API on the shared address gives the group's counters whichever worker answers (lib/workers/group-stats.ts).
    const admin = { url: adminUrl, token: (await readFile(join(dir, 'hss', 'admin-token'), 'utf8')).trim() };
    for (let i = 0; i < 4; i++) {
      const stats = await adminRequest<{ mar: number; workers: string; workers_answered: number; per_worker: Array<{ mar: number } | null> }>(admin, 'GET', 'admin/v1/stats');
      assert.equal(stats.mar, MARS, JSON.stringify(stats));
      assert.deepEqual([stats.workers, stats.workers_answered], ['2', 2]);
      assert.deepEqual(stats.per_worker.map((w) => w?.mar), [answered(1), answered(2)]);
    }
  });

  test('worker 2 killed (SIGKILL): a new one is started, its clients reconnect, 200 more MARs repeat no SQN; SIGTERM stops the group', { timeout: 120_000 }, async () => {
    const proc = hss as Proc;
    const pid = Number(/"pids":\[\d+,(\d+)\]/.exec(proc.output())?.[1]);
    assert.ok(pid > 0, 'the pid of worker 2');
    process.kill(pid, 'SIGKILL');
    await proc.waitFor(/"worker":2,[^\n]*"msg":"hss: worker 2 exited with signal SIGKILL; starting a new one"/, 10_000);
    // The group's stats while the replacement starts: worker 1's alone, without waiting for the one not ready yet.
    const admin = { url: adminUrl, token: (await readFile(join(dir, 'hss', 'admin-token'), 'utf8')).trim() };
    const asked = performance.now();
    const during = await adminRequest<{ mar: number; workers_answered: number; per_worker: Array<{ mar: number } | null> }>(admin, 'GET', 'admin/v1/stats');
    assert.ok(performance.now() - asked < WORKER_ANSWER_MS, `the stats waited ${Math.round(performance.now() - asked)} ms for the worker still starting`);
    assert.doesNotMatch(proc.output(), /"msg":"hss: worker 2 ready again/, 'the stats were read while the replacement was starting');
    assert.equal(during.workers_answered, 1, JSON.stringify(during));
    assert.equal(during.per_worker[1], null);
    assert.equal(during.mar, during.per_worker[0]?.mar);
    await proc.waitFor(/"msg":"hss: worker 2 ready again/, 60_000);
    for (const c of clients) await c.waitForPeer({ originHost: HSS_HOST }, 15_000);
    await mars(200, 10_000);
    assertUniqueFromOne();
    assert.equal(await proc.stop('SIGTERM', 20_000), 0, proc.output().slice(-3000));
    assert.match(proc.output(), /hss: stopped\n$/);
  });
});
