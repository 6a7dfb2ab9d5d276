/**
 * Bans across the workers of a group (DESIGN §2.5, registrar/source-guard.ts): each failed authentication reaches the
 * siblings over IPC with its time and worker, and the ban's warn line and `bans` count come from the worker whose
 * failure crossed the line in time order. So the ban is logged exactly once even when a sibling's message arrives
 * after a later failure of this worker — the order a loaded machine delivered in CI, where no worker logged it — and
 * when both workers cross the line at the same moment, each before the other's message arrives: the line waits out a
 * grace for the failures on their way (the ban does not). Two guards stand for two workers; the test delivers their
 * messages in the order it chooses.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { SourceGuard } from '../../registrar/source-guard.ts';
import { RegistrarStats } from '../../registrar/stats.ts';
import { captureLogs } from '../diameter/harness.ts';

const SOURCE = '127.0.0.9';
const IMPI = 'alice@partner.example';

function worker(index: number, clock: { now: number }, banLogGraceMs = 0) {
  const logs = captureLogs('debug');
  const stats = new RegistrarStats();
  const guard = new SourceGuard({
    banAfter: 2, banWindowMs: 60_000, banMs: 300_000, banAction: '403', rateLimit: 100, rateBurst: 100, maxTrackedSources: 100,
    stats, log: logs.logger, now: () => clock.now, worker: index, banLogGraceMs,
  });
  const warns = (): number => logs.lines().filter((l) => l.level === 40 && /banned for/.test(String(l.msg))).length;
  return { guard, stats, warns, index };
}

describe('DESIGN §2.5: a ban across workers is logged once, by the worker whose failure crossed the line', () => {
  test('in order: failures at worker 1, 2, 1, each told at once — worker 1 logs the ban, worker 2 bans at debug', () => {
    const clock = { now: 1_000_000 };
    const [w1, w2] = [worker(1, clock), worker(2, clock)];
    for (const [at, from, to] of [[0, w1, w2], [10, w2, w1], [20, w1, w2]] as const) {
      clock.now = 1_000_000 + at;
      from.guard.authFailed(SOURCE, IMPI);
      to.guard.authFailedElsewhere(SOURCE, IMPI, clock.now, from.index);
    }
    assert.ok(w1.guard.banned(SOURCE) && w2.guard.banned(SOURCE));
    assert.deepEqual([w1.warns(), w2.warns()], [1, 0]);
    assert.deepEqual([w1.stats.get('bans'), w2.stats.get('bans')], [1, 0]);
  });

  test('worker 2\'s message arrives after worker 1\'s third failure: still one warn line, from worker 1', () => {
    const clock = { now: 2_000_000 };
    const [w1, w2] = [worker(1, clock), worker(2, clock)];
    w1.guard.authFailed(SOURCE, IMPI);
    w2.guard.authFailedElsewhere(SOURCE, IMPI, clock.now, 1);
    clock.now += 10;
    w2.guard.authFailed(SOURCE, IMPI);
    const late = clock.now;
    clock.now += 10;
    w1.guard.authFailed(SOURCE, IMPI);
    assert.equal(w1.guard.banned(SOURCE), false, 'worker 1 has seen two failures so far');
    w2.guard.authFailedElsewhere(SOURCE, IMPI, clock.now, 1);
    w1.guard.authFailedElsewhere(SOURCE, IMPI, late, 2);
    assert.ok(w1.guard.banned(SOURCE) && w2.guard.banned(SOURCE), 'banned in both');
    assert.deepEqual([w1.warns(), w2.warns()], [1, 0], 'the third failure in time was worker 1\'s');
    assert.deepEqual([w1.stats.get('bans'), w2.stats.get('bans')], [1, 0]);
  });

  test('failures of one millisecond: the worker order breaks the tie the same way in both', () => {
    const clock = { now: 3_000_000 };
    const [w1, w2] = [worker(1, clock), worker(2, clock)];
    w1.guard.authFailed(SOURCE, IMPI);
    w2.guard.authFailed(SOURCE, IMPI);
    w1.guard.authFailed(SOURCE, IMPI);
    w2.guard.authFailedElsewhere(SOURCE, IMPI, clock.now, 1);
    w1.guard.authFailedElsewhere(SOURCE, IMPI, clock.now, 2);
    w2.guard.authFailedElsewhere(SOURCE, IMPI, clock.now, 1);
    assert.ok(w1.guard.banned(SOURCE) && w2.guard.banned(SOURCE));
    assert.equal(w1.warns() + w2.warns(), 1, 'one warn line in all');
  });

  test('both workers cross the line at once, before either hears of the other\'s failure: the ban starts at once in both, and after the grace one warn line, from the earlier failure\'s worker', async () => {
    for (const grace of [0, 40]) {
      const clock = { now: 4_000_000 };
      const [w1, w2] = [worker(1, clock, grace), worker(2, clock, grace)];
      w1.guard.authFailed(SOURCE, IMPI);
      w2.guard.authFailedElsewhere(SOURCE, IMPI, clock.now, 1);
      clock.now += 10;
      w2.guard.authFailed(SOURCE, IMPI);
      w1.guard.authFailedElsewhere(SOURCE, IMPI, clock.now, 2);
      clock.now += 10;
      const first = clock.now;
      w1.guard.authFailed(SOURCE, IMPI);
      clock.now += 1;
      w2.guard.authFailed(SOURCE, IMPI);
      assert.ok(w1.guard.banned(SOURCE) && w2.guard.banned(SOURCE), 'banned in both before any message came');
      // The messages of the third failures cross on their way.
      w2.guard.authFailedElsewhere(SOURCE, IMPI, first, 1);
      w1.guard.authFailedElsewhere(SOURCE, IMPI, clock.now, 2);
      if (grace === 0) {
        // Without the grace each logged the failure it saw cross the line: the limit this grace removes.
        assert.deepEqual([w1.warns(), w2.warns()], [1, 1]);
        continue;
      }
      assert.deepEqual([w1.warns(), w2.warns()], [0, 0], 'nothing logged during the grace');
      await new Promise((r) => setTimeout(r, grace * 3));
      assert.deepEqual([w1.warns(), w2.warns()], [1, 0], 'worker 1\'s failure was the third in time');
      assert.deepEqual([w1.stats.get('bans'), w2.stats.get('bans')], [1, 0]);
    }
  });
});
