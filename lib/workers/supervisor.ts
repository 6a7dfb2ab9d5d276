/**
 * `mcx <role> --workers N`: the supervisor (the `node:cluster` primary) of N worker processes that each run the whole
 * role on the same addresses (group.ts says how the ports are shared). The supervisor itself opens no store, port or
 * peer; it
 *
 * - starts the workers with the command line it was given (plus `extraArgs`: the ports it fixed, see
 *   {@link fixedPort}), each told its index in the environment (group.ts): worker 1 first, the others once it is
 *   ready, so what a role does once at start (the HSS loading its `--subscribers` CSV) is done before any other worker
 *   takes requests;
 * - prints the group's one ready line (`<role>: <worker 1's ready line>`) once every worker is ready, and logs the
 *   workers' pids; a worker that exits before the group is ready fails the start: the others are stopped and the
 *   supervisor exits with that worker's status (2 for a bad option, which the worker has named on stderr);
 * - passes each worker's messages for its siblings on to the others (messages.ts);
 * - with `metrics`, listens there itself and serves the group's metrics and readiness, read from every worker at each
 *   scrape (group-metrics.ts); the workers do not listen;
 * - answers a worker's request for the group's `/admin/v1/stats` and admin `/metrics`, read from every worker
 *   (group-stats.ts, group-metrics.ts);
 * - starts a new worker in place of one that dies, at most {@link MAX_RESTARTS} times a minute (then it stops the
 *   group and exits 1: a worker that cannot stay up is a fault to look at, not to hide);
 * - on SIGINT/SIGTERM asks every worker to stop gracefully, waits for them (SIGKILL after {@link STOP_GRACE_MS}),
 *   prints `<role>: stopped` and exits 0 (1 when a worker did not stop cleanly); a second signal kills them at once.
 *
 * A worker's stdout and stderr are the supervisor's, so its log lines (with `worker` = its index) and its errors
 * appear as they would from a single process. When the supervisor is killed, node:cluster ends the workers: their IPC
 * channel closes and they exit.
 */
import cluster, { type Worker } from 'node:cluster';
import { constants } from 'node:os';
import { formatHostPort, type HostPort } from '../config/address.ts';
import { listenMetrics, type MetricsListener } from '../metrics/endpoint.ts';
import type { GroupMetrics } from './group-metrics.ts';
import { GroupStats } from './group-stats.ts';
import { freeSipPort, freeTcpPort } from '../free-ports.ts';
import type { Logger } from '../log.ts';
import { WORKER_ENV, chosenSharing, type PortSharing } from './group.ts';
import { isGroupMessage } from './messages.ts';

/** Restarts allowed within {@link RESTART_WINDOW_MS} before the supervisor gives up. */
export const MAX_RESTARTS = 5;
const RESTART_WINDOW_MS = 60_000;
/** How long a stopping worker gets before SIGKILL. */
export const STOP_GRACE_MS = 30_000;

/** What {@link superviseWorkers} runs. */
export interface SuperviseOptions {
  /** `registrar`, `hss`, …: prefixes the ready and stopped lines. */
  role: string;
  /** Workers (≥ 2). */
  count: number;
  logger: Logger;
  /** Appended to each worker's command line (later options win in commander): ports fixed by the supervisor. */
  extraArgs?: readonly string[];
  /** The group's metrics listener (`--metrics`, its port fixed: the workers print it in their ready line). */
  metrics?: HostPort;
}

interface Slot {
  index: number;
  worker: Worker;
  ready: boolean;
  line?: string;
}

/**
 * A concrete port for a listener given as port 0: workers that bind their own sockets (SO_REUSEPORT) would each get
 * a different ephemeral port, so the supervisor picks one free port first (free right now; a race with another
 * program is accepted, as in lib/free-ports.ts). Other ports are returned as they are.
 * @param kind `sip`: free for both UDP and TCP (SIP shares one port number between them); `tcp`: TCP only.
 */
export async function fixedPort(host: string, port: number, kind: 'sip' | 'tcp'): Promise<number> {
  if (port !== 0) return port;
  return kind === 'sip' ? freeSipPort(host) : freeTcpPort(host);
}

/**
 * Runs the group until SIGINT/SIGTERM, then exits the process (see the module comment for the statuses).
 * @throws Error for a count below 2 or a bad `MCX_PORT_SHARING`, before any worker starts.
 */
