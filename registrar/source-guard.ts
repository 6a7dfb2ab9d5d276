/**
 * Per-source-address protection of the registrar, after Kamailio's `pike` (request rate) and an `htable` of failed
 * authentications (the usual brute-force ban of its configurations):
 *
 * - **Rate**: a token bucket per source IP address (`rateLimit` per second, `rateBurst` deep). A request over it gets
 *   `503 Service Unavailable` with `Retry-After`; it never counts toward a ban (a busy load generator is not an
 *   attacker).
 * - **Ban**: more than `banAfter` failed authentications from one IP address within `banWindowMs` (a sliding window:
 *   the last `banAfter + 1` failure times are kept) ban it for `banMs`. What counts is decided by the caller
 *   (register.ts): a response that does not verify, never a stale nonce, `nc`, `auts` or malformed request.
 *
 * Addresses, not address and port: a UDP client changes port at will. The tables are per process (not in the store:
 * a failed attempt costs no store write). In a worker group (`--workers N`, lib/workers) each failure is also told to
 * the sibling workers ({@link AUTH_FAILED_TOPIC}), which count it as their own ({@link SourceGuard.authFailedElsewhere}):
 * an address that spreads its attempts over the workers (another source port, another connection) is banned after the
 * same `banAfter + 1` failures, in every worker. The ban's warn line (and `bans` count) comes from the worker whose
 * failure is the one that crossed the line in time order — each failure travels with its time and worker — decided
 * {@link BAN_LOG_GRACE_MS} after the ban began, once the siblings' failures on their way have arrived: so it is logged
 * once even when a sibling's message arrives after a later failure of this worker, or two workers cross the line at
 * the same moment. The rate buckets stay per process: a source that spreads over N
 * workers gets up to N times `rateLimit` (rate limiting protects capacity, not secrets); and each holds at most `maxTrackedSources` addresses, the least recently
 * seen forgotten first, so an attacker rotating through 127.0.0.0/8 cannot grow them without bound; the price is that
 * past that many addresses an old entry (a ban too) can be forgotten early.
 */
import { BoundedMap } from '../lib/bounded-map.ts';
import type { Logger } from '../lib/log.ts';
import { workerSlot } from '../lib/workers/group.ts';
import { tellSiblings } from '../lib/workers/messages.ts';
import type { BanAction } from './config.ts';
import type { RegistrarStats } from './stats.ts';

/** The limits. */
export interface SourceGuardOptions {
  banAfter: number;
  banWindowMs: number;
  banMs: number;
  banAction: BanAction;
  rateLimit: number;
  rateBurst: number;
  maxTrackedSources: number;
  stats: RegistrarStats;
  log: Logger;
  /** Clock (tests). */
  now?: () => number;
  /** This process's worker index (default: its slot in the group, 0 outside one; tests set it). */
  worker?: number;
  /**
   * How long the ban's log line waits for siblings' failures still on their way (default {@link BAN_LOG_GRACE_MS} in a
   * group of several workers, 0 alone): the ban itself starts at once.
   */
  banLogGraceMs?: number;
}

/**
 * Longer than a message between two workers of one host takes (the cluster channel: well under a millisecond, tens on
 * a loaded box), so that every worker decides on the same failures which one crossed the line.
 */
export const BAN_LOG_GRACE_MS = 250;

/** The siblings' message of a failed authentication: `{ source, impi, at }` (`at`: epoch ms when it failed). */
export const AUTH_FAILED_TOPIC = 'registrar:auth-failed';

/** A failed authentication: when, and in which worker (worker order breaks a tie of times, the same everywhere). */
interface Failure {
  at: number;
  worker: number;
}

const byTime = (a: Failure, b: Failure): number => a.at - b.at || a.worker - b.worker;

interface Bucket {
  tokens: number;
  at: number;
}

/** The rate and ban tables of one registrar process. */
export class SourceGuard {
  readonly #o: SourceGuardOptions;
  readonly #now: () => number;
  readonly #worker: number;
  readonly #buckets: BoundedMap<string, Bucket>;
  /** The latest failures per address, in time order (at most banAfter + 1). */
  readonly #failures: BoundedMap<string, Failure[]>;
  /** Ban end per address. */
  readonly #bans: BoundedMap<string, number>;
  /** Bans whose log line waits for the grace: the failures known so far, sibling failures that arrive meanwhile added. */
  readonly #unlogged = new Map<string, { failures: Failure[]; impi: string }>();
  readonly #graceMs: number;

