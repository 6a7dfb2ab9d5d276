/**
 * Issue #14 item 2, per role process (every role its own `mcx` process, as an operator runs them): each serves
 * `--metrics` — `/metrics` without a token, labelled with its system and role, `/healthz`, `/readyz` — on the
 * address its ready line names, while its admin API's `/metrics` keeps its bearer token. The testbed's endpoint
 * reads the processes over loopback and relabels them (the same values). Readiness follows a real condition: the
 * relay is ready while its route to the HSS has an open peer; the HSS stopped (DPR), the relay's `/readyz` is 503
 * naming that route and its `mcx_relay_diameter_peer_up` for the HSS is 0; the HSS back on its port, 200 again.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { RoleHandle } from '../../deploy/role-handle.ts';
import { listenTestbedMetrics } from '../../deploy/metrics-endpoint.ts';
import type { TwoSystemTestbed } from '../../deploy/testbed-builder.ts';
import { silentLogger } from '../../lib/log.ts';
import type { MetricsListener } from '../../lib/metrics/endpoint.ts';
import { freePort } from '../helpers/ports.ts';
import { scrape, sum } from '../helpers/prometheus.ts';
import { runSipp, writeAkaScenario, type SippUser } from '../helpers/sipp.ts';
import { K, OP, PARTNER_REALM, USER, sipChain, staticTestbed, type SipChain } from '../mms/testbed.ts';

const UE: SippUser = { domain: PARTNER_REALM, impi: USER.partner.impi, impu: USER.partner.impus[0], k: K, op: OP, amf: '8000' };
const ROUTE = 'route to primary.example';

/** The metrics URL of a role process's ready line. */
function metricsUrl(h: RoleHandle): string {
  const m = /: listening .* metrics=(http:\/\/127\.0\.0\.1:\d+)$/m.exec(h.output());
  assert.ok(m, `${h.name} printed no metrics= on its ready line:\n${h.output().slice(-1500)}`);
  return m[1] as string;
}

interface Ready {
  status: number;
  body: { ready: boolean; checks: Record<string, string> };
}

async function readyz(base: string): Promise<Ready> {
  const res = await fetch(`${base}/readyz`);
  return { status: res.status, body: await res.json() as Ready['body'] };
}

/** Polls `/readyz` until its status is `status` (bounded). */
async function readyzUntil(base: string, status: number, ms: number): Promise<Ready> {
  const deadline = Date.now() + ms;
  for (;;) {
    const r = await readyz(base);
    if (r.status === status || Date.now() > deadline) return r;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

describe('role processes: --metrics without a token, the testbed endpoint relabelling them, /readyz following the Diameter route', () => {
  let tb: TwoSystemTestbed;
  let chain: SipChain;
  let endpoint: MetricsListener;

  before(async () => {
    tb = await staticTestbed('metrics-processes', { amf: UE.amf, registrarTls: false, randPolicy: 'sipp361' });
    chain = await sipChain(tb);
    endpoint = await listenTestbedMetrics({ host: '127.0.0.1', port: 0 }, () => tb.metricsSources(), silentLogger);
    tb.defer(() => endpoint.close());
  });
  after(async () => {
    await tb?.close();
  });

  test('each role process serves /metrics on its ready line\'s metrics= URL, no token, every sample labelled with its system and role', async () => {
    const expected: Array<[RoleHandle, string, string]> = [
      [chain.hss, 'primary', 'hss'], [chain.relay, 'primary', 'relay'], [chain.mms, 'partner', 'mms'], [chain.registrar, 'partner', 'registrar'],
    ];
    for (const [h, system, role] of expected) {
      const e = await scrape(`${metricsUrl(h)}/metrics`);
      assert.ok(e.samples.length > 50, `${h.name}: ${e.samples.length} samples`);
      for (const s of e.samples) assert.deepEqual([s.labels.system, s.labels.role], [system, role], `${h.name}: ${s.name}`);
      assert.ok(sum(e, 'mcx_process_cpu_user_seconds_total') > 0, `${h.name}: its own process metrics`);
      assert.equal((await fetch(`${metricsUrl(h)}/healthz`)).status, 200);
    }
    const admin = chain.hss.addresses.adminUrl as string;
    assert.equal((await fetch(`${admin}/metrics`)).status, 401, 'the admin API keeps its bearer token');
  });

  test('a SIPp registration moves the registrar process\'s counters; the testbed endpoint shows the same values, relabelled', async () => {
    const registrar = `${metricsUrl(chain.registrar)}/metrics`;
    const at = { result: 'registered', code: '200' };
    const before0 = sum(await scrape(registrar), 'mcx_registrar_registrations_total', at);
    const r = await runSipp(`127.0.0.1:${chain.registrar.sipPort('udp')}`, writeAkaScenario(UE, tb.dir), { transport: 'udp', localPort: await freePort() });
    assert.equal(r.code, 0, r.output.slice(-2000));
    const own = await scrape(registrar);
    assert.equal(sum(own, 'mcx_registrar_registrations_total', at) - before0, 1);
    const merged = await scrape(`${endpoint.url}/metrics`);
    const labels = { system: 'partner', role: 'registrar' };
    assert.equal(sum(merged, 'mcx_registrar_registrations_total', { ...at, ...labels }), sum(own, 'mcx_registrar_registrations_total', at));
    assert.equal(sum(merged, 'mcx_hss_diameter_requests_received_total', { system: 'primary', role: 'hss', command: 'SAR', result: '2001' }), 1);
    for (const [system, role] of [['primary', 'hss'], ['primary', 'relay'], ['partner', 'mms'], ['partner', 'registrar']]) {
      assert.equal(sum(merged, 'mcx_testbed_role_up', { system: system as string, role: role as string }), 1, `${system}/${role} read`);
      assert.ok(sum(merged, 'mcx_process_cpu_user_seconds_total', { system: system as string, role: role as string }) > 0, `${system}/${role}: the process's own metrics`);
    }
  });

  test('/readyz: the relay 200 while its route to the HSS is up; the HSS stopped → 503 naming the route, peer_up 0; the HSS back → 200', { timeout: 60_000 }, async () => {
    const relay = metricsUrl(chain.relay);
    const up = await readyz(relay);
    assert.equal(up.status, 200, JSON.stringify(up.body));
    assert.equal(up.body.checks[ROUTE], 'ok');
    assert.equal((await readyz(endpoint.url)).status, 200);

    const port = chain.hss.port;
    await chain.hss.stop();
    const down = await readyzUntil(relay, 503, 10_000);
    assert.equal(down.status, 503, JSON.stringify(down.body));
    assert.equal(down.body.ready, false);
    assert.match(down.body.checks[ROUTE] ?? '', /no open peer \(hss\.primary\.example down\)/);
    assert.equal(sum(await scrape(`${relay}/metrics`), 'mcx_relay_diameter_peer_up', { peer: 'hss.primary.example' }), 0);
    const testbed = await readyz(endpoint.url);
    assert.equal(testbed.status, 503);
    assert.match(testbed.body.checks['primary/relay'] ?? '', new RegExp(ROUTE));

    await tb.hss({ port });
    const again = await readyzUntil(relay, 200, 20_000);
    assert.equal(again.status, 200, JSON.stringify(again.body));
    assert.equal(sum(await scrape(`${relay}/metrics`), 'mcx_relay_diameter_peer_up', { peer: 'hss.primary.example' }), 1);
    assert.equal((await readyzUntil(endpoint.url, 200, 5000)).status, 200);
  });
});
