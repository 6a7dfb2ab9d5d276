/**
 * DESIGN §2.5: a worker group's counters never go back (lib/workers/carried-counters.ts, merged as group-metrics.ts
 * merges): a worker missing from a scrape still adds the counters and histograms of its last answer, not its gauges;
 * a replacement's predecessor is carried into the slot's base. Real prom-client registries, rendered and parsed as a
 * scrape would be; the relay group test kills a real worker.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import { mergeMetrics } from '../../lib/metrics/merge.ts';
import type { MetricJson } from '../../lib/metrics/role-metrics.ts';
import { CarriedCounters, type SlotAnswer } from '../../lib/workers/carried-counters.ts';
import { histogram, parseExposition, sum, type Exposition } from '../helpers/prometheus.ts';

const LABELS = { system: 'primary', role: 'hss' };

/** One worker process's metrics: `mar` MARs, `conns` open connections, and round trips of `seconds` each. */
async function worker(mar: number, conns: number, seconds: number[]): Promise<MetricJson[]> {
  const r = new Registry();
  new Counter({ name: 'mcx_hss_mar_total', help: 'MARs', registers: [r] }).inc(mar);
  new Gauge({ name: 'mcx_hss_connections', help: 'open', registers: [r] }).set(conns);
  const h = new Histogram({ name: 'mcx_hss_round_trip_seconds', help: 'rt', buckets: [0.001, 0.01], registers: [r] });
  for (const s of seconds) h.observe(s);
  return (await r.getMetricsAsJSON()) as MetricJson[];
}

/** One scrape of the group: the answers merged with what the carried counters add, as GroupMetrics does. */
async function scrapeGroup(carried: CarriedCounters, answers: Array<SlotAnswer | undefined>): Promise<Exposition> {
  const extra = await carried.record(new Map(answers.map((a, i) => [i + 1, a])));
  const sources = answers.filter((a): a is SlotAnswer => a !== undefined).map((a) => ({ labels: a.labels, metrics: a.metrics }));
  return parseExposition(await mergeMetrics([...sources, ...extra]).metrics());
}

describe('DESIGN §2.5: a worker group\'s counters never go back', () => {
  test('every worker answers: the plain sums, nothing added', async () => {
    const c = new CarriedCounters();
    const e = await scrapeGroup(c, [{ workerId: 1, labels: LABELS, metrics: await worker(3, 2, [0.0005]) }, { workerId: 2, labels: LABELS, metrics: await worker(5, 1, [0.005]) }]);
    assert.equal(sum(e, 'mcx_hss_mar_total', LABELS), 8);
    assert.equal(sum(e, 'mcx_hss_connections', LABELS), 3);
    assert.deepEqual(histogram(e, 'mcx_hss_round_trip_seconds', LABELS).count, 2);
  });

  test('a worker silent for a scrape: its last counters and histograms still count, its gauges do not', async () => {
    const c = new CarriedCounters();
    const two = { workerId: 2, labels: LABELS, metrics: await worker(5, 1, [0.005, 0.005]) };
    await scrapeGroup(c, [{ workerId: 1, labels: LABELS, metrics: await worker(3, 2, [0.0005]) }, two]);
    const e = await scrapeGroup(c, [{ workerId: 1, labels: LABELS, metrics: await worker(4, 2, [0.0005]) }, undefined]);
    assert.equal(sum(e, 'mcx_hss_mar_total', LABELS), 4 + 5);
    assert.equal(sum(e, 'mcx_hss_connections', LABELS), 2, 'a level is not carried');
    const h = histogram(e, 'mcx_hss_round_trip_seconds', LABELS);
    assert.equal(h.count, 3);
    assert.deepEqual(h.buckets.find(([le]) => le === 0.01), [0.01, 3]);
    // It answers again, the same process: its new values replace the last ones, nothing is counted twice.
    const back = await scrapeGroup(c, [{ workerId: 1, labels: LABELS, metrics: await worker(4, 2, [0.0005]) }, { ...two, metrics: await worker(6, 1, [0.005, 0.005]) }]);
    assert.equal(sum(back, 'mcx_hss_mar_total', LABELS), 4 + 6);
  });

  test('a worker replaced: the new process starts from zero on top of its predecessor\'s last counters', async () => {
    const c = new CarriedCounters();
    await scrapeGroup(c, [{ workerId: 1, labels: LABELS, metrics: await worker(3, 2, []) }, { workerId: 2, labels: LABELS, metrics: await worker(5, 1, [0.005]) }]);
    const dead = await scrapeGroup(c, [{ workerId: 1, labels: LABELS, metrics: await worker(3, 2, []) }, undefined]);
    assert.equal(sum(dead, 'mcx_hss_mar_total', LABELS), 8);
    const replaced = await scrapeGroup(c, [{ workerId: 1, labels: LABELS, metrics: await worker(3, 2, []) }, { workerId: 3, labels: LABELS, metrics: await worker(1, 1, [0.0005]) }]);
    assert.equal(sum(replaced, 'mcx_hss_mar_total', LABELS), 3 + 5 + 1);
    assert.equal(sum(replaced, 'mcx_hss_connections', LABELS), 3, 'only the living processes\' levels');
    assert.equal(histogram(replaced, 'mcx_hss_round_trip_seconds', LABELS).count, 2);
    // Replaced once more: both predecessors stay in the base.
    const again = await scrapeGroup(c, [{ workerId: 1, labels: LABELS, metrics: await worker(3, 2, []) }, { workerId: 4, labels: LABELS, metrics: await worker(2, 1, []) }]);
    assert.equal(sum(again, 'mcx_hss_mar_total', LABELS), 3 + 5 + 1 + 2);
  });
});
