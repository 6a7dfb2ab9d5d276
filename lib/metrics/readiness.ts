/**
 * Whether a role is ready to serve (`GET /readyz`): a set of named checks, each answering "ready" or what is
 * missing — a Diameter route whose peers are all down, no open HSS peer — read at each request, plus the role's own
 * life: not ready before its start completed ({@link Readiness.started}) and again once its stop began
 * ({@link Readiness.stopping}). Liveness (`GET /healthz`) needs none of this: a process that answers is alive.
 */
import type { DiameterNode } from '../diameter/node.ts';

/** One check: undefined when ready, else what is not (e.g. `no open peer of route primary.example`). */
export type ReadinessCheck = () => string | undefined;

/** What `/readyz` answers. */
export interface ReadinessReport {
  ready: boolean;
  /** Check name → `ok` or what is not ready. */
  checks: Record<string, string>;
}

/** A report in one line, for a check of its own where several are joined: `ok`, or `name: problem; …` of those not ok. */
export function readinessSummary(r: ReadinessReport): string {
  return r.ready ? 'ok' : Object.entries(r.checks).filter(([, v]) => v !== 'ok').map(([k, v]) => `${k}: ${v}`).join('; ');
}

/** The readiness of one role. */
export class Readiness {
  private readonly checks = new Map<string, ReadinessCheck>();
  private life: 'starting' | 'started' | 'stopping' = 'starting';

  /**
   * Adds (or replaces) a check.
   * @returns this, for chaining.
   */
  add(name: string, check: ReadinessCheck): this {
    this.checks.set(name, check);
    return this;
  }

  /** The start completed: listeners up, store open. */
  started(): void {
    if (this.life === 'starting') this.life = 'started';
  }

  /** The stop began: listeners closing, store about to close. */
  stopping(): void {
    this.life = 'stopping';
  }

  /** Every check now. */
  report(): ReadinessReport {
    const checks: Record<string, string> = { lifecycle: this.life === 'started' ? 'ok' : this.life };
    for (const [name, check] of this.checks) {
      let problem: string | undefined;
      try {
        problem = check();
      } catch (e) {
        problem = `check failed: ${(e as Error).message}`;
      }
      checks[name] = problem ?? 'ok';
    }
    return { ready: Object.values(checks).every((v) => v === 'ok'), checks };
  }
}

/**
 * A check that `node` has an open connection to one of `hosts()` (Origin-Hosts; all of its peers when `hosts` is
 * absent), e.g. the peers a route has learned.
 * @param what names the peers in the answer (`route to primary.example`, `HSS peer`).
 */
export function openPeerCheck(node: DiameterNode, what: string, hosts?: () => readonly string[]): ReadinessCheck {
  return () => {
    const wanted = hosts?.().map((h) => h.toLowerCase());
    if (wanted && wanted.length === 0) return `${what}: no peer has come up yet`;
    const open = node.peers().some((p) => p.state === 'open' && (!wanted || wanted.includes(p.originHost?.toLowerCase() ?? '')));
    return open ? undefined : `${what}: no open peer${wanted ? ` (${wanted.join(', ')} down)` : ''}`;
  };
}
