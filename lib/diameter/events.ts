/**
 * A tiny typed event emitter for the node's peer-up/down hooks (metrics, logs, tests). Unlike `node:events`, a
 * throwing listener cannot break the socket handler that emitted: its error goes to `onListenerError`.
 */

/** Event name → listener argument. */
export type EventMap = Record<string, unknown>;

/** A listener of one event. */
export type Listener<T> = (payload: T) => void;

/** Typed publish/subscribe with synchronous delivery in subscription order. */
export class TypedEmitter<E extends EventMap> {
  private readonly listeners = new Map<keyof E, Set<Listener<never>>>();

  /** @param onListenerError receives whatever a listener throws (default: ignored). */
  constructor(private readonly onListenerError: (err: unknown, event: string) => void = () => undefined) {}

  /**
   * Subscribes to an event.
   * @returns a function that unsubscribes.
   */
  on<K extends keyof E>(event: K, listener: Listener<E[K]>): () => void {
    let set = this.listeners.get(event);
    if (!set) {
      set = new Set();
      this.listeners.set(event, set);
    }
    set.add(listener as Listener<never>);
    return () => this.off(event, listener);
  }

  /** Subscribes for the next occurrence only. */
  once<K extends keyof E>(event: K, listener: Listener<E[K]>): () => void {
    const off = this.on(event, (payload) => {
      off();
      listener(payload);
    });
    return off;
  }

  /** Unsubscribes a listener. */
  off<K extends keyof E>(event: K, listener: Listener<E[K]>): void {
    this.listeners.get(event)?.delete(listener as Listener<never>);
  }

  /**
   * The next occurrence as a promise, optionally filtered.
   * @param timeoutMs rejects after this long (the timer does not keep the process alive).
   */
  next<K extends keyof E>(event: K, filter: (payload: E[K]) => boolean = () => true, timeoutMs?: number): Promise<E[K]> {
    return new Promise((resolve, reject) => {
      let timer: NodeJS.Timeout | undefined;
      const off = this.on(event, (payload) => {
        if (!filter(payload)) return;
        off();
        if (timer) clearTimeout(timer);
        resolve(payload);
      });
      if (timeoutMs !== undefined) {
        timer = setTimeout(() => {
          off();
          reject(new Error(`no ${String(event)} event within ${timeoutMs} ms`));
        }, timeoutMs);
        timer.unref();
      }
    });
  }

  /** Delivers `payload` to every listener of `event`. */
  emit<K extends keyof E>(event: K, payload: E[K]): void {
    const set = this.listeners.get(event);
    if (!set) return;
    for (const listener of [...set]) {
      try {
        (listener as Listener<E[K]>)(payload);
      } catch (err) {
        this.onListenerError(err, String(event));
      }
    }
  }
}
