/**
 * DESIGN §2.5: how a worker group's `/admin/v1/stats` is made from its workers' own records (lib/workers/group-stats.ts
 * `sumStats`; the registrar and HSS worker tests read it over HTTP from real groups). Counters add up, a value every
 * worker gives alike stays as it is, one that differs is listed per worker, a worker's own index is dropped, and a
 * worker that did not answer is missing from the sums and null in `per_worker`.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { sumStats } from '../../lib/workers/group-stats.ts';

describe('DESIGN §2.5: the group\'s /admin/v1/stats from its workers\' records', () => {
  const one = { worker: '1', workers: '2', store: 'redis', origin_host: 'hss.primary.example', mar: 3, sar: 0, vectors_kept: 4 };
  const two = { worker: '2', workers: '2', store: 'redis', origin_host: 'hss2.primary.example', mar: 5, sar: 2 };

  test('numbers add up (a key one worker lacks counts 0 there); equal values kept, differing ones listed', () => {
    assert.deepEqual(sumStats([one, two]), {
      workers: '2', store: 'redis', origin_host: ['hss.primary.example', 'hss2.primary.example'], mar: 8, sar: 2, vectors_kept: 4,
      workers_answered: 2, per_worker: [one, two],
    });
  });

  test('a worker that did not answer: missing from the sums, null in per_worker, counted in workers only', () => {
    const s = sumStats([undefined, two, { ...one, worker: '3' }]);
    assert.equal(s.mar, 8);
    assert.equal(s.workers, '3');
    assert.equal(s.workers_answered, 2);
    assert.deepEqual((s.per_worker as unknown[]).map((w) => (w as { worker?: string } | null)?.worker ?? null), [null, '2', '3']);
  });

  test('no worker answered: only the group\'s size', () => {
    assert.deepEqual(sumStats([undefined, undefined]), { workers: '2', workers_answered: 0, per_worker: [null, null] });
  });
});
