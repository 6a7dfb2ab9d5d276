/**
 * Writes to a stream socket coalesced per event-loop turn: the first write of a turn corks the socket, and it is
 * uncorked once when the turn's work is done, so the N messages a turn produces (answers to a chunk of requests,
 * requests for a batch of datagrams) leave as one `writev` — over TLS one `SSL_write`, one record — instead of N
 * syscalls and N records. Used by lib/diameter's links and lib/sip's stream connections.
 *
 * "Done" is `setImmediate`: it runs after every I/O callback of the current poll phase and the microtasks they
 * queued, which is what makes requests answered in different callbacks of one turn (one UDP datagram each, say) go
 * out together; `process.nextTick` would flush after the first callback's microtasks already. The cost is at most the
 * rest of that poll phase of latency, bounded by the work already queued. Measured against the alternatives (issue
 * #12, bench/README "fourth round"): writing at once, or flushing on nextTick, cost the static chain 13–23 % more CPU
 * at 1,000/s — the processes downstream woke ~45 % more often, with fewer messages per wake-up.
 *
 * A `holdMs` goes further, like Nagle's algorithm but bounded in time: while writes come faster than two per `holdMs`
 * (an average of the gaps between them), a batch waits up to `holdMs` for more before it leaves, or until it holds
 * {@link FULL_BATCH} messages, as Nagle sends a full segment. Every process down the chain then reads several messages
 * per wake-up and answers them in one write, so the batch travels on. Slower
 * than that, a batch leaves at the end of its turn as without it: a lone registration waits for nothing. The
 * registrar sets it on its Cx links (`--cx-batch-ms`, bench/README "fifth round" for what it buys and costs).
 */
import type { Socket } from 'node:net';

/** Gaps between writes longer than this count as this long: an idle minute must not take minutes to forget. */
const GAP_CAP_MS = 1000;
/** Weight of the newest gap in the average (1/8, as TCP's SRTT: RFC 6298 §2). */
const GAP_WEIGHT = 1 / 8;
/**
 * Messages after which a held batch leaves at the end of the turn instead of waiting out the hold: enough to spread a
 * wake-up's cost downstream, and at high rates (where a turn gathers several anyway) the hold then adds little latency.
 */
export const FULL_BATCH = 8;

/** A socket's writes, corked per turn, or held up to `holdMs` under load. */
export class TurnCork {
  readonly #socket: Socket;
  readonly #holdMs: number;
  #corked = false;
  /** The hold's timer while a batch waits for it, and the batch's messages. */
  #held: NodeJS.Timeout | undefined;
  #count = 0;
  /** When the last write came (performance.now()), and the average gap between writes; only kept with a hold. */
  #lastWrite = 0;
  #gap = GAP_CAP_MS;

  /**
   * @param socket the stream to write to (TCP or TLS).
   * @param holdMs longest a batch waits for more writes while they come faster than two per `holdMs`; 0 (the
   *   default) never waits past the turn.
   */
  constructor(socket: Socket, holdMs = 0) {
    this.#socket = socket;
    this.#holdMs = holdMs;
  }

  /**
   * Writes `buf` in this turn's batch.
   * @param done the socket's write callback (called once the batch is handed to the kernel, or with the error).
   * @returns what `socket.write` returned (false: its buffer is above the high-water mark).
   */
  write(buf: Buffer, done?: (err?: Error | null) => void): boolean {
    const hold = this.#holdMs > 0 && this.#busy();
    this.#count++;
    if (!this.#corked) {
      this.#corked = true;
      this.#socket.cork();
      if (hold) this.#held = setTimeout(this.#uncork, this.#holdMs);
      else setImmediate(this.#uncork);
    } else if (this.#held !== undefined && this.#count >= FULL_BATCH) {
      clearTimeout(this.#held);
      this.#held = undefined;
      setImmediate(this.#uncork);
    }
    return this.#socket.write(buf, done);
  }

  /** Records this write's gap; true when writes come fast enough that a held batch would gather more than one. */
  #busy(): boolean {
    const now = performance.now();
    this.#gap += (Math.min(now - this.#lastWrite, GAP_CAP_MS) - this.#gap) * GAP_WEIGHT;
    this.#lastWrite = now;
    return this.#gap * 2 < this.#holdMs;
  }

  readonly #uncork = (): void => {
    this.#corked = false;
    this.#held = undefined;
    this.#count = 0;
    // A destroyed or ended socket needs no uncork (end() flushes corked data itself); uncork on it is harmless anyway.
    this.#socket.uncork();
  };
}
