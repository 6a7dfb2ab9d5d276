/**
 * The answer timeouts of a node's outgoing requests, one {@link ExpiryQueue} per timeout value instead of a Node timer
 * per request (issue #12): a request is answered within milliseconds nearly always, so every one of them paid a
 * setTimeout and a clearTimeout for nothing. Callers use a handful of values (the node's `requestMs`, a relay's
 * `timeoutMs`, a role's own), so there are a handful of queues; past {@link MAX_QUEUES} distinct values a request gets
 * a timer of its own.
 */
import { systemClock } from '../clock.ts';
import { ExpiryQueue, type Expiry } from '../expiry-queue.ts';

const MAX_QUEUES = 16;

/** Schedules request timeouts. */
export class RequestTimers {
  readonly #queues = new Map<number, ExpiryQueue>();

  /**
   * Runs `fn` in `ms` unless cancelled first.
   * @returns the handle to cancel it with.
   */
  start(ms: number, fn: () => void): Expiry {
    let q = this.#queues.get(ms);
    if (!q) {
      if (this.#queues.size >= MAX_QUEUES) {
        const t = setTimeout(fn, ms);
        return { cancel: () => clearTimeout(t) };
      }
      q = new ExpiryQueue(ms, systemClock);
      this.#queues.set(ms, q);
    }
    return q.add({ onExpiry: fn });
  }
}
