/**
 * RFC 4475 torture messages at a running registrar (with an HSS behind it), DESIGN §2.1 ("RFC 4475 torture messages
 * must hold"): each of the 49 messages of ../shared/vectors/rfc4475 goes to the registrar as its exact bytes in one
 * UDP datagram, and gets an outcome its section allows (the table below, keyed by the index.json name); the stream
 * cases the notes name (clerr, ncl, mcl01) also go over TCP. After every message the registrar still answers an
 * OPTIONS. The four REGISTERs the RFC wants to succeed (escnull, cparam01, cparam02, regescrt) complete an AKA
 * registration: their To/IMPI are provisioned at the HSS, the torture REGISTER gets the 401, and the same bytes with
 * an Authorization line added (a new branch and CSeq + 1, as a UA's next request; nothing else changed) get the 200;
 * the bindings their notes describe are then read back from the registrar's admin API.
 *
 * Responses to UDP requests go where the top Via says (RFC 3261 §18.2.2): to `received` (the packet's source) at the
 * sent-by port, 5060 when none is written (5061 for TLS). So each message is sent from its own loopback address
 * (127.x.y.z, all routed to lo) bound at that port: its response comes back to the socket that sent it, and two
 * messages that share a branch and sent-by (many do: `z9hG4bKkdjuw`) are different transactions.
 */
