/**
 * The testbed's ladder (TS 23.280 §10.6.2.2 steps 2–13): the first log line of each step in step order, every role
 * that logged it, the UE's SIP annotations, and a gap where no role logged a step (that is where `--once` fails).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { buildLadder, formatLadder, LogCollector, type StepLine } from '../../deploy/ladder.ts';
import { createLogger } from '../../lib/log.ts';
import { seedStep } from '../../lib/seed-steps.ts';

test('log lines of several roles become one rung per step, first line first; a missing step is a gap', () => {
  const logs = new LogCollector(false);
  const root = createLogger('t', { destination: logs.stream });
  seedStep(root.child({ role: 'registrar' }), 'static', 9, 'partner-mms', 'before the demo: not kept');
  const recorded = logs.record();
  seedStep(root.child({ role: 'registrar' }), 'static', 2, 'ue');
  seedStep(root.child({ role: 'registrar' }), 'static', 3, 'registrar');
  seedStep(root.child({ role: 'partner-mms' }), 'static', 3, 'registrar');
  seedStep(root.child({ role: 'partner-mms' }), 'static', 4, 'partner-mms', 'partner MMS determines alice@primary.example');
  const steps = recorded();
  seedStep(root.child({ role: 'registrar' }), 'static', 5, 'partner-mms', 'after the demo: not kept either');
  assert.deepEqual(steps.map((l) => l.step), [2, 3, 3, 4], 'only what was logged while recording, so a serving testbed keeps nothing');
  const rungs = buildLadder(steps, { 2: 'REGISTER sip:partner.example' });
  assert.deepEqual(rungs.map((r) => r.step), [2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13]);
  assert.deepEqual(rungs[1]?.roles, ['registrar', 'partner-mms']);
  assert.equal((rungs[1]?.line as StepLine).role, 'registrar');
  assert.equal(rungs.find((r) => !r.line)?.step, 5);
  const text = formatLadder('static', rungs);
  assert.match(text, /^TS 23\.280 §10\.6\.2\.2 \(static configuration\): message ladder$/m);
  assert.match(text, /^ {2}step {2}2 {2}UE → partner SIP core: .* {2}\[REGISTER sip:partner\.example\] {2}\(logged by registrar\)$/m);
  assert.match(text, /^ {2}step {2}4 {2}partner MMS determines alice@primary\.example {2}\(logged by partner-mms\)$/m);
  assert.match(text, /^ {2}step {2}5 {2}\(no role logged this step\)$/m);
});

test('waitFor resolves on the first matching line after the call, and rejects naming what it waited for', async () => {
  const logs = new LogCollector(false);
  const log = createLogger('t', { destination: logs.stream }).child({ role: 'relay' });
  const seen = logs.waitFor('the route', (l) => l.role === 'relay' && l.msg === 'route to primary.example: hss.primary.example', 1000);
  log.info('route to primary.example: hss.primary.example');
  assert.equal((await seen).role, 'relay');
  await assert.rejects(logs.waitFor('the impossible', () => false, 50), /the impossible not seen within 50 ms/);
});
