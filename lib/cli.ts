/**
 * Shared helpers for `mcx` subcommands: uniform usage errors (exit 2, naming the field) and hex option parsing.
 */
import type { Command } from 'commander';

/** Exit status for bad invocations: a missing or malformed option or field. */
export const EXIT_USAGE = 2;

/** A user error in a command's input; the CLI prints `message` and exits with `exitCode`. */
export class UsageError extends Error {
  readonly code = 'ERR_USAGE';
  constructor(
    message: string,
    readonly exitCode: number = EXIT_USAGE,
  ) {
    super(message);
    this.name = 'UsageError';
  }
}

/**
 * Parses a hex option into a Buffer of exactly `bytes` octets.
 * @throws UsageError naming the option when it is missing or malformed.
 */
export function hexOption(name: string, value: unknown, bytes: number): Buffer {
  if (value === undefined || value === null || value === '') {
    throw new UsageError(`--${name} is required (${bytes * 2} hex digits)`);
  }
  const text = String(value).replace(/^0x/i, '');
  if (!/^[0-9a-fA-F]*$/.test(text) || text.length !== bytes * 2) {
    throw new UsageError(`--${name} must be exactly ${bytes * 2} hex digits (${bytes} octets), got ${JSON.stringify(String(value))}`);
  }
  return Buffer.from(text, 'hex');
}

/** A subcommand module: adds its commands to the root program. */
export type CommandModule = (program: Command) => void;