import { before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { createSocket, type Socket as UdpSocket } from 'node:dgram';
import { connect, type Socket } from 'node:net';
import type { DigestChallenge } from '../../lib/sip/headers/auth.ts';
import { parseMessage } from '../../lib/sip/parser.ts';
import { tortureIndex, vector } from '../sip/helpers.ts';
import { until } from '../helpers/wait.ts';
import {
  DOMAIN, adminBindings, akaAnswer, callId, headerLines, openIsim, provisionAka, registrarFixture, sipPort,
  type AkaUser,
} from './helpers.ts';

/** What the registrar does with one message sent over UDP. */
type Outcome =
  | {
    /** The status the registrar answers with. */
    status: number;
    /** Every status the RFC 4475 section (with RFC 3261) allows, when it allows more than one. */
    allowed?: readonly number[];
    /** Why, citing the section. */
    why: string;
    /** Further checks on the response text. */
    check?: (text: string) => void;
  }
  | { dropped: true; why: string };

const ALLOW = (text: string): void => assert.deepEqual(headerLines(text, 'Allow'), ['REGISTER, OPTIONS, SUBSCRIBE']);
const CHALLENGE = (text: string): void => assert.match(headerLines(text, 'WWW-Authenticate')[0] ?? '', /^Digest realm="partner\.example", nonce="[A-Za-z0-9+/]{43}=", algorithm=AKAv1-MD5, qop="auth,auth-int"$/);
const REASON = (pattern: RegExp) => (text: string): void => assert.match(text.split('\r\n')[0] ?? '', pattern);

/** Per message, keyed by the index.json name. */
const OUTCOMES: Readonly<Record<string, Outcome>> = {
  // 3.1.1: valid messages — accepted, then answered as the registrar answers any request of that method.
  wsinv: { status: 405, why: '§3.1.1.1: parsed despite folding and LWS; INVITE is known, not allowed (RFC 3261 §8.2.1)', check: ALLOW },
  intmeth: { status: 501, why: '§3.1.1.2: "endpoint answers 501 with Allow" — an unknown token method', check: ALLOW },
  esc01: { status: 405, why: '§3.1.1.3: escapes accepted; INVITE not allowed', check: ALLOW },
  escnull: { status: 401, why: '§3.1.1.4: a well-formed REGISTER — challenged like any (the AKA completion is tested below)', check: CHALLENGE },
  esc02: { status: 501, why: '§3.1.1.5: RE%47IST%45R is an unknown method, not REGISTER: "endpoint rejects with 501"', check: ALLOW },
  lwsdisp: { status: 200, why: '§3.1.1.6: accepted as well formed; OPTIONS answered' },
  longreq: { status: 405, why: '§3.1.1.7: long values accepted; INVITE not allowed', check: ALLOW },
  dblreq: {
    status: 401, why: '§3.1.1.8: the REGISTER is handled normally (challenged), the INVITE after it in the datagram ignored (RFC 3261 §18.3)',
    check: (t) => {
      CHALLENGE(t);
      assert.deepEqual(headerLines(t, 'CSeq'), ['8 REGISTER']);
    },
  },
  semiuri: { status: 200, why: '§3.1.1.9: user part with ;par= accepted; OPTIONS answered' },
  transports: { status: 200, why: '§3.1.1.10: every transport token accepted; OPTIONS answered' },
  mpart01: { status: 405, why: '§3.1.1.11: multipart body with NULs framed by Content-Length; MESSAGE not allowed', check: ALLOW },
  unreason: { dropped: true, why: '§3.1.1.12: a response matching no client transaction: parsed and discarded' },
  noreason: { dropped: true, why: '§3.1.1.13: a 100 matching no client transaction: parsed and discarded' },
  // 3.1.2: invalid messages.
  badinv01: { status: 400, why: '§3.1.2.1: "respond 400 Bad Request"', check: REASON(/^SIP\/2\.0 400 .*Via/) },
  clerr: { status: 400, why: '§3.1.2.2: "over UDP respond 400" (Content-Length beyond the datagram)' },
  ncl: { status: 400, why: '§3.1.2.3: negative Content-Length: "respond with an error"' },
  scalar02: { status: 400, why: '§3.1.2.4: CSeq above 2^32-1: "respond 400"', check: REASON(/^SIP\/2\.0 400 .*CSeq/) },
  scalarlg: { dropped: true, why: '§3.1.2.5: a response with overlarge scalars: "the receiver simply discards it"' },
  quotbal: { status: 400, why: '§3.1.2.6: unterminated quoted string: "respond 400"' },
  ltgtruri: { status: 400, why: '§3.1.2.7: <> around the Request-URI: "reasonable to reject with 400"' },
  lwsruri: { status: 400, why: '§3.1.2.8: LWS inside the Request-URI: "respond 400"' },
  lwsstart: { status: 400, allowed: [400, 405], why: '§3.1.2.9: multiple SP in the Request-Line: "may reject as malformed"' },
  trws: { status: 400, allowed: [400, 200], why: '§3.1.2.10: SP before CRLF in the Request-Line: "may reject as malformed"' },
  escruri: { status: 400, allowed: [400, 405], why: '§3.1.2.11: escaped headers in the Request-URI: "may reject with 400"' },
  baddate: { status: 405, allowed: [400, 405], why: '§3.1.2.12: a registrar does not use Date, so it is ignored; INVITE not allowed', check: ALLOW },
  regbadct: { status: 400, why: '§3.1.2.13: Contact with an escaped header outside <>: "reasonable to respond 400"', check: REASON(/^SIP\/2\.0 400 .*Contact/) },
  badaspec: { status: 400, allowed: [400, 200], why: '§3.1.2.14: spaces in the To addr-spec: "reasonable to reject with 400"' },
  baddn: { status: 400, why: '§3.1.2.15: non-token display names (and no blank line ending the headers): "reasonable to reject with 400"' },
  badvers: { status: 505, why: '§3.1.2.16: SIP/7.0: "should respond 505 Version Not Supported"' },
  mismatch01: { status: 400, why: '§3.1.2.17: start line and CSeq method differ: "any element responds 400"' },
  mismatch02: {
    status: 400, allowed: [501, 400],
    why: '§3.1.2.18: "respond 501 Not Implemented (400 also acceptable)"; lib/sip refuses the CSeq mismatch before the method is looked at',
  },
  bigcode: { dropped: true, why: '§3.1.2.19: status code above 699: "the receiver should simply drop it"' },
  // 3.2
  badbranch: { status: 200, allowed: [200, 400], why: '§3.2.1: a bare magic cookie: RFC 2543 transaction matching, OPTIONS answered' },
  // 3.3
  insuf: { dropped: true, why: '§3.3.1: no Call-ID, From or To: "must not break"; no valid response can be formed (RFC 3261 §8.2.6.2)' },
  unkscm: { status: 416, why: '§3.3.2: unknown Request-URI scheme: "element rejects with 416"' },
  novelsc: { status: 416, why: '§3.3.3: soap.beep means nothing to a registrar: "416 if the scheme is never meaningful"' },
  unksm2: { status: 400, why: '§3.3.4: "a registrar rejects with 400 (AOR must be SIP/SIPS)"', check: REASON(/^SIP\/2\.0 400 .*SIP or SIPS/) },
  bext01: {
    status: 420, why: '§3.3.5: "respond 420 Bad Extension with Unsupported listing the tags for the role played" (registrar and its own proxy)',
    check: (t) => assert.deepEqual(headerLines(t, 'Unsupported').join(', ').toLowerCase().split(', '),
      ['nothingsupportsthis', 'nothingsupportsthiseither', 'noproxiessupportthis', 'nordoanyproxiessupportthis']),
  },
  invut: { status: 405, allowed: [405, 415], why: '§3.3.6: unknown body type; the method check (RFC 3261 §8.2.1) precedes the content check (§8.2.3)', check: ALLOW },
  regaut01: { status: 401, why: '§3.3.7: unknown Authorization scheme ignored: "responds 401 with a scheme it knows"', check: CHALLENGE },
  multi01: { status: 400, why: '§3.3.8: several values in single-value fields: "respond 400 Bad Request"' },
  mcl01: { status: 400, why: '§3.3.9: conflicting Content-Length values: "respond with an error"' },
  bcast: { dropped: true, why: '§3.3.10: a 200 with a broadcast Via: "endpoint discards it"' },
  zeromf: { status: 200, why: '§3.3.11: Max-Forwards 0 at the element it is addressed to: "an endpoint processes it normally"' },
  cparam01: { status: 401, why: '§3.3.12: "registration should succeed": challenged first (completed below)', check: CHALLENGE },
  cparam02: { status: 401, why: '§3.3.13: "registration should succeed": challenged first (completed below)', check: CHALLENGE },
  regescrt: { status: 401, why: '§3.3.14: "registration should succeed": challenged first (completed below)', check: CHALLENGE },
  sdp01: { status: 405, allowed: [405, 406, 400], why: '§3.3.15: 406/400 are for UAs that take INVITE; the method check comes first (RFC 3261 §8.2.1)', check: ALLOW },
  inv2543: { status: 405, why: '§3.4.1: RFC 2543 syntax accepted (body = rest of the datagram, 2543 matching); INVITE not allowed', check: ALLOW },
};

/** A test key for an identity of the torture REGISTERs (their To and, without Authorization, their IMPI). */
function tortureUser(user: string): AkaUser {
  return { impi: `${user}@example.com`, impus: [`sip:${user}@example.com`], k: randomBytes(16).toString('hex'), op: randomBytes(16).toString('hex'), amf: '8000' };
}
/** The identities the REGISTERs of RFC 4475 use (escnull's user part is `null-%00-null`: a real NUL octet). */
const USERS = {
  escnull: tortureUser('null-\x00-null'), jUser: tortureUser('j.user'), watson: tortureUser('watson'), user: tortureUser('user'),
};

/** The port a UDP response to `bytes` goes to: the top Via's sent-by port, else 5061 for TLS, else 5060. */
function viaPort(bytes: Buffer): number {
  const unfolded = bytes.toString('latin1').replace(/\r\n[ \t]+/g, ' ');
  const m = /^(?:Via|v)[ \t]*:[ \t]*SIP[ \t]*\/[ \t]*[\d.]+[ \t]*\/[ \t]*([A-Za-z]+)[ \t]+[^;,\s:]+(?::(\d+))?/im.exec(unfolded);
  if (m?.[2] !== undefined) return Number(m[2]);
  return m?.[1]?.toUpperCase() === 'TLS' ? 5061 : 5060;
}

const NET = `127.${64 + (randomBytes(1)[0] as number) % 128}.${randomBytes(1)[0] as number}`;
let hostCount = 0;

/** A UDP socket on its own loopback address: sends bytes to the registrar, queues every response. */
class Peer {
  readonly replies: string[] = [];
  private wake: (() => void) | undefined;

  private constructor(readonly socket: UdpSocket, readonly address: string, readonly port: number, private readonly target: number) {
    socket.on('message', (m) => {
      this.replies.push(m.toString('latin1'));
      this.wake?.();
    });
  }

  /** A socket on a fresh 127.x.y.z at `port`, talking to the registrar at 127.0.0.1:`target`. */
  static async open(port: number, target: number): Promise<Peer> {
    const address = `${NET}.${++hostCount}`;
    const socket = createSocket('udp4');
    await new Promise<void>((resolve, reject) => {
      socket.once('error', reject);
      socket.bind(port, address, () => resolve());
    });
    return new Peer(socket, address, port, target);
  }

  send(bytes: Buffer | string): void {
    this.socket.send(typeof bytes === 'string' ? Buffer.from(bytes, 'latin1') : bytes, this.target, '127.0.0.1');
  }

  /** The next response not yet taken (text as latin1, so every octet survives). */
  async next(ms = 5000): Promise<string> {
    const deadline = Date.now() + ms;
    while (this.replies.length === 0) {
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`no response at ${this.address}:${this.port} within ${ms} ms`);
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, left);
        this.wake = () => {
          clearTimeout(t);
          resolve();
        };
      });
      this.wake = undefined;
    }
    return this.replies.shift() as string;
  }

  /** An OPTIONS from this socket (RFC 3261 §11) must still be answered 200. */
  async probe(): Promise<void> {
    this.send([
      `OPTIONS sip:${DOMAIN} SIP/2.0`, `Via: SIP/2.0/UDP ${this.address}:${this.port};branch=z9hG4bK-probe-${randomBytes(6).toString('hex')};rport`,
      'Max-Forwards: 70', `From: <sip:probe@${DOMAIN}>;tag=probe`, `To: <sip:${DOMAIN}>`, `Call-ID: ${callId()}`, 'CSeq: 1 OPTIONS',
      'Content-Length: 0', '', '',
    ].join('\r\n'));
    const r = await this.next();
    assert.match(r, /^SIP\/2\.0 200 OK\r\n/, 'the registrar answers OPTIONS after the torture message');
    assert.deepEqual(headerLines(r, 'CSeq'), ['1 OPTIONS']);
  }

  close(): void {
    this.socket.close();
  }
}

