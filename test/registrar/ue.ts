/**
 * UEs for the registrar tests: sockets that speak bytes over UDP, TCP or TLS, REGISTER requests written as the text a
 * UA would send, and the UE side of Digest (AKA with our software ISIM, or a password) computed with lib/aka.
 */
import { randomBytes } from 'node:crypto';
import { createSocket, type Socket as UdpSocket } from 'node:dgram';
import { connect, type Socket } from 'node:net';
import { TLSSocket, connect as tlsConnect, type PeerCertificate } from 'node:tls';
import { Milenage, digestResponse, generateVector, makeSqn, parseAkaNonce, type DigestQop } from '../../lib/aka/index.ts';
import { formatCredentials, type DigestChallenge } from '../../lib/sip/headers/auth.ts';
import type { SipRequest, SipResponse } from '../../lib/sip/message.ts';
import { parseMessage } from '../../lib/sip/parser.ts';
import { StreamFramer } from '../../lib/sip/transport/framer.ts';
import type { Isim, IsimAuthResult } from '../../ue-client/isim.ts';
import { DOMAIN, type AkaUser } from './fixture.ts';

/** A received response: its bytes as text and as parsed by lib/sip. */
export interface Reply {
  text: string;
  msg: SipResponse;
}

/** A request the registrar sent to the UE (a NOTIFY): its bytes as text and as parsed by lib/sip. */
export interface Incoming {
  text: string;
  msg: SipRequest;
}

/** A message as lib/sip reads it; undefined for bytes it refuses (a test then sees "no final response"). */
function parseReply(buf: Buffer, datagram: boolean): Reply | Incoming | undefined {
  try {
    const msg = parseMessage(buf, { datagram });
    const text = buf.toString('utf8');
    return msg.kind === 'request' ? { text, msg } : { text, msg };
  } catch {
    return undefined;
  }
}

/** A UE socket: sends request bytes, resolves with the next final response. */
export class Ue {
  readonly transport: 'UDP' | 'TCP' | 'TLS';
  readonly localPort: number;
  /** The loopback address the socket is bound to (another one than 127.0.0.1 is another source to the registrar). */
  localAddress = '127.0.0.1';
  /** TLS only: whether the registrar's certificate verified, and the certificate. */
  tlsPeer: { authorized: boolean; certificate: PeerCertificate } | undefined;
  private readonly queue: Reply[] = [];
  private readonly inbox: Incoming[] = [];
  private waiter: (() => void) | undefined;
  private readonly closeFn: () => void;
  private readonly sendFn: (b: Buffer) => void;

  private constructor(transport: Ue['transport'], localPort: number, send: (b: Buffer) => void, close: () => void) {
    this.transport = transport;
    this.localPort = localPort;
    this.sendFn = send;
    this.closeFn = close;
  }

  private push(r: Reply | Incoming | undefined): void {
    if (r && r.msg.kind === 'request') {
      this.inbox.push(r as Incoming);
      this.waiter?.();
      return;
    }
    if (!r || r.msg.kind !== 'response' || r.msg.status < 200) return;
    this.queue.push(r as Reply);
    this.waiter?.();
  }

  /** The next request the registrar sent to this UE and not taken yet (a NOTIFY), waiting up to `ms`. */
  nextRequest(ms = 4000): Promise<Incoming> {
    return this.until(() => this.inbox.shift(), ms, 'request');
  }

  /** Requests received and not taken yet. */
  get requestsPending(): number {
    return this.inbox.length;
  }

  /** A UDP UE on an ephemeral port of `local` (default 127.0.0.1) talking to 127.0.0.1:`port`. */
  static async udp(port: number, local = '127.0.0.1'): Promise<Ue> {
    const s: UdpSocket = createSocket('udp4');
    await new Promise<void>((resolve) => s.bind(0, local, () => resolve()));
    const ue: Ue = new Ue('UDP', s.address().port, (b) => s.send(b, port, '127.0.0.1'), () => s.close());
    ue.localAddress = local;
    s.on('message', (m) => ue.push(parseReply(m, true)));
    return ue;
  }

  /**
   * A TCP UE, or a TLS one that verifies the registrar's certificate against `ca` for `servername` (default
   * `localhost`, a SAN of every leaf `certs` issues); rejects when the handshake or the verification fails.
   */
  static async stream(port: number, tls?: { ca: string; servername?: string }, local = '127.0.0.1'): Promise<Ue> {
    const sock: Socket = tls
      ? tlsConnect({ socket: connect({ host: '127.0.0.1', port, localAddress: local }), ca: tls.ca, servername: tls.servername ?? 'localhost' })
      : connect({ host: '127.0.0.1', port, localAddress: local });
    await new Promise<void>((resolve, reject) => {
      sock.once(tls ? 'secureConnect' : 'connect', () => resolve());
      sock.once('error', reject);
    });
    const framer = new StreamFramer();
    const ue: Ue = new Ue(tls ? 'TLS' : 'TCP', sock.localPort ?? 0, (b) => sock.write(b), () => sock.destroy());
    ue.localAddress = local;
    if (sock instanceof TLSSocket) ue.tlsPeer = { authorized: sock.authorized, certificate: sock.getPeerCertificate() };
    sock.on('data', (chunk: Buffer) => {
      for (const m of framer.push(chunk).messages) ue.push(parseReply(Buffer.from(m), false));
    });
    sock.on('error', () => undefined);
    return ue;
  }

