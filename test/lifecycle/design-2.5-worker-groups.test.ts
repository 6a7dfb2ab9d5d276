/**
 * The life of a worker group (`mcx <role> --workers N`, lib/workers): how the port is shared (SO_REUSEPORT from Node
 * 22.12 / 23.1, else the node:cluster primary's sockets; `MCX_PORT_SHARING` overrides, a bad value is named), one ready
 * line for the group, SIGTERM — or Ctrl-C, which signals supervisor and workers at once — stopping every worker
 * (exit 0, `<role>: stopped`, no worker left), a worker that cannot
 * start failing the group with its status (the others stopped, no ready line), and the workers ending with their
 * supervisor when it is killed.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { chosenSharing, reusePortSupported } from '../../lib/workers/group.ts';
import { freePorts } from '../helpers/ports.ts';
import { startMcx, type Proc } from '../helpers/process.ts';
import { until } from '../helpers/wait.ts';

const RELAY = ['relay', '--workers', '2', '--listen', '127.0.0.1:0', '--origin-host', 'relay.primary.example', '--realm', 'primary.example',
  '--route', 'primary.example=127.0.0.1:1'];

const alive = (pid: number): boolean => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

/** The workers' pids from the supervisor's "workers ready" line. */
async function workerPids(p: Proc): Promise<number[]> {
  const m = await p.waitFor(/"pids":\[(\d+),(\d+)\]/, 30_000);
  return [Number(m[1]), Number(m[2])];
}

describe('worker groups (lib/workers)', () => {
  test('port sharing: reusePort from Node 22.12 and 23.1; MCX_PORT_SHARING overrides, another value is named', () => {
    for (const v of ['20.20.2', '22.11.0', '23.0.0']) assert.equal(reusePortSupported(v), false, v);
    for (const v of ['22.12.0', '22.23.3', '23.1.0', '24.0.0']) assert.equal(reusePortSupported(v), true, v);
    assert.equal(chosenSharing({ MCX_PORT_SHARING: 'cluster' }), 'cluster');
    assert.equal(chosenSharing({ MCX_PORT_SHARING: 'reuseport' }), 'reuseport');
    assert.equal(chosenSharing({}), reusePortSupported() ? 'reuseport' : 'cluster');
    assert.throws(() => chosenSharing({ MCX_PORT_SHARING: 'fork' }), /MCX_PORT_SHARING=fork: expected reuseport or cluster/);
  });

  test('mcx relay --workers 2: one ready line, both workers on the port; SIGTERM stops them all (exit 0, relay: stopped)', { timeout: 90_000 }, async () => {
    const p = startMcx(RELAY, { env: { ...process.env, MCX_LOG_LEVEL: 'info' } });
    try {
      await p.waitFor(/relay: listening diameter=tcp:\/\/127\.0\.0\.1:\d+\n/, 60_000);
      const pids = await workerPids(p);
      assert.ok(pids.every(alive));
      assert.equal(p.output().match(/relay: listening/g)?.length, 1, 'one ready line for the group');
      assert.equal(await p.stop('SIGTERM', 20_000), 0, p.output().slice(-2000));
      assert.match(p.output(), /relay: stopped\n$/);
      assert.equal(p.output().match(/relay: stopped/g)?.length, 1);
      assert.ok(pids.every((pid) => !alive(pid)), 'no worker left');
    } finally {
      await p.stop('SIGKILL');
    }
  });

  test('Ctrl-C (SIGINT to the whole process group: supervisor and workers at once) stops the group gracefully, exit 0', { timeout: 90_000 }, async () => {
    // Its own process group, so the signal reaches this group only.
    const p = startMcx(RELAY, { env: { ...process.env, MCX_LOG_LEVEL: 'info' }, detached: true });
    try {
      await p.waitFor(/relay: listening/, 60_000);
      const pids = await workerPids(p);
      process.kill(-(p.child.pid as number), 'SIGINT');
      assert.equal(await p.exited, 0, p.output().slice(-2000));
      assert.match(p.output(), /relay: stopped\n$/);
      assert.doesNotMatch(p.output(), /while stopping; exiting at once/);
      assert.ok(pids.every((pid) => !alive(pid)), 'no worker left');
    } finally {
      await p.stop('SIGKILL');
    }
  });

  test('a worker that cannot start fails the group with its status; the others are stopped; no ready line', { timeout: 90_000 }, async () => {
    const [closed] = await freePorts(1);
    const p = startMcx(['registrar', '--workers', '2', '--sip', 'udp:127.0.0.1:0', '--domain', 'partner.example', '--hss', '127.0.0.1:1',
      '--origin-host', 'registrar.partner.example', '--realm', 'partner.example', '--store', `redis://127.0.0.1:${closed}`]);
    const code = await p.exited;
    assert.equal(code, 1, p.output());
    assert.match(p.output(), /cannot connect to redis:\/\/127\.0\.0\.1/);
    assert.match(p.output(), /worker 1 exited with status 1 before the group was ready; stopping the group/);
    assert.doesNotMatch(p.output(), /registrar: listening/);
  });

  test('the supervisor killed (SIGKILL): its workers end too', { timeout: 90_000 }, async () => {
    const p = startMcx(RELAY, { env: { ...process.env, MCX_LOG_LEVEL: 'info' } });
    try {
      await p.waitFor(/relay: listening/, 60_000);
      const pids = await workerPids(p);
      await p.stop('SIGKILL');
      await until(() => pids.every((pid) => !alive(pid)), 'the workers to exit', 10_000);
    } finally {
      await p.stop('SIGKILL');
    }
  });
});
