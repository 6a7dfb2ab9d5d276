/**
 * `mcx testbed --store redis://…` (DESIGN §2.5): the same one-command static flow with every role's state in a real
 * `redis-server` (appendfsync always, as the store insists); a server that may lose SQNs (`everysec`) is refused
 * with exit 2 before anything serves.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startMcx } from '../helpers/process.ts';
import { startEverysecRedisServer, startRedisServer, type RedisServer } from '../helpers/redis-server.ts';

describe('mcx testbed --once --store redis://', () => {
  let dir: string;
  let redis: RedisServer;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'mcx-testbed-redis-'));
    redis = await startRedisServer();
  });
  after(async () => {
    await redis?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  test('two runs on one Redis: both register (200), the second with a fresh vector', async () => {
    for (let run = 0; run < 2; run++) {
      const p = startMcx(['testbed', '--once', '--ports', 'auto', '--dir', dir, '--store', redis.url]);
      assert.equal(await p.exited, 0, p.output());
      assert.match(p.output(), /^result: OK/m);
      assert.doesNotMatch(p.output(), /resynchronisation/);
    }
  });

  test('a Redis with appendfsync everysec is refused: exit 2', async () => {
    const lossy = await startEverysecRedisServer();
    try {
      const p = startMcx(['testbed', '--once', '--ports', 'auto', '--dir', dir, '--store', lossy.url]);
      assert.equal(await p.exited, 2, p.output());
      assert.match(p.output(), /appendfsync/);
    } finally {
      await lossy.stop();
    }
  });
});
