/**
 * The store over TLS with a password (`rediss://:password@host:port`) on a real redis-server — a TLS port only,
 * `requirepass`, appendonly with appendfsync always — as a role runs it: `mcx hss --store rediss://…`, trusting the
 * server's CA (here the primary system's, from `mcx certs` code) through NODE_EXTRA_CA_CERTS (README "State"). Over
 * that connection the HSS checks appendfsync, stores its subscribers and hands out an SQN. The certificate is checked:
 * with no CA, or another system's CA, the role does not start and names the certificate problem; a wrong password is
 * named (WRONGPASS); no password appears in any output. The same on a Redis Cluster whose client ports, bus and
 * replication all run TLS with a password (`rediss+cluster://:password@…`, 3 masters with a replica each): the SQN
 * reservation waits for its replica's acknowledgement over TLS replication. And behind Sentinels
 * (`rediss+sentinel://:password@…/mcx`): the Sentinels on plain ports, as the store reaches them, monitoring a master
 * and a replica that speak only TLS.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { initPki } from '../../certs/issue.ts';
import { caPaths, certPaths } from '../../certs/layout.ts';
import { redisCliPath, startRedisCluster } from '../../deploy/redis-cluster.ts';
import { buildMar, readMaa } from '../../lib/diameter/cx/index.ts';
import { CX_APPLICATION, DiameterNode } from '../../lib/diameter/node.ts';
import { startMcx, type Proc } from '../helpers/process.ts';
import { startRedisSentinel, startRedisServer, type RedisServer } from '../helpers/redis-server.ts';

const REALM = 'primary.example';
const HSS_HOST = `hss.${REALM}`;
const IMPI = `alice@${REALM}`;
const IMPU = `sip:alice@${REALM}`;
const PASSWORD = `pw-${randomBytes(9).toString('hex')}`;
const READY = /hss: listening diameter=tcp:\/\/127\.0\.0\.1:(\d+) admin=\S+\n/;

/** A MAR for `items` vectors to the HSS on `port`, from a fresh S-CSCF peer: answered 2001 with as many (SQNs handed out). */
async function marVectors(port: number, items: number): Promise<void> {
  const client = new DiameterNode({ originHost: `scscf.${REALM}`, originRealm: REALM, applications: [CX_APPLICATION], reconnect: { initialMs: 50, maxMs: 200 } });
  try {
    client.addPeer({ host: '127.0.0.1', port, originHost: HSS_HOST });
    await client.waitForPeer({ originHost: HSS_HOST }, 10_000);
    const maa = readMaa(await client.request(buildMar({
      sessionId: client.nextSessionId(), originHost: client.originHost, originRealm: REALM, destinationRealm: REALM,
      userName: IMPI, publicIdentity: IMPU, serverName: `sip:${client.originHost}:5060`, numberAuthItems: items, scheme: 'Digest-AKAv1-MD5',
    }), { timeoutMs: 5000 }));
    assert.deepEqual(maa.result, { resultCode: 2001 });
    assert.equal(maa.items.length, items);
  } finally {
    await client.close();
  }
}

/** A temp directory with a PKI (`primary`, `partner`) and the subscriber CSV; the HSS leaf names 127.0.0.1. */
async function fixture(prefix: string): Promise<{ dir: string; pki: string; leaf: { cert: string; key: string; ca: string } }> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  const pki = join(dir, 'pki');
  await initPki({ dir: pki, systems: [{ name: 'primary', realm: REALM }, { name: 'partner', realm: 'partner.example' }] });
  await writeFile(join(dir, 'subscribers.csv'), `impi,impus,k,opc,amf\n${IMPI},${IMPU},${randomBytes(16).toString('hex')},${randomBytes(16).toString('hex')},8000\n`);
  return { dir, pki, leaf: certPaths(pki, 'primary', 'hss') };
}

