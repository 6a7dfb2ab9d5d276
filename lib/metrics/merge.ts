/**
 * Several roles' metrics as one exposition (the testbed's endpoint): each role's prom-client JSON with its `system`
 * and `role` labels set on every sample, metric families of the same name joined, rendered by prom-client
 * (`AggregatorRegistry.aggregate`, the library's own way to join registries). Samples of different roles never
 * collide — their labels differ — so aggregation joins families and changes no value; two sources with the very
 * same labels (a second registrar instance of one system) add up, as one system's totals should.
 */
import { AggregatorRegistry, type Registry } from 'prom-client';
import type { MetricJson, RoleLabels } from './role-metrics.ts';

/** One role's metrics and the labels that tell it apart. */
export interface LabelledMetrics {
  labels: RoleLabels;
  metrics: readonly MetricJson[];
}

/**
 * The families of every source, relabelled and joined.
 * @param own families added as they are, labels and all (the merger's own, e.g. which sources answered).
 * @returns a registry to render (`metrics()`) or read (`getMetricsAsJSON()`).
 */
export function mergeMetrics(sources: readonly LabelledMetrics[], own: readonly MetricJson[] = []): Registry {
  const relabelled = sources.map(({ labels, metrics }) => metrics.map((m): MetricJson => ({
    ...m,
    // `omit` (prom-client's process start time) would drop the family: each source's sample is its own.
    aggregator: m.aggregator === 'omit' ? 'first' : m.aggregator,
    values: m.values.map((v) => ({ ...v, labels: { ...v.labels, ...labels } })),
  })));
  return AggregatorRegistry.aggregate([...relabelled, [...own]]);
}
