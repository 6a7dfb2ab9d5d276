/**
 * Structured logging (pino) shared by every role. Secrets never reach a log line: the redaction list covers every
 * field name under which this code base carries key material, AKA outputs, passwords and tokens.
 */
import { pino, type Logger, type LoggerOptions } from 'pino';

/** Field paths censored in every log line, at top level and one level down. */
export const REDACTED_FIELDS = [
  'k', 'op', 'opc', 'ck', 'ik', 'xres', 'res', 'password', 'ha1', 'authorization', 'token', 'access_token',
  'refresh_token', 'id_token', 'assertion', 'subject_token', 'client_secret', 'key', 'privateKey',
] as const;

const redactPaths = REDACTED_FIELDS.flatMap((f) => [f, `*.${f}`]);

export type { Logger };

/**
 * Creates the root logger of a process.
 * @param name the role name (`hss`, `registrar`, …), carried on every line.
 * @param options `level` defaults to `MCX_LOG_LEVEL` or `info`; `destination` defaults to stdout.
 */
export function createLogger(name: string, options: { level?: string; destination?: NodeJS.WritableStream } = {}): Logger {
  const opts: LoggerOptions = {
    name,
    level: options.level ?? process.env.MCX_LOG_LEVEL ?? 'info',
    redact: { paths: redactPaths, censor: '[redacted]' },
    base: { pid: process.pid },
  };
  return options.destination ? pino(opts, options.destination as pino.DestinationStream) : pino(opts);
}

/** A logger that discards everything: for library callers and tests that do not care. */
export const silentLogger: Logger = pino({ level: 'silent' });
