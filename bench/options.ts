/**
 * The command line of `npm run bench`, validated: a bad option is named and the process exits 2. Every figure is
 * bounded, so a run stays bounded in count and time whatever is asked.
 */
import { parseArgs } from 'node:util';
import { TARGET_NAMES, type StoreKind, type TargetName } from './roles.ts';
import { parseCount } from './scale.ts';

/** What one run does. */
export interface BenchOptions {
  quick: boolean;
  targets: TargetName[];
  stores: StoreKind[];
  /** Fixed offered rates, each measured on every target and store. */
  rates: number[];
  /** Seconds of each fixed-rate and scale load. */
  durationS: number;
  /** Seconds of each step of the step mode. */
  stepS: number;
  /**
   * Seconds of warm-up per target (dropped). 10 by default: after 3 s at 500/s V8 was still optimizing the REGISTER
   * path, and the first 1.5 s of a 2,000/s load then held most of its latency tail.
   */
  warmupS: number;
  step: boolean;
  /** Binding counts of the scale runs (empty: none). */
  scale: number[];
  users: number;
  /** Users of the dynamic target, each migrated through the IdM and migration APIs before the load. */
  migrations: number;
  /** Where the JSON goes (undefined: bench/results/bench-<time>.json). */
  json: string | undefined;
  profile: string | undefined;
  /** `--trace DIR`: every SIP/Diameter role writes its messages to DIR/<deployment>-<role>.pcapng. */
  trace: string | undefined;
  /**
   * `--workers`: instead of the targets, the direct target on Redis with 1 and then 2 registrar processes
   * (bench/workers.ts).
   */
  workers: boolean;
}

export const USAGE = `usage: npm run bench -- [options]

  --quick                    every target once at 500/s for 10 s, memory store, scale 1k (under 2 minutes)
  --targets LIST             static,dynamic,direct,kamailio (default all)
  --store memory|redis|both  the roles' store (default both; --quick: memory)
  --rate N[,N…]              fixed offered rates in registrations/s, 1…5000 (default 1000,2000; --quick: 500)
  --step                     also the step mode: 250, 500, 1000, 1500, 2000, 3000, … until a run has failures,
                             p99 > 50 ms or < 97 % achieved; on by default in a full run without --rate (on the
                             first store only)
  --scale LIST|none          binding counts present in the registrar's store: 1k,100k,1m (default; --quick: 1k)
  --duration S               seconds per fixed-rate and scale load, 2…60 (default 10)
  --warmup S                 seconds of dropped load per target at up to 500/s, 0…60 (default 10; --quick 2)
  --users N                  subscribers per target, 2…5000 (default 200)
  --migrations N             users of the dynamic target, each migrated first (IdM login, token exchange,
                             jwt-bearer, configuration), 2…2000 (default --users; --quick: 100)
  --json FILE                the results as JSON (default bench/results/bench-<time>.json)
  --profile DIR              every role under node --cpu-prof, profiles in DIR/<deployment>-<role>[-redis]/
  --trace DIR                every role with --trace DIR/<deployment>-<role>[-redis].pcapng (the cost of tracing)
  --workers                  instead of the targets: the direct target on Redis with 1, then 2 registrar processes
                             (mcx registrar --workers N on one SIP port), SIPp one UDP socket per call; step mode
                             unless --rate, then the fixed rates (--targets, --store and --scale do not apply)
  --help

Exit 0 when it ran (targets met or not: the report says), 1 when a target could not be started, 2 on a bad option.`;

/** Parses `argv`; calls `fail` (which must not return) with a message naming a bad option. */
export function parseOptions(argv: string[], fail: (msg: string) => never): BenchOptions | 'help' {
  let v: Record<string, string | boolean | undefined>;
  try {
    v = parseArgs({
      args: argv, strict: true, allowPositionals: false,
      options: {
        quick: { type: 'boolean' }, step: { type: 'boolean' }, help: { type: 'boolean' }, workers: { type: 'boolean' },
        ...Object.fromEntries(['targets', 'store', 'rate', 'scale', 'duration', 'warmup', 'users', 'migrations', 'json', 'profile', 'trace'].map((k) => [k, { type: 'string' as const }])),
      },
    }).values;
  } catch (e) {
    return fail((e as Error).message);
  }
  if (v.help) return 'help';
  const quick = v.quick === true;
  const str = (k: string): string | undefined => (typeof v[k] === 'string' ? (v[k] as string) : undefined);
  const int = (k: string, min: number, max: number, dflt: number): number => {
    const raw = str(k);
    if (raw === undefined) return dflt;
    const n = Number(raw);
    return Number.isInteger(n) && n >= min && n <= max ? n : fail(`--${k} must be an integer ${min}…${max}, not ${raw}`);
  };
  const list = (k: string): string[] | undefined => str(k)?.split(',').map((s) => s.trim()).filter((s) => s !== '');

  const targets = list('targets') ?? [...TARGET_NAMES];
  for (const t of targets) if (!(TARGET_NAMES as readonly string[]).includes(t)) fail(`--targets: unknown target ${t} (${TARGET_NAMES.join(', ')})`);
  if (targets.length === 0) fail('--targets: name at least one');
  const store = str('store') ?? (quick ? 'memory' : 'both');
  if (!['memory', 'redis', 'both'].includes(store)) fail(`--store must be memory, redis or both, not ${store}`);
  const rates = (list('rate') ?? (quick ? ['500'] : ['1000', '2000'])).map((r) => {
    const n = Number(r);
    return Number.isInteger(n) && n >= 1 && n <= 5000 ? n : fail(`--rate: each rate must be an integer 1…5000, not ${r}`);
  });
  if (rates.length === 0 || rates.length > 6) fail('--rate: one to six rates');
  const scaleRaw = list('scale') ?? (quick ? ['1k'] : ['1k', '100k', '1m']);
  const scale = scaleRaw.length === 1 && scaleRaw[0] === 'none' ? [] : scaleRaw.map((s) => {
    const n = parseCount(s);
    return n !== undefined && n >= 1 && n <= 1_000_000 ? n : fail(`--scale: each count must be 1…1m (e.g. 1k, 100k, 1m), not ${s}`);
  });
  const workers = v.workers === true;
  if (workers) for (const k of ['targets', 'store', 'scale']) if (str(k) !== undefined) fail(`--${k} does not apply with --workers (the direct target on Redis)`);
  const durationS = int('duration', 2, 60, 10);
  const users = int('users', 2, 5000, 200);
  return {
    quick, workers, targets: workers ? ['direct'] : [...new Set(targets)] as TargetName[],
    stores: workers ? ['redis'] : store === 'both' ? ['memory', 'redis'] : [store as StoreKind],
    rates: [...new Set(rates)], durationS, stepS: Math.min(durationS, 8), warmupS: int('warmup', 0, 60, quick ? 2 : 10),
    step: v.step === true || ((!quick || workers) && str('rate') === undefined), scale: workers ? [] : [...new Set(scale)], users,
    migrations: int('migrations', 2, 2000, quick ? Math.min(100, users) : users), json: str('json'), profile: str('profile'),
    trace: str('trace'),
  };
}
