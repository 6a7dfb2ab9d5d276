/**
 * What the supervisor of a worker group (supervisor.ts) and its workers say to each other over the `node:cluster` IPC
 * channel, and the worker's side of it: its ready line goes to the supervisor (which prints one for the group), the
 * supervisor's stop request stops it like a signal, and a worker may tell its siblings about a change to state they
 * keep in memory (a ban, a Registration-Termination-Request): the supervisor passes it on to every other worker.
 * With `--metrics`, the supervisor serves the group's one metrics listener and asks each worker for its metrics and
 * readiness at every scrape (group-metrics.ts). A worker asked for `/admin/v1/stats` or the admin `/metrics` asks the
 * supervisor for the group's (ask-supervisor.ts), which reads them from every worker (group-stats.ts, group-metrics.ts).
 *
 * Only small, non-secret facts travel here; what must be shared for correctness lives in the store.
 */
import type { ReadinessReport } from '../metrics/readiness.ts';
import type { MetricJson, RoleLabels } from '../metrics/role-metrics.ts';
import { workerSlot } from './group.ts';

/** A worker is ready; `line` is its ready line without the role prefix. */
export interface ReadyMessage {
  mcx: 'ready';
  line: string;
}

/** The supervisor asks a worker to stop gracefully. */
export interface StopMessage {
  mcx: 'stop';
}

/** A fact for the siblings of the sending worker. */
export interface SiblingMessage {
  mcx: 'sibling';
  topic: string;
  payload: unknown;
  /** Index of the worker it came from. */
  from: number;
}

/** The supervisor asks a worker for its metrics and readiness (a scrape of the group's listener). */
export interface MetricsRequest {
  mcx: 'metrics';
  id: number;
}

/** A worker's answer to {@link MetricsRequest} `id`. */
export interface MetricsAnswer {
  mcx: 'metrics-answer';
  id: number;
  labels: RoleLabels;
  /** The role's and the process's metrics, prom-client JSON without the `system`/`role` labels. */
  metrics: MetricJson[];
  readiness: ReadinessReport;
}

/** A worker asks the supervisor for the group's `/admin/v1/stats` (`group-stats`); the supervisor asks each worker for its own (`stats`). */
export interface StatsRequest {
  mcx: 'stats' | 'group-stats';
  id: number;
}

/** The answer to {@link StatsRequest} `id`: a worker's own counters, or the group's. */
export interface StatsAnswer {
  mcx: 'stats-answer' | 'group-stats-answer';
  id: number;
  stats: Record<string, unknown>;
}

/** A worker asks the supervisor for the group's metrics (the admin API's `/metrics`), read from every worker. */
export interface GroupMetricsRequest {
  mcx: 'group-metrics';
  id: number;
}

/** The answer to {@link GroupMetricsRequest} `id`: the group's exposition, as the `--metrics` listener serves it. */
export interface GroupMetricsAnswer {
  mcx: 'group-metrics-answer';
  id: number;
  body: string;
  contentType: string;
}

/** Every message of the group. */
export type GroupMessage = ReadyMessage | StopMessage | SiblingMessage | MetricsRequest | MetricsAnswer | StatsRequest | StatsAnswer |
  GroupMetricsRequest | GroupMetricsAnswer;

const WITH_ID = new Set(['metrics', 'metrics-answer', 'stats', 'stats-answer', 'group-stats', 'group-stats-answer', 'group-metrics', 'group-metrics-answer']);

/** Whether `m` is one of the group's messages (the channel may carry others: node:cluster's own). */
export function isGroupMessage(m: unknown): m is GroupMessage {
  if (typeof m !== 'object' || m === null) return false;
  const kind = (m as { mcx?: unknown }).mcx;
  if (typeof kind === 'string' && WITH_ID.has(kind)) return typeof (m as { id?: unknown }).id === 'number';
  return kind === 'ready' || kind === 'stop' || (kind === 'sibling' && typeof (m as { topic?: unknown }).topic === 'string');
}

function send(m: GroupMessage): void {
  // The channel is gone when the supervisor died; the worker is about to exit then (node:cluster does so).
  if (process.connected && process.send) process.send(m);
}

/** Tells the supervisor this worker is ready (the supervisor prints the group's ready line). */
export function reportReady(line: string): void {
  send({ mcx: 'ready', line });
}

/** Calls `onStop` once when the supervisor asks this worker to stop. @returns a function that stops listening. */
export function onStopRequest(onStop: () => void): () => void {
  const listener = (m: unknown): void => {
    if (isGroupMessage(m) && m.mcx === 'stop') onStop();
  };
  process.on('message', listener);
  return () => void process.off('message', listener);
}

/** Sends `payload` under `topic` to every other worker of the group; nothing outside a group. */
export function tellSiblings(topic: string, payload: unknown): void {
  const slot = workerSlot();
  if (slot && slot.count > 1) send({ mcx: 'sibling', topic, payload, from: slot.index });
}

/**
 * Calls `handler` with each payload a sibling sends under `topic`; nothing outside a group.
 * @returns a function that stops listening.
 */
export function onSiblingMessage(topic: string, handler: (payload: unknown, from: number) => void): () => void {
  if (!workerSlot()) return () => undefined;
  const listener = (m: unknown): void => {
    if (isGroupMessage(m) && m.mcx === 'sibling' && m.topic === topic) handler(m.payload, m.from);
  };
  process.on('message', listener);
  return () => void process.off('message', listener);
}

/**
 * Answers the supervisor's metrics requests with what `read` gives; nothing outside a group.
 * @returns a function that stops answering.
 */
export function onMetricsRequest(read: () => Promise<Omit<MetricsAnswer, 'mcx' | 'id'>>): () => void {
  if (!workerSlot()) return () => undefined;
  const listener = (m: unknown): void => {
    if (!isGroupMessage(m) || m.mcx !== 'metrics') return;
    // A worker that cannot read its metrics stays silent: the supervisor counts it as not answering (mcx_worker_up 0).
    read().then((a) => send({ mcx: 'metrics-answer', id: m.id, ...a }), () => undefined);
  };
  process.on('message', listener);
  return () => void process.off('message', listener);
}
