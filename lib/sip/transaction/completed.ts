/**
 * The Completed state of UDP non-INVITE server transactions (RFC 3261 §17.2.2), held outside the V8 heap: for Timer J
 * (64·T1 = 32 s) a retransmitted request must get the same final response again, and an ACK for a 405'ed INVITE must
 * be absorbed. That is all a Completed transaction does, so it needs no object: its §17.2.3 key, its response bytes
 * and its route are enough.
 *
 * Why (issue #12): a registrar at 3,000 registrations/s holds ~190,000 Completed transactions. Kept as one
 * ServerTransaction each, in a Map keyed by a string and queued for Timer J, they made 83 % of what the registrar's
 * heap retained (V8's sampling heap profiler): every one was copied by two scavenges, then walked and compacted by
 * every major GC, whose concurrent marking took the second core from SIPp and made the tail of the latency.
 *
 * Here a record is a slot in typed arrays (hash, place, lengths, deadline, chain) plus one reference in an array of
 * routes, which the stack shares per source anyway (inbound.ts). The key and the response are copied, one after the
 * other, into chunks of a few hundred KiB allocated outside the heap. Timer J is one constant per stack, so records
 * expire in the order they were added: the slots are a ring, the chunks a queue, and one timer sweeps the oldest.
 * Lookup is a chained hash table on a 32-bit FNV-1a of the key; a hit is confirmed against the key's own bytes, so a
 * hash collision can never send someone else's response.
 */
import type { Clock, Timer } from '../../clock.ts';

/** Slots at the start and the least kept after shrinking (a power of two). */
const MIN_SLOTS = 1024;
/** Octets per chunk: ~350 records of a 600-octet response and its key. */
const CHUNK_OCTETS = 256 * 1024;
/** A record longer than this gets a chunk of its own, so one large response does not leave a chunk mostly unused. */
const OWN_CHUNK_ABOVE = CHUNK_OCTETS / 4;
/** Empty chunks kept for reuse; beyond this they are left to the GC (after a burst, memory goes back). */
const SPARE_CHUNKS = 8;
/** Fewer records than slots / SHRINK_BELOW after a sweep: the slot arrays shrink (hysteresis against growing). */
const SHRINK_BELOW = 8;