  /**
   * Sends `bytes` and waits for the final response of that request, matched by the top Via branch (a UDP
   * retransmission may bring an earlier request's final response again, which must not be taken for this one).
   * On UDP the request is retransmitted every 500 ms, as Timer E would.
   */
  async send(bytes: string | Buffer, ms = 4000): Promise<Reply> {
    const b = typeof bytes === 'string' ? Buffer.from(bytes, 'utf8') : bytes;
    const branch = /\r\nVia: [^\r]*;branch=([^;\r,]+)/.exec(b.toString('utf8'))?.[1];
    const mine = (r: Reply): boolean => branch === undefined || r.msg.topVia().branch === branch;
    this.sendFn(b);
    const retransmit = this.transport === 'UDP' ? setInterval(() => this.sendFn(b), 500) : undefined;
    try {
      return await this.take(mine, ms);
    } finally {
      clearInterval(retransmit);
    }
  }

  /** Sends `bytes` once, exactly as given: no retransmission, no waiting (see {@link next}). */
  transmit(bytes: string | Buffer): void {
    this.sendFn(typeof bytes === 'string' ? Buffer.from(bytes, 'utf8') : bytes);
  }

  /** The next final response not taken yet, in arrival order. */
  next(ms = 4000): Promise<Reply> {
    return this.take(() => true, ms);
  }

  /** Removes and returns the first queued response `mine` accepts (dropping those before it), waiting up to `ms`. */
  private take(mine: (r: Reply) => boolean, ms: number): Promise<Reply> {
    return this.until(() => {
      const i = this.queue.findIndex(mine);
      return i >= 0 ? this.queue.splice(0, i + 1).pop() : undefined;
    }, ms, 'final response');
  }

  /** What `pick` finds, tried again at each message received, for up to `ms`. */
  private async until<T>(pick: () => T | undefined, ms: number, what: string): Promise<T> {
    const deadline = Date.now() + ms;
    try {
      for (;;) {
        const found = pick();
        if (found !== undefined) return found;
        const left = deadline - Date.now();
        if (left <= 0) throw new Error(`no ${what} within ${ms} ms`);
        await new Promise<void>((resolve) => {
          const t = setTimeout(resolve, left);
          this.waiter = () => {
            clearTimeout(t);
            resolve();
          };
        });
      }
    } finally {
      this.waiter = undefined;
    }
  }

  /** Responses received and not taken yet. */
  get pending(): number {
    return this.queue.length;
  }

  /** Closes the socket. */
  close(): void {
    this.closeFn();
  }
}

/** What a REGISTER is built from. */
export interface RegisterInit {
  impu: string;
  callId: string;
  cseq: number;
  /** Contact values (without `Contact: `); `*` for the wildcard; empty for a query. */
  contacts?: string[];
  expires?: number;
  /** Authorization value. */
  authorization?: string;
  uri?: string;
  /** Extra header lines. */
  extra?: string[];
  body?: string;
}

/**
 * The bytes of a REGISTER as a UA writes them.
 * @param ue the sending socket (Via transport and port).
 */
export function registerBytes(ue: Ue, r: RegisterInit): string {
  const body = r.body ?? '';
  return [
    `REGISTER ${r.uri ?? `sip:${DOMAIN}`} SIP/2.0`,
    `Via: SIP/2.0/${ue.transport} ${ue.localAddress}:${ue.localPort};branch=z9hG4bK${randomBytes(8).toString('hex')};rport`,
    'Max-Forwards: 70',
    `From: <${r.impu}>;tag=${randomBytes(4).toString('hex')}`,
    `To: <${r.impu}>`,
    `Call-ID: ${r.callId}`,
    `CSeq: ${r.cseq} REGISTER`,
    ...(r.contacts ?? [`<sip:ue@${ue.localAddress}:${ue.localPort};transport=${ue.transport.toLowerCase()}>`]).map((c) => `Contact: ${c}`),
    ...(r.expires === undefined ? [] : [`Expires: ${r.expires}`]),
    ...(r.authorization === undefined ? [] : [`Authorization: ${r.authorization}`]),
    ...(r.extra ?? []),
    `Content-Length: ${Buffer.byteLength(body)}`,
    '',
    body,
  ].join('\r\n');
}

/** The 24.229 §5.1.1.2.1 Authorization of an initial REGISTER: empty nonce and response. */
export function initialAuthorization(impi: string): string {
  return `Digest username="${impi}", realm="${DOMAIN}", uri="sip:${DOMAIN}", nonce="", response=""`;
}

/**
 * Moves the ISIM's SQN far ahead of the HSS: every IND slot accepts a vector with SEQ ≥ `seq` (its own K/OP), so the
 * HSS's next vector is a replay to it and it answers with `auts`.
 */
