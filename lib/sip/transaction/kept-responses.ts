/**
 * The final responses that UDP server transactions keep through Timer J (RFC 3261 §17.2.2: 64·T1 = 32 s), held outside
 * the V8 heap.
 *
 * Why (issue #12): at 2,000 registrations/s a registrar holds ~128,000 Completed transactions. Kept as strings, their
 * responses were ~600 octets each of old space (~80 MB): every scavenge before promotion copied them, and they made
 * most of what a major GC walked and compacted. Here each response is copied into a chunk of a few hundred KiB
 * allocated outside the heap, and the transaction keeps only the chunk and its place in it. Timer J is the same
 * 32 s for every UDP transaction, so chunks empty in about the order they filled; an empty chunk is reused.
 */

/** Octets per chunk: ~430 responses of 600 octets. */
const CHUNK_OCTETS = 256 * 1024;
/** A response longer than this gets a chunk of its own, so one large response does not leave a chunk mostly unused. */
const OWN_CHUNK_ABOVE = CHUNK_OCTETS / 4;
/** Empty chunks kept for reuse; beyond this they are left to the GC (after a burst, memory goes back). */
const SPARE_CHUNKS = 8;

/** A piece of memory outside the V8 heap, shared by the responses copied into it. */
export class KeptChunk {
  readonly octets: Buffer;
  /** One of the stack's reusable chunks, not one made for a single large response. */
  readonly pooled: boolean;
  /** Octets handed out. */
  used = 0;
  /** Responses in it not yet released. */
  live = 0;

  /**
   * @param size octets.
   * @param pooled whether it is one of the reusable chunks.
   */
  constructor(size: number, pooled: boolean) {
    this.pooled = pooled;
    // Its own ArrayBuffer, not a slice of Node's shared pool: nothing else can pin it or be pinned by it.
    this.octets = Buffer.allocUnsafeSlow(size);
  }
}

/** What holds a kept response: its chunk and place, set by {@link KeptResponses}; `keptIn` is undefined when none. */
export interface KeptResponse {
  keptIn: KeptChunk | undefined;
  keptAt: number;
  keptLength: number;
}

/** The chunks of one SIP stack. */
export class KeptResponses {
  #current: KeptChunk | undefined;
  #spare: KeptChunk[] = [];
  #octets = 0;

  /** Octets of the chunks this holds (in use, current or spare): its memory outside the heap (read by the tests). */
  get octets(): number {
    return this.#octets;
  }

  /**
   * Copies `bytes` out of the heap and records where in `into` (releasing what it held before).
   * @param bytes a serialized response.
   * @param into the transaction keeping it.
   */
  keep(bytes: Buffer, into: KeptResponse): void {
    this.release(into);
    const n = bytes.length;
    let chunk: KeptChunk;
    if (n > OWN_CHUNK_ABOVE) {
      chunk = this.#chunk(n, false);
    } else {
      let cur = this.#current;
      if (cur === undefined || cur.used + n > cur.octets.length) {
        if (cur !== undefined && cur.live === 0) this.#spareIt(cur);
        cur = this.#spare.pop() ?? this.#chunk(CHUNK_OCTETS, true);
        this.#current = cur;
      }
      chunk = cur;
    }
    bytes.copy(chunk.octets, chunk.used);
    into.keptIn = chunk;
    into.keptAt = chunk.used;
    into.keptLength = n;
    chunk.used += n;
    chunk.live++;
  }

  /**
   * A copy of the kept response: the chunk may be reused once it is released, while a send may still hold the copy.
   * @returns undefined when `k` holds none.
   */
  copy(k: KeptResponse): Buffer | undefined {
    const c = k.keptIn;
    return c === undefined ? undefined : Buffer.from(c.octets.subarray(k.keptAt, k.keptAt + k.keptLength));
  }

  /** Lets go of `k`'s response (no-op when it holds none); its chunk is reused once nothing in it is held. */
  release(k: KeptResponse): void {
    const c = k.keptIn;
    if (c === undefined) return;
    k.keptIn = undefined;
    if (--c.live > 0 || c === this.#current) return;
    if (c.pooled) this.#spareIt(c);
    else this.#octets -= c.octets.length;
  }

  #chunk(size: number, pooled: boolean): KeptChunk {
    this.#octets += size;
    return new KeptChunk(size, pooled);
  }

  #spareIt(c: KeptChunk): void {
    c.used = 0;
    if (this.#spare.length < SPARE_CHUNKS) this.#spare.push(c);
    else this.#octets -= c.octets.length;
  }
}
