/**
 * What each role process carries for observability: its metrics (role-metrics.ts), its readiness (readiness.ts) and,
 * with `--metrics HOST:PORT`, the listener serving both (endpoint.ts). A role makes one at the start of its start,
 * registers its metrics and checks as its parts come up, and calls {@link RoleTelemetry.serve} at the end: from
 * then on it is ready, until its stop begins. A worker of a group (`--workers N`) does not listen: the supervisor
 * serves the group's listener and asks each worker over IPC (lib/workers/group-metrics.ts).
 */
import { formatHostPort, type HostPort } from '../config/address.ts';
import type { Teardown } from '../lifecycle.ts';
import type { Logger } from '../log.ts';
import { workerSlot } from '../workers/group.ts';
import { onMetricsRequest } from '../workers/messages.ts';
import { listenMetrics, type MetricsTarget } from './endpoint.ts';
import { Readiness, type ReadinessReport } from './readiness.ts';
import { RoleMetrics, type MetricJson, type MetricsRole } from './role-metrics.ts';

/** The metrics settings of a role (`--metrics`). */
export interface MetricsConfig {
  /** Where the metrics listener listens; none without it (the admin API's `/metrics` stays, behind its token). */
  listen?: HostPort;
  /** The `system` label (default: the role's side, `primary` or `partner`); the testbed gives its own names. */
  system?: string;
}

/** A role's metrics and readiness. */
export class RoleTelemetry implements MetricsTarget {
  readonly metrics: RoleMetrics;
  readonly ready = new Readiness();
  /** `http://host:port` of the metrics listener, once {@link serve} opened one. */
  url: string | undefined;

  /**
   * @param role metric name prefix and `role` label.
   * @param system the `system` label.
   */
  constructor(role: MetricsRole, system: string) {
    this.metrics = new RoleMetrics(role, undefined, { system });
  }

  scrape(): Promise<{ body: string; contentType: string }> {
    return this.metrics.scrape();
  }

  json(withProcess = true): Promise<MetricJson[]> {
    return this.metrics.json(withProcess);
  }

  readiness(): ReadinessReport {
    return this.ready.report();
  }

  /**
   * The end of the role's start: ready from now on, not ready once `teardown` begins; the listener on `at` (if
   * any) closes after the role's listeners and peers, before the store.
   * @returns the listener's `http://host:port`, if any.
   * @throws listen errors (EADDRINUSE) as they come.
   */
  async serve(at: HostPort | undefined, teardown: Teardown, logger: Logger): Promise<string | undefined> {
    if (workerSlot()) {
      // The supervisor listens on `at` (a port it fixed), and serves the admin API's `/metrics` for the group: it asks
      // this worker at each scrape of either.
      const labels = this.metrics.labels ?? { system: 'unknown', role: this.metrics.role };
      const stop = onMetricsRequest(async () => ({ labels, metrics: await this.json(), readiness: this.readiness() }));
      teardown.add('store', async () => stop());
      if (at) this.url = `http://${formatHostPort(at)}`;
    } else if (at) {
      const listener = await listenMetrics(at, this, logger);
      teardown.add('store', () => listener.close());
      this.url = listener.url;
    }
    // Registered last, so it runs first when the stop begins (lib/lifecycle.ts: last opened, first closed).
    teardown.add('listeners', async () => this.ready.stopping());
    this.ready.started();
    return this.url;
  }
}

/** The `--metrics` option's help, the same for every role. */
export const METRICS_OPTION_HELP = 'metrics listener (plain HTTP, no token: keep it on loopback): GET /metrics (Prometheus), /healthz, /readyz; none by default';

/** What a role's ready line ends with when it serves metrics: ` metrics=http://host:port` (nothing otherwise, so the line stays as it was). */
export function metricsReadySuffix(url: string | undefined): string {
  return url ? ` metrics=${url}` : '';
}
