/**
 * The RFC 3539 §3.4 application-layer watchdog of one connection (Appendix A, without the REOPEN probation: a fresh
 * connection that completed CER/CEA starts OKAY). Any received message resets the timer; when it fires with no DWR
 * outstanding a DWR is sent; when it fires with one outstanding the connection becomes SUSPECT (its pending requests
 * fail over); one more silent interval and it is DOWN (closed, then reconnected by the node).
 *
 * "Resets the timer" is done lazily (issue #12): a received message only moves the deadline, and a timer that fires
 * before the deadline is set again for the rest. A busy connection receives thousands of messages a second, and a
 * clearTimeout + setTimeout for each cost more than the rest of the watchdog. The interval still runs from the last
 * message received: the timer fires at the later of its own time and the new deadline, both within Tw ± jitter of it.
 */

/** Watchdog timing. RFC 3539 wants Tw ≥ 6 s in production; tests use far less. */
export interface WatchdogOptions {
  /** Tw, in ms (default 30 000). */
  twMs?: number;
  /** Each interval is Tw ± a uniform jitter of up to this many ms (default min(2000, Tw / 10)). */
  jitterMs?: number;
}

/** RFC 3539 connection status. */
export type WatchdogState = 'okay' | 'suspect' | 'down';

/** What the watchdog asks its connection to do. */
export interface WatchdogActions {
  sendDwr(): void;
  /** OKAY → SUSPECT: fail pending requests over to another peer. */
  suspect(): void;
  /** SUSPECT → OKAY on any received message. */
  recover(): void;
  /** SUSPECT → DOWN: close the connection. */
  down(): void;
}

/** Default Tw of RFC 3539. */
export const DEFAULT_TW_MS = 30_000;

/** One connection's watchdog; call `start()` when the connection opens and `stop()` when it closes. */
export class Watchdog {
  private timer: NodeJS.Timeout | undefined;
  /** When the current interval ends (performance.now()); a timer firing earlier is set again for the rest. */
  private deadline = 0;
  private pending = false;
  private status: WatchdogState = 'okay';
  private readonly twMs: number;
  private readonly jitterMs: number;

  /**
   * @param options Tw and jitter.
   * @param actions the connection's side of the algorithm.
   * @param random uniform [0, 1) source, for tests.
   */
  constructor(options: WatchdogOptions, private readonly actions: WatchdogActions, private readonly random: () => number = Math.random) {
    this.twMs = options.twMs ?? DEFAULT_TW_MS;
    this.jitterMs = options.jitterMs ?? Math.min(2000, Math.floor(this.twMs / 10));
  }

  /** Current status. */
  get state(): WatchdogState {
    return this.status;
  }

  /** Starts in OKAY with a fresh interval. */
  start(): void {
    this.status = 'okay';
    this.pending = false;
    this.arm();
  }

  /** Stops the timer for good. */
  stop(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.status = 'down';
  }

  /**
   * Records a received message (RFC 3539 OnReceive).
   * @param isDwa true for a DWA, which clears the outstanding DWR.
   */
  received(isDwa: boolean): void {
    if (this.status === 'down') return;
    if (isDwa) this.pending = false;
    if (this.status === 'suspect') {
      this.status = 'okay';
      this.actions.recover();
    }
    if (this.timer) this.deadline = performance.now() + this.interval();
    else this.arm();
  }

  /** Tw ± jitter. */
  private interval(): number {
    return Math.max(1, this.twMs + Math.round((this.random() * 2 - 1) * this.jitterMs));
  }

  private arm(): void {
    if (this.timer) clearTimeout(this.timer);
    const interval = this.interval();
    this.deadline = performance.now() + interval;
    this.setTimer(interval);
  }

  private setTimer(ms: number): void {
    this.timer = setTimeout(() => this.expired(), ms);
    this.timer.unref();
  }

  private expired(): void {
    this.timer = undefined;
    const rest = Math.ceil(this.deadline - performance.now());
    if (rest > 0) {
      this.setTimer(rest);
      return;
    }
    if (this.status === 'okay') {
      if (!this.pending) {
        this.pending = true;
        this.arm();
        this.actions.sendDwr();
        return;
      }
      this.status = 'suspect';
      this.arm();
      this.actions.suspect();
      return;
    }
    if (this.status === 'suspect') {
      this.status = 'down';
      this.actions.down();
    }
  }
}
