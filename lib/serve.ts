/**
 * The life of a server role under `mcx <role>`: start, one ready line on stdout (what tests and launchers wait for),
 * run until SIGINT/SIGTERM, stop through the role's teardown (lifecycle.ts: listeners, DPR to the Diameter peers,
 * store), `<role>: stopped`, exit 0. A signal that arrives during the start stops the role as soon as it is up
 * (without a ready line); a second signal while stopping exits at once with 128 + the signal's number.
 */
import { constants } from 'node:os';
import { UsageError } from './cli.ts';
import { ConfigFileError } from './config/files.ts';
import type { Closeable } from './lifecycle.ts';
import type { Logger } from './log.ts';
import { isStoreError } from './store/store.ts';
import { workerSlot } from './workers/group.ts';
import { onStopRequest, reportReady } from './workers/messages.ts';

/** What {@link serveUntilSignal} runs. */
export interface ServeOptions<T extends Closeable> {
  /** `hss`, `mms`, `relay`: prefixes the ready and stopped lines. */
  role: string;
  logger: Logger;
  start(): Promise<T>;
  /** The ready line without the role prefix, e.g. `listening diameter=tcp://127.0.0.1:3868 admin=http://…`. */
  ready(running: T): string;
}

/**
 * Whether a start failure is the user's configuration (exit 2) rather than a fault (exit 1): a bad file, or a store
 * that refuses the settings (not durable, bad URL).
 */
export function isConfigurationFailure(e: unknown): e is Error {
  return e instanceof ConfigFileError || isStoreError(e, 'ERR_STORE_NOT_DURABLE') || isStoreError(e, 'ERR_STORE_INPUT');
}

/** SIGINT/SIGTERM, watched from before the start until the stop is done. */
interface StopSignals {
  /** Resolves with the first signal. */
  first: Promise<NodeJS.Signals>;
  received(): boolean;
  dispose(): void;
}

/**
 * @param o the role and its logger. A worker of a group (lib/workers) also stops when its supervisor asks; Ctrl-C in a
 *   terminal signals the whole process group, so the first signal after such a request is the same stop, not the
 *   operator insisting.
 */
function watchStopSignals(o: { role: string; logger: Logger }): StopSignals {
  let got: NodeJS.Signals | undefined;
  let askedBySupervisor = false;
  let resolveFirst: (s: NodeJS.Signals) => void = () => undefined;
  const first = new Promise<NodeJS.Signals>((resolve) => {
    resolveFirst = resolve;
  });
  const onSignal = (signal: NodeJS.Signals): void => {
    if (got !== undefined && askedBySupervisor) {
      askedBySupervisor = false;
      return;
    }
    if (got !== undefined) {
      // The operator insists: a stop stuck on an unanswered DPR or a slow store must not hold the process.
      process.stderr.write(`${o.role}: ${signal} while stopping; exiting at once\n`);
      process.exit(128 + (constants.signals[signal] ?? 0));
    }
    got = signal;
    o.logger.info({ signal }, `${o.role}: signal received, stopping`);
    resolveFirst(signal);
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  const offStopRequest = workerSlot() ? onStopRequest(() => {
    if (got !== undefined) return;
    got = 'SIGTERM';
    askedBySupervisor = true;
    o.logger.info(`${o.role}: asked to stop by the worker group's supervisor`);
    resolveFirst(got);
  }) : () => undefined;
  return {
    first,
    received: () => got !== undefined,
    dispose: () => {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
      offStopRequest();
    },
  };
}

/**
 * Starts the role, prints `<role>: <ready>`, waits for SIGINT/SIGTERM, closes it and prints `<role>: stopped`. A worker
 * of a group (`--workers N`, lib/workers) tells its supervisor instead, which prints both lines once for the group.
 * @throws UsageError when the start fails on configuration ({@link isConfigurationFailure}); other start errors as
 *   they come (the role's start has closed what it had opened).
 */
export async function serveUntilSignal<T extends Closeable>(o: ServeOptions<T>): Promise<void> {
  const signals = watchStopSignals(o);
  let running: T;
  try {
    running = await o.start();
  } catch (e) {
    signals.dispose();
    if (isConfigurationFailure(e)) throw new UsageError(e.message);
    throw e;
  }
  const worker = workerSlot() !== undefined;
  if (!signals.received()) {
    if (worker) reportReady(o.ready(running));
    else process.stdout.write(`${o.role}: ${o.ready(running)}\n`);
  }
  await signals.first;
  await running.close();
  signals.dispose();
  if (!worker) process.stdout.write(`${o.role}: stopped\n`);
  // A lingering handle (a Redis socket in reconnect back-off) must not keep a stopped role alive.
  setTimeout(() => process.exit(0), 1000).unref();
}
