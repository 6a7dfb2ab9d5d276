/**
 * The loads of one deployment: probe, warm-up, the step mode, the fixed rates, in that order. A load the target did
 * not come through cleanly may leave it unable to register at all (Kamailio 5.6's cdp drops its Cx connection under
 * overload and our HSS refuses the reconnect while it still holds the old one), so after such a load the target is
 * probed, and restarted once when the probe fails; the restart is reported, not hidden.
 */
import type { MigrationTiming } from './migration-chain.ts';
import { stepUp, type LoadRunner, type RunRow } from './measure.ts';
import type { StepResult } from './acceptance.ts';
import type { BenchContext, Deployment, Stopper, Target, TargetName } from './roles.ts';

/** A deployment to start and the targets it serves. */
export interface Plan {
  name: string;
  targets: TargetName[];
  start(ctx: BenchContext, stopper: Stopper, pki: string, timing: (t: MigrationTiming) => void): Promise<Deployment>;
}

/** What the loads of a run go into. */
export interface SessionResults {
  rows: RunRow[];
  steps: StepResult[];
  migrations: Array<MigrationTiming & { store: string }>;
  /** Targets that could not be started or failed during their run. */
  errors: string[];
  /** Restarts after a load left a target unable to register. */
  restarts: string[];
}

/** How the loads of every target run. */
export interface SessionOptions {
  rates: number[];
  durationS: number;
  stepS: number;
  warmupS: number;
  /** Run the step mode (before the fixed rates). */
  step: boolean;
}

/** One started deployment and its restarts. */
class Session {
  private dep: Deployment | undefined;
  private generation = 0;

  constructor(private readonly plan: Plan, private readonly ctx: BenchContext, private readonly stopper: Stopper, private readonly pki: string,
    private readonly runner: LoadRunner, private readonly res: SessionResults) {}

  async start(): Promise<void> {
    this.dep = await this.plan.start(this.ctx, this.stopper, this.pki, (t) => this.res.migrations.push({ ...t, store: this.ctx.store }));
  }

  /** The SIPp file key of `name` (a restart gives the dynamic target new users, so new files). */
  key(name: TargetName): string {
    return `${this.ctx.store}-${name}-${this.generation}`;
  }

  target(name: TargetName): Target {
    const t = this.dep?.targets.find((x) => x.name === name);
    if (!t) throw new Error(`${name} is not served by ${this.plan.name}`);
    return t;
  }

  /** Probes `name`; when it no longer registers, restarts the deployment once, probes and warms it up again. */
  async healthy(name: TargetName, after: RunRow, warm: () => Promise<void>): Promise<Target> {
    try {
      await this.runner.probe(this.target(name), this.key(name), 2);
      return this.target(name);
    } catch (e) {
      const why = `${name} (${this.ctx.store}) registered nobody after the ${after.offered}/s ${after.phase} load (${(e as Error).message}); ${this.plan.name} restarted`;
      this.ctx.say(why);
      this.res.restarts.push(why);
      await this.stop();
      this.generation++;
      await this.start();
      await this.runner.probe(this.target(name), this.key(name));
      await warm();
      return this.target(name);
    }
  }

  async stop(): Promise<void> {
    await this.dep?.stop();
    this.dep = undefined;
  }
}

/** Starts `plan`, runs the loads of each of its targets, stops it. */
export async function runPlan(plan: Plan, ctx: BenchContext, stopper: Stopper, pki: string, runner: LoadRunner, o: SessionOptions,
  res: SessionResults, stopped: () => boolean): Promise<void> {
  const session = new Session(plan, ctx, stopper, pki, runner, res);
  ctx.say(`${ctx.store}: starting ${plan.name}`);
  try {
    await session.start();
  } catch (e) {
    res.errors.push(`${plan.targets.join('+')} (${ctx.store}) could not be started: ${(e as Error).message.split('\n').slice(0, 6).join(' | ')}`);
    await session.stop();
    return;
  }
  try {
    for (const name of plan.targets) {
      if (stopped()) break;
      try {
        await runTarget(session, name, ctx, runner, o, res, stopped);
      } catch (e) {
        res.errors.push(`${name} (${ctx.store}) failed: ${(e as Error).message.split('\n')[0]}`);
      }
    }
  } finally {
    await session.stop();
  }
}

async function runTarget(session: Session, name: TargetName, ctx: BenchContext, runner: LoadRunner, o: SessionOptions, res: SessionResults,
  stopped: () => boolean): Promise<void> {
  const warm = (): Promise<void> => runner.warmUp(session.target(name), session.key(name), Math.min(500, o.rates[0] as number), o.warmupS);
  const pause = (): Promise<void> => new Promise((r) => setTimeout(r, 2000));
  await runner.probe(session.target(name), session.key(name));
  await warm();
  let last: RunRow | undefined;
  // The step mode first: it stops at the first run that is not clean, where a fixed rate past the target's capacity
  // overloads it for the whole duration.
  if (o.step && !stopped()) {
    ctx.say(`${ctx.store}: ${name} step mode`);
    const s = await stepUp(runner, session.target(name), session.key(name), o.stepS, stopped);
    res.steps.push({ target: name, store: ctx.store, ...s });
    last = s.rows[s.rows.length - 1];
    await pause();
  }
  for (const [i, rate] of o.rates.entries()) {
    if (stopped()) break;
    if (last && (!last.clean || last.died.length > 0)) await session.healthy(name, last, warm);
    ctx.say(`${ctx.store}: ${name} at ${rate}/s for ${o.durationS} s`);
    last = await runner.measure(session.target(name), session.key(name), rate, o.durationS, 'fixed');
    res.rows.push(last);
    if (i < o.rates.length - 1) await pause();
  }
}
