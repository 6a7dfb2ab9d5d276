/**
 * DESIGN §2.5 (issue #15 item 2): `mcx registrar --workers 2` — two registrar processes behind one SIP address,
 * sharing a real redis-server, against one HSS (in this process; both workers connect to it with the same Origin-Host,
 * one Diameter connection per instance, RFC 6733 §2.1).
 *
 * - SO_REUSEPORT (the default on this Node): 1,000 registrations (REGISTER → 401 → REGISTER → 200) from four SIPp
 *   processes over UDP with one socket per call (the kernel picks the worker by source address and port, so the calls
 *   spread): all succeed, and each worker's own log lines (`worker` 1 and 2) count some of the 200s — together all
 *   of them.
 * - The node:cluster fallback (`MCX_PORT_SHARING=cluster`, what Node 20 gets): 200 registrations from two SIPp
 *   processes over TCP (the primary hands the connections out round-robin): all succeed, each worker served some.
 * - Behind one port, across workers (UE sockets sorted by the worker their REGISTER reached, read from the debug log):
 *   a challenge issued by worker 1 is verified by worker 2 (200); the used nonce sent again to worker 2, which never
 *   issued it, is answered 401 stale=TRUE (the binding it made tells); the answer to that goes to worker 1, which
 *   serves the refresh of the binding worker 2 made (200, one binding, RE_REGISTRATION). The group's admin API (one
 *   address) lists that binding, and its `/admin/v1/stats` are the group's whichever worker answers: both workers'
 *   challenges added up, each worker's own record beside them.
 * - Bans across workers (`--ban-after 2`): failed authentications from 127.0.0.1 reaching worker 1, worker 2, worker 1
 *   ban the address in both (each worker counts its siblings' failures); one ban line.
 * - A Registration-Termination-Request (sent by the HSS peer to the registrar's Origin-Host: one worker's connection)
 *   ends bob's kept vectors and pending challenge in both workers (the one that got it tells its sibling).
 * - reg event over TCP: subscribers on a connection of each worker each get the NOTIFY of their RTR, whichever worker
 *   the RTR reached (the other is told and notifies on its connection).
 * - `--workers 2` with the memory store, and 3 workers × `--auth-vectors 11`, are refused naming `--workers` (exit 2).
 * - `--metrics` is the group's: its one listener counts the registrations of both workers; so are the admin API's
 *   `/metrics` and `/admin/v1/stats` without it (the supervisor reads every worker's at each request).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { runLoad, writeInjectionFiles, writeLoadScenario } from '../../bench/sipp-load.ts';
import { adminRequest } from '../../lib/admin/client.ts';
import { ReasonCode, ServerAssignmentType, buildRtr, readRta } from '../../lib/diameter/cx/index.ts';
import type { DigestChallenge } from '../../lib/sip/headers/auth.ts';
import { freePorts } from '../helpers/ports.ts';
import { parseExposition, samples, scrape, sum, type Exposition } from '../helpers/prometheus.ts';
import { startMcx, type Proc } from '../helpers/process.ts';
import { startRedisServer, type RedisServer } from '../helpers/redis-server.ts';
import { until } from '../helpers/wait.ts';
import { parseAkaNonce } from '../../lib/aka/digest-aka.ts';
import { Milenage } from '../../lib/aka/milenage.ts';
import {
  DOMAIN, HSS_REALM, Ue, akaAnswer, akaUser, callId, credentials, headerLines, hssPort, initialAuthorization, openIsim, registerAka, registerBytes,
  registrarFixture, type AkaUser,
} from './helpers.ts';
import { notified, registrationsOf, subscribeBytes } from './reg-event.ts';

/** 16 random octets without 0x00 (SIPp 3.6.1 reads keys as C strings). */
function sippSafeKey(): string {
  for (;;) {
    const k = randomBytes(16);
    if (!k.includes(0)) return k.toString('hex');
  }
}

