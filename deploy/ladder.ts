/**
 * The testbed's one log sink: every role logs (pino JSON) into it, tagged with its `role` — a role in this process
 * through its logger, a role run as an `mcx` child process through its output. While a demo records, it keeps the
 * seed steps (lib/seed-steps) so the demo can print the message ladder of TS 23.280 §10.6.2.2 from what the roles
 * actually did: those of the roles in this process as seed-step events of the loggers that write here (the lines are
 * at debug level, which the testbed does not write unless `--verbose`), those of child processes (run at debug level)
 * from their lines. It lets the launcher wait for a line (a route coming up), and echoes lines to stderr: all of them
 * with `--verbose`, errors only otherwise (stdout stays ladder + summary).
 */
import { Writable } from 'node:stream';
import { symbols } from 'pino';
import { SEED_CLAUSE, onSeedStep, type SeedFlow, type SeedStepEvent } from '../lib/seed-steps.ts';

/** One seed-step log line. */
export interface StepLine {
  step: number;
  /** The entity that performed the step. */
  node: string;
  /** The role whose log it is (several roles log the same step from their side). */
  role: string;
  msg: string;
}

/** A parsed log line. */
export type LogLine = Record<string, unknown>;

/**
 * A seed step of a role that logs into the collector, whichever way it reached it: an event of a role in this process
 * or a debug line of a child process. What the status page (deploy/status) builds its ladders from.
 */
export interface StepSeen {
  flow: SeedFlow;
  step: number;
  node: string;
  /** The role whose step it is (several roles log the same step from their side). */
  role: string;
  msg: string;
  /** Call-ID at the registrar, Diameter Session-Id at the MMSs, the relay and the HSS (lib/seed-steps.ts). */
  key: string | undefined;
  /** Every structured field of the step (pino's own and the seed's taken off). */
  fields: Readonly<Record<string, unknown>>;
  /** Epoch milliseconds. */
  at: number;
}

/** Who {@link LogCollector.watch}es: the seed steps, and every line (the registrar's one info line per registration). */
export interface LogWatcher {
  step?(s: StepSeen): void;
  line?(l: LogLine): void;
}

/** Keys of a line that are pino's or the seed step's own, not the step's fields. */
const LINE_KEYS = new Set(['level', 'time', 'pid', 'hostname', 'name', 'msg', 'role', 'seed', 'flow', 'step', 'node']);

const PINO_ERROR = 50;

/** The sink; pass {@link stream} to `createLogger`, or {@link accept} a child process's output. */
export class LogCollector {
  readonly stream: Writable;
  /** Steps seen while a demo records ({@link record}); nothing is kept otherwise, so serving for days costs nothing. */
  private recording: StepLine[] | undefined;
  private readonly waiters = new Set<(l: LogLine) => void>();
  /** Per role, the JSON lines seen (with `keep`), and a child's unfinished last line. */
  private readonly kept = new Map<string, string[]>();
  private readonly partial = new Map<string, string>();
  private readonly watchers = new Set<LogWatcher>();
  private stopEvents: (() => void) | undefined;

  /**
   * @param verbose echo every role log line to stderr (otherwise errors only).
   * @param o `keep`: keep every line per role, for {@link text} (tests; not for a testbed that serves for days);
   *   `quiet`: echo nothing, not even errors (tests, whose roles fail on purpose).
   */
  constructor(private readonly verbose: boolean, private readonly o: { keep?: boolean; quiet?: boolean } = {}) {
    this.stream = new Writable({
      decodeStrings: false,
      write: (chunk: string | Buffer, _enc, cb) => {
        for (const text of String(chunk).split('\n')) if (text) this.take(text);
        cb();
      },
    });
  }

  /**
   * Takes output of a role that runs as a child process (its stdout, in chunks): each JSON line as if the role had
   * logged it here, tagged with `role`.
   */
  accept(role: string, chunk: string): void {
    const lines = `${this.partial.get(role) ?? ''}${chunk}`.split('\n');
    this.partial.set(role, lines.pop() ?? '');
    for (const text of lines) if (text.startsWith('{')) this.take(text, role);
  }

