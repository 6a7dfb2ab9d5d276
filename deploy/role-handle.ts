/**
 * A started role of the testbed behind one handle, whether it runs in this process or as an `mcx` child process:
 * where it listens, what it logged, how to stop it (SIGTERM for a process — the role's own graceful stop,
 * lib/lifecycle.ts — or its `close()` in this process), and where its metrics and readiness are: its registry in this
 * process, or the `metrics=` URL of its ready line (it runs with `--metrics` on loopback).
 */
import type { Closeable } from '../lib/lifecycle.ts';
import { httpRequest } from '../lib/http/request.ts';
import type { MetricsTarget } from '../lib/metrics/endpoint.ts';
import type { ReadinessReport } from '../lib/metrics/readiness.ts';
import type { MetricJson, RoleLabels } from '../lib/metrics/role-metrics.ts';
import type { SipListen } from '../registrar/config.ts';
import type { LogCollector } from './ladder.ts';
import type { RoleAddresses, RoleName, RoleRecipe } from './roles.ts';

/** A child process running `mcx <role> …` (what test/helpers/process.ts `startMcx` returns fits). */
export interface ChildRole {
  /** Everything it wrote to stdout and stderr so far. */
  output(): string;
  /** Resolves when `pattern` appears in the output; rejects on exit or after `ms`. */
  waitFor(pattern: RegExp, ms?: number): Promise<RegExpExecArray>;
  /** Signals it (default SIGTERM; SIGKILL if it lingers); resolves with the exit code. */
  stop(signal?: NodeJS.Signals): Promise<number | null>;
  child: { stdout: NodeJS.ReadableStream | null };
}

/** Starts `mcx args…`. */
export type Launcher = (args: string[], o: { env: NodeJS.ProcessEnv }) => ChildRole;

/** How long a role process may take to print its ready line. */
const READY_MS = 30_000;
/** How long a scrape of a role process may take (its listener is on loopback). */
const SCRAPE_MS = 2000;

/** A role's metrics and readiness as the testbed's endpoint reads them (metrics-endpoint.ts). */
export interface RoleMetricsSource {
  labels: RoleLabels;
  /** Its metrics (process metrics included for a role in its own process), without the labels. */
  json(): Promise<MetricJson[]>;
  readiness(): Promise<ReadinessReport>;
}

/** A role process's metrics listener, read over HTTP. */
function scraped(url: string): Omit<RoleMetricsSource, 'labels'> {
  return {
    json: async () => {
      const res = await httpRequest(`${url}/metrics.json`, { timeoutMs: SCRAPE_MS, maxBodyBytes: 16 * 1024 * 1024 });
      if (res.status !== 200) throw new Error(`${url}/metrics.json: HTTP ${res.status}`);
      return JSON.parse(res.body) as MetricJson[];
    },
    readiness: async () => {
      const res = await httpRequest(`${url}/readyz`, { timeoutMs: SCRAPE_MS });
      return JSON.parse(res.body) as ReadinessReport;
    },
  };
}

/** A started role. */
export class RoleHandle {
  private stopped = false;

  private constructor(
    readonly name: RoleName,
    readonly addresses: RoleAddresses,
    private readonly logs: LogCollector,
    /** The `system` and `role` labels of its metrics. */
    readonly labels: RoleLabels,
    /** The child process, when the role runs as one. */
    readonly proc?: ChildRole,
    private readonly running?: Closeable,
    /** Its metrics and readiness (in this process), or where its process serves them. */
    private readonly telemetry?: MetricsTarget | string,
  ) {}

  /** Its metrics and readiness; undefined for a process started without `--metrics`, and once stopped. */
  get metrics(): RoleMetricsSource | undefined {
    const t = this.telemetry;
    if (t === undefined || this.stopped) return undefined;
    if (typeof t === 'string') return { labels: this.labels, ...scraped(t) };
    // A role in this process: the testbed's own process metrics are counted once, not per role.
    return { labels: this.labels, json: () => t.json(false), readiness: async () => t.readiness() };
  }

  /** Starts `recipe` in this process, logging through `logger`. */
  static async inline(recipe: RoleRecipe, logs: LogCollector, logger: Parameters<RoleRecipe['inline']>[0]): Promise<RoleHandle> {
    const { running, addresses, telemetry } = await recipe.inline(logger);
    return new RoleHandle(recipe.name, addresses, logs, recipe.labels, undefined, running, telemetry);
  }

  /**
   * Starts `recipe` as an `mcx` child process (debug logs, fed to `logs`) and waits for its ready line.
   * @throws when it exits or stays silent first (after stopping it).
   */
  static async process(recipe: RoleRecipe, logs: LogCollector, launch: Launcher): Promise<RoleHandle> {
    const proc = launch(recipe.argv, { env: { ...process.env, MCX_LOG_LEVEL: 'debug' } });
    proc.child.stdout?.on('data', (d: Buffer | string) => logs.accept(recipe.name, String(d)));
    let m: RegExpExecArray;
    try {
      m = await proc.waitFor(recipe.ready, READY_MS);
    } catch (e) {
      await proc.stop();
      throw e;
    }
    // The ready line ends ` metrics=URL` (roles.ts starts every process with --metrics).
    const line = m.input.slice(m.index).split('\n')[0] ?? '';
    const metricsUrl = / metrics=(http:\/\/\S+)/.exec(line)?.[1];
    return new RoleHandle(recipe.name, recipe.fromReady(m), logs, recipe.labels, proc, undefined, metricsUrl);
  }

  /**
   * What the role's start returned, when it runs in this process (RunningHss, RunningMms, RunningRegistrar …, by its
   * name): the status page reads its state from it. Undefined for a child process.
   */
  get inProcess(): Closeable | undefined {
    return this.running;
  }

  /** The port of its Diameter listener. */
  get port(): number {
    const m = /:(\d+)$/.exec(this.addresses.diameterUrl ?? '');
    if (!m) throw new Error(`testbed: ${this.name} has no Diameter listener`);
    return Number(m[1]);
  }

  /** The port of its SIP listener of `transport` (registrar). */
  sipPort(transport: SipListen['transport']): number {
    const l = this.addresses.sip?.find((s) => s.transport === transport);
    if (!l) throw new Error(`testbed: ${this.name} has no ${transport} SIP listener`);
    return l.port;
  }

  /** What it wrote: the process's output, or (in this process) its log lines the collector kept. */
  output(): string {
    return this.proc ? this.proc.output() : this.logs.text(this.name);
  }

  /** Resolves when `pattern` appears in {@link output}; rejects after `ms`. */
  async waitFor(pattern: RegExp, ms = 15_000): Promise<RegExpExecArray> {
    if (this.proc) return this.proc.waitFor(pattern, ms);
    const deadline = Date.now() + ms;
    for (;;) {
      const m = pattern.exec(this.output());
      if (m) return m;
      if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${pattern} from ${this.name}`);
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  /**
   * Stops it gracefully: `signal` to the process (SIGKILL after 5 s), or `close()` here.
   * @returns the exit code (0 for a role in this process once closed).
   */
  async stop(signal: NodeJS.Signals = 'SIGTERM'): Promise<number | null> {
    this.stopped = true;
    if (this.proc) return this.proc.stop(signal);
    await this.running?.close();
    return 0;
  }
}
