/**
 * TS 33.102 §6.3.5 / RFC 3310 §3.4 interop: resynchronisation through a real S-CSCF. Our HSS (`mcx hss`, memory store)
 * serves a Kamailio 5.6 S-CSCF (the peers template routes `auts` to `ims_www_resync_auth`); the UE is a small
 * hand-written SIP client over UDP on loopback driving our software ISIM, whose SEQ_MS is ahead of the HSS counter:
 *
 *   REGISTER (empty credentials) → 401 nonce₁ (SQN the ISIM has already seen) → ISIM: sync failure →
 *   REGISTER auts="AUTS", response over an EMPTY password → Kamailio: resync MAR (SIP-Authorization = RAND₁‖AUTS) →
 *   401 nonce₂ ≠ nonce₁ → ISIM accepts → REGISTER with the RES-based response → 200 OK.
 *
 * Asserted: that ladder; the HSS counters and log line of the resync (SEQ_HE set from SQN_MS, the next SQN is
 * SEQ(SQN_MS)+1); and, from a tshark capture of the Cx leg, that exactly one MAR carried a 30-octet
 * 3GPP-SIP-Authorization equal to RAND₁‖AUTS as the UE sent them, answered with 2001, with no Malformed packet.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createSocket, type Socket } from 'node:dgram';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import {
  Milenage, digestResponse, generateVector, makeSqn, openAutn, parseAkaNonce, seqOf, sqnToBuf, type DigestQop,
} from '../../lib/aka/index.ts';
import type { AdminTarget } from '../../lib/admin/client.ts';
import { adminApi } from '../../lib/admin/hss-api.ts';
import { Isim } from '../../ue-client/isim.ts';
import { freePorts } from '../helpers/ports.ts';
import { startMcx, type Proc } from '../helpers/process.ts';
import { startKamailio, type Kamailio } from '../helpers/kamailio.ts';
import { decodeDiameter, startCapture, type Capture } from '../helpers/tshark.ts';

const run = promisify(execFile);

const REALM = 'ims.mcx.test';
const IMPI = `resync@${REALM}`;
const IMPU = `sip:resync@${REALM}`;
const K = randomBytes(16);
const OPC = randomBytes(16);
const AMF = Buffer.from('8000', 'hex');
/** The SEQ the ISIM has accepted in every IND slot before the test, far above the fresh HSS counter. */
const SEQ_AHEAD = 1000n;

/** RFC 3261 §17.1.2.2 timers for the UE's non-INVITE client transaction over UDP. */
const T1 = 500;
const T2 = 4000;
const TIMER_F = 64 * T1;
/** The pause before answering a 401: Kamailio 5.6 stores the vector only after sending the 401 (DESIGN §4). */
const ANSWER_PAUSE_MS = 20;

/** A SIP response as the UE needs it. */
interface SipResponse {
  status: number;
  reason: string;
  /** Lower-case long header names → values, in order (folded lines joined, comma lists not split). */
  headers: Map<string, string[]>;
  raw: string;
}

const COMPACT: Record<string, string> = { v: 'via', f: 'from', t: 'to', i: 'call-id', m: 'contact', l: 'content-length', k: 'supported' };

/** Parses a SIP response datagram; undefined for anything else (a request, garbage). */
function parseResponse(raw: string): SipResponse | undefined {
  const head = raw.split(/\r?\n\r?\n/, 1)[0] ?? '';
  const lines = head.split(/\r?\n/);
  const m = /^SIP\/2\.0 (\d{3}) ?(.*)$/.exec(lines[0] ?? '');
  if (!m) return undefined;
  const headers = new Map<string, string[]>();
  let last: { name: string; index: number } | undefined;
  for (const line of lines.slice(1)) {
    if (/^[ \t]/.test(line) && last) {
      const list = headers.get(last.name) as string[];
      list[last.index] = `${list[last.index] ?? ''} ${line.trim()}`;
      continue;
    }
    const colon = line.indexOf(':');
    if (colon <= 0) continue;
    const short = line.slice(0, colon).trim().toLowerCase();
    const name = COMPACT[short] ?? short;
    const list = headers.get(name) ?? [];
    list.push(line.slice(colon + 1).trim());
    headers.set(name, list);
    last = { name, index: list.length - 1 };
  }
  return { status: Number(m[1]), reason: m[2] ?? '', headers, raw };
}

function header(r: SipResponse, name: string): string | undefined {
  return r.headers.get(name)?.[0];
}

