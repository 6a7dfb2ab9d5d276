/**
 * The supervisor's side of a question it puts to every worker of its group over the cluster channel (the metrics of a
 * scrape, the counters of `/admin/v1/stats`): one request per running worker, each answer matched by its id, and a
 * worker that does not answer within {@link WORKER_ANSWER_MS} counted as not answering rather than stalling the caller.
 */
import type { Worker } from 'node:cluster';

/** How long the supervisor waits for a worker's answer: a worker stuck longer is reported as not answering. */
export const WORKER_ANSWER_MS = 2000;

/** Questions to the workers of one kind; `A` is what an answer carries. */
export class WorkerPoll<A> {
  #nextId = 0;
  readonly #waiting = new Map<number, (a: A) => void>();

  /**
   * @param ask sends request `id` to `worker` (the message kind is the caller's).
   * @param timeoutMs how long an answer is waited for.
   */
  constructor(private readonly ask: (worker: Worker, id: number) => void, private readonly timeoutMs = WORKER_ANSWER_MS) {}

  /** A worker's answer to request `id`; one nobody waits for any more (too late) is dropped. */
  answered(id: number, answer: A): void {
    const resolve = this.#waiting.get(id);
    this.#waiting.delete(id);
    resolve?.(answer);
  }

  /** The answer of `worker`, or undefined when it is not running or did not answer in time. */
  one(worker: Worker | undefined): Promise<A | undefined> {
    if (!worker?.isConnected()) return Promise.resolve(undefined);
    const id = ++this.#nextId;
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.#waiting.delete(id);
        resolve(undefined);
      }, this.timeoutMs);
      this.#waiting.set(id, (a) => {
        clearTimeout(timer);
        resolve(a);
      });
      this.ask(worker, id);
    });
  }

  /**
   * Every worker's answer, by index 1…count.
   * @param running the running workers by index.
   */
  all(count: number, running: ReadonlyMap<number, Worker>): Promise<Array<A | undefined>> {
    return Promise.all(Array.from({ length: count }, (_, i) => this.one(running.get(i + 1))));
  }
}
