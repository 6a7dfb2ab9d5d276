/**
 * Structured logging (pino) shared by every role. Secrets never reach a log line: the redaction list covers every
 * field name under which this code base carries key material, AKA outputs, passwords and tokens.
 *
 * Redaction is by top-level path only (issue #12): a `*.field` wildcard made pino walk every object of every line
 * (~34 µs a line) and, since pino redacts a child logger's bindings when the child is made, every per-request child.
 * So the rule is: a secret-bearing object is never logged nested — log its fields, or a view without secrets.
 * test/security/design-no-secrets-in-logs.test.ts runs both systems at debug level and fails on any nested field of
 * this list. Hot paths do not make a child logger per request either: they pass their fields in the call
 * ({@link withFields}) and check `isLevelEnabled` before building anything costly.
 */
import { pino, type Level, type LevelWithSilent, type LogFn, type Logger, type LoggerOptions } from 'pino';
import { workerSlot } from './workers/group.ts';

/** Field names censored at the top level of every log line and of a child logger's bindings. */
export const REDACTED_FIELDS = [
  'k', 'op', 'opc', 'ck', 'ik', 'xres', 'res', 'password', 'ha1', 'authorization', 'token', 'access_token',
  'refresh_token', 'id_token', 'assertion', 'subject_token', 'client_secret', 'key', 'privateKey',
] as const;

/** The `redact` option of every logger of this code base (tests that build their own pino use it too). */
export const REDACTION: NonNullable<LoggerOptions['redact']> = { paths: [...REDACTED_FIELDS], censor: '[redacted]' };

export type { Logger };

/**
 * Creates the root logger of a process.
 * @param name the role name (`hss`, `registrar`, …), carried on every line, with the pid and, in a worker group
 *   (`--workers N`, lib/workers), the worker's index as `worker`.
 * @param options `level` defaults to `MCX_LOG_LEVEL` or `info`; `destination` defaults to stdout.
 */
export function createLogger(name: string, options: { level?: string; destination?: NodeJS.WritableStream } = {}): Logger {
  const opts: LoggerOptions = {
    name,
    level: options.level ?? process.env.MCX_LOG_LEVEL ?? 'info',
    redact: REDACTION,
    base: { pid: process.pid, ...(workerSlot() ? { worker: workerSlot()?.index } : {}) },
  };
  return options.destination ? pino(opts, options.destination as pino.DestinationStream) : pino(opts);
}

/** A logger that discards everything: for library callers and tests that do not care. */
export const silentLogger: Logger = pino({ level: 'silent' });

/** What a request's code logs through: the level methods of a pino logger, and whether a level is on. */
export interface Log {
  readonly level: LevelWithSilent | string;
  isLevelEnabled(level: Level): boolean;
  trace: LogFn;
  debug: LogFn;
  info: LogFn;
  warn: LogFn;
  error: LogFn;
  fatal: LogFn;
}

/**
 * The logger behind `log`: itself, or the one a {@link withFields} view writes through (for what only a pino
 * logger has: its bindings, its destination).
 */
export function loggerOf(log: Log): Logger {
  return log instanceof FieldLog ? loggerOf(log.parent) : (log as Logger);
}

/** The fields a {@link withFields} view adds to each line (empty for a plain logger). */
export function fieldsOf(log: Log): Readonly<Record<string, unknown>> {
  return log instanceof FieldLog ? { ...fieldsOf(log.parent), ...log.fields } : {};
}

/**
 * `parent` with `fields` added to every line it writes, without a child logger: nothing is built or serialised until
 * a line is actually written, so a request that logs nothing at the configured level costs one small object.
 */
class FieldLog implements Log {
  readonly parent: Log;
  readonly fields: Readonly<Record<string, unknown>>;

  constructor(parent: Log, fields: Readonly<Record<string, unknown>>) {
    this.parent = parent;
    this.fields = fields;
  }

  get level(): string {
    return this.parent.level;
  }

  isLevelEnabled(level: Level): boolean {
    return this.parent.isLevelEnabled(level);
  }

  #write(level: Level, args: unknown[]): void {
    if (!this.parent.isLevelEnabled(level)) return;
    const [first, ...rest] = args;
    let obj: Record<string, unknown>;
    if (first instanceof Error) obj = { ...this.fields, err: first };
    else if (first !== null && typeof first === 'object') obj = { ...this.fields, ...(first as Record<string, unknown>) };
    else {
      obj = { ...this.fields };
      if (first !== undefined) rest.unshift(first);
    }
    (this.parent[level] as (o: object, ...a: unknown[]) => void)(obj, ...rest);
  }

  // Methods on the prototype, not arrow fields: a view per request must not cost six closures.
  trace(...args: unknown[]): void {
    this.#write('trace', args);
  }

  debug(...args: unknown[]): void {
    this.#write('debug', args);
  }

  info(...args: unknown[]): void {
    this.#write('info', args);
  }

  warn(...args: unknown[]): void {
    this.#write('warn', args);
  }

  error(...args: unknown[]): void {
    this.#write('error', args);
  }

  fatal(...args: unknown[]): void {
    this.#write('fatal', args);
  }
}

/**
 * A view of `log` that adds `fields` to each line (a request's identities, its Call-ID): what a per-request
 * `child()` did, without its cost — pino serialises and redacts a child's bindings when the child is made, whether or
 * not anything is logged through it.
 */
export function withFields(log: Log, fields: Readonly<Record<string, unknown>>): Log {
  return new FieldLog(log, fields);
}
