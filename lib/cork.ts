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
 */
import type { Socket } from 'node:net';

/** A socket's writes, corked per turn. */
export class TurnCork {
  readonly #socket: Socket;
  #corked = false;

  /** @param socket the stream to write to (TCP or TLS). */
  constructor(socket: Socket) {
    this.#socket = socket;
  }

  /**
   * Writes `buf` in this turn's batch.
   * @param done the socket's write callback (called once the batch is handed to the kernel, or with the error).
   * @returns what `socket.write` returned (false: its buffer is above the high-water mark).
   */
  write(buf: Buffer, done?: (err?: Error | null) => void): boolean {
    if (!this.#corked) {
      this.#corked = true;
      this.#socket.cork();
      setImmediate(this.#uncork);
    }
    return this.#socket.write(buf, done);
  }

  readonly #uncork = (): void => {
    this.#corked = false;
    // A destroyed or ended socket needs no uncork (end() flushes corked data itself); uncork on it is harmless anyway.
    this.#socket.uncork();
  };
}
