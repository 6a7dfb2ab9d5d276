/**
 * A Map with a size cap that forgets the least recently touched entry first: the tables an attacker can fill by
 * rotating source addresses or identities (the registrar's ban, rate and challenge tables) stay bounded in memory.
 * Recency is the Map's insertion order: a touch deletes and re-inserts.
 */
export class BoundedMap<K, V> {
  readonly #m = new Map<K, V>();
  readonly #cap: number;
  #evicted = 0;
  /**
   * The most recent key, which a touch leaves where it is. A touch deletes and re-inserts, and every delete leaves a
   * hole that V8's Map fills up to its next rehash into a new table: with one busy key (every request of a load from
   * one address through the registrar's rate table) that was a new table every other request, ~6 % of what the
   * registrar promoted to old space (issue #12).
   */
  #newest: K | undefined;
  #hasNewest = false;

  /** @param cap the most entries kept (≥ 1). */
  constructor(cap: number) {
    this.#cap = Math.max(1, Math.floor(cap));
  }

  /** The value of `key`, marking it recently used. */
  get(key: K): V | undefined {
    const v = this.#m.get(key);
    if (v !== undefined && !this.#isNewest(key)) {
      this.#m.delete(key);
      this.#m.set(key, v);
      this.#markNewest(key);
    }
    return v;
  }

  /** The value of `key` without touching it. */
  peek(key: K): V | undefined {
    return this.#m.get(key);
  }

  /** Stores `value` as the most recent entry, forgetting the oldest when the cap is reached. */
  set(key: K, value: V): void {
    // The newest key is already last: replacing its value in place keeps the order.
    if (this.#isNewest(key) && this.#m.has(key)) {
      this.#m.set(key, value);
      return;
    }
    this.#m.delete(key);
    while (this.#m.size >= this.#cap) {
      const oldest = this.#m.keys().next();
      if (oldest.done === true) break;
      this.#m.delete(oldest.value);
      this.#evicted++;
    }
    this.#m.set(key, value);
    this.#markNewest(key);
  }

  /** Forgets `key`. */
  delete(key: K): boolean {
    if (this.#isNewest(key)) {
      this.#hasNewest = false;
      this.#newest = undefined;
    }
    return this.#m.delete(key);
  }

  #markNewest(key: K): void {
    this.#newest = key;
    this.#hasNewest = true;
  }

  /** Whether `key` is the newest, compared as the Map compares keys (SameValueZero). */
  #isNewest(key: K): boolean {
    const n = this.#newest;
    return this.#hasNewest && (n === key || (n !== n && key !== key));
  }

  /** The entries, least recently used first, without touching them. */
  entries(): IterableIterator<[K, V]> {
    return this.#m.entries();
  }

  /** Entries held. */
  get size(): number {
    return this.#m.size;
  }

  /** Entries forgotten because of the cap since creation. */
  get evicted(): number {
    return this.#evicted;
  }
}
