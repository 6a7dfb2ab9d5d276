/**
 * lib/lifecycle.ts, the one stop of every role: whatever order things were opened in, they close stage by stage —
 * listeners, then Diameter peers (DPR), then the store — last opened first within a stage; the stop runs once
 * however often it is asked for; a failing step does not keep the rest open; a start that throws closes what it had
 * opened; something opened after the stop began is closed at once.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Teardown } from '../../lib/lifecycle.ts';

/** A teardown whose steps record their names in `log`. */
function recorder(): { t: Teardown; log: string[]; step: (name: string, fail?: boolean) => () => Promise<void> } {
  const log: string[] = [];
  const step = (name: string, fail = false) => async (): Promise<void> => {
    await new Promise((r) => setImmediate(r));
    log.push(name);
    if (fail) throw new Error(`${name} failed`);
  };
  return { t: new Teardown(), log, step };
}

describe('lifecycle: one stop order for every role (listeners, DPR to peers, store)', () => {
  test('registered as a role opens them (store, node, SIP, admin), closed listeners → peers → store, last opened first', async () => {
    const { t, log, step } = recorder();
    t.add('store', step('store'));
    t.add('peers', step('diameter DPR'));
    t.add('listeners', step('diameter listener'));
    t.add('listeners', step('sip'));
    t.add('listeners', step('admin'));
    await t.run();
    assert.deepEqual(log, ['admin', 'sip', 'diameter listener', 'diameter DPR', 'store']);
  });

  test('idempotent: concurrent and repeated calls share one stop, each step runs once', async () => {
    const { t, log, step } = recorder();
    t.add('store', step('store'));
    t.add('listeners', step('sip'));
    const [a, b] = [t.run(), t.run()];
    assert.equal(a, b);
    await Promise.all([a, b, t.run()]);
    await t.run();
    assert.deepEqual(log, ['sip', 'store']);
    assert.equal(t.stopping, true);
  });

  test('a step that fails does not keep the later ones open', async () => {
    const { t, log, step } = recorder();
    t.add('store', step('store'));
    t.add('peers', step('dpr', true));
    t.add('listeners', step('admin', true));
    await t.run();
    assert.deepEqual(log, ['admin', 'dpr', 'store']);
  });

  test('guard: a start that throws part-way closes what it had opened, in stage order, and rethrows', async () => {
    const { t, log, step } = recorder();
    await assert.rejects(t.guard(async () => {
      t.add('store', step('store'));
      t.add('peers', step('dpr'));
      t.add('listeners', step('sip'));
      throw Object.assign(new Error('listen EADDRINUSE'), { code: 'EADDRINUSE' });
    }), /EADDRINUSE/);
    assert.deepEqual(log, ['sip', 'dpr', 'store']);
  });

  test('guard: a start that succeeds closes nothing until run()', async () => {
    const { t, log, step } = recorder();
    const v = await t.guard(async () => {
      t.add('store', step('store'));
      return 42;
    });
    assert.equal(v, 42);
    assert.deepEqual(log, []);
    await t.run();
    assert.deepEqual(log, ['store']);
  });

  test('something opened after the stop began (a start still running at SIGTERM) is closed at once', async () => {
    const { t, log, step } = recorder();
    t.add('store', step('store'));
    const stopping = t.run();
    let closed!: () => void;
    const late = new Promise<void>((r) => {
      closed = r;
    });
    t.add('listeners', async () => {
      log.push('late listener');
      closed();
    });
    await Promise.all([stopping, late]);
    assert.ok(log.includes('late listener'));
    assert.ok(log.includes('store'));
  });
});
