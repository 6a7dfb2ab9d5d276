/**
 * Requests sent on one connection and not yet answered, keyed by hop-by-hop id (RFC 6733 §3: unique per connection
 * while outstanding; the answer carries the request's value).
 */
import type { DiameterMessage } from './codec.ts';
import { HopByHopIdGenerator } from './message.ts';

interface Entry {
  resolve(answer: DiameterMessage): void;
  reject(err: Error): void;
  /** Application requests fail over on SUSPECT; the connection's own CER/DWR/DPR do not. */
  application: boolean;
}

/** The pending-request table of one connection. */
export class PendingRequests {
  private readonly entries = new Map<number, Entry>();
  private readonly ids = new HopByHopIdGenerator();

  /** A hop-by-hop id not in use on this connection. */
  nextId(): number {
    let id = this.ids.next();
    while (this.entries.has(id)) id = this.ids.next();
    return id;
  }

  /** Records a request sent with `hopByHop`. */
  add(hopByHop: number, entry: Entry): void {
    this.entries.set(hopByHop, entry);
  }

  /** Removes and returns the request an answer belongs to. */
  take(hopByHop: number): Entry | undefined {
    const e = this.entries.get(hopByHop);
    this.entries.delete(hopByHop);
    return e;
  }

  /** Rejects and removes every request (or only application requests) with `makeError()`. */
  failAll(makeError: () => Error, applicationOnly: boolean): void {
    for (const [id, e] of this.entries) {
      if (applicationOnly && !e.application) continue;
      this.entries.delete(id);
      e.reject(makeError());
    }
  }
}
