/**
 * The Prometheus metrics of one role (prom-client): a registry of its own, so several roles in one process (the
 * testbed) keep apart, with
 *
 * - the role's own metrics, made through {@link RoleMetrics.counter} / {@link RoleMetrics.gauge} /
 *   {@link RoleMetrics.histogram}: named `mcx_<role>_<name>`, updated where things happen (counters only go up);
 * - a mirror of the counters its admin API serves as `GET /admin/v1/stats`, so the two never disagree: every number
 *   becomes a counter `mcx_<role>_<name>_total` (or a gauge, for the names given as such), every map of numbers one
 *   counter with a `key` label, every string a label of `mcx_<role>_info 1`; read from the stats at each scrape;
 * - prom-client's process metrics (`mcx_process_…`, one set per process) in {@link RoleMetrics.scrape}.
 *
 * With a `system` the text carries the labels `system` and `role` on every sample (the `--metrics` listener, the
 * testbed); without, none (an admin API built on its own, as in its tests).
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics, type MetricObjectWithValues, type MetricValue } from 'prom-client';

/** What a role reports: the same record as its `/admin/v1/stats`. */
export type StatsSource = () => Record<string, unknown>;

/** The roles, as metric name prefixes and `role` label values. */
export type MetricsRole = 'hss' | 'relay' | 'mms' | 'registrar' | 'idms';

/** The labels every sample of a role carries on its own endpoint and in the testbed's. */
export interface RoleLabels {
  /** `primary`, `partner`, or the testbed's name of a partner system (`partner-a`, …). */
  system: string;
  role: string;
}

/** How the stats mirror reads a stats record. */
export interface MirrorOptions {
  /** HELP text per stats name (default: the name, "as in /admin/v1/stats"). */
  help?: Readonly<Record<string, string>>;
  /** Names whose numbers are levels (current sizes), not counts: gauges `mcx_<role>_<name>`. */
  gauges?: readonly string[];
}

/** One metric family as prom-client gives it in JSON (what the testbed merges). */
export type MetricJson = MetricObjectWithValues<MetricValue<string>>;

// One set of process metrics per process, whatever number of roles it runs (the testbed runs several): each
// collectDefaultMetrics call would add its own event-loop and GC monitors.
let processMetrics: Registry | undefined;

/** The process metrics of this process (`mcx_process_…`, prom-client's defaults), made on first use. */
export function processRegistry(): Registry {
  if (!processMetrics) {
    processMetrics = new Registry();
    collectDefaultMetrics({ register: processMetrics, prefix: 'mcx_' });
    // Gauges named like counters (`promtool check metrics` flags them); `mcx_nodejs_active_handles` etc. say the same.
    for (const n of ['active_handles_total', 'active_requests_total', 'active_resources_total']) processMetrics.removeSingleMetric(`mcx_nodejs_${n}`);
  }
  return processMetrics;
}