/** A TCP connection to the registrar that collects what it reads and whether the registrar closed it. */
async function tcpPeer(port: number): Promise<{ sock: Socket; data: () => string; closed: Promise<void> }> {
  const sock = connect({ host: '127.0.0.1', port });
  await new Promise<void>((resolve, reject) => {
    sock.once('connect', resolve);
    sock.once('error', reject);
  });
  let data = '';
  sock.on('data', (c: Buffer) => (data += c.toString('latin1')));
  const closed = new Promise<void>((resolve) => sock.once('close', () => resolve()));
  return { sock, data: () => data, closed };
}

/**
 * The torture REGISTER again, as the UA's answer to the 401: a new branch (a new transaction), CSeq + 1 and an
 * Authorization line before the empty line; every other octet as in the RFC.
 */
function answerBytes(bytes: Buffer, authorization: string): Buffer {
  const end = bytes.indexOf('\r\n\r\n');
  const head = bytes.subarray(0, end).toString('latin1')
    .replace(/;branch=(z9hG4bK[^;,\s]*)/, ';branch=$1.2')
    .replace(/^(CSeq[ \t]*:[ \t]*)(\d+)/im, (_m, name: string, n: string) => `${name}${BigInt(n) + 1n}`);
  return Buffer.concat([Buffer.from(head, 'latin1'), Buffer.from(`\r\nAuthorization: ${authorization}`, 'utf8'), bytes.subarray(end)]);
}

