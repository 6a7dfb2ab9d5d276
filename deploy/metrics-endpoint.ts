/**
 * The testbed's one Prometheus endpoint (`mcx testbed --metrics`, printed in the summary): every role's metrics in
 * one exposition, told apart by the labels `system` (`primary`, `partner`, `partner-a` …) and `role` (`hss`,
 * `relay`, `mms`, `registrar`, `idms`), read fresh at each scrape — from the registries of the roles in this process,
 * and over loopback HTTP from each role process's own `--metrics` listener (roles.ts starts them so) — plus this
 * process's metrics as `system="testbed",role="testbed"` and `mcx_testbed_role_up{system,role}` (1 when the role's
 * metrics could be read). `/readyz` is ready when every role is; `/healthz` when the testbed process answers. Plain
 * HTTP without a token, so loopback only (testbed.ts refuses any other address).
 */
import { Gauge, Registry } from 'prom-client';
import type { HostPort } from '../lib/config/address.ts';
import type { Logger } from '../lib/log.ts';
import { listenMetrics, type MetricsListener, type MetricsTarget } from '../lib/metrics/endpoint.ts';
import { mergeMetrics, type LabelledMetrics } from '../lib/metrics/merge.ts';
import { readinessSummary, type ReadinessReport } from '../lib/metrics/readiness.ts';
import { processRegistry, type MetricJson } from '../lib/metrics/role-metrics.ts';
import type { RoleMetricsSource } from './role-handle.ts';

/** The labels of the testbed process's own metrics. */
const TESTBED = { system: 'testbed', role: 'testbed' } as const;

const key = (s: RoleMetricsSource): string => `${s.labels.system}/${s.labels.role}`;

/** The testbed's metrics: its roles', joined. */
export class TestbedMetrics implements MetricsTarget {
  /** @param sources the roles now (read at each scrape: roles started later count too). */
  constructor(private readonly sources: () => readonly RoleMetricsSource[], private readonly logger: Logger) {}

  private async merged(): Promise<ReturnType<typeof mergeMetrics>> {
    const sources = this.sources();
    const read = await Promise.all(sources.map(async (s): Promise<LabelledMetrics | undefined> => {
      try {
        return { labels: s.labels, metrics: await s.json() };
      } catch (e) {
        this.logger.warn({ role: key(s), err: (e as Error).message }, 'testbed metrics: a role could not be read');
        return undefined;
      }
    }));
    // A registry per scrape: the gauge holds exactly the roles of this scrape.
    const upRegistry = new Registry();
    const up = new Gauge({ name: 'mcx_testbed_role_up', help: '1 when the metrics of the role could be read at this scrape, 0 when not', labelNames: ['system', 'role'], registers: [upRegistry] });
    sources.forEach((s, i) => up.set({ ...s.labels }, read[i] ? 1 : 0));
    const own = (await processRegistry().getMetricsAsJSON()) as MetricJson[];
    return mergeMetrics([{ labels: TESTBED, metrics: own }, ...read.filter((r): r is LabelledMetrics => r !== undefined)],
      (await upRegistry.getMetricsAsJSON()) as MetricJson[]);
  }

  async scrape(): Promise<{ body: string; contentType: string }> {
    const r = await this.merged();
    return { body: await r.metrics(), contentType: r.contentType };
  }

  async json(): Promise<MetricJson[]> {
    return (await (await this.merged()).getMetricsAsJSON()) as MetricJson[];
  }

  /** Ready when every role is: per role `ok`, or its checks that are not. */
  async readiness(): Promise<ReadinessReport> {
    const checks: Record<string, string> = {};
    await Promise.all(this.sources().map(async (s) => {
      try {
        const r = await s.readiness();
        checks[key(s)] = readinessSummary(r);
      } catch (e) {
        checks[key(s)] = `unreachable: ${(e as Error).message}`;
      }
    }));
    const values = Object.values(checks);
    return { ready: values.length > 0 && values.every((v) => v === 'ok'), checks };
  }
}

/**
 * Serves the testbed's metrics on `at` (loopback).
 * @throws listen errors (EADDRINUSE) as they come.
 */
export function listenTestbedMetrics(at: HostPort, sources: () => readonly RoleMetricsSource[], logger: Logger): Promise<MetricsListener> {
  return listenMetrics(at, new TestbedMetrics(sources, logger), logger);
}