  /** The lines `role` logged so far, one per line (empty unless constructed with `keep`). */
  text(role: string): string {
    const lines = this.kept.get(role);
    return lines ? `${lines.join('\n')}\n` : '';
  }

  private take(text: string, role?: string): void {
    let line: LogLine;
    try {
      line = JSON.parse(text) as LogLine;
    } catch {
      return;
    }
    if (role !== undefined && line.role === undefined) line.role = role;
    if (this.o.keep) {
      const of = String(line.role ?? line.name);
      const kept = this.kept.get(of) ?? [];
      kept.push(text);
      this.kept.set(of, kept);
    }
    if (this.verbose || (!this.o.quiet && typeof line.level === 'number' && line.level >= PINO_ERROR)) process.stderr.write(`${text}\n`);
    // In this process the steps arrive as events (record()); a line of it would count them twice (--verbose).
    if (role !== undefined && typeof line.step === 'number' && this.recording) {
      this.recording.push({ step: line.step, node: String(line.node), role: String(line.role ?? line.name), msg: String(line.msg) });
    }
    for (const w of this.waiters) w(line);
    if (this.watchers.size === 0) return;
    const seen = role !== undefined && typeof line.step === 'number' ? seenOfLine(line) : undefined;
    for (const w of this.watchers) {
      if (seen) w.step?.(seen);
      w.line?.(line);
    }
  }

  /**
   * Calls `w` with every seed step of the roles that log here — events of those in this process, debug lines of child
   * processes — and with every line written here, from now on, until the returned function is called. Steps of the
   * roles in this process are events whether or not their debug lines are written; while nobody watches (or
   * {@link record}s) none is built.
   */
  watch(w: LogWatcher): () => void {
    this.watchers.add(w);
    this.stopEvents ??= onSeedStep((e) => {
      if (!this.writesHere(e)) return;
      const seen = seenOfEvent(e);
      for (const x of this.watchers) x.step?.(seen);
    });
    return () => {
      this.watchers.delete(w);
      if (this.watchers.size === 0) {
        this.stopEvents?.();
        this.stopEvents = undefined;
      }
    };
  }

  /**
   * Starts keeping the seed-step lines.
   * @returns a function that stops and hands them over, in arrival order.
   */
  record(): () => StepLine[] {
    const mine: StepLine[] = [];
    this.recording = mine;
    const stop = onSeedStep((e) => {
      if (this.recording === mine && this.writesHere(e)) mine.push(stepOf(e));
    });
    return () => {
      stop();
      if (this.recording === mine) this.recording = undefined;
      return mine;
    };
  }

  /** Whether the step went through a logger of this sink (another testbed in the same process has its own). */
  private writesHere(e: SeedStepEvent): boolean {
    return (e.logger as unknown as Record<symbol, unknown>)[symbols.streamSym] === this.stream;
  }

  /**
   * Resolves with the first line from now on that `pred` accepts.
   * @throws Error naming `what` after `ms`.
   */
  waitFor(what: string, pred: (l: LogLine) => boolean, ms: number): Promise<LogLine> {
    return new Promise((resolve, reject) => {
      // Steps of roles in this process arrive as events, not lines (they log at debug, which is off unless --verbose).
      const stopSteps = onSeedStep((e) => {
        if (this.writesHere(e)) check(lineOf(e));
      });
      const timer = setTimeout(() => {
        this.waiters.delete(check);
        stopSteps();
        reject(new Error(`testbed: ${what} not seen within ${ms} ms (run with --verbose to see the role logs)`));
      }, ms);
      const check = (l: LogLine): void => {
        if (!pred(l)) return;
        clearTimeout(timer);
        this.waiters.delete(check);
        stopSteps();
        resolve(l);
      };
      this.waiters.add(check);
    });
  }
}

