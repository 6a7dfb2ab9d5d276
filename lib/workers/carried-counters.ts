/**
 * What keeps a worker group's counters from going back (group-metrics.ts). The group's counter is the sum of its
 * workers', and Prometheus reads any decrease of a counter as a reset to zero: a worker missing from one scrape (being
 * replaced, or slower than `WORKER_ANSWER_MS`) would take its counts out of the sum, and `rate()` would then count the
 * whole remaining total again as new. So, per worker slot:
 *
 * - a worker that does not answer this scrape still contributes the counters and histograms of its last answer (what
 *   it had counted is not undone by its silence; gauges are levels of now and are left out);
 * - when a new process answers for a slot (a replacement), its predecessor's last counters and histograms are carried
 *   into the slot's base, which later scrapes add, so the new process starting from zero lowers nothing.
 *
 * What a worker counted after its last answer and before it died is lost: no one has it any more. A restart of the
 * whole group starts from zero, which Prometheus reads as the reset it is.
 */
import { AggregatorRegistry } from 'prom-client';
import type { LabelledMetrics } from '../metrics/merge.ts';
import type { MetricJson, RoleLabels } from '../metrics/role-metrics.ts';

/** One worker's answer to a scrape as the slot keeps it. */
export interface SlotAnswer {
  /** The cluster id of the worker process that answered (a replacement has a new one). */
  workerId: number;
  labels: RoleLabels;
  metrics: readonly MetricJson[];
}

interface Slot {
  workerId: number;
  labels: RoleLabels;
  /** The counters and histograms of the last answer of process `workerId`. */
  last: MetricJson[];
  /** The counters and histograms of the slot's earlier processes, summed. */
  carried: MetricJson[];
}

/**
 * Counters and histograms: what only goes up in a process, and so may be carried. (prom-client's typings declare
 * `type` a numeric enum; at run time it is the exposition's type name.)
 */
const cumulative = (metrics: readonly MetricJson[]): MetricJson[] => metrics.filter((m) => {
  const type = m.type as unknown as string;
  return type === 'counter' || type === 'histogram';
});

/** Per worker slot: the last counters of its process and those of the processes it replaced. */
export class CarriedCounters {
  readonly #slots = new Map<number, Slot>();

  /**
   * Records one scrape's answers.
   * @param answers by slot index (1…count): the answer of the worker asked, or undefined when it gave none.
   * @returns what to merge besides this scrape's answers: the carried base of every slot, and the last counters of a
   *   slot that did not answer.
   */
  async record(answers: ReadonlyMap<number, SlotAnswer | undefined>): Promise<LabelledMetrics[]> {
    for (const [index, a] of answers) {
      if (a === undefined) continue;
      const slot = this.#slots.get(index);
      const last = cumulative(a.metrics);
      if (slot === undefined) {
        this.#slots.set(index, { workerId: a.workerId, labels: a.labels, last, carried: [] });
        continue;
      }
      if (slot.workerId !== a.workerId) {
        slot.carried = await sum(slot.carried, slot.last);
        slot.workerId = a.workerId;
      }
      slot.labels = a.labels;
      slot.last = last;
    }
    const extra: LabelledMetrics[] = [];
    for (const [index, slot] of this.#slots) {
      if (slot.carried.length > 0) extra.push({ labels: slot.labels, metrics: slot.carried });
      if (answers.get(index) === undefined && slot.last.length > 0) extra.push({ labels: slot.labels, metrics: slot.last });
    }
    return extra;
  }
}

/** Two sets of counters and histograms added up, sample by sample (prom-client's aggregation, as merge.ts uses it). */
async function sum(a: readonly MetricJson[], b: readonly MetricJson[]): Promise<MetricJson[]> {
  if (a.length === 0) return [...b];
  return (await AggregatorRegistry.aggregate([[...a], [...b]]).getMetricsAsJSON()) as MetricJson[];
}
