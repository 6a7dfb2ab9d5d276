/**
 * The Redis store specs (lib/store/redis-spec.ts, DESIGN §2.5 "Cluster and Sentinel through the same client"): the
 * single-server, `redis+cluster://` and `redis+sentinel://` forms parse to what the store connects to; malformed ones
 * are refused before anything connects, with a message naming what is wrong and no password in it; the role options
 * (`--store`) say the same. And the property that makes a cluster need no hash tags: every Lua script touches
 * `KEYS[1]` alone and every call passes one key.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { storeSpecSchema } from '../../lib/config/options.ts';
import { parseRedisSpec, redactSpec } from '../../lib/store/redis-spec.ts';
import { isStoreError, openStore } from '../../lib/store/store.ts';

describe('Redis store specs', () => {
  test('redis:// is one server (database from the path, default port 6379); rediss:// is TLS', () => {
    assert.deepEqual(parseRedisSpec('redis://127.0.0.1:7000'), {
      display: 'redis://127.0.0.1:7000', tls: false, mode: 'single', url: 'redis://127.0.0.1:7000', node: { host: '127.0.0.1', port: 7000 }, database: 0,
    });
    const t = parseRedisSpec('rediss://user:s3cret@redis.example/2');
    assert.equal(t.mode, 'single');
    assert.equal(t.tls, true);
    assert.equal(t.username, 'user');
    assert.equal(t.password, 's3cret');
    assert.equal(t.display, 'rediss://***@redis.example/2');
    assert.deepEqual(t.mode === 'single' && [t.node, t.database], [{ host: 'redis.example', port: 6379 }, 2]);
  });

  test('redis+cluster:// lists seed nodes (IPv6 in brackets); redis+sentinel:// lists Sentinels (port 26379) and names the master', () => {
    const c = parseRedisSpec('redis+cluster://:pw@10.0.0.1:7000, 10.0.0.2:7001,[::1]:7002/');
    assert.equal(c.mode, 'cluster');
    assert.deepEqual(c.mode === 'cluster' && c.nodes, [{ host: '10.0.0.1', port: 7000 }, { host: '10.0.0.2', port: 7001 }, { host: '::1', port: 7002 }]);
    assert.equal(c.password, 'pw');
    assert.equal(c.username, undefined);
    const s = parseRedisSpec('redis+sentinel://s1,s2:5000/my%20master/1');
    assert.deepEqual(s.mode === 'sentinel' && [s.sentinels, s.masterName, s.database],
      [[{ host: 's1', port: 26379 }, { host: 's2', port: 5000 }], 'my master', 1]);
  });

  test('malformed specs are ERR_STORE_INPUT naming the fault, with the credentials redacted', () => {
    const cases: Array<[string, RegExp]> = [
      ['redis://a:1,b:2', /several hosts need redis\+cluster/],
      ['redis://h:0', /port 0 of "h:0" is not in 1\.\.65535/],
      ['redis://', /no host/],
      ['redis://h:6379/0/1', /database number alone/],
      ['redis://h/x', /database "x" is not a number/],
      ['redis+cluster://h:7000/1', /database 0 only/],
      ['redis+sentinel://u:topsecret@h:26379', /master name is missing/],
      ['redis+sentinel://h/m/0/extra', /\/<master-name>\[\/db\]/],
      ['redis://h:6379?db=1', /query string/],
      ['redis+cluster://h:7000,bad host', /"bad host" is not host\[:port\]/],
      ['redis+mesh://h', /expected redis:\/\/, rediss:\/\//],
    ];
    for (const [spec, why] of cases) {
      assert.throws(() => parseRedisSpec(spec), (e: unknown) => {
        assert.ok(isStoreError(e, 'ERR_STORE_INPUT'), spec);
        assert.match((e as Error).message, why, spec);
        assert.doesNotMatch((e as Error).message, /topsecret/);
        return true;
      });
    }
    assert.equal(redactSpec('redis+sentinel://u:topsecret@h:26379/m'), 'redis+sentinel://***@h:26379/m');
  });

  test('openStore refuses a malformed Redis spec before connecting (ERR_STORE_INPUT), and names the forms for an unknown one', async () => {
    await assert.rejects(openStore('redis+cluster://127.0.0.1:1/5'), (e: unknown) => isStoreError(e, 'ERR_STORE_INPUT'));
    await assert.rejects(openStore('mongodb://x'), (e: unknown) => isStoreError(e, 'ERR_STORE_INPUT') && /redis\+cluster:\/\/… or redis\+sentinel:\/\//.test((e as Error).message));
  });

  test('--store accepts memory, redis and every Redis form; a malformed one is refused with the fault', () => {
    for (const ok of ['memory', 'redis', 'redis://h:1', 'rediss://h', 'redis+cluster://a:1,b:2', 'redis+sentinel://s:26379/mcx']) {
      assert.equal(storeSpecSchema.safeParse(ok).success, true, ok);
    }
    const bad = storeSpecSchema.safeParse('redis+sentinel://s:26379');
    assert.match(bad.error?.issues[0]?.message ?? '', /master name is missing/);
    assert.match(storeSpecSchema.safeParse('postgres://x').error?.issues[0]?.message ?? '', /redis\+cluster:\/\/h:p,h:p/);
  });
});

describe('one key per operation: what lets a Redis Cluster run every operation whole on one slot', () => {
  const dir = new URL('../../lib/store/lua/', import.meta.url);

  test('every Lua script reads and writes KEYS[1] alone', () => {
    const files = readdirSync(dir).filter((f) => f.endsWith('.lua'));
    assert.ok(files.length >= 6, files.join());
    for (const f of files) {
      const src = readFileSync(new URL(f, dir), 'utf8');
      const keys = new Set([...src.matchAll(/KEYS\[([^\]]+)\]/g)].map((m) => m[1]));
      assert.deepEqual([...keys], ['1'], `${f} uses ${[...keys].join(', ')}`);
      assert.doesNotMatch(src, /#KEYS|redis\.call\('(KEYS|SCAN|RENAME|MGET|MSET|DEL', [^K])/, f);
    }
  });

  test('every EVAL/EVALSHA of the store passes numkeys 1, and no multi-key command is sent', () => {
    const src = readFileSync(new URL('../../lib/store/redis.ts', import.meta.url), 'utf8');
    const evals = [...src.matchAll(/\['(EVALSHA|EVAL)', [^,]+, '(\d+)'/g)];
    assert.equal(evals.length, 2);
    for (const m of evals) assert.equal(m[2], '1');
    assert.doesNotMatch(src, /'(MGET|MSET|RENAME|SUNIONSTORE|SMOVE|MULTI)'/);
  });
});