/** 32-bit FNV-1a of a string's UTF-16 code units (exported for the collision test). */
export function fnv1a(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

/** A found record: what a retransmission needs. */
export interface CompletedHit {
  /** A copy of the final response (the chunk may be reused while a send still holds the copy). */
  bytes: Buffer;
  /** The route the transaction was created with (opaque here). */
  route: unknown;
  /** The record's deadline, which names it to {@link CompletedTransactions.delete}. */
  expiresAt: number;
}

/** The Completed UDP server transactions of one stack. */
export class CompletedTransactions {
  readonly #clock: Clock;
  readonly #lifetime: number;
  /** How late a sweep may run: 1/64 of Timer J, at most 50 ms (lookups check the deadline, so none is served late). */
  readonly #slack: number;
  #timer: Timer | undefined;

  #mask = 0;
  /** Slot of the oldest record, and how many follow it (dead ones included until their deadline). */
  #first = 0;
  #count = 0;
  #hash = new Uint32Array(0);
  #chunkNo = new Uint32Array(0);
  #off = new Uint32Array(0);
  #keyLen = new Uint32Array(0);
  #resLen = new Uint32Array(0);
  #expires = new Float64Array(0);
  /** Next slot + 1 in the bucket's chain; 0 ends it. */
  #next = new Int32Array(0);
  /** 1 while the record answers lookups (0 once deleted). */
  #live = new Uint8Array(0);
  #routes: unknown[] = [];
  /** Slot + 1 of the newest record per bucket; twice as many buckets as slots. */
  #buckets = new Int32Array(0);
  #size = 0;

  /** The chunks in use, oldest first; `#chunks[0]` has the number `#chunkBase`. The last one is written. */
  #chunks: Buffer[] = [];
  #chunkBase = 0;
  #used = 0;
  #spare: Buffer[] = [];
  #octets = 0;

  /**
   * @param clock the stack's clock (tests step a manual one).
   * @param lifetimeMs Timer J: how long a record answers lookups.
   */
  constructor(clock: Clock, lifetimeMs: number) {
    this.#clock = clock;
    this.#lifetime = lifetimeMs;
    this.#slack = Math.min(50, Math.floor(lifetimeMs / 64));
    this.#resize(MIN_SLOTS);
  }

  /** Records held: those that answer lookups and those whose Timer J ran out since the last sweep (≤ 50 ms). */
  get size(): number {
    return this.#size;
  }

  /** Octets of the chunks held (in use or spare): the memory this holds outside the heap besides its slot arrays. */
  get octets(): number {
    return this.#octets;
  }

  /** Slots allocated (a power of two; the typed arrays' length). */
  get slots(): number {
    return this.#mask + 1;
  }

  /**
   * Records a Completed transaction for Timer J from now.
   * @param key its §17.2.3 key (transaction/keys.ts); no record with this key may be live.
   * @param response the final response as sent.
   * @param route where retransmissions of it go.
   * @returns its deadline (clock time).
   */
  add(key: string, response: Buffer, route: unknown): number {
    if (this.#count > this.#mask) this.#resize((this.#mask + 1) * 2);
    const keyLen = Buffer.byteLength(key, 'utf8');
    const n = keyLen + response.length;
    const chunk = this.#room(n);
    const at = this.#used;
    chunk.write(key, at, keyLen, 'utf8');
    response.copy(chunk, at + keyLen);
    this.#used += n;

    const s = (this.#first + this.#count) & this.#mask;
    const h = fnv1a(key);
    const expiresAt = this.#clock.now() + this.#lifetime;
    this.#hash[s] = h;
    this.#chunkNo[s] = this.#chunkBase + this.#chunks.length - 1;
    this.#off[s] = at;
    this.#keyLen[s] = keyLen;
    this.#resLen[s] = response.length;
    this.#expires[s] = expiresAt;
    this.#live[s] = 1;
    this.#routes[s] = route;
    const b = h & (this.#buckets.length - 1);
    this.#next[s] = this.#buckets[b] as number;
    this.#buckets[b] = s + 1;
    this.#count++;
    this.#size++;
    if (this.#timer === undefined) this.#arm(this.#lifetime);
    return expiresAt;
  }

  /**
   * The record of `key` while its Timer J runs.
   * @returns undefined when there is none (never held, expired, deleted).
   */
  find(key: string): CompletedHit | undefined {
    const s = this.#slotOf(key);
    if (s < 0) return undefined;
    const chunk = this.#chunk(s);
    const from = (this.#off[s] as number) + (this.#keyLen[s] as number);
    return {
      bytes: Buffer.from(chunk.subarray(from, from + (this.#resLen[s] as number))),
      route: this.#routes[s],
      expiresAt: this.#expires[s] as number,
    };
  }

  /**
   * Ends the record of `key` before its Timer J (§17.2.4: its response could not be sent).
   * @param expiresAt the deadline {@link add} returned: a later record of the same key is not touched.
   * @returns whether a record went.
   */
  delete(key: string, expiresAt: number): boolean {
    const s = this.#slotOf(key);
    if (s < 0 || this.#expires[s] !== expiresAt) return false;
    this.#unlink(s);
    return true;
  }

  /** Drops every record (the stack stopped). */
  clear(): void {
    this.#timer?.cancel();
    this.#timer = undefined;
    this.#first = 0;
    this.#count = 0;
    this.#size = 0;
    this.#chunks = [];
    this.#chunkBase = 0;
    this.#used = 0;
    this.#spare = [];
    this.#octets = 0;
    this.#resize(MIN_SLOTS);
  }

  #slotOf(key: string): number {
    const h = fnv1a(key);
    let now = -1;
    for (let e = this.#buckets[h & (this.#buckets.length - 1)] as number; e !== 0; e = this.#next[e - 1] as number) {
      const s = e - 1;
      if (this.#hash[s] !== h || this.#live[s] === 0) continue;
      if (now < 0) now = this.#clock.now();
      if ((this.#expires[s] as number) <= now) continue;
      const at = this.#off[s] as number;
      if (this.#chunk(s).toString('utf8', at, at + (this.#keyLen[s] as number)) === key) return s;
    }
    return -1;
  }

  #chunk(s: number): Buffer {
    return this.#chunks[(this.#chunkNo[s] as number) - this.#chunkBase] as Buffer;
  }

  /** Takes `s` out of its bucket's chain; it stays in the ring, dead, until its deadline. */
  #unlink(s: number): void {
    this.#live[s] = 0;
    this.#size--;
    this.#routes[s] = undefined;
    const b = (this.#hash[s] as number) & (this.#buckets.length - 1);
    let e = this.#buckets[b] as number;
    if (e === s + 1) {
      this.#buckets[b] = this.#next[s] as number;
      return;
    }
    while (e !== 0) {
      const nx = this.#next[e - 1] as number;
      if (nx === s + 1) {
        this.#next[e - 1] = this.#next[s] as number;
        return;
      }
      e = nx;
    }
  }

  /** The chunk with `n` free octets at `#used`, opening one when the last is full. */
  #room(n: number): Buffer {
    const last = this.#chunks[this.#chunks.length - 1];
    if (last !== undefined && this.#used + n <= last.length) return last;
    let c: Buffer;
    if (n > OWN_CHUNK_ABOVE) {
      c = Buffer.allocUnsafeSlow(n);
      this.#octets += n;
    } else {
      c = this.#spare.pop() ?? this.#newChunk();
    }
    this.#chunks.push(c);
    this.#used = 0;
    return c;
  }

  #newChunk(): Buffer {
    this.#octets += CHUNK_OCTETS;
    // Its own ArrayBuffer, not a slice of Node's shared pool: nothing else can pin it or be pinned by it.
    return Buffer.allocUnsafeSlow(CHUNK_OCTETS);
  }

  #arm(ms: number): void {
    this.#timer = this.#clock.setTimer(() => this.#sweep(), ms, true);
  }

  /** Drops the records whose Timer J has run, frees the chunks they emptied, and re-arms for the next. */
  #sweep(): void {
    this.#timer = undefined;
    const now = this.#clock.now();
    while (this.#count > 0 && (this.#expires[this.#first] as number) <= now) {
      const s = this.#first;
      if (this.#live[s] === 1) this.#unlink(s);
      this.#first = (s + 1) & this.#mask;
      this.#count--;
    }
    // Chunks before the oldest record's are empty; with no record left, all but the last is, and it starts over.
    const keepFrom = this.#count > 0 ? (this.#chunkNo[this.#first] as number) : this.#chunkBase + this.#chunks.length - 1;
    while (this.#chunkBase < keepFrom && this.#chunks.length > 1) this.#free(this.#chunks.shift() as Buffer);
    if (this.#count === 0) this.#used = 0;
    if (this.#mask + 1 > MIN_SLOTS && this.#count * SHRINK_BELOW < this.#mask + 1) this.#resize(Math.max(MIN_SLOTS, (this.#mask + 1) / 4));
    if (this.#count > 0) this.#arm(Math.max((this.#expires[this.#first] as number) - now, this.#slack));
  }

  #free(c: Buffer): void {
    this.#chunkBase++;
    if (c.length === CHUNK_OCTETS && this.#spare.length < SPARE_CHUNKS) this.#spare.push(c);
    else this.#octets -= c.length;
  }

  /** New slot arrays of `slots` (a power of two ≥ the records held), the records moved in order and rehashed. */
  #resize(slots: number): void {
    const old = { first: this.#first, count: this.#count, mask: this.#mask, hash: this.#hash, chunkNo: this.#chunkNo,
      off: this.#off, keyLen: this.#keyLen, resLen: this.#resLen, expires: this.#expires, live: this.#live, routes: this.#routes };
    this.#mask = slots - 1;
    this.#hash = new Uint32Array(slots);
    this.#chunkNo = new Uint32Array(slots);
    this.#off = new Uint32Array(slots);
    this.#keyLen = new Uint32Array(slots);
    this.#resLen = new Uint32Array(slots);
    this.#expires = new Float64Array(slots);
    this.#next = new Int32Array(slots);
    this.#live = new Uint8Array(slots);
    this.#routes = new Array<unknown>(slots).fill(undefined);
    this.#buckets = new Int32Array(slots * 2);
    this.#first = 0;
    for (let i = 0; i < old.count; i++) {
      const o = (old.first + i) & old.mask;
      const h = old.hash[o] as number;
      this.#hash[i] = h;
      this.#chunkNo[i] = old.chunkNo[o] as number;
      this.#off[i] = old.off[o] as number;
      this.#keyLen[i] = old.keyLen[o] as number;
      this.#resLen[i] = old.resLen[o] as number;
      this.#expires[i] = old.expires[o] as number;
      this.#live[i] = old.live[o] as number;
      this.#routes[i] = old.routes[o];
      if (old.live[o] === 1) {
        const b = h & (slots * 2 - 1);
        this.#next[i] = this.#buckets[b] as number;
        this.#buckets[b] = i + 1;
      }
    }
  }
}
