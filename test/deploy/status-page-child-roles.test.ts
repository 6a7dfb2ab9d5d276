/**
 * The status page's ladders when the roles run as `mcx` child processes (deploy/testbed-builder.ts `processes: 'all'`,
 * the way the end-to-end tests and an operator run them): the steps then reach the testbed as debug JSON lines on
 * each child's stdout (LogCollector.accept), one pipe per role, so the Diameter side's lines may come before the
 * registrar's line that names their Session-Id. A SIPp 3.6.1 registration (TS 23.280 §10.6.2.2) still makes one
 * ladder, steps 2–13 under SIPp's Call-ID with both sides' identities and the 200 — also when the same lines are
 * replayed with every Diameter role's first; the state lists those roles as processes (their state is theirs).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { LogCollector } from '../../deploy/ladder.ts';
import { RegistrationLog, type RegistrationView } from '../../deploy/status/registrations.ts';
import { TestbedState } from '../../deploy/status/state.ts';
import { freePort } from '../helpers/ports.ts';
import { runSipp, writeAkaScenario } from '../helpers/sipp.ts';
import { until } from '../helpers/wait.ts';
import { PARTNER_REALM, PRIMARY_REALM, startMigrationTestbed, staticIdentity, subscriber, type MigrationTestbed } from '../e2e/migration-testbed.ts';

describe('status page: ladders from the debug lines of roles run as child processes', () => {
  const erin = subscriber('erin');
  let tb: MigrationTestbed;
  let stop: () => void;
  const registrations = new RegistrationLog();

  before(async () => {
    tb = await startMigrationTestbed([erin]);
    stop = registrations.attach(tb.logs);
  });
  after(async () => {
    stop?.();
    await tb?.close();
  });

  test('TS 23.280 §10.6.2.2 by SIPp against child processes: one ladder, steps 2–13, SIPp\'s Call-ID, partner and primary identities, 200', { timeout: 60_000 }, async () => {
    const id = staticIdentity(erin);
    const scenario = writeAkaScenario({ domain: PARTNER_REALM, impi: id.impi, impu: id.impu, k: erin.k, op: erin.op, amf: erin.amf }, tb.dir);
    const r = await runSipp(`127.0.0.1:${tb.role('registrar').sipPort('udp')}`, scenario, { transport: 'udp', localPort: await freePort() });
    assert.equal(r.code, 0, r.output.slice(-2000));
    let reg: RegistrationView | undefined;
    // The 200 and its 401 are the registrar's; the relay's and the HSS's lines come on pipes of their own.
    await until(() => {
      reg = registrations.list().find((x) => x.partner.impi === id.impi && x.result?.status === 200);
      return reg !== undefined && new Set(reg.rungs.map((x) => x.step)).size === 12 && reg.rungs.some((x) => x.role === 'hss');
    }, 'the whole ladder from the child processes\' lines', 10_000);
    const l = reg as RegistrationView;
    assert.match(l.callId, /^\d+-\d+@127\.0\.0\.1$/);
    assert.deepEqual([...new Set(l.rungs.map((x) => x.step))], [2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13]);
    assert.deepEqual(l.partner, { impi: id.impi, impu: id.impu });
    assert.deepEqual(l.primary, { impi: erin.impi, impus: [erin.impus[0]], realm: PRIMARY_REALM });
    assert.deepEqual([...new Set(l.rungs.map((x) => x.role))].sort(), ['hss', 'partner-mms', 'registrar', 'relay']);
    assert.equal(registrations.list().length, 1, 'one REGISTER exchange, one ladder');
  });

  test('the same lines with every Diameter role\'s before the registrar\'s (pipes race): the steps wait for their Session-Id, one ladder again', () => {
    const replay = new LogCollector(false, { quiet: true });
    const again = new RegistrationLog();
    const stopReplay = again.attach(replay);
    try {
      for (const role of ['hss', 'relay', 'partner-mms', 'registrar']) replay.accept(role, tb.logs.text(role));
    } finally {
      stopReplay();
    }
    const [first] = registrations.list();
    const ladders = again.list().filter((x) => x.rungs.length > 0);
    assert.equal(ladders.length, 1);
    const l = ladders[0] as RegistrationView;
    assert.equal(l.callId, first?.callId);
    assert.equal(l.result?.status, 200);
    // Roles that logged one step in the same millisecond may stand in either order.
    const steps = (r: RegistrationView | undefined): string[] => (r?.rungs ?? []).map((x) => `${String(x.step).padStart(2)} ${x.role}`).sort();
    assert.deepEqual(steps(l), steps(first));
    assert.deepEqual(l.rungs.map((x) => x.step), [...l.rungs.map((x) => x.step)].sort((a, b) => a - b), 'in step order');
  });

  test('the state names every role as a child process, with its addresses and no state of its own', async () => {
    const s = await new TestbedState(tb).read();
    assert.ok(s.roles.length >= 5);
    for (const r of s.roles) {
      assert.equal(r.where, 'process', r.name);
      assert.equal(r.peers, undefined);
    }
    assert.match(s.roles.find((r) => r.name === 'hss')?.addresses.diameterUrl ?? '', /^tcp:\/\/127\.0\.0\.1:\d+$/);
    assert.equal(s.subscribers.total, 0);
  });
});