  /** @param o limits, counters and the log of ban lines. */
  constructor(o: SourceGuardOptions) {
    this.#o = o;
    this.#now = o.now ?? Date.now;
    this.#worker = o.worker ?? workerSlot()?.index ?? 0;
    this.#buckets = new BoundedMap(o.maxTrackedSources);
    this.#failures = new BoundedMap(o.maxTrackedSources);
    this.#bans = new BoundedMap(o.maxTrackedSources);
    this.#graceMs = o.banLogGraceMs ?? ((workerSlot()?.count ?? 1) > 1 ? BAN_LOG_GRACE_MS : 0);
  }

  /** What a banned source's REGISTERs get. */
  get banAction(): BanAction {
    return this.#o.banAction;
  }

  /**
   * Takes one request's token from `source`'s bucket.
   * @returns 0 when the request may proceed, else the seconds to put in Retry-After (≥ 1).
   */
  admitRate(source: string): number {
    const now = this.#now();
    const { rateLimit: rate, rateBurst: burst } = this.#o;
    const b = this.#buckets.get(source) ?? { tokens: burst, at: now };
    b.tokens = Math.min(burst, b.tokens + ((now - b.at) / 1000) * rate);
    b.at = now;
    this.#buckets.set(source, b);
    if (b.tokens >= 1) {
      b.tokens -= 1;
      return 0;
    }
    this.#o.stats.inc('rate_limited');
    return Math.max(1, Math.ceil((1 - b.tokens) / rate));
  }

  /** Whether `source` is banned now (an expired ban is forgotten here). */
  banned(source: string): boolean {
    const until = this.#bans.peek(source);
    if (until === undefined) return false;
    if (until > this.#now()) return true;
    this.#bans.delete(source);
    return false;
  }

  /**
   * Records one failed authentication from `source`; the one past `banAfter` within the window bans it (one warn line
   * per ban, with the source, the count and the duration).
   * @param impi the identity tried last, for the ban's log line.
   */
  authFailed(source: string, impi: string): void {
    this.#o.stats.inc('auth_failures');
    const at = this.#now();
    tellSiblings(AUTH_FAILED_TOPIC, { source, impi, at });
    this.#count(source, impi, { at, worker: this.#worker });
  }

  /**
   * Counts a failed authentication a sibling worker saw, toward the same ban. The ban is logged at warn by the worker
   * whose own failure crossed the line, which may be this one when the sibling's message came late.
   * @param at when it failed (epoch ms, the sibling's clock: the same host's).
   * @param worker the sibling's index.
   */
  authFailedElsewhere(source: string, impi: string, at: number, worker: number): void {
    this.#count(source, impi, { at, worker });
  }

  #count(source: string, impi: string, failure: Failure): void {
    const now = this.#now();
    const { banAfter, banWindowMs, banMs } = this.#o;
    if (this.banned(source)) {
      if (now - failure.at < banWindowMs) this.#unlogged.get(source)?.failures.push(failure);
      return;
    }
    const failures = (this.#failures.get(source) ?? []).filter((f) => now - f.at < banWindowMs);
    failures.push(failure);
    failures.sort(byTime);
    if (failures.length <= banAfter) {
      this.#failures.set(source, failures);
      return;
    }
    this.#failures.delete(source);
    this.#bans.set(source, now + banMs);
    if (this.#graceMs === 0) {
      this.#logBan(source, impi, failures);
      return;
    }
    // Two workers' failures at the same moment each cross the line here before the other's message arrives: the
    // line waits until every failure on its way is known, so that every worker picks the same one.
    this.#unlogged.set(source, { failures, impi });
    setTimeout(() => {
      const u = this.#unlogged.get(source);
      this.#unlogged.delete(source);
      if (u) this.#logBan(source, u.impi, u.failures.sort(byTime));
    }, this.#graceMs).unref();
  }

  #logBan(source: string, impi: string, failures: Failure[]): void {
    const { banAfter, banWindowMs, banMs } = this.#o;
    // The failure that crossed the line in time order, whichever message brought it here last: the same in every worker.
    if ((failures[banAfter] as Failure).worker !== this.#worker) {
      this.#o.log.debug({ source, impi }, `source ${source} banned here too: a sibling worker saw the failure that crossed the line`);
      return;
    }
    this.#o.stats.inc('bans');
    this.#o.log.warn({ source, failures: failures.length, window_s: banWindowMs / 1000, ban_s: banMs / 1000, action: this.#o.banAction, impi },
      `source ${source} banned for ${banMs / 1000} s: ${failures.length} failed authentications within ${banWindowMs / 1000} s`);
  }
}
