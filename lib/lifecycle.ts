/**
 * How every role stops: the registrar, the HSS, the relay, both MMSs and the IdMS, whether under `mcx <role>`
 * (serve.ts, on SIGINT/SIGTERM), inside `mcx testbed`, or in a test. One order for all of them, whatever order they
 * started in:
 *
 * 1. `listeners`: nothing new comes in — SIP listeners, admin and other HTTPS APIs, and the Diameter listener stops
 *    accepting connections;
 * 2. `peers`: DPR to every open Diameter peer (RFC 6733 §5.4), waiting for the DPAs, then the connections close;
 * 3. `store`: flushed and closed (the memory store's journal synced and its lock released), last, so whatever the
 *    requests answered before it kept is on disk.
 *
 * Within a stage, what was opened last is closed first. A start that fails part-way closes what it had opened the
 * same way ({@link Teardown.guard}), so a failed start leaks no socket, timer or store lock.
 */
import type { Logger } from './log.ts';

/** The stages of a stop, in order. */
export const STOP_STAGES = ['listeners', 'peers', 'store'] as const;
/** One stage of a stop. */
export type StopStage = (typeof STOP_STAGES)[number];

/** Something started that can be stopped gracefully (idempotently). */
export interface Closeable {
  close(): Promise<void>;
}

/** What {@link Teardown.addDiameter} needs of lib/diameter's node. */
export interface DiameterNodeLike {
  /** Refuses new connections; open peers stay up. */
  stopAccepting(): void;
  /** DPR to every open peer, then closes. */
  close(): Promise<void>;
}

/** Who is stopping, for the log: the role's logger and how its lines name it (`HSS`, `registrar`). */
export interface TeardownOptions {
  logger?: Logger;
  name?: string;
}

/**
 * What a role has opened, and how to close it, by stage. A step that fails is logged and the stop goes on, so one
 * stuck part cannot keep the rest open.
 */
export class Teardown {
  private readonly steps: Record<StopStage, Array<() => Promise<unknown>>> = { listeners: [], peers: [], store: [] };
  private running: Promise<void> | undefined;

  constructor(private readonly o: TeardownOptions = {}) {}

  private failed(stage: StopStage, err: unknown): void {
    this.o.logger?.warn({ stage, err: err instanceof Error ? err.message : String(err) }, `${this.o.name ?? 'role'} stop: a ${stage} step failed`);
  }

  /**
   * Registers how to close what was just opened. Once the stop has begun, `close` runs at once: something a start
   * opened while a signal was stopping it must not outlive the stop.
   */
  add(stage: StopStage, close: () => Promise<unknown>): void {
    if (this.running) {
      void close().catch((e: unknown) => this.failed(stage, e));
      return;
    }
    this.steps[stage].push(close);
  }

  /**
   * Registers a Diameter node: its listener stops accepting with the other listeners, and its peers get DPR in the
   * `peers` stage ({@link DiameterNodeLike}).
   */
  addDiameter(node: DiameterNodeLike): void {
    this.add('peers', () => node.close());
    this.add('listeners', async () => node.stopAccepting());
  }

  /** Whether the stop has begun. */
  get stopping(): boolean {
    return this.running !== undefined;
  }

  /**
   * Closes everything registered: stage by stage ({@link STOP_STAGES}), last opened first within a stage.
   * Idempotent: every call returns the one stop's promise.
   */
  run(): Promise<void> {
    this.running ??= (async () => {
      this.o.logger?.info(`${this.o.name ?? 'role'} stopping: listeners, DPR to Diameter peers, store`);
      for (const stage of STOP_STAGES) {
        const steps = this.steps[stage];
        for (let f = steps.pop(); f; f = steps.pop()) {
          try {
            await f();
          } catch (e) {
            this.failed(stage, e);
          }
        }
      }
    })();
    return this.running;
  }

  /**
   * Runs a role's start with this teardown: when it throws, what it had registered is closed (in stage order) and
   * the error rethrown.
   */
  async guard<T>(start: () => Promise<T>): Promise<T> {
    try {
      return await start();
    } catch (e) {
      await this.run();
      throw e;
    }
  }
}
