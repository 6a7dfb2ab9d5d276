/**
 * One string per distinct value for what a long-lived table keeps by the hundred thousand but holds few values of:
 * peer addresses in the SIP stack's held transactions, IMPIs in the registrar's issued nonces (issue #12: each kept
 * its own copy, and every major GC marked them all). Bounded against a peer that rotates values: when full, the
 * pool starts over, which costs sharing, never correctness (strings compare by value).
 */
export class StringPool {
  readonly #m = new Map<string, string>();
  readonly #cap: number;
  readonly #copy: ((s: string) => string) | undefined;

  /**
   * @param cap distinct values kept before the pool starts over.
   * @param copy makes the string the pool keeps from a new value (e.g. a copy that lets go of the text a slice came
   *   from); without it the value itself is kept.
   */
  constructor(cap: number, copy?: (s: string) => string) {
    this.#cap = cap;
    this.#copy = copy;
  }

  /** The pool's string equal to `s`, added when it has none. */
  get(s: string): string {
    const known = this.#m.get(s);
    if (known !== undefined) return known;
    if (this.#m.size >= this.#cap) this.#m.clear();
    const kept = this.#copy === undefined ? s : this.#copy(s);
    this.#m.set(kept, kept);
    return kept;
  }
}
