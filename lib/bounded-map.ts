/**
 * A Map with a size cap that forgets the least recently touched entry first: the tables an attacker can fill by
 * rotating source addresses or identities (the registrar's ban, rate and challenge tables) stay bounded in memory.
 * Recency is the Map's insertion order: a touch deletes and re-inserts.
 */
export class BoundedMap<K, V> {
  readonly #m = new Map<K, V>();
  readonly #cap: number;
  #evicted = 0;

  /** @param cap the most entries kept (≥ 1). */
  constructor(cap: number) {
    this.#cap = Math.max(1, Math.floor(cap));
  }

  /** The value of `key`, marking it recently used. */
  get(key: K): V | undefined {
    const v = this.#m.get(key);
    if (v !== undefined) {
      this.#m.delete(key);
      this.#m.set(key, v);
    }
    return v;
  }

  /** The value of `key` without touching it. */
  peek(key: K): V | undefined {
    return this.#m.get(key);
  }

  /** Stores `value` as the most recent entry, forgetting the oldest when the cap is reached. */
  set(key: K, value: V): void {
    this.#m.delete(key);
    while (this.#m.size >= this.#cap) {
      const oldest = this.#m.keys().next();
      if (oldest.done === true) break;
      this.#m.delete(oldest.value);
      this.#evicted++;
    }
    this.#m.set(key, value);
  }

  /** Forgets `key`. */
  delete(key: K): boolean {
    return this.#m.delete(key);
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
