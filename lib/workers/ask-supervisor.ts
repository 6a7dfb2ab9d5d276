/**
 * A worker's questions to its supervisor about the whole group (the admin API's `/admin/v1/stats` and `/metrics` on
 * the shared address): one listener on the cluster channel matches each answer to its request by id.
 */
import { workerSlot } from './group.ts';
import { isGroupMessage, type GroupMessage, type GroupMetricsAnswer, type StatsAnswer } from './messages.ts';
import { WORKER_ANSWER_MS } from './poll.ts';

type Question = 'group-stats' | 'group-metrics';
type AnswerOf<Q extends Question> = Q extends 'group-stats' ? StatsAnswer : GroupMetricsAnswer;

let nextId = 0;
const waiting = new Map<number, (m: GroupMessage) => void>();
let listening = false;

function listen(): void {
  if (listening) return;
  listening = true;
  process.on('message', (m: unknown) => {
    if (!isGroupMessage(m) || (m.mcx !== 'group-stats-answer' && m.mcx !== 'group-metrics-answer')) return;
    waiting.get(m.id)?.(m);
  });
}

/**
 * Asks the supervisor `question`, which it answers once every worker has answered it or timed out.
 * @returns the answer, or undefined outside a group of several workers, or when none came within `WORKER_ANSWER_MS` and a second more
 *   (the supervisor is gone, and this worker with it): the caller then answers for itself.
 */
export function askSupervisor<Q extends Question>(question: Q): Promise<AnswerOf<Q> | undefined> {
  if ((workerSlot()?.count ?? 1) < 2 || !process.send || !process.connected) return Promise.resolve(undefined);
  listen();
  const id = ++nextId;
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      waiting.delete(id);
      resolve(undefined);
    }, WORKER_ANSWER_MS + 1000);
    waiting.set(id, (m) => {
      clearTimeout(timer);
      waiting.delete(id);
      resolve(m as AnswerOf<Q>);
    });
    process.send?.({ mcx: question, id });
  });
}
