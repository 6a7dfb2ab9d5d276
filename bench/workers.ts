/**
 * `npm run bench -- --workers` (issue #15 item 2): the direct target (SIPp → `mcx registrar` → `mcx hss`, Cx over
 * TCP) on the Redis store, first with one registrar process (`--workers 1`), then with two (`--workers 2`: two
 * processes on one SIP port by SO_REUSEPORT, or the cluster primary's socket on an older Node). In both runs SIPp sends
 * each call from its own UDP socket (`-t un`), which is what lets the kernel spread the calls over the workers, so the
 * two runs differ only in the registrar's process count. Each run: probe, warm-up, step mode (unless `--rate` is
 * given), the fixed rates — the same session as every other target (session.ts). The registrar group is measured as
 * one process tree (supervisor and workers summed).
 */
import type { RunRow, LoadRunner } from './measure.ts';
import type { StepResult } from './acceptance.ts';
import { startDirect } from './home-targets.ts';
import type { BenchContext, Stopper } from './roles.ts';
import { runPlan, type SessionOptions, type SessionResults } from './session.ts';

/** Registrar process counts compared. */
export const WORKER_COUNTS = [1, 2] as const;

/** What one registrar process count measured. */
export interface WorkersResult {
  workers: number;
  step?: StepResult;
  rows: RunRow[];
}

/**
 * Runs the direct target with each of {@link WORKER_COUNTS} registrar processes (the context's store must be Redis).
 * @returns the results per count; failures to start or run go to `res.errors` as for any target.
 */
export async function runWorkersComparison(ctx: BenchContext, stopper: Stopper, runner: LoadRunner, o: SessionOptions,
  res: SessionResults, stopped: () => boolean): Promise<WorkersResult[]> {
  const out: WorkersResult[] = [];
  for (const workers of WORKER_COUNTS) {
    if (stopped()) break;
    const mine: SessionResults = { rows: [], steps: [], migrations: [], errors: [], restarts: [] };
    const name = `direct-workers-${workers}`;
    await runPlan({ name, targets: ['direct'], start: (c, s) => startDirect(c, s, { name, registrarWorkers: workers }) }, ctx, stopper, '', runner, o, mine, stopped);
    res.errors.push(...mine.errors.map((e) => `registrar --workers ${workers}: ${e}`));
    res.restarts.push(...mine.restarts.map((e) => `registrar --workers ${workers}: ${e}`));
    out.push({ workers, rows: mine.rows, ...(mine.steps[0] ? { step: mine.steps[0] } : {}) });
  }
  return out;
}