export async function superviseWorkers(o: SuperviseOptions): Promise<never> {
  if (!Number.isInteger(o.count) || o.count < 2) throw new Error(`superviseWorkers: count must be an integer ≥ 2, got ${o.count}`);
  const sharing = chosenSharing();
  const log = o.logger;
  const slots = new Map<number, Slot>();
  const restarts: number[] = [];
  let groupReady = false;
  let stopping = false;
  let exitStatus = 0;
  let killTimer: NodeJS.Timeout | undefined;
  let finish: (code: number) => void = () => undefined;
  const finished = new Promise<number>((resolve) => (finish = resolve));
  let group: GroupMetrics | undefined;
  let metrics: MetricsListener | undefined;
  const args = [...process.argv.slice(2), ...(o.extraArgs ?? [])];
  // Only workers that said they are ready are asked: one being started (a replacement too) has no answer to give yet,
  // and asking it would hold every stats or metrics request for the full WORKER_ANSWER_MS.
  const running = (): Map<number, Worker> => new Map([...slots].filter(([, s]) => s.ready).map(([i, s]) => [i, s.worker]));
  // Loaded only for --metrics or a worker's admin `/metrics` (prom-client): a supervisor otherwise starts as light as before.
  // One promise, so that two first requests at once make one instance: the workers' answers reach only `group`.
  let loading: Promise<GroupMetrics> | undefined;
  const groupMetrics = (): Promise<GroupMetrics> =>
    (loading ??= import('./group-metrics.ts').then((m) => (group = new m.GroupMetrics(o.role, o.count, running))));
  if (o.metrics) {
    const target = await groupMetrics();
    // Before any worker starts: a port in use fails the start with nothing to stop. The workers are told the port
    // bound (port 0 made concrete), which their ready line names.
    metrics = await listenMetrics(o.metrics, target, log);
    args.push('--metrics', formatHostPort({ ...o.metrics, port: metrics.port }));
  }
  cluster.setupPrimary({ args });
  const stats = new GroupStats(o.count, running);

  const fork = (index: number): void => {
    const worker = cluster.fork({ [WORKER_ENV.index]: String(index), [WORKER_ENV.count]: String(o.count), [WORKER_ENV.sharing]: sharing });
    const slot: Slot = { index, worker, ready: false };
    slots.set(index, slot);
    worker.on('message', (m: unknown) => {
      if (!isGroupMessage(m)) return;
      if (m.mcx === 'ready') onReady(slot, m.line);
      else if (m.mcx === 'metrics-answer') group?.answered(m);
      else if (m.mcx === 'stats-answer' || m.mcx === 'group-stats') stats.onMessage(m, worker);
      else if (m.mcx === 'group-metrics') {
        void groupMetrics().then((g) => g.scrape()).then(({ body, contentType }) => {
          if (worker.isConnected()) worker.send({ mcx: 'group-metrics-answer', id: m.id, body, contentType });
        }, (err: unknown) => log.warn({ err }, `${o.role}: the group's metrics could not be read`));
      }
      else if (m.mcx === 'sibling') {
        for (const other of slots.values()) {
          if (other !== slot && other.worker.isConnected()) other.worker.send(m);
        }
      }
    });
    worker.on('exit', (code: number | null, signal: NodeJS.Signals | null) => onExit(slot, code, signal));
  };

  const onReady = (slot: Slot, line: string): void => {
    slot.ready = true;
    slot.line = line;
    const pid = slot.worker.process.pid;
    if (groupReady) {
      log.info({ worker: slot.index, pid }, `${o.role}: worker ${slot.index} ready again (pid ${pid})`);
      return;
    }
    if (stopping) return;
    if (slot.index === 1 && slots.size === 1) {
      for (let i = 2; i <= o.count; i++) fork(i);
      return;
    }
    if (slots.size < o.count || [...slots.values()].some((s) => !s.ready)) return;
    groupReady = true;
    const pids = [...slots.values()].sort((a, b) => a.index - b.index).map((s) => s.worker.process.pid);
    log.info({ workers: o.count, pids, port_sharing: sharing }, `${o.role}: ${o.count} workers ready, sharing their ports by ${describe(sharing)}`);
    process.stdout.write(`${o.role}: ${slots.get(1)?.line ?? line}\n`);
  };

  const onExit = (slot: Slot, code: number | null, signal: NodeJS.Signals | null): void => {
    if (slots.get(slot.index) === slot) slots.delete(slot.index);
    const how = signal ? `signal ${signal}` : `status ${code}`;
    if (stopping) {
      if (code !== 0) exitStatus = 1;
      if (slots.size === 0) finish(exitStatus);
      return;
    }
    if (!groupReady) {
      // A start failure: the worker said why on stderr. The rest of the group goes too.
      exitStatus = code && code > 0 ? code : 1;
      log.error({ worker: slot.index, code, signal }, `${o.role}: worker ${slot.index} exited with ${how} before the group was ready; stopping the group`);
      stopAll();
      return;
    }
    const now = Date.now();
    while (restarts.length > 0 && now - (restarts[0] as number) > RESTART_WINDOW_MS) restarts.shift();
    if (restarts.length >= MAX_RESTARTS) {
      exitStatus = 1;
      log.error({ worker: slot.index, code, signal, restarts: restarts.length }, `${o.role}: worker ${slot.index} exited with ${how}; ${MAX_RESTARTS} restarts within a minute already, stopping the group`);
      stopAll();
      return;
    }
    restarts.push(now);
    log.warn({ worker: slot.index, code, signal }, `${o.role}: worker ${slot.index} exited with ${how}; starting a new one`);
    fork(slot.index);
  };

  const stopAll = (): void => {
    if (stopping) return;
    stopping = true;
    if (slots.size === 0) {
      finish(exitStatus);
      return;
    }
    for (const s of slots.values()) {
      if (s.worker.isConnected()) s.worker.send({ mcx: 'stop' });
      else s.worker.process.kill('SIGTERM');
    }
    killTimer = setTimeout(() => {
      exitStatus = 1;
      for (const s of slots.values()) s.worker.process.kill('SIGKILL');
    }, STOP_GRACE_MS);
    killTimer.unref();
  };

  const onSignal = (signal: NodeJS.Signals): void => {
    if (stopping) {
      process.stderr.write(`${o.role}: ${signal} while stopping; killing the workers\n`);
      for (const s of slots.values()) s.worker.process.kill('SIGKILL');
      process.exit(128 + (constants.signals[signal] ?? 0));
    }
    log.info({ signal }, `${o.role}: signal received, stopping the workers`);
    stopAll();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);

  fork(1);
  const code = await finished;
  clearTimeout(killTimer);
  await metrics?.close();
  if (groupReady) process.stdout.write(`${o.role}: stopped\n`);
  process.exit(code);
}

function describe(sharing: PortSharing): string {
  return sharing === 'reuseport' ? 'SO_REUSEPORT (the kernel spreads UDP by source address and port, TCP per connection)'
    : 'the cluster primary (node:cluster: one shared UDP socket, TCP connections handed out round-robin)';
}