/** The auth-params of a `Digest …` challenge (quoted values unquoted). */
function digestParams(value: string): Map<string, string> {
  const out = new Map<string, string>();
  const body = value.replace(/^\s*Digest\s+/i, '');
  for (const m of body.matchAll(/([A-Za-z][\w-]*)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^\s,]+))/g)) {
    out.set((m[1] as string).toLowerCase(), m[2] !== undefined ? m[2].replace(/\\(.)/g, '$1') : (m[3] as string));
  }
  return out;
}

/** What a 401 offers. */
interface Challenge {
  nonce: string;
  realm: string;
  algorithm: string;
  qop: DigestQop | undefined;
  opaque: string | undefined;
  /** Kamailio's S-CSCF adds the MAA's CK and IK (hex) for a P-CSCF (TS 24.229 §5.4.1.2.1); a UE ignores them. */
  ck: string | undefined;
  ik: string | undefined;
}

function challengeOf(r: SipResponse): Challenge {
  const www = header(r, 'www-authenticate');
  assert.ok(www, `401 without WWW-Authenticate:\n${r.raw}`);
  const p = digestParams(www);
  const nonce = p.get('nonce');
  const realm = p.get('realm');
  assert.ok(nonce && realm, `challenge without nonce/realm: ${www}`);
  const offered = (p.get('qop') ?? '').split(',').map((q) => q.trim().toLowerCase());
  return {
    nonce, realm, algorithm: p.get('algorithm') ?? 'MD5', opaque: p.get('opaque'), ck: p.get('ck'), ik: p.get('ik'),
    qop: offered.includes('auth') ? 'auth' : undefined,
  };
}

/**
 * A UE over UDP: one REGISTER dialog (Call-ID, From-tag, CSeq), each request a new client transaction with its own
 * branch, retransmitted per Timer E until a final response or Timer F.
 */
class UdpUe {
  readonly callId = `${randomBytes(8).toString('hex')}@127.0.0.1`;
  readonly fromTag = randomBytes(6).toString('hex');
  cseq = 0;
  /** Every response received (retransmissions included), in order. */
  readonly received: SipResponse[] = [];
  #listeners = new Set<(r: SipResponse) => void>();

