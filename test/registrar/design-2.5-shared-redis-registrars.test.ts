/**
 * DESIGN §2.5: several registrar processes share one real Redis — challenges and bindings live there. Two
 * `mcx registrar` processes (A, B): the 401 comes from A, the authenticated REGISTER goes to B → 200; the nonce, now
 * used, gets a 401 stale=TRUE from A; `mcx registrar bindings --store redis://…` lists the binding; both processes
 * stop gracefully on SIGTERM.
 */
import { before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import type { DigestChallenge } from '../../lib/sip/headers/auth.ts';
import { freePorts } from '../helpers/ports.ts';
import { NODE, start, startMcx, type Proc } from '../helpers/process.ts';
import { startRedisServer, type RedisServer } from '../helpers/redis-server.ts';
import {
  DOMAIN, HSS_REALM, Ue, akaAnswer, akaUser, callId, headerLines, hssPort, initialAuthorization, openIsim,
  registerBytes, registrarFixture,
} from './helpers.ts';

const alice = akaUser('alice');

describe('DESIGN §2.5: two registrar processes on one Redis', () => {
  const f = registrarFixture({ aka: [alice], registrar: false });
  let redis: RedisServer;
  const procs: Proc[] = [];
  let ports: number[];

  function registrar(name: string, port: number): Proc {
    return startMcx(['registrar', '--sip', `udp:127.0.0.1:${port}`, '--domain', DOMAIN, '--hss', `127.0.0.1:${hssPort(f.hss)}`,
      '--origin-host', `${name}.${DOMAIN}`, '--realm', DOMAIN, '--hss-realm', HSS_REALM, '--store', redis.url,
      '--state-dir', join(f.dir, name), '--min-expires', '2'], { env: { ...process.env, MCX_LOG_LEVEL: 'warn' } });
  }

  before(async () => {
    redis = await startRedisServer();
    f.onTeardown(() => redis.stop());
    ports = await freePorts(2);
    procs.push(registrar('registrar-a', ports[0] as number), registrar('registrar-b', ports[1] as number));
    f.onTeardown(async () => {
      for (const p of procs) await p.stop('SIGKILL');
    });
    for (const p of procs) await p.waitFor(/registrar: listening sip=udp:\/\/127\.0\.0\.1:\d+ diameter-peers=127\.0\.0\.1:\d+\n/, 30000);
  });

  test('a challenge issued by A is verified by B: 401 from A, authenticated REGISTER to B → 200 (from B); the used nonce at A → 401 stale=TRUE', async () => {
    const a = await Ue.udp(ports[0] as number);
    const b = await Ue.udp(ports[1] as number);
    try {
      const id = callId();
      const impu = alice.impus[0] as string;
      const r1 = await a.send(registerBytes(a, { impu, callId: id, cseq: 1, authorization: initialAuthorization(alice.impi) }), 8000);
      assert.equal(r1.msg.status, 401, r1.text);
      const { authorization } = await akaAnswer(await openIsim(f.dir, alice), r1.msg.wwwAuthenticate()[0] as DigestChallenge, { username: alice.impi, qop: 'auth' });
      const r2 = await b.send(registerBytes(b, { impu, callId: id, cseq: 2, authorization, expires: 600 }));
      assert.equal(r2.msg.status, 200, r2.text);
      // B answered (its Service-Route), with a nonce only A issued: the challenge came through Redis.
      assert.deepEqual(headerLines(r2.text, 'Service-Route'), [`<sip:orig@registrar-b.${DOMAIN}:${ports[1]};lr>`]);
      assert.deepEqual(headerLines(r1.text, 'Service-Route'), []);
      const r3 = await a.send(registerBytes(a, { impu, callId: id, cseq: 3, authorization }));
      assert.equal(r3.msg.status, 401);
      assert.equal(r3.msg.wwwAuthenticate()[0]?.stale, true);
    } finally {
      a.close();
      b.close();
    }
  });

  test('`mcx registrar bindings --store` lists the binding from Redis', async () => {
    const p = start(NODE, ['bin/mcx.mjs', 'registrar', 'bindings', '--store', redis.url]);
    assert.equal(await p.exited, 0, p.output());
    const lines = p.output().trim().split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as { aor: string; impi: string; contacts: Array<{ expires: number }> });
    const mine = lines.find((l) => l.aor === alice.impus[0]);
    assert.ok(mine, p.output());
    assert.equal(mine.impi, alice.impi);
    assert.ok((mine.contacts[0]?.expires ?? 0) > 500);
  });

  test('SIGTERM: each process stops gracefully (exit 0, "registrar: stopped")', async () => {
    for (const p of procs) {
      assert.equal(await p.stop('SIGTERM'), 0, p.output().slice(-2000));
      assert.match(p.output(), /registrar: stopped\n/);
    }
  });
});