/** A step of a role in this process as the JSON line it would have logged at debug level. */
function lineOf(e: SeedStepEvent): LogLine {
  const b = e.logger.bindings();
  return { ...b, ...e.fields, role: b.role ?? b.name, flow: e.flow, step: e.step, node: e.node, msg: e.msg };
}

/**
 * The role a logger of this process writes as, per logger: pino's `bindings()` parses its JSON each time, and a
 * registration takes some twenty steps through the same few loggers.
 */
const roleOfLogger = new WeakMap<object, string>();

/** A step of a role in this process as the status page takes it. */
function seenOfEvent(e: SeedStepEvent): StepSeen {
  let role = roleOfLogger.get(e.logger);
  if (role === undefined) {
    const b = e.logger.bindings();
    role = String(b.role ?? b.name);
    roleOfLogger.set(e.logger, role);
  }
  return { flow: e.flow, step: e.step, node: e.node, role, msg: e.msg, key: e.key, fields: e.fields, at: e.at };
}

/** A child process's seed-step line as the status page takes it. */
function seenOfLine(line: LogLine): StepSeen {
  const fields: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(line)) if (!LINE_KEYS.has(k)) fields[k] = v;
  const key = typeof line.call_id === 'string' ? line.call_id : typeof line.sessionId === 'string' ? line.sessionId : undefined;
  return {
    flow: line.flow === 'dynamic' ? 'dynamic' : 'static', step: line.step as number, node: String(line.node), role: String(line.role ?? line.name),
    msg: String(line.msg), key, fields, at: typeof line.time === 'number' ? line.time : Date.now(),
  };
}

/** A step of a role in this process as its log line would have read. */
function stepOf(e: SeedStepEvent): StepLine {
  const b = e.logger.bindings();
  return { step: e.step, node: e.node, role: String(b.role ?? b.name), msg: e.msg };
}

/** What the UE itself sent or received at a SIP step (2, 11, 12, 13). */
export type SipAnnotations = Partial<Record<number, string>>;

/** One rung of the ladder: the first log line of the step, every role that logged it, what the UE saw. */
export interface Rung {
  step: number;
  line?: StepLine;
  roles: string[];
  sip?: string;
}

/** The steps of a REGISTER → 401 → REGISTER → 200 exchange through the static flow. */
export const STATIC_FLOW_STEPS = [2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13] as const;
/** The same through the dynamic flow, with the MC service user authentication (step 1) before it. */
export const DYNAMIC_FLOW_STEPS = [1, ...STATIC_FLOW_STEPS] as const;

/**
 * The ladder of `steps` (log lines since the demo began): per step number its first occurrence, in step order.
 * A step no role logged has no `line`: that is where the flow broke.
 * @param numbers the steps the ladder has (default: the static flow's registration).
 */
export function buildLadder(steps: readonly StepLine[], sip: SipAnnotations, numbers: readonly number[] = STATIC_FLOW_STEPS): Rung[] {
  return numbers.map((n) => {
    const of = steps.filter((s) => s.step === n);
    const roles = [...new Set(of.map((s) => s.role))];
    return { step: n, roles, ...(of[0] ? { line: of[0] } : {}), ...(sip[n] === undefined ? {} : { sip: sip[n] }) };
  });
}

/**
 * The ladder as printed: `step  N  <text>  [<sip>]  (logged by …)`.
 * @param of what the heading adds after a dash (with several partner systems: the partner's realm).
 */
export function formatLadder(flow: SeedFlow, rungs: readonly Rung[], of?: string): string {
  const out = [`${SEED_CLAUSE[flow]} (${flow} configuration): message ladder${of === undefined ? '' : ` — ${of}`}`];
  for (const r of rungs) {
    const n = String(r.step).padStart(2);
    const text = r.line ? r.line.msg.replace(/^step \d+: /, '') : '(no role logged this step)';
    const sip = r.sip ? `  [${r.sip}]` : '';
    const by = r.roles.length ? `  (logged by ${r.roles.join(', ')})` : '';
    out.push(`  step ${n}  ${text}${sip}${by}`);
  }
  return out.join('\n');
}
