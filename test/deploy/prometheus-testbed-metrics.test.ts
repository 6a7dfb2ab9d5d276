/**
 * Issue #14 item 2, the testbed's metrics (Prometheus text exposition format 0.0.4): `mcx testbed` (kept running)
 * prints one metrics URL — the summary's first `http://127.0.0.1:PORT/metrics` — served without a token; SIPp 3.6.1
 * registers the demo user three times between two scrapes. Asserted on the wire: the counters moved by exactly what
 * the registrations did, hop by hop (registrar → partner MMS → relay → HSS); the registration latency histogram has
 * cumulative buckets whose `+Inf` is its `_count`, and its count moved by three; nothing went down or vanished
 * between the scrapes (counters are never reset by a scrape); every sample carries `system` and `role`; `promtool
 * check metrics` (Debian `prometheus`) finds nothing to say; `/healthz` and `/readyz` answer 200.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from '../helpers/ports.ts';
import { startMcx, type Proc } from '../helpers/process.ts';
import { familyOf, histogram, promtoolCheck, samples, scrape, seriesKey, sum, type Exposition } from '../helpers/prometheus.ts';
import { runSipp, writeAkaScenario } from '../helpers/sipp.ts';

const REGISTRATIONS = 3;
const REGISTRAR = { system: 'partner', role: 'registrar' };
const HSS = { system: 'primary', role: 'hss' };

describe('mcx testbed: one Prometheus endpoint for every role, counters and histograms that follow SIPp registrations', () => {
  let dir: string;
  let proc: Proc;
  let base: string;
  let before1: Exposition;
  let after1: Exposition;
  const sippCodes: Array<number | null> = [];

  before(async () => {
    assert.equal(spawnSync('sipp', ['-v']).error, undefined, 'sipp is needed: the test command installs the Debian package sip-tester');
    dir = await mkdtemp(join(tmpdir(), 'mcx-testbed-metrics-'));
    proc = startMcx(['testbed', '--ports', 'auto', '--dir', dir]);
    const ready = await proc.waitFor(/^testbed: ready udp=127\.0\.0\.1:(\d+) .* user=(\S+)$/m, 60_000);
    await proc.waitFor(/Ctrl-C stops every role/, 10_000);
    const first = /(https?:\/\/127\.0\.0\.1:\d+)\/metrics/.exec(proc.output());
    assert.ok(first, proc.output());
    base = first[1] as string;
    const u = JSON.parse(await readFile(ready[2] as string, 'utf8')) as { partner: { impi: string; impu: string }; k: string; op: string; amf: string };
    const scenario = writeAkaScenario({ domain: 'partner.mcx.test', impi: u.partner.impi, impu: u.partner.impu, k: u.k, op: u.op, amf: u.amf }, dir);
    before1 = await scrape(`${base}/metrics`);
    for (let i = 0; i < REGISTRATIONS; i++) {
      const r = await runSipp(`127.0.0.1:${ready[1] as string}`, scenario, { transport: 'udp', localPort: await freePort() });
      sippCodes.push(r.code);
      assert.equal(r.code, 0, r.output.slice(-2000));
    }
    after1 = await scrape(`${base}/metrics`);
  });
  after(async () => {
    await proc?.stop('SIGKILL');
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  test('the summary names the endpoint in one line, the first /metrics URL it prints; plain text format 0.0.4, no token', () => {
    assert.match(proc.output(), new RegExp(`^ {2}Prometheus metrics of every role \\(no token, loopback\\): ${base}/metrics {3}labels system, role {3}health ${base}/healthz, ${base}/readyz$`, 'm'));
    assert.match(after1.contentType, /^text\/plain; version=0\.0\.4/);
    assert.deepEqual(sippCodes, Array(REGISTRATIONS).fill(0));
  });

  test('mcx_registrar_registrations_total{result="registered",code="200"} moved by exactly the registrations SIPp made', () => {
    const at = { ...REGISTRAR, result: 'registered', code: '200' };
    assert.ok(sum(before1, 'mcx_registrar_registrations_total', at) >= 1, 'the demo registrations were counted before');
    assert.equal(sum(after1, 'mcx_registrar_registrations_total', at) - sum(before1, 'mcx_registrar_registrations_total', at), REGISTRATIONS);
    assert.equal(sum(after1, 'mcx_registrar_challenges_issued_total', REGISTRAR) - sum(before1, 'mcx_registrar_challenges_issued_total', REGISTRAR), REGISTRATIONS);
    assert.equal(sum(after1, 'mcx_registrar_registrations_total', { ...REGISTRAR, result: 'refused' }), 0);
  });

  test('registration latency: buckets cumulative up to +Inf = _count, count moved by the registrations, sum by a plausible time', () => {
    const at = { ...REGISTRAR, result: 'registered' };
    const h0 = histogram(before1, 'mcx_registrar_registration_duration_seconds', at);
    const h1 = histogram(after1, 'mcx_registrar_registration_duration_seconds', at);
    assert.ok(h1.buckets.length >= 10, 'buckets from milliseconds to seconds');
    for (let i = 1; i < h1.buckets.length; i++) assert.ok((h1.buckets[i]?.[1] ?? 0) >= (h1.buckets[i - 1]?.[1] ?? 0), `cumulative at le=${h1.buckets[i]?.[0]}`);
    assert.deepEqual(h1.buckets.at(-1), [Infinity, h1.count]);
    assert.equal(h1.count - h0.count, REGISTRATIONS);
    const took = h1.sum - h0.sum;
    assert.ok(took > 0 && took < REGISTRATIONS * 15, `${took} s for ${REGISTRATIONS} registrations`);
  });

  test('Cx hop by hop: every SAR the registrar sent reached the HSS (2001), through the partner MMS and the relay; MARs and vector generations agree', () => {
    const delta = (name: string, labels: Record<string, string>): number => sum(after1, name, labels) - sum(before1, name, labels);
    const sar = { command: 'SAR', result: '2001' };
    assert.equal(delta('mcx_registrar_diameter_requests_sent_total', { ...REGISTRAR, ...sar }), REGISTRATIONS);
    assert.equal(delta('mcx_mms_diameter_requests_sent_total', { system: 'partner', role: 'mms', peer: 'relay.primary.mcx.test', ...sar }), REGISTRATIONS);
    assert.equal(delta('mcx_relay_diameter_requests_sent_total', { system: 'primary', role: 'relay', peer: 'hss.primary.mcx.test', ...sar }), REGISTRATIONS);
    assert.equal(delta('mcx_hss_diameter_requests_received_total', { ...HSS, ...sar }), REGISTRATIONS);
    const rtt = histogram(after1, 'mcx_registrar_diameter_round_trip_seconds', { ...REGISTRAR, peer: 'mms.partner.mcx.test', command: 'SAR' });
    assert.equal(rtt.count - histogram(before1, 'mcx_registrar_diameter_round_trip_seconds', { ...REGISTRAR, peer: 'mms.partner.mcx.test', command: 'SAR' }).count, REGISTRATIONS);
    // The registrar keeps spare vectors (--auth-vectors 4): fewer MARs than challenges, but each one crossed every hop.
    const mars = delta('mcx_registrar_diameter_requests_sent_total', { ...REGISTRAR, command: 'MAR', result: '2001' });
    assert.equal(delta('mcx_hss_diameter_requests_received_total', { ...HSS, command: 'MAR', result: '2001' }), mars);
    assert.equal(delta('mcx_hss_vector_generation_seconds_count', HSS), mars);
    assert.equal(delta('mcx_registrar_challenges_from_kept_vectors_total', REGISTRAR) + mars, REGISTRATIONS);
    assert.equal(sum(after1, 'mcx_registrar_diameter_peer_up', { ...REGISTRAR, peer: 'mms.partner.mcx.test' }), 1);
  });

  test('nothing is reset by a scrape: every counter and histogram series of the first scrape is in the second, not lower', () => {
    let compared = 0;
    const later = new Map(after1.samples.map((s) => [seriesKey(s), s.value]));
    for (const s of before1.samples) {
      const family = familyOf(before1, s.name);
      const type = family === undefined ? undefined : before1.types.get(family);
      if (type !== 'counter' && type !== 'histogram') continue;
      const v = later.get(seriesKey(s));
      assert.ok(v !== undefined, `${seriesKey(s)} vanished`);
      assert.ok(v >= s.value, `${seriesKey(s)} went from ${s.value} to ${v}`);
      compared++;
    }
    assert.ok(compared > 100, `${compared} series compared`);
  });

  test('every sample says its system and role; the roles of both systems are there, each readable', () => {
    for (const s of after1.samples) assert.ok(s.labels.system && s.labels.role, `${s.name} without system/role`);
    const roles = new Set(samples(after1, 'mcx_testbed_role_up').map((s) => `${s.labels.system}/${s.labels.role}=${s.value}`));
    assert.deepEqual([...roles].sort(), ['partner/idms=1', 'partner/mms=1', 'partner/registrar=1', 'primary/hss=1', 'primary/idms=1', 'primary/mms=1', 'primary/relay=1']);
    assert.ok(sum(after1, 'mcx_idms_grants_total', { system: 'primary', role: 'idms', grant_type: 'token_exchange', result: 'ok' }) >= 1, 'the dynamic demo exchanged a token');
    assert.ok(sum(after1, 'mcx_process_cpu_user_seconds_total', { system: 'testbed', role: 'testbed' }) > 0);
  });

  test('promtool check metrics (Prometheus 2.42) finds nothing wrong with the exposition', (t) => {
    const r = promtoolCheck(after1.text);
    if (r.missing) assert.fail('promtool is needed: the test command installs the Debian package prometheus');
    t.diagnostic(`promtool: ${r.output.trim() || 'clean'}`);
    assert.equal(r.status, 0, r.output);
    assert.equal(r.output.trim(), '');
  });

  test('/healthz 200; /readyz 200 with every role ok; another path 404, another method 405', async () => {
    const health = await fetch(`${base}/healthz`);
    assert.equal(health.status, 200);
    assert.deepEqual(await health.json(), { status: 'ok' });
    const ready = await fetch(`${base}/readyz`);
    assert.equal(ready.status, 200);
    const body = await ready.json() as { ready: boolean; checks: Record<string, string> };
    assert.equal(body.ready, true);
    assert.deepEqual(Object.keys(body.checks).sort(), ['partner/idms', 'partner/mms', 'partner/registrar', 'primary/hss', 'primary/idms', 'primary/mms', 'primary/relay']);
    assert.equal((await fetch(`${base}/admin`)).status, 404);
    assert.equal((await fetch(`${base}/metrics`, { method: 'POST' })).status, 405);
  });
});
