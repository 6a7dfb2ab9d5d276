/**
 * `GET /admin/v1/stats` of a worker group (`mcx <role> --workers N --admin …`): every worker serves the admin API on
 * the shared address, and whichever answers gives the group's counters, not its own. It asks the supervisor
 * (`group-stats`), which asks every worker for its own record (`stats`, within `WORKER_ANSWER_MS`) and adds them up
 * ({@link sumStats}). Outside a group, or in a group of one, a worker's own record is the answer.
 */
import type { Worker } from 'node:cluster';
import { workerSlot } from './group.ts';
import { askSupervisor } from './ask-supervisor.ts';
import { isGroupMessage, type StatsAnswer, type StatsRequest } from './messages.ts';
import { WorkerPoll } from './poll.ts';

type Stats = Record<string, unknown>;

/**
 * The group's record from the workers' own: a number adds up over the workers that report it (counters, and levels
 * of the process such as kept vectors); any other value (the store kind, an Origin-Host) is kept when every worker
 * that answered gives the same, else listed per worker. A worker's own `worker` index is left out (the record is the
 * group's); `workers` is the group's size, `workers_answered` how many records went into the sums, and `per_worker`
 * each worker's own record by index (null: not running, not ready yet, or no answer within `WORKER_ANSWER_MS`).
 * @param answers by worker index 1…N.
 */
export function sumStats(answers: ReadonlyArray<Stats | undefined>): Stats {
  const got = answers.filter((a): a is Stats => a !== undefined);
  const out: Stats = {};
  for (const key of new Set(got.flatMap((a) => Object.keys(a)))) {
    if (key === 'worker') continue;
    const values = got.map((a) => a[key]);
    if (values.every((v) => typeof v === 'number' || v === undefined)) {
      out[key] = values.reduce<number>((sum, v) => sum + ((v as number | undefined) ?? 0), 0);
    } else {
      const first = JSON.stringify(values[0]);
      out[key] = values.every((v) => JSON.stringify(v) === first) ? values[0] : values;
    }
  }
  // `workers` as the registrar's own record writes it (a string, like `worker`).
  return { ...out, workers: String(answers.length), workers_answered: got.length, per_worker: answers.map((a) => a ?? null) };
}

/** The supervisor's side: the group's record, read from every worker when one of them is asked. */
export class GroupStats {
  readonly #poll = new WorkerPoll<Stats>((worker, id) => worker.send({ mcx: 'stats', id }));

  /**
   * @param count workers 1…count.
   * @param workers the running workers by index, read at each request.
   */
  constructor(private readonly count: number, private readonly workers: () => ReadonlyMap<number, Worker>) {}

  /**
   * Handles a worker's stats message: a worker's own record is noted; a request for the group's is answered to
   * `from` once every worker has answered or timed out.
   */
  onMessage(m: StatsAnswer | StatsRequest, from: Worker): void {
    if (m.mcx === 'stats-answer') {
      if (typeof m.stats === 'object' && m.stats !== null) this.#poll.answered(m.id, m.stats);
    } else if (m.mcx === 'group-stats') {
      void this.#poll.all(this.count, this.workers()).then((answers) => {
        if (from.isConnected()) from.send({ mcx: 'group-stats-answer', id: m.id, stats: sumStats(answers) });
      });
    }
  }
}

/**
 * A worker's side: answers the supervisor's `stats` requests with `own`, and gives the function the admin API serves
 * `/admin/v1/stats` with (the group's record in a group of several, `own()` otherwise).
 * @returns the route's reader and a function that stops answering (the admin server's close).
 */
export function groupStatsReader(own: () => Stats): { read: () => Promise<Stats>; stop: () => void } {
  const slot = workerSlot();
  if (!slot || slot.count < 2 || !process.send) return { read: async () => own(), stop: () => undefined };
  const listener = (m: unknown): void => {
    if (isGroupMessage(m) && m.mcx === 'stats' && process.connected) process.send?.({ mcx: 'stats-answer', id: m.id, stats: own() });
  };
  process.on('message', listener);
  const read = async (): Promise<Stats> => {
    const answer = await askSupervisor('group-stats');
    // No answer: the supervisor is gone (and this worker with it); say whose counters these are.
    return answer?.stats ?? { ...own(), workers: String(slot.count), workers_answered: 1, per_worker: null };
  };
  return { read, stop: () => void process.off('message', listener) };
}