  private constructor(readonly socket: Socket, readonly port: number, readonly server: { host: string; port: number }) {
    socket.on('message', (buf) => {
      const r = parseResponse(buf.toString('utf8'));
      if (!r) return;
      this.received.push(r);
      for (const l of this.#listeners) l(r);
    });
  }

  static async open(server: { host: string; port: number }): Promise<UdpUe> {
    const socket = createSocket('udp4');
    await new Promise<void>((resolve, reject) => {
      socket.once('error', reject);
      socket.bind(0, '127.0.0.1', () => resolve());
    });
    const addr = socket.address();
    return new UdpUe(socket, addr.port, server);
  }

  get contact(): string {
    return `<sip:resync@127.0.0.1:${this.port};transport=udp>`;
  }

  /** Sends REGISTER with `authorization` and resolves with its final response. */
  register(authorization: string): Promise<{ response: SipResponse; cseq: number; sends: number }> {
    const cseq = ++this.cseq;
    const branch = `z9hG4bK${randomBytes(8).toString('hex')}`;
    const text = [
      `REGISTER sip:${REALM} SIP/2.0`,
      `Via: SIP/2.0/UDP 127.0.0.1:${this.port};branch=${branch};rport`,
      'Max-Forwards: 70',
      `From: <${IMPU}>;tag=${this.fromTag}`,
      `To: <${IMPU}>`,
      `Call-ID: ${this.callId}`,
      `CSeq: ${cseq} REGISTER`,
      `Contact: ${this.contact}`,
      'Expires: 600',
      `Authorization: ${authorization}`,
      'User-Agent: mcx-resync-test-ue',
      'Content-Length: 0',
      '', '',
    ].join('\r\n');
    const datagram = Buffer.from(text, 'utf8');
    return new Promise((resolve, reject) => {
      let sends = 0;
      let interval = T1;
      let retransmit: NodeJS.Timeout | undefined;
      const send = () => {
        sends++;
        this.socket.send(datagram, this.server.port, this.server.host);
        retransmit = setTimeout(send, interval);
        interval = Math.min(interval * 2, T2);
      };
      const timerF = setTimeout(() => done(new Error(`Timer F: no final response to REGISTER CSeq ${cseq} after ${sends} sends`)), TIMER_F);
      const onResponse = (r: SipResponse) => {
        const via = header(r, 'via') ?? '';
        if (!via.includes(`branch=${branch}`) || header(r, 'cseq') !== `${cseq} REGISTER`) return;
        if (r.status < 200) {
          // RFC 3261 §17.1.2.2: after a provisional response, retransmit every T2.
          interval = T2;
          return;
        }
        done(null, r);
      };
      const done = (err: Error | null, r?: SipResponse) => {
        clearTimeout(retransmit);
        clearTimeout(timerF);
        this.#listeners.delete(onResponse);
        if (err) reject(err);
        else resolve({ response: r as SipResponse, cseq, sends });
      };
      this.#listeners.add(onResponse);
      send();
    });
  }

  close(): Promise<void> {
    return new Promise((resolve) => this.socket.close(() => resolve()));
  }
}

/** The Authorization header of an AKAv1-MD5 answer to `ch` with `password` (RES, or empty with `auts`). */
function akaAuthorization(ch: Challenge, password: Buffer, auts?: Buffer): string {
  const uri = `sip:${REALM}`;
  const cnonce = randomBytes(8).toString('hex');
  const nc = '00000001';
  const response = digestResponse({
    method: 'REGISTER', username: IMPI, realm: ch.realm, uri, nonce: ch.nonce, password, hash: 'md5',
    ...(ch.qop ? { qop: ch.qop, nc, cnonce } : {}),
  });
  return [
    `Digest username="${IMPI}"`, `realm="${ch.realm}"`, `nonce="${ch.nonce}"`, `uri="${uri}"`, `response="${response}"`,
    `algorithm=${ch.algorithm}`,
    ...(ch.qop ? [`qop=${ch.qop}`, `nc=${nc}`, `cnonce="${cnonce}"`] : []),
    ...(ch.opaque !== undefined ? [`opaque="${ch.opaque}"`] : []),
    ...(auts ? [`auts="${auts.toString('base64')}"`] : []),
  ].join(', ');
}

const pause = (ms: number) => new Promise((r) => setTimeout(r, ms));
const hex12 = (sqn: bigint) => sqnToBuf(sqn).toString('hex');

/** What the ladder produced, for the HSS- and Cx-side tests. */
interface Ladder {
  nonce1: string;
  rand1: Buffer;
  sqn1: bigint;
  auts: Buffer;
  nonce2: string;
  sqn2: bigint;
  sqnMs: bigint;
}

/** JSON log lines of a process's output. */
function logLines(out: string): Record<string, unknown>[] {
  return out.split('\n').filter((l) => l.startsWith('{')).flatMap((l) => {
    try {
      return [JSON.parse(l) as Record<string, unknown>];
    } catch {
      return [];
    }
  });
}

describe('TS 33.102 §6.3.5 resync through Kamailio: UE ISIM ahead of our HSS → auts → resync MAR → 200', () => {
  let dir: string;
  let hss: Proc;
  let kam: Kamailio | undefined;
  let ue: UdpUe | undefined;
  let capture: Capture | undefined;
  /** Capture.stop() waits for tshark's exit event, so it must run once only. */
  let captureStopped: Promise<void> | undefined;
  const stopCapture = (): Promise<void> => (captureStopped ??= (capture as Capture).stop());
  let admin: AdminTarget;
  let dport: number;
  let ladder: Ladder | undefined;
  const usim = new Milenage(K, OPC);

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'mcx-kam-resync-'));
    const [d, aport, sport] = (await freePorts(3)) as [number, number, number];
    dport = d;
    await writeFile(join(dir, 'subscribers.csv'), `impi,impus,k,opc,amf\n${IMPI},${IMPU},${K.toString('hex')},${OPC.toString('hex')},8000\n`);
    hss = startMcx(['hss', '--listen', `127.0.0.1:${dport}`, '--origin-host', `hss.${REALM}`, '--realm', REALM,
      '--subscribers', join(dir, 'subscribers.csv'), '--state-dir', join(dir, 'state'), '--admin', '127.0.0.1:0'],
    // The SQNs of each MAA are in its debug line (issue #12: per Cx transaction at debug level).
    { env: { ...process.env, MCX_LOG_LEVEL: 'debug' } });
    const m = await hss.waitFor(/hss: listening diameter=\S+ admin=(http:\/\/\S+)/, 30000);
    admin = { url: m[1] as string, token: (await readFile(join(dir, 'state', 'admin-token'), 'utf8')).trim() };
    kam = await startKamailio({ realm: REALM, sipPort: sport, diameterPort: dport, acceptorPort: aport });
    ue = await UdpUe.open({ host: '127.0.0.1', port: sport });
  });

  after(async () => {
    await ue?.close();
    if (capture) {
      await stopCapture().catch(() => undefined);
      await rm(dirname(capture.file), { recursive: true, force: true });
    }
    if (kam) {
      await kam.stop();
      await rm(kam.dir, { recursive: true, force: true });
    }
    await hss?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  test('ladder: 401 → REGISTER auts (empty password) → 401 with a fresh nonce → REGISTER with RES → 200', async () => {
    const u = ue as UdpUe;
    const k = kam as Kamailio;
    const diag = () => `\n--- kamailio ---\n${k.proc.output().slice(-3000)}\n--- hss ---\n${hss.output().slice(-3000)}`;

    // The ISIM has accepted SEQ_AHEAD in every IND slot (Annex C.2.2 freshness is per slot, so one slot is not
    // enough): whatever the fresh HSS counter hands out first is a replay to it.
    const isim = await Isim.open(join(dir, 'isim.json'), { k: K, opc: OPC, impi: IMPI, impus: [IMPU], domain: REALM });
    for (let ind = 0; ind < 32; ind++) {
      const v = generateVector({ milenage: usim, sqn: makeSqn(SEQ_AHEAD, ind), amf: AMF });
      const r = await isim.authenticate(v.rand, v.autn);
      assert.ok(!('syncFailure' in r), 'the ISIM accepts the locally generated vectors');
    }
    const sqnMs = makeSqn(SEQ_AHEAD, 31);
    assert.equal(isim.toJSON().sqnMs, hex12(sqnMs));

    capture = await startCapture(`tcp port ${dport}`);

    // 1. Initial REGISTER with empty credentials (TS 24.229 §5.1.1.2.1) → 401.
    const first = await u.register(`Digest username="${IMPI}", realm="${REALM}", uri="sip:${REALM}", nonce="", response=""`);
    assert.equal(first.response.status, 401, `first REGISTER: ${first.response.status} ${first.response.reason}${diag()}`);
    const ch1 = challengeOf(first.response);
    assert.match(ch1.algorithm, /^AKAv1-MD5$/i);
    const n1 = parseAkaNonce(ch1.nonce);
    const opened1 = openAutn(usim, n1.rand, n1.autn);
    assert.ok(opened1.macValid, 'the first challenge comes from our HSS (MAC-A verifies)');
    assert.ok(seqOf(opened1.sqn) < SEQ_AHEAD, `the HSS counter starts below the ISIM (SEQ ${seqOf(opened1.sqn)})`);

    // 2. The ISIM refuses the SQN → AUTS; REGISTER with auts and a response over an empty password (RFC 3310 §3.4).
    const r1 = await isim.authenticate(n1.rand, n1.autn);
    assert.ok('syncFailure' in r1, 'the ISIM reports a synchronisation failure');
    assert.equal(r1.reason, 'replay');
    await pause(ANSWER_PAUSE_MS);
    const second = await u.register(akaAuthorization(ch1, Buffer.alloc(0), r1.syncFailure));
    assert.equal(second.response.status, 401, `REGISTER with auts: ${second.response.status} ${second.response.reason}${diag()}`);
    const ch2 = challengeOf(second.response);
    assert.notEqual(ch2.nonce, ch1.nonce, 'the resync brings a fresh nonce');
    const n2 = parseAkaNonce(ch2.nonce);
    assert.ok(!n2.rand.equals(n1.rand), 'and a fresh RAND');
    const opened2 = openAutn(usim, n2.rand, n2.autn);
    assert.ok(opened2.macValid);
    assert.equal(seqOf(opened2.sqn), SEQ_AHEAD + 1n, 'the HSS continues at SEQ(SQN_MS)+1 (33.102 §6.3.5 step 4)');

    // 3. The ISIM accepts the new vector → REGISTER with the RES-based response → 200.
    const r2 = await isim.authenticate(n2.rand, n2.autn);
    assert.ok(!('syncFailure' in r2), 'the ISIM accepts the vector issued after the resync');
    // The S-CSCF copied Confidentiality-Key / Integrity-Key from our MAA into the 401: they are the ISIM's CK/IK.
    assert.equal(ch2.ck, r2.ck.toString('hex'), 'CK of the MAA crossed Kamailio byte-exact');
    assert.equal(ch2.ik, r2.ik.toString('hex'), 'IK of the MAA crossed Kamailio byte-exact');
    await pause(ANSWER_PAUSE_MS);
    const third = await u.register(akaAuthorization(ch2, r2.res));
    assert.equal(third.response.status, 200, `REGISTER with RES: ${third.response.status} ${third.response.reason}${diag()}`);
    const contacts = (third.response.headers.get('contact') ?? []).join(',');
    assert.ok(contacts.includes(`127.0.0.1:${u.port}`), `200 OK lists our binding: ${contacts}`);
    assert.deepEqual([first.cseq, second.cseq, third.cseq], [1, 2, 3]);
    assert.equal(isim.toJSON().sqnMs, hex12(opened2.sqn));

    ladder = { nonce1: ch1.nonce, rand1: n1.rand, sqn1: opened1.sqn, auts: r1.syncFailure, nonce2: ch2.nonce, sqn2: opened2.sqn, sqnMs };
  });

  test('HSS: one verified resync moved SEQ_HE from its counter up to SQN_MS (admin stats + log line)', async () => {
    assert.ok(ladder, 'needs the ladder above');
    const stats = await adminApi.stats(admin);
    assert.equal(stats.resyncs, 1);
    assert.equal(stats.resync_resets, 1, 'SEQ_HE was not acceptable to the ISIM, so it was set from SQN_MS');
    assert.equal(stats.resync_mac_failures, 0, 'MAC-S verified');
    assert.equal(stats.resync_seq_went_down, 0);
    assert.ok(stats.mar >= 2, `at least the first and the resync MAR (got ${stats.mar})`);
    const lines = logLines(hss.output());
    const reset = lines.filter((l) => l.msg === 'resync: SEQ_HE set from SQN_MS');
    assert.equal(reset.length, 1, 'one resync log line');
    assert.equal(reset[0]?.clause, '33.102 §6.3.5');
    assert.equal(reset[0]?.impi, IMPI);
    assert.equal(reset[0]?.sqn_ms, hex12(ladder.sqnMs));
    // The store keeps its own IND rotation: the counter becomes SEQ(SQN_MS)‖IND(last issued) (lib/store/sqn.ts).
    const previous = BigInt(`0x${String(reset[0]?.previous)}`);
    const current = BigInt(`0x${String(reset[0]?.current)}`);
    assert.ok(previous >= ladder.sqn1 && seqOf(previous) < SEQ_AHEAD, `previous counter ${hex12(previous)} was the HSS's own`);
    assert.equal(seqOf(current), SEQ_AHEAD, `current counter ${hex12(current)} has SEQ(SQN_MS)`);
    const issued = lines.filter((l) => l.msg === 'MAR: vectors issued (33.102 §6.3.2) → MAA').flatMap((l) => l.sqns as string[]);
    assert.ok(issued.includes(hex12(ladder.sqn1)) && issued.includes(hex12(ladder.sqn2)), `issued SQNs ${issued.join(' ')}`);
  });

  test('Cx leg (tshark): exactly one MAR carries a 30-octet SIP-Authorization = RAND₁‖AUTS; answered 2001; no Malformed', async () => {
    assert.ok(ladder && capture, 'needs the ladder above');
    await stopCapture();
    const file = capture.file;
    const decodeAs = ['-d', `tcp.port==${dport},diameter`];
    const out = (await run('tshark', ['-r', file, ...decodeAs, '-Y', 'diameter.cmd.code == 303 && diameter.flags.request == 1',
      '-T', 'fields', '-E', 'separator=|', '-e', 'diameter.endtoendid', '-e', 'diameter.3GPP-SIP-Authorization'], { maxBuffer: 16 << 20 })).stdout;
    const mars = out.split('\n').filter(Boolean).map((l) => {
      const [e2e, auth] = l.split('|');
      return { e2e: e2e ?? '', authorization: Buffer.from((auth ?? '').replace(/[:\s]/g, ''), 'hex') };
    });
    assert.ok(mars.length >= 2, `MARs in the capture: ${out}`);
    const resync = mars.filter((m) => m.authorization.length > 0);
    assert.equal(resync.length, 1, `one resync MAR: ${out}`);
    const authz = (resync[0] as { authorization: Buffer }).authorization;
    assert.equal(authz.length, 30, 'SIP-Authorization is RAND(16)‖AUTS(14)');
    assert.ok(authz.subarray(0, 16).equals(ladder.rand1), 'RAND of the challenge the ISIM answered');
    assert.ok(authz.subarray(16).equals(ladder.auts), 'the AUTS the UE sent, byte for byte');

    const d = await decodeDiameter(file, dport);
    const kinds = d.fields.map(([cmd, req, rc]) => `${cmd}/${req === '1' || req === 'True' ? 'R' : 'A'}${rc ? `/${rc}` : ''}`);
    assert.ok(kinds.filter((k) => k === '303/A/2001').length >= 2, `MAAs: ${kinds.join(' ')}`);
    assert.ok(kinds.includes('301/A/2001'), `SAA 2001: ${kinds.join(' ')}`);
    assert.doesNotMatch(d.verbose, /Malformed/i);
    assert.doesNotMatch(d.expert, /Warning|Error/, d.expert);
  });
});