/** `mcx hss` in `dir` (state in `dir/name`) on the store `url`, trusting `ca` (a PEM file) or only the system's roots. */
function startHss(dir: string, name: string, url: string, ca: string | undefined): Proc {
  const env: NodeJS.ProcessEnv = { ...process.env, MCX_LOG_LEVEL: 'info' };
  delete env.NODE_EXTRA_CA_CERTS;
  if (ca) env.NODE_EXTRA_CA_CERTS = ca;
  return startMcx(['hss', '--listen', '127.0.0.1:0', '--origin-host', HSS_HOST, '--realm', REALM, '--store', url,
    '--state-dir', join(dir, name), '--admin', '127.0.0.1:0', '--subscribers', join(dir, 'subscribers.csv')], { env });
}

describe('redis store over TLS with a password (rediss://:password@…): mcx hss against a TLS-only redis-server', () => {
  let dir: string;
  let pki: string;
  let redis: RedisServer;
  const procs: Proc[] = [];

  function hss(name: string, url: string, ca: string | undefined): Proc {
    const p = startHss(dir, name, url, ca);
    procs.push(p);
    return p;
  }

  const withPassword = (password: string): string => redis.url.replace('rediss://', `rediss://:${password}@`);

  /** A refused start: exit status and output. */
  async function refused(p: Proc): Promise<{ code: number | null; output: string }> {
    const code = await p.exited;
    return { code, output: p.output() };
  }

  before(async () => {
    const f = await fixture('mcx-redis-tls-');
    ({ dir, pki } = f);
    redis = await startRedisServer({ tls: f.leaf, password: PASSWORD });
  });

  after(async () => {
    for (const p of procs) await p.stop('SIGKILL');
    await redis?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  test('with the server\'s CA and the password: the HSS starts, its subscriber is in Redis, a MAR gets a vector (SQN over TLS)', { timeout: 60_000 }, async () => {
    const p = hss('ok', withPassword(PASSWORD), caPaths(pki, 'primary').cert);
    const port = Number((await p.waitFor(READY, 30_000))[1]);
    const keys = execFileSync(redisCliPath(), ['--tls', '--cacert', caPaths(pki, 'primary').cert, '-h', '127.0.0.1', '-p', String(redis.port),
      '--no-auth-warning', '-a', PASSWORD, '--scan', '--pattern', 'mcx:*'], { encoding: 'utf8' }).split('\n').filter(Boolean);
    assert.ok(keys.some((k) => k.includes(IMPI)), `the subscriber's record in Redis: ${keys.join(' ')}`);
    await marVectors(port, 1);
    const sqn = execFileSync(redisCliPath(), ['--tls', '--cacert', caPaths(pki, 'primary').cert, '-h', '127.0.0.1', '-p', String(redis.port),
      '--no-auth-warning', '-a', PASSWORD, '--scan', '--pattern', 'mcx:sqn:*'], { encoding: 'utf8' }).split('\n').filter(Boolean);
    assert.equal(sqn.length, 1, `one SQN counter in Redis: ${sqn.join(' ')}`);
    assert.equal(await p.stop('SIGTERM', 20_000), 0, p.output().slice(-2000));
    assert.ok(!p.output().includes(PASSWORD), 'the password is in no line the HSS printed');
  });

  test('the certificate is checked: trusting no CA, or another system\'s, the HSS does not start and names the problem', { timeout: 60_000 }, async () => {
    for (const [name, ca] of [['no-ca', undefined], ['other-ca', caPaths(pki, 'partner').cert]] as const) {
      const r = await refused(hss(name, withPassword(PASSWORD), ca));
      assert.notEqual(r.code, 0, `${name}: ${r.output}`);
      assert.doesNotMatch(r.output, READY, name);
      assert.match(r.output, /rediss:\/\/\*\*\*@127\.0\.0\.1:\d+[^\n]*(certificate|self[- ]signed)/i, `${name}: ${r.output.slice(-1500)}`);
      assert.ok(!r.output.includes(PASSWORD), `${name}: no password printed`);
    }
  });

  test('a wrong password is named (WRONGPASS) and not printed; none at all is named too (NOAUTH)', { timeout: 60_000 }, async () => {
    const wrong = `wrong-${randomBytes(6).toString('hex')}`;
    const r = await refused(hss('wrong', withPassword(wrong), caPaths(pki, 'primary').cert));
    assert.notEqual(r.code, 0, r.output);
    assert.match(r.output, /rediss:\/\/\*\*\*@127\.0\.0\.1:\d+[^\n]*WRONGPASS/, r.output.slice(-1500));
    assert.ok(!r.output.includes(wrong), 'the wrong password is not printed');
    const none = await refused(hss('none', redis.url, caPaths(pki, 'primary').cert));
    assert.notEqual(none.code, 0, none.output);
    assert.match(none.output, /NOAUTH/, none.output.slice(-1500));
  });
});

/** A replicated store over TLS with a password, as a test starts it. */
interface ReplicatedStore {
  /** The store URL with the password in it. */
  url: string;
  /** After a MAR: asserts its SQN counter is on the master and on the master's replica. */
  counterReplicated(): Promise<void>;
  stop(): Promise<void>;
}

/** `mcx hss` on a replicated store that `start` builds over TLS: a MAR's SQN counter reaches the replica. */
function onReplicatedStore(title: string, prefix: string, testTitle: string, start: (leaf: { cert: string; key: string; ca: string }) => Promise<ReplicatedStore>): void {
  describe(title, () => {
    let dir: string;
    let pki: string;
    let store: ReplicatedStore | undefined;
    let hss: Proc | undefined;

    before(async () => {
      const f = await fixture(prefix);
      ({ dir, pki } = f);
      store = await start(f.leaf);
    });

    after(async () => {
      await hss?.stop('SIGKILL');
      await store?.stop();
      await rm(dir, { recursive: true, force: true });
    });

    test(testTitle, { timeout: 90_000 }, async () => {
      const s = store as ReplicatedStore;
      hss = startHss(dir, 'hss', s.url, caPaths(pki, 'primary').cert);
      await marVectors(Number((await hss.waitFor(READY, 60_000))[1]), 2);
      await s.counterReplicated();
      assert.doesNotMatch(hss.output(), /ERR_STORE_NOT_DURABLE|not acknowledged/);
      assert.equal(await hss.stop('SIGTERM', 20_000), 0, hss.output().slice(-2000));
      assert.ok(!hss.output().includes(PASSWORD), 'the password is in no line the HSS printed');
    });
  });
}

onReplicatedStore('redis store on a Redis Cluster over TLS with a password (rediss+cluster://:password@…): mcx hss', 'mcx-redis-cluster-tls-',
  'the HSS starts on it, checks every node, and a MAR\'s SQN reservation is acknowledged by a replica over TLS', async (leaf) => {
    const cluster = await startRedisCluster({ masters: 3, replicasPerMaster: 1, tls: leaf, password: PASSWORD });
    return {
      url: cluster.url.replace('rediss+cluster://', `rediss+cluster://:${PASSWORD}@`),
      stop: () => cluster.stop(),
      async counterReplicated() {
        const view = await cluster.view();
        const holders = view.filter((v) => v.role === 'master' && v.slots > 0);
        const counters = await Promise.all(holders.map((m) => cluster.command<string[]>(m.port, ['KEYS', 'mcx:sqn:*'])));
        assert.equal(counters.flat().length, 1, 'one SQN counter on the masters');
        const master = holders[counters.findIndex((k) => k.length === 1)];
        const replica = view.find((v) => v.masterId === master?.id);
        assert.ok(replica, 'the master holding the counter has a replica');
        assert.deepEqual(await cluster.command<string[]>(replica.port, ['KEYS', 'mcx:sqn:*']), counters.flat(), 'replicated over TLS');
      },
    };
  });

onReplicatedStore('redis store behind Sentinels, data nodes over TLS with a password (rediss+sentinel://:password@…): mcx hss', 'mcx-redis-sentinel-tls-',
  'the HSS finds the master through the Sentinels, and its SQN counter reaches the replica over TLS', async (leaf) => {
    const group = await startRedisSentinel({ replicas: 1, sentinels: 1, tls: leaf, password: PASSWORD });
    return {
      url: group.url.replace('rediss+sentinel://', `rediss+sentinel://:${PASSWORD}@`),
      stop: () => group.stop(),
      async counterReplicated() {
        await group.waitSynced();
        for (const node of group.nodes) {
          const keys = await group.command<string[]>(node.port, ['KEYS', 'mcx:sqn:*']);
          assert.equal(keys.length, 1, `port ${node.port}: one SQN counter (master and replica)`);
        }
      },
    };
  });
