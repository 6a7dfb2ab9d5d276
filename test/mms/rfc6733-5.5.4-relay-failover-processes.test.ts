/**
 * RFC 6733 §5.5.4 and DESIGN §2.2 "failover to a second peer", at process level (issue #15 item 2: agents with several
 * peers per realm): `mcx relay --workers 2 --route primary.example=<HSS A>,<HSS B>` in front of two `mcx hss`
 * processes (Origin-Hosts hss-a, hss-b) sharing one redis-server. Two Diameter clients (each its own Origin-Host, so
 * each connection is one relay worker's) send 1,000 MARs through the relay, 16 in flight; after 300 answers HSS A is
 * killed with SIGKILL.
 *
 * Asserted: every MAR is answered 2001 — those pending at HSS A when it died are sent again to HSS B by the relay —,
 * no SQN is handed out twice; before the kill HSS A answers (the first peer of `--route` is the primary one, whichever
 * came up first), after it HSS B; once HSS A is started again the relay returns to it.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Milenage } from '../../lib/aka/index.ts';
import { buildMar, readMaa, type MaaData } from '../../lib/diameter/cx/index.ts';
import { CX_APPLICATION, DiameterNode } from '../../lib/diameter/node.ts';
import { freePorts } from '../helpers/ports.ts';
import { startMcx, type Proc } from '../helpers/process.ts';
import { startRedisServer, type RedisServer } from '../helpers/redis-server.ts';
import { sqnsOf } from '../hss/helpers.ts';

const REALM = 'primary.example';
const IMPI = `fo@${REALM}`;
const IMPU = `sip:fo@${REALM}`;
const K = randomBytes(16);
const OPC = randomBytes(16);
const MARS = 1000;
const KILL_AFTER = 300;
const IN_FLIGHT = 16;
const LOOP_LIMIT_MS = 120_000;

describe('RFC 6733 §5.5.4: a relay with two HSS peers for one realm fails over when the first is killed', () => {
  let dir: string;
  let redis: RedisServer;
  const procs: Proc[] = [];
  const clients: DiameterNode[] = [];
  let hssPorts: number[];
  let relayPort = 0;
  let hssA: Proc | undefined;

  function startHss(name: 'hss-a' | 'hss-b', port: number): Proc {
    const p = startMcx(['hss', '--listen', `127.0.0.1:${port}`, '--origin-host', `${name}.${REALM}`, '--realm', REALM, '--store', redis.url,
      '--state-dir', join(dir, name), '--admin', '127.0.0.1:0', '--subscribers', join(dir, 'subscribers.csv')], { env: { ...process.env, MCX_LOG_LEVEL: 'warn' } });
    procs.push(p);
    return p;
  }

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'mcx-relay-failover-'));
    redis = await startRedisServer();
    await writeFile(join(dir, 'subscribers.csv'), `impi,impus,k,opc,amf\n${IMPI},${IMPU},${K.toString('hex')},${OPC.toString('hex')},8000\n`);
    hssPorts = await freePorts(2);
    // HSS B first: the route order must come from --route, not from which peer came up first.
    const b = startHss('hss-b', hssPorts[1] as number);
    await b.waitFor(/hss: listening/, 30_000);
    const relay = startMcx(['relay', '--workers', '2', '--listen', '127.0.0.1:0', '--origin-host', `relay.${REALM}`, '--realm', REALM,
      '--route', `${REALM}=127.0.0.1:${hssPorts[0]},127.0.0.1:${hssPorts[1]}`], { env: { ...process.env, MCX_LOG_LEVEL: 'info' } });
    procs.push(relay);
    relayPort = Number((await relay.waitFor(/relay: listening diameter=tcp:\/\/127\.0\.0\.1:(\d+)\n/, 60_000))[1]);
    hssA = startHss('hss-a', hssPorts[0] as number);
    await hssA.waitFor(/hss: listening/, 30_000);
    // Both relay workers have HSS A in their route, after B came up.
    await relay.waitFor(new RegExp(`(?:"route":\\["hss-a\\.${REALM}","hss-b\\.${REALM}"\\][^]*){2}`), 30_000);
    for (const i of [1, 2]) {
      const node = new DiameterNode({ originHost: `scscf-${i}.${REALM}`, originRealm: REALM, applications: [CX_APPLICATION] });
      clients.push(node);
      node.addPeer({ host: '127.0.0.1', port: relayPort, originHost: `relay.${REALM}` });
      await node.waitForPeer({ originHost: `relay.${REALM}` }, 10_000);
    }
  });

  after(async () => {
    for (const c of clients) await c.close();
    for (const p of procs) await p.stop('SIGKILL');
    await redis?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  async function mar(i: number): Promise<MaaData> {
    const node = clients[i % clients.length] as DiameterNode;
    return readMaa(await node.request(buildMar({
      sessionId: node.nextSessionId(`fo${i}`), originHost: node.originHost, originRealm: REALM, destinationRealm: REALM,
      userName: IMPI, publicIdentity: IMPU, serverName: `sip:${node.originHost}:5060`, numberAuthItems: 1, scheme: 'Digest-AKAv1-MD5',
    }), { timeoutMs: 10_000 }));
  }

  test(`${MARS} MARs, HSS A killed after ${KILL_AFTER}: every one answered 2001, no SQN twice, B takes over, A again once back`, { timeout: LOOP_LIMIT_MS + 60_000 }, async () => {
    const usim = new Milenage(K, OPC);
    const sqns: bigint[] = [];
    const answeredBy: Array<{ i: number; host: string; afterKill: boolean }> = [];
    const deadline = Date.now() + LOOP_LIMIT_MS;
    let next = 0;
    let answered = 0;
    let killed = false;
    const loop = async (): Promise<void> => {
      for (let i = next++; i < MARS; i = next++) {
        if (Date.now() > deadline) throw new Error(`loop over ${LOOP_LIMIT_MS} ms: ${i} of ${MARS} MARs sent`);
        const sentAfterKill = killed;
        const maa = await mar(i);
        assert.deepEqual(maa.result, { resultCode: 2001 }, `MAR ${i}`);
        sqns.push(...sqnsOf(usim, maa, `MAR ${i}`));
        answeredBy.push({ i, host: maa.originHost, afterKill: sentAfterKill });
        if (++answered === KILL_AFTER && !killed) {
          killed = true;
          hssA?.child.kill('SIGKILL');
        }
      }
    };
    await Promise.all(Array.from({ length: IN_FLIGHT }, () => loop().catch((e: unknown) => {
      next = MARS;
      throw e;
    })));
    assert.equal(answered, MARS);
    assert.equal(new Set(sqns).size, sqns.length, 'no SQN handed out twice');
    const before = answeredBy.filter((a) => a.i < KILL_AFTER - IN_FLIGHT);
    assert.ok(before.every((a) => a.host === `hss-a.${REALM}`), 'the first peer of --route answers while it is up');
    const afterKill = answeredBy.filter((a) => a.afterKill);
    assert.ok(afterKill.length > 0 && afterKill.every((a) => a.host === `hss-b.${REALM}`), 'sent after the kill: HSS B answers');

    const back = startHss('hss-a', hssPorts[0] as number);
    await back.waitFor(/hss: listening/, 30_000);
    const until = Date.now() + 20_000;
    let host = '';
    while (Date.now() < until && host !== `hss-a.${REALM}`) {
      const maa = await mar(MARS);
      assert.deepEqual(maa.result, { resultCode: 2001 });
      host = maa.originHost;
      if (host !== `hss-a.${REALM}`) await new Promise((r) => setTimeout(r, 200));
    }
    assert.equal(host, `hss-a.${REALM}`, 'HSS A is the primary peer again once it is back');
  });
});
