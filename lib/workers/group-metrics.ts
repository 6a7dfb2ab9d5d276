/**
 * The one metrics listener of a worker group (`mcx <role> --workers N --metrics HOST:PORT`), served by the supervisor:
 * at each scrape it asks every worker for its metrics and readiness over IPC (messages.ts) and answers for the group,
 * so a Prometheus scrape sees the group's totals whichever way the traffic was spread, and a counter never goes back
 * because another worker answered.
 *
 * - `/metrics`, `/metrics.json`: the workers' samples joined by prom-client's aggregation (merge.ts): counters and
 *   histograms add up, gauges too (levels of the group: connections, pending challenges) unless the metric says
 *   otherwise (event-loop lag is averaged, version and info gauges are taken once), the supervisor's own process
 *   metrics added (process CPU and memory are the group's), and `mcx_worker_up{worker}`: 1 for each worker whose
 *   metrics are in this scrape, 0 for one that did not answer within `WORKER_ANSWER_MS` (poll.ts), is not running or
 *   is not ready yet (a replacement still starting is not asked). Counters and histograms never go back
 *   (carried-counters.ts): a worker missing from a scrape still adds its last ones, and a replaced worker's are
 *   carried into its slot's base.
 * - `/readyz`: ready when every worker is; its checks are per worker.
 * - `/healthz`: the supervisor answers.
 */
import type { Worker } from 'node:cluster';
import { Gauge, Registry } from 'prom-client';
import type { MetricsTarget } from '../metrics/endpoint.ts';
import { mergeMetrics } from '../metrics/merge.ts';
import { readinessSummary, type ReadinessReport } from '../metrics/readiness.ts';
import { processRegistry, type MetricJson, type RoleLabels } from '../metrics/role-metrics.ts';
import { CarriedCounters, type SlotAnswer } from './carried-counters.ts';
import type { MetricsAnswer } from './messages.ts';
import { WorkerPoll } from './poll.ts';

type Answer = Omit<MetricsAnswer, 'mcx' | 'id'>;

/** The group's metrics, read from its workers at each scrape. */
export class GroupMetrics implements MetricsTarget {
  readonly #poll = new WorkerPoll<Answer>((worker, id) => worker.send({ mcx: 'metrics', id }));
  readonly #carried = new CarriedCounters();

  /**
   * @param role the `role` label when no worker answered (the workers name their `system`).
   * @param count workers 1…count.
   * @param workers the running workers by index, read at each scrape.
   */
  constructor(private readonly role: string, private readonly count: number, private readonly workers: () => ReadonlyMap<number, Worker>) {}

  /** A worker's answer, as the supervisor receives it. */
  answered(m: MetricsAnswer): void {
    this.#poll.answered(m.id, { labels: m.labels, metrics: m.metrics, readiness: m.readiness });
  }

  /** Every worker's answer, by index 1…count (undefined: not running or no answer in time). */
  #askAll(): Promise<Array<Answer | undefined>> {
    return this.#poll.all(this.count, this.workers());
  }

  async #merged(): Promise<Registry> {
    const workers = this.workers();
    const answers = await this.#poll.all(this.count, workers);
    const bySlot = new Map(answers.map((a, i): [number, SlotAnswer | undefined] => {
      const worker = workers.get(i + 1);
      return [i + 1, a && worker ? { workerId: worker.id, labels: a.labels, metrics: a.metrics } : undefined];
    }));
    const kept = await this.#carried.record(bySlot);
    const labels: RoleLabels = answers.find((a) => a !== undefined)?.labels ?? { system: 'unknown', role: this.role };
    // A registry per scrape: the gauge holds exactly the workers of this scrape.
    const upRegistry = new Registry();
    const up = new Gauge({
      name: 'mcx_worker_up', help: '1 when the worker\'s metrics are in this scrape of the group, 0 when it is not running, not ready yet or did not answer',
      labelNames: ['system', 'role', 'worker'], registers: [upRegistry],
    });
    answers.forEach((a, i) => up.set({ ...labels, worker: String(i + 1) }, a ? 1 : 0));
    const own = (await processRegistry().getMetricsAsJSON()) as MetricJson[];
    const sources = answers.filter((a): a is Answer => a !== undefined).map((a) => ({ labels: a.labels, metrics: a.metrics }));
    return mergeMetrics([...sources, ...kept, { labels, metrics: own }], (await upRegistry.getMetricsAsJSON()) as MetricJson[]);
  }

  async scrape(): Promise<{ body: string; contentType: string }> {
    const r = await this.#merged();
    return { body: await r.metrics(), contentType: r.contentType };
  }

  async json(): Promise<MetricJson[]> {
    return (await (await this.#merged()).getMetricsAsJSON()) as MetricJson[];
  }

  /** Ready when every worker is: per worker `ok`, or its checks that are not. */
  async readiness(): Promise<ReadinessReport> {
    const checks: Record<string, string> = {};
    (await this.#askAll()).forEach((a, i) => {
      checks[`worker ${i + 1}`] = a === undefined ? 'not running, not ready yet or not answering' : readinessSummary(a.readiness);
    });
    return { ready: Object.values(checks).every((v) => v === 'ok'), checks };
  }
}
