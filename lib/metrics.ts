/**
 * Prometheus metrics of a role (prom-client), made from the counters its admin API already serves as
 * `GET /admin/v1/stats`, so the two never disagree: every number becomes a counter `mcx_<role>_<name>_total`, every
 * map of numbers one counter with a `key` label, every string a label of `mcx_<role>_info 1`; prom-client's process
 * metrics (`mcx_process_…`, one set per process) come with them. Served as `GET /metrics` on the admin API (bearer token like every admin route).
 */
import { Counter, Gauge, Registry, collectDefaultMetrics } from 'prom-client';

/** What a role reports: the same record as its `/admin/v1/stats`. */
export type StatsSource = () => Record<string, unknown>;

// One set of process metrics per process, whatever number of admin APIs it runs (the testbed runs several): each
// collectDefaultMetrics call would add its own event-loop and GC monitors.
let processMetrics: Registry | undefined;
function processRegistry(): Registry {
  if (!processMetrics) {
    processMetrics = new Registry();
    collectDefaultMetrics({ register: processMetrics, prefix: 'mcx_' });
  }
  return processMetrics;
}

const snake = (s: string): string => s.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`).replace(/[^a-z0-9_]/g, '_');

/** A role's metrics, read fresh from `stats` at each scrape. */
export class RoleMetrics {
  readonly registry = new Registry();
  private readonly counters = new Map<string, Counter<string>>();
  private info: Gauge<string> | undefined;

  /**
   * @param role `hss`, `registrar`, `mms`…: the metric name prefix.
   * @param stats the role's counters.
   */
  constructor(private readonly role: string, private readonly stats: StatsSource) {
    processRegistry();
  }

  private counter(name: string, labelled: boolean): Counter<string> {
    let c = this.counters.get(name);
    if (!c) {
      c = new Counter({ name: `mcx_${this.role}_${snake(name)}_total`, help: `${name} (as in /admin/v1/stats)`, labelNames: labelled ? ['key'] : [], registers: [this.registry] });
      this.counters.set(name, c);
    }
    return c;
  }

  private refresh(): void {
    const labels: Record<string, string> = {};
    for (const [name, value] of Object.entries(this.stats())) {
      if (typeof value === 'number' && Number.isFinite(value)) {
        const c = this.counter(name, false);
        c.reset();
        c.inc(value);
      } else if (typeof value === 'string') labels[snake(name)] = value;
      else if (typeof value === 'object' && value !== null && !Array.isArray(value)) {
        const c = this.counter(name, true);
        c.reset();
        for (const [key, v] of Object.entries(value)) if (typeof v === 'number' && Number.isFinite(v)) c.inc({ key }, v);
      }
    }
    // The facts are fixed for the life of the process, and a gauge declares its label names up front: made once.
    if (!this.info && Object.keys(labels).length > 0) {
      this.info = new Gauge({ name: `mcx_${this.role}_info`, help: `facts about this ${this.role} process (labels)`, labelNames: Object.keys(labels), registers: [this.registry] });
      this.info.set(labels, 1);
    }
  }

  /** The exposition text and its content type. */
  async scrape(): Promise<{ body: string; contentType: string }> {
    this.refresh();
    const merged = Registry.merge([processRegistry(), this.registry]);
    return { body: await merged.metrics(), contentType: merged.contentType };
  }
}
