/**
 * Which nonces this registrar process handed out, so a REGISTER whose nonce is no longer pending (used, or past
 * reg-await-auth) can be told apart from one carrying a nonce it never issued: RFC 7616 §3.3 (and RFC 2617 §3.2.1
 * before it) has `stale=TRUE` mean "your nonce was one of ours and is no longer valid, retry with the same
 * credentials"; a forged or unknown nonce gets `stale=FALSE`. Clients act on the difference: SIP.js resends its last
 * Authorization on a refresh (DESIGN §2.1), and a 401 without `stale=TRUE` to a request that carried credentials is,
 * for many softphones, a wrong password.
 *
 * The table holds no secret: nonce → IMPI it was issued for, and until when it is remembered — reg-await-auth plus the
 * longest binding (`maxExpires`), the longest a UE can hold on to a used nonce before its refresh resends it. Per
 * process and in memory, like the other tables. Registrar processes sharing a Redis store (`--workers N`, or several
 * hosts) each know only their own; what tells one the nonce another issued is the binding it made: each binding
 * records the nonce of the REGISTER that made or refreshed it (bindings.ts), which is exactly what a refresh resends
 * (register.ts asks both, this table first, so no store read is spent on this process's own nonces). A nonce another
 * process issued and nobody used (a challenge left unanswered past reg-await-auth) stays "unknown": stale=FALSE, and
 * the client answers the fresh challenge all the same. At most `cap` nonces, the oldest forgotten first.
 */
import { BoundedMap } from '../lib/bounded-map.ts';
import { ownString } from '../lib/sip/syntax.ts';
import { StringPool } from '../lib/string-pool.ts';

/** Distinct IMPIs whose one copy the table shares before it starts over (a bound against identity rotation). */
const IMPIS_SHARED = 4096;
/** The unit of the deadlines kept. */
const TICK_MS = 100;

/** Nonces issued by this process. */
export class IssuedNonces {
  /**
   * Per nonce: the IMPI (one string per identity, from `#impis`) and until when, in tenths of a second after `#base`:
   * a small integer for years of uptime, where epoch milliseconds would be a heap number of its own. At 2,000
   * registrations/s the table is at its cap (100,000) within a minute and every entry lives a minute in old space, so
   * each octet of an entry is marked by every major GC (issue #12: a heap snapshot found 85,000 copies of 200 IMPIs,
   * each a sliced string over a flat copy, and as many heap numbers).
   */
  readonly #m: BoundedMap<string, { impi: string; until: number }>;
  /** The IMPIs' one copy each: not the slice of the REGISTER's text one came as, which it must not keep alive. */
  readonly #impis = new StringPool(IMPIS_SHARED, ownString);
  readonly #lifeMs: number;
  readonly #now: () => number;
  readonly #base: number;

  /**
   * @param lifeMs how long an issued nonce is remembered.
   * @param cap the most nonces remembered.
   */
  constructor(lifeMs: number, cap: number, now: () => number = Date.now) {
    this.#m = new BoundedMap(cap);
    this.#lifeMs = lifeMs;
    this.#now = now;
    this.#base = now();
  }

  /** `nonce` was sent in a challenge for `impi`. */
  issued(nonce: string, impi: string): void {
    // Rounded up: a nonce may be remembered up to 100 ms longer, never shorter.
    this.#m.set(nonce, { impi: this.#impis.get(impi), until: Math.ceil((this.#now() + this.#lifeMs - this.#base) / TICK_MS) });
  }

  /**
   * Whether `nonce` is one this process issued for `impi` (the credentials' identity: a nonce of another identity is
   * no stale nonce of this one) and still remembers.
   */
  wasIssued(nonce: string, impi: string): boolean {
    const e = this.#m.peek(nonce);
    if (e === undefined) return false;
    if (this.#base + e.until * TICK_MS <= this.#now()) {
      this.#m.delete(nonce);
      return false;
    }
    return e.impi === impi;
  }
}
