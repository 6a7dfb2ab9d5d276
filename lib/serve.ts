/**
 * The life of a server role under `mcx <role>`: start, one ready line on stdout (what tests and launchers wait for),
 * run until SIGINT/SIGTERM, stop gracefully (DPR to Diameter peers and the like), `<role>: stopped`, exit.
 */
import { UsageError } from './cli.ts';
import { ConfigFileError } from './config/files.ts';
import type { Logger } from './log.ts';
import { isStoreError } from './store/store.ts';

/** Something started that can be stopped gracefully (idempotently). */
export interface Closeable {
  close(): Promise<void>;
}

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

/**
 * Starts the role, prints `<role>: <ready>`, waits for SIGINT/SIGTERM, closes it and prints `<role>: stopped`.
 * @throws UsageError when the start fails on configuration ({@link isConfigurationFailure}); other start errors as
 *   they come.
 */
export async function serveUntilSignal<T extends Closeable>(o: ServeOptions<T>): Promise<void> {
  let running: T;
  try {
    running = await o.start();
  } catch (e) {
    if (isConfigurationFailure(e)) throw new UsageError(e.message);
    throw e;
  }
  process.stdout.write(`${o.role}: ${o.ready(running)}\n`);
  await new Promise<void>((resolve) => {
    const stop = (signal: NodeJS.Signals): void => {
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
      o.logger.info({ signal }, `${o.role}: signal received, stopping`);
      void running.close().finally(resolve);
    };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
  });
  process.stdout.write(`${o.role}: stopped\n`);
  // A lingering handle (a Redis socket in reconnect back-off) must not keep a stopped role alive.
  setTimeout(() => process.exit(0), 1000).unref();
}

/**
 * What a role's start has opened so far, closed in reverse order: on a failed start (so nothing leaks) and on stop.
 * Failures while closing are ignored, so one stuck part cannot keep the rest open.
 */
export class Teardown {
  private readonly steps: Array<() => Promise<void>> = [];

  /** Registers how to close what was just opened. */
  push(close: () => Promise<void>): void {
    this.steps.push(close);
  }

  /** Closes everything registered, last first (idempotent: each step runs once). */
  async run(): Promise<void> {
    for (let f = this.steps.pop(); f; f = this.steps.pop()) await f().catch(() => undefined);
  }
}