/** SIPp cannot take per-call keys: every load user has the same K and OP. */
const KEYS = { k: sippSafeKey(), op: sippSafeKey(), amf: '8000' };
const LOAD_USERS = 200;
const load: AkaUser[] = Array.from({ length: LOAD_USERS }, (_, i) => ({ ...akaUser(`w${i}`), ...KEYS, impus: [`sip:w${i}@${DOMAIN}`] }));
const alice = akaUser('alice');
const bob = akaUser('bob');
/** Users of the reg event test: one TCP connection each, until both workers hold one. */
const watchers = Array.from({ length: 12 }, (_, i) => akaUser(`watcher${i}`));
const READY = /registrar: listening sip=(\S+) diameter-peers=\S+(?: admin=\S+)?(?: metrics=\S+)?\n/;
const READY_ADMIN = /registrar: listening sip=\S+ diameter-peers=\S+ admin=(\S+)\n/;

/** A registration's info line (register-log.ts) as the workers print it. */
interface Outcome {
  worker?: number;
  status: number;
  call_id?: string;
  server_assignment_type?: number;
  total_ms?: number;
}

/** The registration lines of a group's output. */
function outcomes(output: string): Outcome[] {
  return output.split('\n').filter((l) => l.includes('"msg":"REGISTER → 200')).map((l) => JSON.parse(l) as Outcome);
}

/** The `n`th 200 line (1-based) of Call-ID `id`, once it is out (the log line may trail the response). */
async function outcomeOf(p: Proc, id: string, n: number): Promise<Outcome> {
  await p.waitFor(new RegExp(`(?:"call_id":"${id}"[^\\n]*"msg":"REGISTER → 200[^\\n]*\\n[^]*){${n}}`), 5000);
  return outcomes(p.output()).filter((o) => o.call_id === id)[n - 1] as Outcome;
}

/** 200s per worker index. */
function perWorker(lines: readonly Outcome[]): Map<number, number> {
  const m = new Map<number, number>();
  for (const l of lines) if (l.status === 200) m.set(l.worker ?? 0, (m.get(l.worker ?? 0) ?? 0) + 1);
  return m;
}

/**
 * A UDP UE socket reaching worker 1 and one reaching worker 2 of a group at debug level: new sockets each send an
 * initial REGISTER for alice (401), and the debug line with its Call-ID names the worker (the kernel keeps a socket on
 * its worker). Spares are kept open till `close`, so no port is reused meanwhile.
 */
async function socketsByWorker(p: Proc, port: number): Promise<{ pair: [Ue, Ue]; close(): void }> {
  const byWorker = new Map<number, Ue>();
  const all: Ue[] = [];
  const close = (): void => {
    for (const ue of all) ue.close();
  };
  for (let i = 0; i < 64 && byWorker.size < 2; i++) {
    const ue = await Ue.udp(port);
    all.push(ue);
    const probe = callId();
    const r = await ue.send(registerBytes(ue, { impu: alice.impus[0] as string, callId: probe, cseq: 1, authorization: initialAuthorization(alice.impi) }), 8000);
    assert.equal(r.msg.status, 401, r.text);
    const w = Number((await p.waitFor(new RegExp(`"worker":(\\d)[^\\n]*"call_id":"${probe}"`), 5000))[1]);
    if (!byWorker.has(w)) byWorker.set(w, ue);
  }
  const a = byWorker.get(1);
  const b = byWorker.get(2);
  if (!a || !b) {
    close();
    throw new Error('no UE socket reached each worker in 64 tries');
  }
  return { pair: [a, b], close };
}