describe('RFC 4475 torture messages at the registrar', () => {
  const index = tortureIndex();
  const f = registrarFixture({ aka: [USERS.jUser, USERS.watson, USERS.user], registrar: { admin: { host: '127.0.0.1', port: 0 } } });
  const open = async (bytes: Buffer): Promise<Peer> => {
    const p = await Peer.open(viaPort(bytes), sipPort(f.reg, 'UDP'));
    f.onTeardown(() => p.close());
    return p;
  };

  before(async () => {
    await provisionAka(f.hss, USERS.escnull); // JSON carries the NUL as \u0000
  });

  test('the table has an outcome for each of the 49 messages, and each allowed by its section', () => {
    assert.equal(index.length, 49);
    assert.deepEqual(index.map((e) => e.name).filter((n) => !(n in OUTCOMES)), []);
    assert.deepEqual(Object.keys(OUTCOMES).filter((n) => !index.some((e) => e.name === n)), []);
    for (const [name, o] of Object.entries(OUTCOMES)) {
      if ('status' in o && o.allowed) assert.ok(o.allowed.includes(o.status), name);
    }
  });

  for (const entry of index) {
    const o = OUTCOMES[entry.name] as Outcome;
    const what = 'dropped' in o ? 'dropped' : String(o.status);
    test(`§${entry.section} ${entry.name} (${entry.title}) over UDP → ${what}; OPTIONS still answered`, async () => {
      const bytes = vector(entry.name);
      const peer = await open(bytes);
      const s = f.reg.stack.stats;
      const discarded = (): number => s.dropped + s.strayResponses;
      const before = discarded();
      peer.send(bytes);
      if ('dropped' in o) {
        await peer.probe(); // the probe's 200 is the first thing back: nothing answered the message
        assert.equal(discarded(), before + 1, 'counted as dropped or as a stray response');
        return;
      }
      const text = await peer.next();
      assert.equal(Number(text.slice(8, 11)), o.status, `${o.why}\n${text}`);
      assert.match(text.split('\r\n')[0] as string, /^SIP\/2\.0 \d{3} \S/, 'a reason phrase');
      o.check?.(text);
      await peer.probe();
    });
  }

  test('§3.1.2.2 clerr over TCP: the registrar waits for the rest of the body (completing it → 405, no 400 first)', async () => {
    const bytes = vector('clerr');
    const body = bytes.length - (bytes.indexOf('\r\n\r\n') + 4);
    const c = await tcpPeer(sipPort(f.reg, 'TCP'));
    try {
      c.sock.write(bytes);
      // The rest of the 9999 octets Content-Length announced; only then is there a message to answer.
      c.sock.write(Buffer.alloc(9999 - body, 'x'));
      await until(() => /\r\n\r\n/.test(c.data()), 'a response');
      assert.match(c.data(), /^SIP\/2\.0 405 Method Not Allowed\r\n/);
      assert.deepEqual(headerLines(c.data(), 'CSeq'), ['8 INVITE']);
    } finally {
      c.sock.destroy();
    }
  });

  test('§3.1.2.2 clerr over TCP: a peer that ends the stream before the body is complete is closed without a response', async () => {
    const c = await tcpPeer(sipPort(f.reg, 'TCP'));
    c.sock.end(vector('clerr'));
    await c.closed;
    assert.equal(c.data(), '');
  });

  for (const [name, section] of [['ncl', '3.1.2.3'], ['mcl01', '3.3.9']] as const) {
    test(`§${section} ${name} over TCP: 400, then the registrar closes the connection (framing lost)`, async () => {
      const c = await tcpPeer(sipPort(f.reg, 'TCP'));
      c.sock.write(vector(name));
      await c.closed;
      assert.match(c.data(), /^SIP\/2\.0 400 /);
      assert.equal(c.data().match(/^SIP\/2\.0 /gm)?.length, 1);
    });
  }

  /**
   * Registers a torture REGISTER with AKA: its bytes → 401; the same bytes with the Authorization of `u`'s ISIM → 200.
   * @returns the 200's text.
   */
  async function registerTorture(name: string, u: AkaUser): Promise<string> {
    const bytes = vector(name);
    const peer = await open(bytes);
    peer.send(bytes);
    const challenge = await peer.next();
    assert.match(challenge, /^SIP\/2\.0 401 /, challenge);
    const ch = parseMessage(Buffer.from(challenge, 'latin1'), { datagram: true }).wwwAuthenticate()[0] as DigestChallenge;
    const uri = /^REGISTER (\S+) SIP\/2\.0\r\n/.exec(bytes.toString('latin1'))?.[1] as string;
    const { authorization } = await akaAnswer(await openIsim(f.dir, u), ch, { username: u.impi, uri, qop: 'auth' });
    // A NUL inside a quoted-string travels as a quoted-pair (RFC 3261 §25.1).
    peer.send(answerBytes(bytes, authorization.replace(/\0/g, '\\\0')));
    const ok = await peer.next();
    assert.match(ok, /^SIP\/2\.0 200 OK\r\n/, ok);
    return ok;
  }

  /** The AOR's bindings as the admin API lists them. */
  async function bindingsOf(aor: string): Promise<Array<{ uri: string; params: string; expires: number }>> {
    const view = (await adminBindings(f.reg)).find((b) => b.aor === aor);
    assert.ok(view, `no bindings for ${JSON.stringify(aor)}`);
    return view.contacts.map(({ uri, params, expires }) => ({ uri, params, expires }));
  }

  const fresh = (expires: number): boolean => expires > 3500 && expires <= 3600;

  test('§3.1.1.4 escnull registers: the AOR keeps its escaped NUL (not truncated), two distinct contacts bound', async () => {
    const ok = await registerTorture('escnull', USERS.escnull);
    assert.deepEqual(headerLines(ok, 'Contact').map((c) => c.replace(/;expires=\d+$/, '')), ['<sip:%00@host5.example.com>', '<sip:%00%00@host5.example.com>']);
    // The HSS holds the IMPU unescaped (as the AOR is compared); on the wire the NUL is escaped again.
    assert.deepEqual(headerLines(ok, 'P-Associated-URI'), ['<sip:null-%00-null@example.com>']);
    const aor = 'sip:null-\x00-null@example.com';
    const bound = await bindingsOf(aor);
    assert.deepEqual(bound.map((b) => [b.uri, b.params]), [['sip:%00@host5.example.com', ''], ['sip:%00%00@host5.example.com', '']]);
    assert.ok(bound.every((b) => fresh(b.expires)), JSON.stringify(bound));
    assert.equal((await adminBindings(f.reg)).filter((b) => b.aor.startsWith('sip:null-')).length, 1, 'one AOR, the full one');
  });

  test('§3.3.12 cparam01 registers: ;unknownparam is a contact-param, not a url-parameter of the bound URI', async () => {
    const ok = await registerTorture('cparam01', USERS.watson);
    assert.match(headerLines(ok, 'Contact')[0] ?? '', /^<sip:\+19725552222@gw1\.example\.net>;unknownparam;expires=\d+$/);
    const [b, ...more] = await bindingsOf('sip:watson@example.com');
    assert.deepEqual(more, []);
    assert.equal(b?.uri, 'sip:+19725552222@gw1.example.net');
    assert.equal(b?.params, ';unknownparam');
    assert.ok(fresh(b.expires));
  });

  test('§3.3.13 cparam02 registers: the retrieved binding carries unknownparam as a url-parameter', async () => {
    const ok = await registerTorture('cparam02', USERS.watson);
    // Same contact as cparam01's by RFC 3261 §19.1.4 (a url-parameter on one side only is ignored): it is replaced.
    assert.deepEqual(headerLines(ok, 'Contact'), [headerLines(ok, 'Contact')[0]]);
    assert.match(headerLines(ok, 'Contact')[0] ?? '', /^<sip:\+19725552222@gw1\.example\.net;unknownparam>;expires=\d+$/);
    const [b, ...more] = await bindingsOf('sip:watson@example.com');
    assert.deepEqual(more, []);
    assert.equal(b?.uri, 'sip:+19725552222@gw1.example.net;unknownparam');
    assert.equal(b?.params, '');
    assert.ok(fresh(b.expires));
  });

  test('§3.3.14 regescrt registers: the retrieved contact URI keeps its escaped Route header', async () => {
    const ok = await registerTorture('regescrt', USERS.user);
    assert.match(headerLines(ok, 'Contact')[0] ?? '', /^<sip:user@example\.com\?Route=%3Csip:sip\.example\.com%3E>;expires=\d+$/);
    const [b, ...more] = await bindingsOf('sip:user@example.com');
    assert.deepEqual(more, []);
    assert.equal(b?.uri, 'sip:user@example.com?Route=%3Csip:sip.example.com%3E');
    assert.ok(fresh(b.expires));
  });

  test('after every message: OPTIONS over TCP still answered, and the SIP stack hit no internal error', async () => {
    const c = await tcpPeer(sipPort(f.reg, 'TCP'));
    try {
      c.sock.write([
        `OPTIONS sip:${DOMAIN} SIP/2.0`, `Via: SIP/2.0/TCP 127.0.0.1:${c.sock.localPort};branch=z9hG4bK-last-${randomBytes(4).toString('hex')}`,
        'Max-Forwards: 70', `From: <sip:probe@${DOMAIN}>;tag=1`, `To: <sip:${DOMAIN}>`, `Call-ID: ${callId()}`, 'CSeq: 1 OPTIONS',
        'Content-Length: 0', '', '',
      ].join('\r\n'));
      await until(() => /\r\n\r\n/.test(c.data()), 'the OPTIONS response');
      assert.match(c.data(), /^SIP\/2\.0 200 OK\r\n/);
    } finally {
      c.sock.destroy();
    }
    assert.equal(f.reg.stack.stats.internalErrors, 0);
  });
});