export async function advanceIsim(isim: Isim, u: AkaUser, seq = 5000n): Promise<void> {
  const m = Milenage.fromOp(Buffer.from(u.k, 'hex'), Buffer.from(u.op, 'hex'));
  for (let ind = 0; ind < 32; ind++) {
    const v = generateVector({ milenage: m, sqn: makeSqn(seq + BigInt(ind), ind), amf: Buffer.from(u.amf, 'hex') });
    if (!('res' in (await isim.authenticate(v.rand, v.autn)))) throw new Error(`the ISIM refused SEQ ${seq + BigInt(ind)} in slot ${ind}`);
  }
}

/** Fields of a UE's answer to a challenge. */
export interface AnswerOptions {
  username: string;
  uri?: string;
  qop?: DigestQop;
  nc?: string;
  cnonce?: string;
  body?: string;
  algorithm?: string;
}

/**
 * The Authorization answering an AKA challenge with the ISIM: response over RES, or `auts` with an empty password.
 * @returns the header value and what the ISIM said.
 */
export async function akaAnswer(isim: Isim, ch: DigestChallenge, o: AnswerOptions): Promise<{ authorization: string; result: IsimAuthResult }> {
  const nonce = ch.nonce as string;
  const { rand, autn } = parseAkaNonce(nonce);
  const result = await isim.authenticate(rand, autn);
  const sync = 'syncFailure' in result;
  const password = sync ? Buffer.alloc(0) : result.res;
  return { authorization: credentials(ch, o, password, sync ? result.syncFailure.toString('base64') : undefined), result };
}

/** The Authorization for `password` (a Buffer: RES, or the UTF-8 of a SIP Digest password). */
export function credentials(ch: DigestChallenge, o: AnswerOptions, password: Buffer, auts?: string): string {
  const uri = o.uri ?? `sip:${DOMAIN}`;
  const qop = o.qop;
  const nc = o.nc ?? '00000001';
  const cnonce = o.cnonce ?? randomBytes(8).toString('hex');
  const algorithm = o.algorithm ?? ch.algorithm ?? 'MD5';
  const hash = algorithm.toUpperCase() === 'SHA-256' ? 'sha-256' : 'md5';
  const response = digestResponse({
    username: o.username, realm: ch.realm as string, uri, nonce: ch.nonce as string, method: 'REGISTER', password, hash,
    body: Buffer.from(o.body ?? ''), ...(qop ? { qop, nc, cnonce } : {}),
  });
  return formatCredentials({
    username: o.username, realm: ch.realm as string, nonce: ch.nonce as string, uri, response, algorithm,
    ...(qop ? { qop, nc, cnonce } : {}), ...(auts === undefined ? {} : { auts }),
  });
}

/** A fresh Call-ID. */
export function callId(): string {
  return `${randomBytes(8).toString('hex')}@test`;
}

/** The value of every header line `name` (exact spelling) in a serialized message, in order. */
export function headerLines(text: string, name: string): string[] {
  const head = text.slice(0, text.indexOf('\r\n\r\n'));
  return head.split('\r\n').filter((l) => l.startsWith(`${name}: `)).map((l) => l.slice(name.length + 2));
}

/** One AKA registration: REGISTER (24.229 initial form) → 401 → REGISTER with RES → final response. */
export interface AkaRegistration {
  challenge: Reply;
  final: Reply;
  /** The WWW-Authenticate of the 401. */
  ch: DigestChallenge;
  /** RES of the ISIM (for checking rspauth). */
  res: Buffer;
  /** The Authorization sent with the second REGISTER. */
  authorization: string;
  /** CSeq of the second REGISTER. */
  cseq: number;
}

/**
 * Registers `u` with its ISIM.
 * @param o Call-ID and first CSeq (default fresh and 1), contacts, expires, qop, extra header lines.
 */
export async function registerAka(ue: Ue, isim: Isim, u: AkaUser, o: Partial<RegisterInit> & { qop?: DigestQop } = {}): Promise<AkaRegistration> {
  const base = { impu: u.impus[0] as string, callId: o.callId ?? callId(), ...(o.contacts ? { contacts: o.contacts } : {}),
    ...(o.expires === undefined ? {} : { expires: o.expires }), ...(o.extra ? { extra: o.extra } : {}) };
  const cseq = o.cseq ?? 1;
  const challenge = await ue.send(registerBytes(ue, { ...base, cseq, authorization: initialAuthorization(u.impi) }));
  if (challenge.msg.status !== 401) throw new Error(`expected 401, got ${challenge.text}`);
  const ch = challenge.msg.wwwAuthenticate()[0] as DigestChallenge;
  const body = o.body;
  const { authorization, result } = await akaAnswer(isim, ch, { username: u.impi, qop: o.qop ?? 'auth', ...(body ? { body } : {}) });
  if ('syncFailure' in result) throw new Error('ISIM reported a synchronisation failure');
  const final = await ue.send(registerBytes(ue, { ...base, cseq: cseq + 1, authorization, ...(body ? { body } : {}) }));
  return { challenge, final, ch, res: result.res, authorization, cseq: cseq + 1 };
}