describe('DESIGN §2.5: mcx registrar --workers 2 behind one SIP address on one Redis', () => {
  const f = registrarFixture({ aka: [...load, alice, bob, ...watchers], hss: { randPolicy: 'sipp361' }, registrar: false });
  let redis: RedisServer;
  const groups: Proc[] = [];

  /** `mcx registrar --workers 2` on `sip`; resolves once its ready line is out. */
  async function group(name: string, sip: string, env: Record<string, string> = {}, extra: string[] = []): Promise<Proc> {
    const p = startMcx(['registrar', '--workers', '2', '--sip', sip, '--domain', DOMAIN, '--hss', `127.0.0.1:${hssPort(f.hss)}`,
      '--origin-host', `registrar.${DOMAIN}`, '--realm', DOMAIN, '--hss-realm', HSS_REALM, '--store', redis.url,
      '--state-dir', join(f.dir, name), '--min-expires', '2', ...extra], { env: { ...process.env, MCX_LOG_LEVEL: 'info', ...env } });
    groups.push(p);
    await p.waitFor(READY, 60_000);
    return p;
  }

  async function stop(p: Proc): Promise<void> {
    assert.equal(await p.stop('SIGTERM', 20_000), 0, p.output().slice(-3000));
    assert.match(p.output(), /registrar: stopped\n/);
  }

  before(async () => {
    redis = await startRedisServer();
  });
  after(async () => {
    for (const p of groups) await p.stop('SIGKILL');
    await redis?.stop();
  });

  test('SO_REUSEPORT: 1,000 registrations from 4 SIPp processes over UDP spread over both workers, 0 failures', { timeout: 180_000 }, async () => {
    const [port] = await freePorts(1);
    const p = await group('reuseport', `udp:127.0.0.1:${port}`, {}, ['--metrics', '127.0.0.1:0']);
    await p.waitFor(/"workers":2,"pids":\[\d+,\d+\],"port_sharing":"reuseport"/);
    const metrics = (/ metrics=(http:\S+)\n/.exec(p.output()) as RegExpExecArray)[1] as string;
    const scenario = writeLoadScenario(f.dir, 'workers-load', { domain: DOMAIN, ...KEYS });
    const injections = writeInjectionFiles(f.dir, 'workers-load', load.map((u) => ({ impi: u.impi, impu: u.impus[0] as string })), 4);
    const r = await runLoad({
      target: `127.0.0.1:${port}`, scenario, injections, localPorts: await freePorts(4), transport: 'udp-per-call', rate: 250, durationS: 4,
      dir: f.dir, tag: 'reuseport',
    });
    assert.equal(r.attempted, 1000, JSON.stringify({ ...r, latenciesMs: r.latenciesMs.length }));
    assert.equal(r.succeeded, 1000, JSON.stringify({ ...r, latenciesMs: r.latenciesMs.length }));
    assert.equal(r.failed, 0);
    // A worker's log line may trail its answer through the pipe.
    await until(() => outcomes(p.output()).length >= 1000, 'an info line per registration', 10_000);
    const counts = perWorker(outcomes(p.output()));
    assert.equal((counts.get(1) ?? 0) + (counts.get(2) ?? 0), 1000, JSON.stringify([...counts]));
    assert.ok((counts.get(1) ?? 0) > 0 && (counts.get(2) ?? 0) > 0, `each worker handled some: ${JSON.stringify([...counts])}`);
    // The group's one metrics listener (the supervisor's) counts both workers' registrations.
    const group1 = await scrape(`${metrics}/metrics`);
    assert.equal(sum(group1, 'mcx_registrar_registrations_total', { system: 'partner', role: 'registrar', result: 'registered', code: '200' }), 1000, group1.text);
    await stop(p);
  });

  test('the node:cluster fallback (MCX_PORT_SHARING=cluster): 200 registrations from 2 SIPp processes over TCP spread over both, 0 failures', { timeout: 180_000 }, async () => {
    const [port] = await freePorts(1);
    const p = await group('cluster', `tcp:127.0.0.1:${port}`, { MCX_PORT_SHARING: 'cluster' }, ['--admin', '127.0.0.1:0']);
    await p.waitFor(/"workers":2,"pids":\[\d+,\d+\],"port_sharing":"cluster"/);
    const scenario = writeLoadScenario(f.dir, 'workers-tcp', { domain: DOMAIN, ...KEYS });
    const injections = writeInjectionFiles(f.dir, 'workers-tcp', load.map((u) => ({ impi: u.impi, impu: u.impus[0] as string })), 2);
    const r = await runLoad({
      target: `127.0.0.1:${port}`, scenario, injections, localPorts: await freePorts(2), transport: 'tcp', rate: 100, durationS: 2,
      dir: f.dir, tag: 'cluster',
    });
    assert.equal(r.succeeded, 200, JSON.stringify({ ...r, latenciesMs: r.latenciesMs.length }));
    assert.equal(r.failed, 0);
    await until(() => outcomes(p.output()).length >= 200, 'an info line per registration', 10_000);
    const counts = perWorker(outcomes(p.output()));
    assert.ok((counts.get(1) ?? 0) > 0 && (counts.get(2) ?? 0) > 0, `each worker handled some: ${JSON.stringify([...counts])}`);
    // Without --metrics, the admin API on the shared address (its connections handed out in turn, so both workers
    // answer some of these) serves the group's metrics and counters, not the answering worker's.
    const admin = { url: (READY_ADMIN.exec(p.output()) as RegExpExecArray)[1] as string, token: (await readFile(join(f.dir, 'cluster', 'admin-token'), 'utf8')).trim() };
    const groupMetrics = async (): Promise<Exposition> => {
      const res = await fetch(`${admin.url}/metrics`, { headers: { authorization: `Bearer ${admin.token}` } });
      assert.equal(res.status, 200);
      return parseExposition(await res.text(), res.headers.get('content-type') ?? '');
    };
    // The first two at once, while the supervisor loads its reader of the workers' metrics: both are complete.
    const [first, second] = await Promise.all([groupMetrics(), groupMetrics()]);
    for (let i = 0; i < 4; i++) {
      const e = i === 0 ? first : i === 1 ? second : await groupMetrics();
      assert.equal(sum(e, 'mcx_registrar_registrations_total', { system: 'partner', role: 'registrar', result: 'registered', code: '200' }), 200, e.text);
      assert.deepEqual(samples(e, 'mcx_worker_up').map((w) => `${w.labels.worker}=${w.value}`).sort(), ['1=1', '2=1']);
      const stats = await adminRequest<{ challenges_issued: number; per_worker: Array<{ challenges_issued: number }> }>(admin, 'GET', 'admin/v1/stats');
      assert.ok(stats.challenges_issued >= 200, JSON.stringify(stats));
      assert.equal(stats.challenges_issued, (stats.per_worker[0]?.challenges_issued ?? 0) + (stats.per_worker[1]?.challenges_issued ?? 0));
    }
    await stop(p);
  });

  test('behind one port: a challenge of worker 1 verified by worker 2; its used nonce at worker 2 → stale=TRUE; worker 1 serves the refresh of the binding worker 2 made', { timeout: 120_000 }, async () => {
    const [port] = await freePorts(1);
    const p = await group('debug', `udp:127.0.0.1:${port}`, { MCX_LOG_LEVEL: 'debug' }, ['--admin', '127.0.0.1:0']);
    const impu = alice.impus[0] as string;
    const sockets = await socketsByWorker(p, port as number);
    try {
      const [a, b] = sockets.pair;
      const isim = await openIsim(f.dir, alice);
      const id = callId();
      // One UA with one Contact, whose requests leave by two sockets.
      const contacts = ['<sip:alice@192.0.2.7:5060>'];
      const r1 = await a.send(registerBytes(a, { impu, callId: id, contacts, cseq: 1, authorization: initialAuthorization(alice.impi) }), 8000);
      assert.equal(r1.msg.status, 401, r1.text);
      const first = await akaAnswer(isim, r1.msg.wwwAuthenticate()[0] as DigestChallenge, { username: alice.impi, qop: 'auth' });
      const r2 = await b.send(registerBytes(b, { impu, callId: id, contacts, cseq: 2, authorization: first.authorization, expires: 600 }));
      assert.equal(r2.msg.status, 200, r2.text);
      const verified = await outcomeOf(p, id, 1);
      assert.equal(verified?.worker, 2, 'worker 2 answered the 200');
      assert.equal(verified?.total_ms, undefined, 'worker 2 did not send the 401 (no start of it kept)');
      // The refresh resends the used nonce (as SIP.js does) to worker 2, which never issued it.
      const r3 = await b.send(registerBytes(b, { impu, callId: id, contacts, cseq: 3, authorization: first.authorization, expires: 600 }));
      assert.equal(r3.msg.status, 401, r3.text);
      const again = r3.msg.wwwAuthenticate()[0] as DigestChallenge;
      assert.equal(again.stale, true, r3.text);
      const second = await akaAnswer(isim, again, { username: alice.impi, qop: 'auth' });
      const r4 = await a.send(registerBytes(a, { impu, callId: id, contacts, cseq: 4, authorization: second.authorization, expires: 600 }));
      assert.equal(r4.msg.status, 200, r4.text);
      const refreshed = await outcomeOf(p, id, 2);
      assert.equal(refreshed?.worker, 1);
      assert.equal(refreshed?.server_assignment_type, ServerAssignmentType.RE_REGISTRATION);
      assert.deepEqual(headerLines(r4.text, 'Contact'), ['<sip:alice@192.0.2.7:5060>;expires=600'], r4.text);
      // The admin API, served by the workers on one address: the bindings from the store, the group's counters
      // (lib/workers/group-stats.ts) whichever worker answers: worker 1 sent the first 401, worker 2 the stale one.
      const admin = { url: (READY_ADMIN.exec(p.output()) as RegExpExecArray)[1] as string, token: (await readFile(join(f.dir, 'debug', 'admin-token'), 'utf8')).trim() };
      const listed = await adminRequest<{ bindings: Array<{ aor: string; contacts: unknown[] }> }>(admin, 'GET', 'admin/v1/bindings');
      assert.equal(listed.bindings.find((b) => b.aor === impu)?.contacts.length, 1);
      type Stats = { worker?: string; workers?: string; workers_answered?: number; store?: unknown; challenges_issued?: number };
      for (let i = 0; i < 4; i++) {
        const stats = await adminRequest<Stats & { per_worker?: Array<Stats | null> }>(admin, 'GET', 'admin/v1/stats');
        assert.equal(stats.worker, undefined, JSON.stringify(stats));
        assert.equal(stats.workers, '2');
        assert.equal(stats.workers_answered, 2);
        assert.equal(stats.store, 'redis', 'a value every worker gives alike is kept as it is');
        const [one, two] = stats.per_worker ?? [];
        assert.deepEqual([one?.worker, two?.worker], ['1', '2'], JSON.stringify(stats.per_worker));
        assert.ok((one?.challenges_issued ?? 0) >= 1 && (two?.challenges_issued ?? 0) >= 1, JSON.stringify(stats.per_worker));
        assert.equal(stats.challenges_issued, (one?.challenges_issued ?? 0) + (two?.challenges_issued ?? 0));
      }
    } finally {
      sockets.close();
    }
    await stop(p);
  });

  test('bans across workers: with --ban-after 2, the third failed authentication from one address bans it in both workers, whichever each failure reached', { timeout: 120_000 }, async () => {
    const [port] = await freePorts(1);
    const p = await group('ban', `udp:127.0.0.1:${port}`, { MCX_LOG_LEVEL: 'debug' }, ['--ban-after', '2']);
    const impu = alice.impus[0] as string;
    const sockets = await socketsByWorker(p, port as number);
    try {
      const [a, b] = sockets.pair;
      /** A REGISTER through `ue` answered with the RES of a wrong K: 403, a failed authentication of 127.0.0.1. */
      const fail = async (ue: Ue): Promise<void> => {
        const id = callId();
        const r1 = await ue.send(registerBytes(ue, { impu, callId: id, cseq: 1, authorization: initialAuthorization(alice.impi) }), 8000);
        assert.equal(r1.msg.status, 401, r1.text);
        const ch = r1.msg.wwwAuthenticate()[0] as DigestChallenge;
        const wrongRes = Milenage.fromOp(randomBytes(16), Buffer.from(alice.op, 'hex')).f2345(parseAkaNonce(ch.nonce as string).rand).res;
        const r2 = await ue.send(registerBytes(ue, { impu, callId: id, cseq: 2, authorization: credentials(ch, { username: alice.impi, qop: 'auth' }, wrongRes) }));
        assert.equal(r2.text.split('\r\n')[0], 'SIP/2.0 403 Forbidden (Authentication Failed)', r2.text);
      };
      await fail(a);
      await fail(b);
      await fail(a);
      // The sibling hears of the third failure over the group's IPC, a moment after the 403 went out.
      await p.waitFor(/"msg":"source 127\.0\.0\.1 banned here too: a sibling worker saw the failure that crossed the line"/, 5000);
      // Worker 1 saw two of the three itself, worker 2 one: each counted all three.
      for (const ue of [b, a]) {
        const r = await ue.send(registerBytes(ue, { impu, callId: callId(), cseq: 1, authorization: initialAuthorization(alice.impi) }), 8000);
        assert.equal(r.text.split('\r\n')[0], 'SIP/2.0 403 Forbidden (Too Many Failed Authentications)', r.text);
      }
      await p.waitFor(/"msg":"source 127\.0\.0\.1 banned for/, 5000);
      assert.equal(p.output().match(/"msg":"source 127\.0\.0\.1 banned for/g)?.length, 1, 'one ban line, from the worker whose failure crossed the line');
    } finally {
      sockets.close();
    }
    await stop(p);
  });

  test('a Registration-Termination-Request reaching one worker ends the kept vectors and pending challenges in both', { timeout: 120_000 }, async () => {
    const [port] = await freePorts(1);
    const p = await group('rtr', `udp:127.0.0.1:${port}`, { MCX_LOG_LEVEL: 'debug' });
    const sockets = await socketsByWorker(p, port as number);
    try {
      // One challenge of bob at each worker: each MAR brings 4 vectors, 1 used, 3 kept; 1 challenge pending.
      for (const ue of sockets.pair) {
        const r = await ue.send(registerBytes(ue, { impu: bob.impus[0] as string, callId: callId(), cseq: 1, authorization: initialAuthorization(bob.impi) }), 8000);
        assert.equal(r.msg.status, 401, r.text);
      }
      const node = f.hss.node;
      const rta = readRta(await node.request(buildRtr({
        sessionId: node.nextSessionId(), originHost: node.originHost, originRealm: node.originRealm, destinationHost: `registrar.${DOMAIN}`,
        destinationRealm: DOMAIN, userName: bob.impi, publicIdentities: [bob.impus[0] as string], reasonCode: ReasonCode.PERMANENT_TERMINATION,
      }), { host: `registrar.${DOMAIN}`, timeoutMs: 5000 }));
      assert.deepEqual(rta.result, { resultCode: 2001 });
      const handled = await p.waitFor(/"worker":(\d)[^\n]*"vectors_dropped":3,"challenges_ended":1[^\n]*"msg":"Registration-Termination-Request for bob@/, 5000);
      const sibling = await p.waitFor(/"worker":(\d)[^\n]*"vectors_dropped":3,"challenges_ended":1[^\n]*"msg":"Registration-Termination-Request handled by a sibling worker/, 5000);
      assert.deepEqual([Number(handled[1]), Number(sibling[1])].sort(), [1, 2], 'one worker handled it, the other ended its own');
    } finally {
      sockets.close();
    }
    await stop(p);
  });

  test('reg event over TCP: an RTR reaching either worker is notified by the worker holding the subscriber\'s connection (RFC 3680, the siblings told)', { timeout: 120_000 }, async () => {
    const [port] = await freePorts(1);
    const p = await group('reg-event', `tcp:127.0.0.1:${port}`, { MCX_LOG_LEVEL: 'debug' });
    const held = new Map<number, { ue: Ue; user: AkaUser }>();
    const opened: Ue[] = [];
    try {
      for (const user of watchers) {
        if (held.size === 2) break;
        const ue = await Ue.stream(port as number);
        opened.push(ue);
        const reg = await registerAka(ue, await openIsim(f.dir, user), user);
        assert.equal(reg.final.msg.status, 200, reg.final.text);
        const id = reg.final.msg.callId();
        const w = Number((await p.waitFor(new RegExp(`"worker":(\\d)[^\\n]*"call_id":"${id}"[^\\n]*"msg":"REGISTER → 200`), 5000))[1]);
        if (held.has(w)) continue;
        const ok = await ue.send(subscribeBytes(ue, user.impus[0] as string, { callId: callId(), cseq: 1, fromTag: `w${w}` }));
        assert.equal(ok.msg.status, 200, ok.text);
        assert.match((await notified(ue)).state, /^active;/);
        held.set(w, { ue, user });
      }
      assert.equal(held.size, 2, 'a subscriber on a connection of each worker');
      const node = f.hss.node;
      for (const { ue, user } of held.values()) {
        const rta = readRta(await node.request(buildRtr({
          sessionId: node.nextSessionId(), originHost: node.originHost, originRealm: node.originRealm, destinationHost: `registrar.${DOMAIN}`,
          destinationRealm: DOMAIN, userName: user.impi, publicIdentities: [user.impus[0] as string], reasonCode: ReasonCode.PERMANENT_TERMINATION,
        }), { host: `registrar.${DOMAIN}`, timeoutMs: 5000 }));
        assert.deepEqual(rta.result, { resultCode: 2001 });
        const n = await notified(ue);
        assert.equal(n.state, 'terminated;reason=rejected');
        assert.deepEqual(registrationsOf(n.body)[0]?.contacts.map((c) => `${c.state} ${c.event}`), ['terminated rejected']);
      }
    } finally {
      for (const ue of opened) ue.close();
    }
    await stop(p);
  });

  test('refused naming --workers (exit 2): the memory store, and 3 workers × --auth-vectors 11 (more than the 32 IND slots); --trace with --workers, naming it', async () => {
    const common = ['registrar', '--workers', '2', '--sip', 'udp:127.0.0.1:0', '--domain', DOMAIN, '--hss', '127.0.0.1:1', '--origin-host',
      `registrar.${DOMAIN}`, '--realm', DOMAIN];
    const memory = startMcx([...common, '--store', 'memory', '--state-dir', join(f.dir, 'refused')]);
    assert.equal(await memory.exited, 2, memory.output());
    assert.match(memory.output(), /--workers: 2 processes need a shared store: --store is memory/);
    const vectors = startMcx([...common.map((a) => (a === '2' ? '3' : a)), '--store', redis.url, '--auth-vectors', '11', '--state-dir', join(f.dir, 'refused')]);
    assert.equal(await vectors.exited, 2, vectors.output());
    assert.match(vectors.output(), /--workers: 3 workers × --auth-vectors 11: up to 33 vectors of one user kept at once, more than the ISIM's 32 IND slots/);
    const alone = startMcx([...common, '--store', redis.url, '--trace', join(f.dir, 'x.pcapng'), '--metrics', '127.0.0.1:0', '--state-dir', join(f.dir, 'refused')]);
    assert.equal(await alone.exited, 2, alone.output());
    assert.match(alone.output(), /--trace: not with --workers 2: each process would need its own file/);
    assert.doesNotMatch(alone.output(), /--metrics/, 'the group serves --metrics (test/lifecycle/design-2.5-worker-group-metrics)');
  });
});
