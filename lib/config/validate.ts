/**
 * One way to turn a zod failure into the message a user reads: every issue names its field.
 */
import type { z } from 'zod';
import { UsageError } from '../cli.ts';

/**
 * Validates `input` against `schema`.
 * @param fieldPrefix how fields are named to the user, e.g. `--` for CLI options.
 * @throws UsageError listing every invalid field by name.
 */
export function parseConfig<S extends z.ZodType>(schema: S, input: unknown, fieldPrefix = '--'): z.output<S> {
  const r = schema.safeParse(input);
  if (r.success) return r.data;
  const lines = r.error.issues.map((i) => {
    const field = i.path.length ? `${fieldPrefix}${i.path.map(String).join('.')}` : 'configuration';
    return `${field}: ${i.message}`;
  });
  throw new UsageError(`invalid configuration:\n  ${lines.join('\n  ')}`);
}
