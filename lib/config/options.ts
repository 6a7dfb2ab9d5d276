/**
 * Option schemas several roles share (`--store`, the `--tls-*` triple), so each is checked and worded one way.
 */
import { z } from 'zod';
import { isRedisSpec, parseRedisSpec } from '../store/redis-spec.ts';
import { traceFileSchema } from '../trace/cli.ts';
import { hostPortSchema } from './address.ts';

/** The Redis URL forms, as messages name them. */
const REDIS_FORMS = 'redis://h:p, rediss://h:p, redis+cluster://h:p,h:p or redis+sentinel://h:p/<master-name>';

/**
 * A Redis store spec (lib/store/redis-spec.ts) or `redis` (the URL in REDIS_URL); `message` for anything else; a
 * malformed URL is named with what is wrong in it.
 */
export function redisSpecSchema(message: string) {
  return z.string().superRefine((s, ctx) => {
    if (s === 'redis') return;
    if (!isRedisSpec(s)) {
      ctx.addIssue({ code: 'custom', message });
      return;
    }
    try {
      parseRedisSpec(s);
    } catch (e) {
      ctx.addIssue({ code: 'custom', message: (e as Error).message });
    }
  });
}

/** `memory`, `redis` (REDIS_URL) or a Redis URL: one server, a cluster or a Sentinel-monitored master. */
export const storeSpecSchema = z.string().superRefine((s, ctx) => {
  if (s === 'memory') return;
  const r = redisSpecSchema(`expected memory, redis (REDIS_URL) or a Redis URL (${REDIS_FORMS})`).safeParse(s);
  for (const issue of r.error?.issues ?? []) ctx.addIssue({ code: 'custom', message: issue.message });
});

/**
 * `--tls-ca` as given: repeatable, each occurrence possibly a comma-separated list (own CA, then the other system's),
 * flattened to one list of paths.
 */
export const caListSchema = z.array(z.string()).transform((list) => list.flatMap((s) => s.split(',')).map((s) => s.trim()).filter(Boolean))
  .pipe(z.array(z.string().min(1)).min(1, 'at least one CA file'));

/** The three TLS options; all or none (see {@link checkTlsTriple}). */
export const tlsOptionsShape = {
  'tls-cert': z.string().min(1).optional(),
  'tls-key': z.string().min(1).optional(),
  'tls-ca': caListSchema.optional(),
};

/** The TLS options once validated. */
export interface TlsOptionValues {
  'tls-cert'?: string | undefined;
  'tls-key'?: string | undefined;
  'tls-ca'?: string[] | undefined;
}

/**
 * A zod refinement: `--tls-cert`, `--tls-key` and `--tls-ca` come together (mutual TLS needs all three), each
 * missing one named.
 */
export function checkTlsTriple(o: TlsOptionValues, ctx: z.RefinementCtx): void {
  const given = [o['tls-cert'], o['tls-key'], o['tls-ca']].filter((v) => v !== undefined).length;
  if (given === 0 || given === 3) return;
  for (const f of ['tls-cert', 'tls-key', 'tls-ca'] as const) {
    if (o[f] === undefined) ctx.addIssue({ code: 'custom', path: [f], message: 'TLS needs --tls-cert, --tls-key and --tls-ca together' });
  }
}

/**
 * The TLS file paths when all three options were given.
 * @returns undefined without TLS.
 */
export function tlsFilesOf(o: TlsOptionValues): { cert: string; key: string; ca: string[] } | undefined {
  return o['tls-cert'] && o['tls-key'] && o['tls-ca'] ? { cert: o['tls-cert'], key: o['tls-key'], ca: o['tls-ca'] } : undefined;
}

/** A comma-separated list of `values` (`SHA-256,MD5`), at least one; blanks around entries ignored. */
export const enumListSchema = <T extends string>(values: readonly [T, ...T[]]) =>
  z.string().transform((s, ctx): T[] => {
    const list = s.split(',').map((x) => x.trim()).filter(Boolean);
    const bad = list.filter((x) => !(values as readonly string[]).includes(x));
    if (bad.length > 0 || list.length === 0) {
      ctx.addIssue({ code: 'custom', message: `${bad.length > 0 ? `${bad.join(', ')}: ` : ''}expected a comma-separated list of ${values.join(', ')}` });
      return z.NEVER;
    }
    return list as T[];
  });

/** A commander option collector for repeatable options (`--tls-ca a --tls-ca b`). */
export function collectOption(value: string, previous: string[] = []): string[] {
  return [...previous, value];
}

/** Most processes `--workers` starts for one role. */
export const MAX_WORKERS = 64;

/** `--workers N`: processes of the role sharing its addresses (lib/workers), 1 (the default: no group) … 64. */
export const workersSchema = z.coerce.number().int().min(1).max(MAX_WORKERS);

/**
 * What every server role that runs as one process or a group takes: `--metrics HOST:PORT` (lib/metrics), `--trace FILE`
 * (lib/trace) and `--workers N`; check them with {@link checkWorkersAlone}.
 */
export const processOptionsShape = {
  'metrics': hostPortSchema.optional(),
  'trace': traceFileSchema.optional(),
  'workers': workersSchema,
};

/**
 * Refuses what N worker processes cannot share: one `--trace` file (each would write its own blocks into it). Run
 * separate processes for it. (`--metrics` is the group's: the supervisor serves it, lib/workers/group-metrics.ts.)
 */
export function checkWorkersAlone(o: { workers: number; trace?: string | undefined }, ctx: z.RefinementCtx): void {
  if (o.workers > 1 && o.trace !== undefined) {
    ctx.addIssue({ code: 'custom', path: ['trace'], message: `not with --workers ${o.workers}: each process would need its own file; run separate processes instead` });
  }
}

/**
 * A zod refinement: several workers share their state through the store, so `--workers` above 1 needs Redis — the
 * memory store is one process per state directory (its lock refuses a second one). Reported on `--workers`.
 */
export function checkWorkersStore(o: { workers: number; store: string }, ctx: z.RefinementCtx): void {
  if (o.workers > 1 && o.store === 'memory') {
    ctx.addIssue({
      code: 'custom', path: ['workers'],
      message: `${o.workers} processes need a shared store: --store is memory (one process per state directory); use --store redis://… (or redis with REDIS_URL)`,
    });
  }
}
