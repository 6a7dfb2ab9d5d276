/**
 * A role's counters (HSS, partner MMS): plain numbers behind `inc`, handed out as copies to the admin API's
 * `/admin/v1/stats`, `/metrics` and the tests. Per process on purpose: processes sharing one Redis each count what
 * they did themselves.
 */
export class Counters<T extends Record<string, number>> {
  readonly #c: T;

  /** @param zero every counter at 0 (its keys are the counter names). */
  constructor(zero: T) {
    this.#c = { ...zero };
  }

  /** Adds `by` (default 1) to counter `name`. */
  inc(name: keyof T, by = 1): void {
    (this.#c as Record<keyof T, number>)[name] += by;
  }

  /** The value of counter `name`. */
  get(name: keyof T): number {
    return this.#c[name] as number;
  }

  /** A copy of every counter. */
  snapshot(): T {
    return { ...this.#c };
  }
}
