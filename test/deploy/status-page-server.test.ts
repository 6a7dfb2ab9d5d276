/**
 * The testbed's status page server (deploy/status, issue #14 item 1) without a browser, so a failure of the Chromium
 * test can be told apart: every role of `mcx testbed` in this process with the page on an ephemeral loopback port,
 * no demo (so the first registration of alice takes a MAR of its own). The snapshot (`GET /api/status`) names every
 * role with its open Diameter peers, the subscribers without key material, the static mappings; a WebSocket client
 * gets it first, then the ladder of a real SIPp 3.6.1 registration (TS 23.280 §10.6.2.2 steps 2–13, Call-ID and
 * identities of both sides) as it happens, then the binding it made; a refused REGISTER (unknown identity: decoy
 * challenge, 403) is a ladder too. The page answers loopback names only and refuses another site's WebSocket; a bad
 * `--status-port` is named.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import WebSocket from 'ws';
import { roleNamesOf } from '../../deploy/roles.ts';
import type { RegistrationView } from '../../deploy/status/registrations.ts';
import type { StatusSnapshot } from '../../deploy/status/server.ts';
import type { StatusState } from '../../deploy/status/state.ts';
import { LogCollector } from '../../deploy/ladder.ts';
import { parseTestbedOptions, startTestbed, type RunningTestbed } from '../../deploy/testbed.ts';
import type { DigestChallenge } from '../../lib/sip/headers/auth.ts';
import { freePort } from '../helpers/ports.ts';
import { runSipp, writeAkaScenario } from '../helpers/sipp.ts';
import { until } from '../helpers/wait.ts';
import { Ue, callId, credentials, registerBytes } from '../registrar/ue.ts';

type Frame = { type: 'snapshot' } & StatusSnapshot | { type: 'registrations'; registrations: RegistrationView[]; total: number } | { type: 'state'; state: StatusState };

/** An HTTP GET with the Host and method given (fetch would not let a test send another Host). */
function get(url: string, o: { host?: string; method?: string } = {}): Promise<{ status: number; headers: Record<string, unknown>; body: string }> {
  return new Promise((resolve, reject) => {
    const u = new URL(url);
    const req = request({ host: u.hostname, port: u.port, path: u.pathname, method: o.method ?? 'GET', headers: o.host ? { host: o.host } : {} }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

describe('status page server: snapshot over HTTP, ladders and state over the WebSocket, loopback only', () => {
  let tmp: string;
  let tb: RunningTestbed;
  let url: string;
  let ws: WebSocket;
  const frames: Frame[] = [];
  const latest = (): Map<string, RegistrationView> => {
    const m = new Map<string, RegistrationView>();
    for (const f of frames) for (const r of f.type === 'snapshot' || f.type === 'registrations' ? f.registrations : []) m.set(r.id, r);
    return m;
  };

  before(async () => {
    tmp = await mkdtemp(join(tmpdir(), 'mcx-status-server-'));
    const o = parseTestbedOptions({
      'dir': join(tmp, 'testbed'), 'listen': '127.0.0.1', 'ports': 'auto', 'store': 'memory', 'primary-realm': 'primary.mcx.test',
      'partner-realm': 'partner.mcx.test', 'rand-policy': 'sipp361', 'digest-algorithms': 'MD5', 'status-port': 'auto', 'once': false, 'verbose': false,
    });
    tb = await startTestbed(o, { logs: new LogCollector(false, { keep: true, quiet: true }) });
    assert.ok(tb.status, 'the page runs');
    url = tb.status.url;
  });
  after(async () => {
    ws?.terminate();
    await tb?.close();
    await rm(tmp, { recursive: true, force: true });
  });

  test('GET /api/status: every role with its addresses and open Diameter peers, subscribers without key material, the static mappings', async () => {
    assert.match(url, /^http:\/\/127\.0\.0\.1:\d+\/$/);
    const res = await get(`${url}api/status`);
    assert.equal(res.status, 200);
    assert.match(String(res.headers['content-type']), /^application\/json/);
    const s = JSON.parse(res.body) as StatusSnapshot;
    assert.deepEqual(s.state.roles.map((r) => r.name).sort(), roleNamesOf(tb.partners).sort());
    const peersOf = (name: string): string[] => (s.state.roles.find((r) => r.name === name)?.peers ?? []).filter((p) => p.state === 'open').map((p) => p.originHost ?? '');
    assert.ok(peersOf('registrar').includes('mms.partner.mcx.test'), JSON.stringify(s.state.roles));
    assert.ok(peersOf('relay').includes('hss.primary.mcx.test'));
    assert.ok(peersOf('relay').includes('mms.partner.mcx.test'));
    assert.equal(s.state.roles.find((r) => r.name === 'hss')?.addresses.diameterUrl, tb.testbed.role('hss').addresses.diameterUrl);
    const alice = s.state.subscribers.rows.find((x) => x.impi === tb.alice.primary.impi);
    assert.equal(alice?.k_set, true);
    assert.ok(!res.body.includes(tb.alice.k) && !res.body.includes(tb.alice.op) && !res.body.includes(tb.bob.password), 'no K, OP or password in the snapshot');
    assert.deepEqual(s.state.mappings.rows.find((m) => m.partner_impi === tb.alicePartner.impi)?.primary_impi, tb.alice.primary.impi);
    assert.deepEqual(s.registrations, [], 'no demo ran: nothing registered yet');
  });

  test('the page and its assets are served with a CSP of their own origin only; anything but GET changes nothing (405)', async () => {
    const page = await get(url);
    assert.equal(page.status, 200);
    assert.match(page.body, /<script type="module" src="\/status\.js"><\/script>/);
    assert.match(String(page.headers['content-security-policy']), /default-src 'none'; script-src 'self'/);
    for (const [path, type] of [['status.js', 'text/javascript'], ['status.css', 'text/css']]) {
      const r = await get(`${url}${path}`);
      assert.equal(r.status, 200);
      assert.match(String(r.headers['content-type']), new RegExp(`^${type}`));
    }
    assert.equal((await get(`${url}api/status`, { method: 'POST' })).status, 405);
    assert.equal((await get(`${url}api/status`, { method: 'DELETE' })).status, 405);
  });

  test('a Host that is not a loopback name (DNS rebinding) → 403; a WebSocket from another site\'s page is refused', async () => {
    assert.equal((await get(`${url}api/status`, { host: 'attacker.example:80' })).status, 403);
    assert.equal((await get(`${url}api/status`, { host: `localhost:${new URL(url).port}` })).status, 200);
    const refused = await new Promise<number>((resolve) => {
      const evil = new WebSocket(`${url.replace('http', 'ws')}ws`, { origin: 'http://attacker.example' });
      evil.on('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0));
      evil.on('open', () => resolve(101));
      evil.on('error', () => undefined);
    });
    assert.equal(refused, 403);
  });

  test('TS 23.280 §10.6.2.2: a SIPp registration after the page connected is pushed as one ladder, steps 2–13, its Call-ID, both sides\' identities, 200', { timeout: 60_000 }, async () => {
    ws = new WebSocket(`${url.replace('http', 'ws')}ws`, { origin: url.replace(/\/$/, '') });
    ws.on('message', (d) => frames.push(JSON.parse(String(d)) as Frame));
    await until(() => frames.some((f) => f.type === 'snapshot'), 'the snapshot frame', 5000);
    const udp = tb.testbed.role('registrar').sipPort('udp');
    const u = JSON.parse(await readFile(tb.layout.userFile, 'utf8')) as { partner: { impi: string; impu: string }; k: string; op: string; amf: string };
    const scenario = writeAkaScenario({ domain: 'partner.mcx.test', impi: u.partner.impi, impu: u.partner.impu, k: u.k, op: u.op, amf: u.amf }, tmp);
    const r = await runSipp(`127.0.0.1:${udp}`, scenario, { transport: 'udp', localPort: await freePort() });
    assert.equal(r.code, 0, r.output.slice(-2000));
    let reg: RegistrationView | undefined;
    await until(() => {
      reg = [...latest().values()].find((x) => x.partner.impi === u.partner.impi && x.result?.status === 200 && x.result.totalMs !== undefined);
      return reg !== undefined;
    }, 'the ladder of the SIPp registration in a registrations frame', 10_000);
    const l = reg as RegistrationView;
    assert.match(l.callId, /^\d+-\d+@127\.0\.0\.1$/, 'SIPp\'s Call-ID ([call_id]: number-pid@ip)');
    assert.equal(l.flow, 'static');
    assert.equal(l.vector, 'maa');
    assert.deepEqual(l.partner, { impi: u.partner.impi, impu: u.partner.impu });
    assert.deepEqual(l.primary, { impi: tb.alice.primary.impi, impus: [tb.alice.primary.impu], realm: 'primary.mcx.test' });
    assert.deepEqual([...new Set(l.rungs.map((x) => x.step))], [2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13], 'every step, in order');
    const by = (step: number): string[] => l.rungs.filter((x) => x.step === step).map((x) => x.role);
    assert.deepEqual(by(3), ['registrar', 'partner-mms'], 'the MAR as the registrar sent it and the MMS took it: one Session-Id');
    assert.deepEqual(by(6), ['relay', 'hss'], 'the primary leg: the MMS\'s own Session-Id');
    for (const x of l.rungs.filter((y) => y.role === 'registrar')) assert.equal(x.fields.call_id, l.callId);
    assert.ok(l.rungs.every((x, i) => i === 0 || x.at >= (l.rungs[i - 1] as { at: number }).at), 'in time order');
    assert.ok(!JSON.stringify(frames).includes(u.k), 'no K in any frame');
    await until(() => frames.some((f) => f.type === 'state' && f.state.bindings.rows.some((b) => b.aor === u.partner.impu && b.contacts.length > 0)),
      'a state frame with the binding SIPp made', 10_000);
  });

  test('a refused REGISTER (unknown identity: decoy challenge, then 403) is a ladder too: steps 2, 3, 11, 12 and the 403', async () => {
    const udp = tb.testbed.role('registrar').sipPort('udp');
    const ue = await Ue.udp(udp);
    const id = callId();
    const impu = 'sip:mallory@partner.mcx.test';
    try {
      const challenge = await ue.send(registerBytes(ue, { impu, callId: id, cseq: 1, uri: 'sip:partner.mcx.test' }));
      assert.equal(challenge.msg.status, 401);
      const ch = challenge.msg.wwwAuthenticate()[0] as DigestChallenge;
      const authorization = credentials(ch, { username: 'mallory@partner.mcx.test', uri: 'sip:partner.mcx.test', qop: 'auth' }, Buffer.from('guess'));
      const final = await ue.send(registerBytes(ue, { impu, callId: id, cseq: 2, uri: 'sip:partner.mcx.test', authorization }));
      assert.equal(final.msg.status, 403);
    } finally {
      ue.close();
    }
    let reg: RegistrationView | undefined;
    await until(() => (reg = [...latest().values()].find((x) => x.callId === id && x.result !== undefined)) !== undefined, 'the refused registration', 10_000);
    const l = reg as RegistrationView;
    assert.equal(l.result?.status, 403);
    assert.equal(l.vector, 'decoy');
    assert.deepEqual([...new Set(l.rungs.map((x) => x.step))], [2, 3, 11, 12], 'no step 4: the partner MMS has no mapping');
    const snapshot = JSON.parse((await get(`${url}api/status`)).body) as StatusSnapshot;
    assert.ok(snapshot.registrations.some((x) => x.callId === id && x.result?.status === 403), 'kept for the next page that loads');
    assert.equal(snapshot.total, 2);
  });
});

describe('mcx testbed --status-port: auto (ephemeral), off, or a port 1…65535; anything else is named and nothing starts', () => {
  const base = {
    'dir': '/nonexistent', 'listen': '127.0.0.1', 'ports': 'auto', 'store': 'memory', 'primary-realm': 'primary.mcx.test',
    'partner-realm': 'partner.mcx.test', 'rand-policy': 'sipp361', 'digest-algorithms': 'MD5', 'once': false, 'verbose': false,
  };
  test('auto → 0, off → off, 8080 → 8080; absent (callers other than the command line) → off', () => {
    assert.equal(parseTestbedOptions({ ...base, 'status-port': 'auto' })['status-port'], 0);
    assert.equal(parseTestbedOptions({ ...base, 'status-port': 'off' })['status-port'], 'off');
    assert.equal(parseTestbedOptions({ ...base, 'status-port': '8080' })['status-port'], 8080);
    assert.equal(parseTestbedOptions(base)['status-port'], 'off');
  });
  test('0, 65536, -1, 80x, "" → a usage error naming --status-port', () => {
    for (const bad of ['0', '65536', '-1', '80x', '']) {
      assert.throws(() => parseTestbedOptions({ ...base, 'status-port': bad }), /--status-port: expected auto \(an ephemeral port\), off, or a port 1…65535/, bad);
    }
  });
});