const snake = (s: string): string => s.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`).replace(/[^a-z0-9_]/g, '_');

interface Mirror {
  stats: StatsSource;
  help: Readonly<Record<string, string>>;
  gauges: ReadonlySet<string>;
}

/** A role's metrics. */
export class RoleMetrics {
  readonly registry = new Registry();
  /** The `system` and `role` labels, when given. */
  readonly labels: RoleLabels | undefined;
  private readonly mirrors: Mirror[] = [];
  private readonly mirrored = new Map<string, Counter<string> | Gauge<string>>();
  private info: Gauge<string> | undefined;

  /**
   * @param role `hss`, `registrar`, `mms`…: the metric name prefix (`mcx_<role>_`) and the `role` label.
   * @param stats the role's `/admin/v1/stats` record, mirrored ({@link mirror}).
   * @param o `system`: label every sample with `system` and `role`; `mirror`: how `stats` is read.
   */
  constructor(readonly role: string, stats?: StatsSource, o: { system?: string; mirror?: MirrorOptions } = {}) {
    this.labels = o.system === undefined ? undefined : { system: o.system, role };
    if (stats) this.mirror(stats, o.mirror);
    processRegistry();
  }

  /** `mcx_<role>_<name>`. */
  name(name: string): string {
    return `mcx_${this.role}_${name}`;
  }

  /** A counter `mcx_<role>_<name>` (end `name` in `_total`). */
  counter<L extends string = never>(name: string, help: string, labelNames: readonly L[] = []): Counter<L> {
    return new Counter({ name: this.name(name), help, labelNames, registers: [this.registry] });
  }

  /** A gauge `mcx_<role>_<name>`; `collect` sets it at each scrape. */
  gauge<L extends string = never>(name: string, help: string, labelNames: readonly L[] = [], collect?: (g: Gauge<L>) => void | Promise<void>): Gauge<L> {
    return new Gauge({
      name: this.name(name), help, labelNames, registers: [this.registry],
      ...(collect ? { collect(this: Gauge<L>) {
        return collect(this);
      } } : {}),
    });
  }

  /** A histogram `mcx_<role>_<name>` (end `name` in its unit, `_seconds`) with upper bounds `buckets`. */
  histogram<L extends string = never>(name: string, help: string, labelNames: readonly L[], buckets: readonly number[]): Histogram<L> {
    return new Histogram({ name: this.name(name), help, labelNames, buckets: [...buckets], registers: [this.registry] });
  }

  /** Mirrors a stats record (read at each scrape): numbers as counters (or gauges), maps as `key`-labelled counters, strings as info labels. */
  mirror(stats: StatsSource, o: MirrorOptions = {}): void {
    this.mirrors.push({ stats, help: o.help ?? {}, gauges: new Set(o.gauges ?? []) });
  }

  private mirroredMetric(m: Mirror, stat: string, labelled: boolean): Counter<string> | Gauge<string> {
    let metric = this.mirrored.get(stat);
    if (!metric) {
      const help = m.help[stat] ?? `${stat} (as in /admin/v1/stats)`;
      const labelNames = labelled ? ['key'] : [];
      // `vectors_kept_total` is already a count: no second `_total`.
      metric = m.gauges.has(stat)
        ? this.gauge(snake(stat), help, labelNames)
        : this.counter(`${snake(stat).replace(/_total$/, '')}_total`, help, labelNames);
      this.mirrored.set(stat, metric);
    }
    return metric;
  }

  private refresh(): void {
    const facts: Record<string, string> = {};
    for (const m of this.mirrors) {
      for (const [stat, value] of Object.entries(m.stats())) {
        if (typeof value === 'number' && Number.isFinite(value)) {
          const metric = this.mirroredMetric(m, stat, false);
          // The stats only go up (gauges aside), so the counter read from them never goes down either.
          metric.reset();
          metric.inc(value);
        } else if (typeof value === 'string') facts[snake(stat)] = value;
        else if (typeof value === 'object' && value !== null && !Array.isArray(value)) {
          const metric = this.mirroredMetric(m, stat, true);
          metric.reset();
          for (const [key, v] of Object.entries(value)) if (typeof v === 'number' && Number.isFinite(v)) metric.inc({ key }, v);
        }
      }
    }
    // The facts are fixed for the life of the process, and a gauge declares its label names up front: made once.
    if (!this.info && Object.keys(facts).length > 0) {
      // `first`: the workers of a group state the same facts; summed, the group would say it twice (group-metrics.ts).
      this.info = new Gauge({ name: this.name('info'), help: `facts about this ${this.role} process (labels)`, labelNames: Object.keys(facts), registers: [this.registry], aggregator: 'first' });
      this.info.set(facts, 1);
    }
  }

  /** The exposition text (the role's metrics and this process's) and its content type. */
  async scrape(): Promise<{ body: string; contentType: string }> {
    this.refresh();
    const merged = Registry.merge([processRegistry(), this.registry]);
    if (this.labels) merged.setDefaultLabels({ ...this.labels });
    return { body: await merged.metrics(), contentType: merged.contentType };
  }

  /**
   * The role's metrics as prom-client JSON without the `system`/`role` labels (the testbed sets its own: merge.ts).
   * @param withProcess include this process's metrics (a role alone in its process).
   */
  async json(withProcess = false): Promise<MetricJson[]> {
    this.refresh();
    const own = (await this.registry.getMetricsAsJSON()) as MetricJson[];
    return withProcess ? [...(await processRegistry().getMetricsAsJSON()) as MetricJson[], ...own] : own;
  }
}
