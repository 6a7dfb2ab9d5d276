/**
 * The metrics of a worker group (`mcx <role> --workers N --metrics HOST:PORT`, lib/workers/group-metrics.ts): the
 * supervisor serves the one listener and answers for the whole group at every scrape — each worker's samples joined
 * (here: the Diameter peers of both workers, each connected to one of them), `mcx_worker_up` per worker, `/readyz`
 * with each worker's checks, the exposition clean for promtool — and the group's ready line names the listener. A
 * worker killed is reported down (`mcx_worker_up` 0) until its replacement is ready, a scrape meanwhile does not wait
 * for the replacement, and the counts it had made stay in the group's sums (counters never go back).
 *
 * The ports are shared by the node:cluster primary here (`MCX_PORT_SHARING=cluster`), which hands TCP connections to
 * the workers in turn: so the six clients are known to be split three and three, and a scrape of one worker alone
 * could not show all six. (SO_REUSEPORT spreads by a hash of the ports, which a test cannot steer.)
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { CX_APPLICATION } from '../../lib/diameter/node.ts';
import { buildMar } from '../../lib/diameter/cx/index.ts';
import { Nodes } from '../diameter/harness.ts';
import { MAR_INPUT } from '../diameter/fixtures.ts';
import { promtoolCheck, samples, scrape, sum, type Exposition } from '../helpers/prometheus.ts';
import { startMcx, type Proc } from '../helpers/process.ts';
import { WORKER_ANSWER_MS } from '../../lib/workers/poll.ts';

const CLIENTS = 6;
const RELAY = { system: 'primary', role: 'relay' };
const { hopByHop: _h, endToEnd: _e, destinationHost: _d, ...MAR } = MAR_INPUT;

describe('mcx relay --workers 2 --metrics: one listener for the group (DESIGN §2.5)', () => {
  const nodes = new Nodes();
  let relay: Proc;
  let metricsUrl: string;
  let group: Exposition;

  before(async () => {
    relay = startMcx(['relay', '--workers', '2', '--listen', '127.0.0.1:0', '--origin-host', 'relay.primary.example', '--realm', 'primary.example',
      // A route whose peer is down: the workers are alive but not ready.
      '--route', 'primary.example=127.0.0.1:1', '--metrics', '127.0.0.1:0'], { env: { ...process.env, MCX_PORT_SHARING: 'cluster', MCX_LOG_LEVEL: 'info' } });
    const ready = await relay.waitFor(/relay: listening diameter=tcp:\/\/127\.0\.0\.1:(\d+) metrics=(http:\/\/127\.0\.0\.1:\d+)\n/, 60_000);
    metricsUrl = ready[2] as string;
    for (let i = 1; i <= CLIENTS; i++) {
      const client = nodes.make({ originHost: `client${i}.partner.example`, originRealm: 'partner.example', applications: [CX_APPLICATION] });
      client.addPeer({ host: '127.0.0.1', port: Number(ready[1]), originHost: 'relay.primary.example' });
      await client.waitForPeer({ originHost: 'relay.primary.example' }, 10_000);
      // The relay cannot deliver it (its route is down): answered all the same, and counted by the worker that did.
      await client.request(buildMar({ ...MAR, sessionId: client.nextSessionId(), originHost: client.originHost, originRealm: client.originRealm, destinationRealm: 'primary.example' }), { timeoutMs: 5000 })
        .catch(() => undefined);
    }
    group = await scrape(`${metricsUrl}/metrics`);
  });

  after(async () => {
    await nodes.closeAll();
    await relay?.stop('SIGTERM', 20_000);
  });

  test('one ready line naming the listener; no worker binds it (the group starts)', () => {
    assert.equal(relay.output().match(/relay: listening/g)?.length, 1, relay.output());
    assert.doesNotMatch(relay.output(), /EADDRINUSE/);
  });

  test('/metrics holds every worker\'s peers: six clients, three on each worker, all up in one scrape', () => {
    const up = samples(group, 'mcx_relay_diameter_peer_up', RELAY).filter((s) => s.labels.peer?.startsWith('client'));
    assert.deepEqual(up.map((s) => `${s.labels.peer}=${s.value}`).sort(), Array.from({ length: CLIENTS }, (_, i) => `client${i + 1}.partner.example=1`));
    assert.equal(sum(group, 'mcx_relay_diameter_requests_received_total', { ...RELAY, command: 'MAR' }), CLIENTS, group.text);
  });

  test('mcx_worker_up is 1 for each worker; the group\'s process metrics are there', () => {
    assert.deepEqual(samples(group, 'mcx_worker_up', RELAY).map((s) => `${s.labels.worker}=${s.value}`).sort(), ['1=1', '2=1']);
    assert.ok(sum(group, 'mcx_process_cpu_user_seconds_total', RELAY) > 0);
    assert.equal(samples(group, 'mcx_process_start_time_seconds', RELAY).length, 1, 'one start time, not a sum');
  });

  test('a counter never goes back from one scrape to the next (each is the group\'s total)', async () => {
    const counters = samples(group, 'mcx_relay_diameter_requests_received_total', RELAY);
    for (let i = 0; i < 4; i++) {
      const again = await scrape(`${metricsUrl}/metrics`);
      for (const c of counters) assert.ok(sum(again, c.name, c.labels) >= c.value, `${JSON.stringify(c.labels)} went back`);
    }
  });

  test('promtool check metrics finds nothing wrong with the group\'s exposition', () => {
    const r = promtoolCheck(group.text);
    if (r.missing) assert.fail('promtool is needed: the test command installs the Debian package prometheus');
    assert.equal(r.status, 0, r.output);
    assert.equal(r.output.trim(), '');
  });

  test('a worker killed: mcx_worker_up 0 until the new one is ready, then 1 again; the replacement still starting is not waited for; the group\'s counts never go back', { timeout: 60_000 }, async () => {
    const pids = (/"pids":\[(\d+),(\d+)\]/.exec(relay.output()) as RegExpExecArray).slice(1).map(Number);
    process.kill(pids[1] as number, 'SIGKILL');
    await relay.waitFor(/relay: worker 2 exited with signal SIGKILL; starting a new one/, 10_000);
    const asked = performance.now();
    const during = await scrape(`${metricsUrl}/metrics`);
    // A worker that is asked and does not answer holds the scrape for WORKER_ANSWER_MS: the one starting is not asked.
    assert.ok(performance.now() - asked < WORKER_ANSWER_MS, `the scrape waited ${Math.round(performance.now() - asked)} ms for the worker still starting`);
    assert.doesNotMatch(relay.output(), /relay: worker 2 ready again/, 'the scrape was taken while the replacement was starting');
    assert.deepEqual(samples(during, 'mcx_worker_up', RELAY).map((s) => `${s.labels.worker}=${s.value}`).sort(), ['1=1', '2=0']);
    // The dead worker's MARs, as its last answer (the before hook's scrape) had them, still count (carried-counters.ts).
    const received = { ...RELAY, command: 'MAR' };
    assert.equal(sum(during, 'mcx_relay_diameter_requests_received_total', received), CLIENTS, during.text);
    await relay.waitFor(/relay: worker 2 ready again/, 30_000);
    const back = await scrape(`${metricsUrl}/metrics`);
    assert.deepEqual(samples(back, 'mcx_worker_up', RELAY).map((s) => `${s.labels.worker}=${s.value}`).sort(), ['1=1', '2=1']);
    // The replacement starts from zero on top of its predecessor's counts: the total did not go back.
    assert.equal(sum(back, 'mcx_relay_diameter_requests_received_total', received), CLIENTS, back.text);
  });

  test('/readyz is 503 naming each worker\'s failed check; /healthz 200', async () => {
    const res = await fetch(`${metricsUrl}/readyz`);
    assert.equal(res.status, 503);
    const body = await res.json() as { ready: boolean; checks: Record<string, string> };
    assert.equal(body.ready, false);
    assert.deepEqual(Object.keys(body.checks).sort(), ['worker 1', 'worker 2']);
    for (const v of Object.values(body.checks)) assert.match(v, /primary\.example.*no open peer|no peer has come up/);
    assert.equal((await fetch(`${metricsUrl}/healthz`)).status, 200);
  });
});
