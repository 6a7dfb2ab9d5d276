/**
 * The UE's Digest answers, plugged into SIP.js (DESIGN §2.1). SIP.js 0.21's `DigestAuthentication` refuses any
 * algorithm but MD5 (and its grammar upper-cases `AKAv1-MD5`), hashes the password as a UTF-8 string (RES is binary)
 * and answers synchronously. So the work is split:
 *
 * 1. {@link DigestResponder.inboundHook} sees each 401/407 before SIP.js does, picks the first challenge it can
 *    answer (RFC 8760 §2.4: the server lists its preference first — SIP.js itself keeps only the last header), and
 *    does the asynchronous part: the ISIM's AUTHENTICATE for AKAv1-MD5 / AKAv2-MD5 (RES, RFC 4169 password, AUTS on a
 *    sync failure, or the MAC failure), or takes the password for SIP Digest MD5 / SHA-256;
 * 2. {@link AkaDigestAuthentication}, the `authenticationFactory` product, finds that answer by the Via branch of the
 *    request that was challenged and writes the Authorization with `node:crypto` over Buffers (lib/aka), `nc`
 *    counted per nonce, a fresh `cnonce`, `auts` (RFC 3310 §3.4, response over the empty password) or, after a MAC
 *    failure, `response=""` without `auts` (TS 24.229 §5.1.1.5.3);
 * 3. on a 2xx, `Authentication-Info: rspauth` is checked with the same password (RES/XRES, RFC 3310 §3.5).
 */
import { randomBytes } from 'node:crypto';
import { Core } from 'sip.js';
import {
  AkaError, akav2Password, digestResponse, parseAkaNonce, rspauth, verifyDigestResponse, type DigestHash, type DigestQop,
} from '../lib/aka/index.ts';
import { formatCredentials, parseMessage, type DigestChallenge, type SipMessage } from '../lib/sip/index.ts';
import { UeError } from './errors.ts';
import type { Isim } from './isim.ts';
import type { WireEvent } from './transports/index.ts';

/** What the UE can answer challenges with. */
export interface UeSecrets {
  /** For AKAv1-MD5 / AKAv2-MD5. */
  isim?: Isim;
  /** For SIP Digest MD5 / SHA-256 (UTF-8 octets). */
  password?: Buffer;
  /** AMF the operator is expected to use; a different AMF in AUTN is noted, not refused (the MAC covers it). */
  expectedAmf?: Buffer;
}

/** What the ISIM or the password made of one challenge. */
export type ChallengeOutcome = 'res' | 'sync-failure' | 'mac-failure' | 'password';

/** One answered challenge, for the ladder and the registration logic. */
export interface ChallengeNote {
  algorithm: string;
  outcome: ChallengeOutcome;
  /** For a sync failure: which Annex C.2 check failed. */
  reason?: string;
  /** AMF of AUTN when it differs from the expected one. */
  amf?: string;
}

interface Answer {
  algorithm: string;
  realm: string;
  nonce: string;
  opaque: string | undefined;
  qop: DigestQop | undefined;
  hash: DigestHash;
  password: Buffer;
  auts: Buffer | undefined;
  macFailure: boolean;
  note: ChallengeNote;
}

/** What the UE sent in one Authorization, kept to check the `rspauth` of the answer. */
interface Sent {
  answer: Answer;
  uri: string;
  nc: string | undefined;
  cnonce: string | undefined;
}

/** Verdict on a 2xx's Authentication-Info. */
export type RspauthVerdict = 'verified' | 'absent' | 'mismatch' | 'no-credentials';

const HASH_OF: Readonly<Record<string, DigestHash>> = { 'AKAV1-MD5': 'md5', 'AKAV2-MD5': 'md5', MD5: 'md5', 'SHA-256': 'sha-256' };

/** The UE's Digest state: prepared answers by challenged branch, nonce counts, what was sent, rspauth verdicts. */
export class DigestResponder {
  readonly #secrets: UeSecrets;
  readonly #username: string;
  readonly #answers = new Map<string, Answer | UeError>();
  readonly #nc = new Map<string, number>();
  readonly #sent = new Map<string, Sent>();
  readonly #byBranch = new Map<string, string>();
  readonly #verdicts = new Map<string, RspauthVerdict>();
  /** Set once a MAC-failure answer went out: the network is not authentic, whatever it answers next. */
  macFailureSent = false;

  /**
   * @param secrets ISIM and/or password.
   * @param username the Digest username: the IMPI being registered (a partner IMPI when migrating).
   */
  constructor(secrets: UeSecrets, username: string) {
    this.#secrets = secrets;
    this.#username = username;
  }

  /** The transport hook: prepares answers to 401/407, checks rspauth of 2xx. */
  readonly inboundHook = async (_raw: string, m: SipMessage | undefined): Promise<void> => {
    if (!m || m.kind !== 'response') return;
    const branch = m.topVia().branch;
    if (branch === undefined) return;
    if ((m.status === 401 || m.status === 407) && !this.#answers.has(branch)) {
      this.#answers.set(branch, await this.#prepare(m.status === 401 ? m.wwwAuthenticate() : m.proxyAuthenticate()));
    } else if (m.status >= 200 && m.status < 300 && !this.#verdicts.has(branch)) {
      this.#verdicts.set(branch, this.#checkRspauth(branch, m));
    }
  };

  /** The transport tap: remembers which credentials each sent request carried (by its branch). */
  readonly wireTap = (e: WireEvent): void => {
    if (e.direction !== 'out' || e.retransmission || e.raw.startsWith('SIP/2.0 ')) return;
    let m: SipMessage;
    try {
      m = parseMessage(Buffer.from(e.raw, 'utf8'));
    } catch {
      return;
    }
    const branch = m.topVia().branch;
    const cred = [...m.authorization(), ...m.proxyAuthorization()][0];
    if (branch !== undefined && cred?.nonce) this.#byBranch.set(branch, `${cred.nonce}\n${cred.cnonce ?? ''}`);
  };

  /** The prepared answer (or why there is none) to the challenge received on `branch`. */
  answerFor(branch: string | undefined): { ok: true; note: ChallengeNote } | { ok: false; error: UeError } | undefined {
    const a = branch === undefined ? undefined : this.#answers.get(branch);
    if (a === undefined) return undefined;
    return a instanceof UeError ? { ok: false, error: a } : { ok: true, note: a.note };
  }

  /** Refuses to answer the challenge received on `branch` (the registration logic hit a limit). */
  withdraw(branch: string): void {
    this.#answers.set(branch, new UeError('UE_AUTH_REJECTED', 'challenge not answered: limit reached'));
  }

  /** The rspauth verdict on the 2xx received on `branch`. */
  rspauthVerdict(branch: string | undefined): RspauthVerdict {
    return (branch === undefined ? undefined : this.#verdicts.get(branch)) ?? 'no-credentials';
  }

  /** A SIP.js credentials object for `authenticationFactory`. */
  credentials(loggerFactory: Core.LoggerFactory): AkaDigestAuthentication {
    return new AkaDigestAuthentication(loggerFactory, this);
  }

  /**
   * Writes the Authorization answering the challenge `request` (its last transaction's branch) received.
   * @returns the header value, or undefined when that challenge cannot be answered.
   */
  authorize(request: Core.OutgoingRequestMessage): string | undefined {
    const a = this.#answers.get(request.branch ?? '');
    if (a === undefined || a instanceof UeError) return undefined;
    const uri = request.ruri.toString();
    const nc = a.qop ? this.#nextNc(a.nonce) : undefined;
    const cnonce = a.qop ? randomBytes(8).toString('hex') : undefined;
    const response = a.macFailure ? '' : digestResponse({
      method: request.method, username: this.#username, realm: a.realm, uri, nonce: a.nonce, hash: a.hash, password: a.password,
      ...(a.qop ? { qop: a.qop, nc, cnonce, body: Buffer.alloc(0) } : {}),
    });
    if (a.macFailure) this.macFailureSent = true;
    this.#sent.set(`${a.nonce}\n${cnonce ?? ''}`, { answer: a, uri, nc, cnonce });
    return formatCredentials({
      username: this.#username, realm: a.realm, nonce: a.nonce, uri, response, algorithm: a.algorithm,
      ...(a.qop ? { qop: a.qop, nc, cnonce } : {}),
      ...(a.opaque !== undefined ? { opaque: a.opaque } : {}),
      ...(a.auts ? { auts: a.auts.toString('base64') } : {}),
    });
  }

  #nextNc(nonce: string): string {
    const n = (this.#nc.get(nonce) ?? 0) + 1;
    this.#nc.set(nonce, n);
    return n.toString(16).padStart(8, '0');
  }

  async #prepare(challenges: DigestChallenge[]): Promise<Answer | UeError> {
    const { isim, password } = this.#secrets;
    const offered = challenges.filter((c) => c.scheme.toLowerCase() === 'digest');
    const usable = offered.find((c) => {
      const alg = (c.algorithm ?? 'MD5').toUpperCase();
      return alg.startsWith('AKAV') ? (alg === 'AKAV1-MD5' || alg === 'AKAV2-MD5') && isim !== undefined
        : (alg === 'MD5' || alg === 'SHA-256') && password !== undefined;
    });
    if (!usable) {
      const algs = offered.map((c) => c.algorithm ?? 'MD5').join(', ') || 'no Digest challenge';
      const held = [isim ? 'an ISIM (AKAv1-MD5, AKAv2-MD5)' : '', password ? 'a password (MD5, SHA-256)' : ''].filter(Boolean).join(' and ');
      return new UeError('UE_CHALLENGE_UNSUPPORTED', `cannot answer the challenge: offered ${algs}; the UE holds ${held || 'no credentials'}`);
    }
    const algorithm = usable.algorithm ?? 'MD5';
    const upper = algorithm.toUpperCase();
    const { realm, nonce } = usable;
    if (!realm || nonce === undefined || nonce === '') return new UeError('UE_CHALLENGE_INVALID', `${algorithm} challenge without realm or nonce`);
    const qop: DigestQop | undefined = usable.qop.includes('auth') ? 'auth' : usable.qop.includes('auth-int') ? 'auth-int' : undefined;
    if (usable.qop.length > 0 && qop === undefined) {
      return new UeError('UE_CHALLENGE_UNSUPPORTED', `challenge offers qop ${usable.qop.join(',')} only; the UE does auth and auth-int`);
    }
    const base = { algorithm, realm, nonce, opaque: usable.opaque, qop, hash: HASH_OF[upper] ?? 'md5', auts: undefined, macFailure: false };
    if (!upper.startsWith('AKAV')) return { ...base, password: password ?? Buffer.alloc(0), note: { algorithm, outcome: 'password' } };
    return this.#akaAnswer(base, isim as Isim);
  }

  async #akaAnswer(base: Omit<Answer, 'password' | 'note'>, isim: Isim): Promise<Answer | UeError> {
    let rand: Buffer;
    let autn: Buffer;
    try {
      ({ rand, autn } = parseAkaNonce(base.nonce));
    } catch (err) {
      return new UeError('UE_CHALLENGE_INVALID', `AKA nonce is not base64(RAND‖AUTN): ${(err as Error).message}`, { cause: err });
    }
    const amf = autn.subarray(6, 8);
    const note: ChallengeNote = { algorithm: base.algorithm, outcome: 'res' };
    if (this.#secrets.expectedAmf && !amf.equals(this.#secrets.expectedAmf)) note.amf = amf.toString('hex');
    try {
      const r = await isim.authenticate(rand, autn);
      if ('syncFailure' in r) {
        // RFC 3310 §3.4: the response of an auts answer is computed over the empty password (RFC 4169 is silent).
        return { ...base, password: Buffer.alloc(0), auts: r.syncFailure, note: { ...note, outcome: 'sync-failure', reason: r.reason } };
      }
      const password = base.algorithm.toUpperCase() === 'AKAV2-MD5' ? akav2Password(r.res, r.ik, r.ck) : r.res;
      return { ...base, password, note };
    } catch (err) {
      if (err instanceof AkaError && err.code === 'ERR_AKA_MAC_FAILURE') {
        return { ...base, password: Buffer.alloc(0), macFailure: true, note: { ...note, outcome: 'mac-failure' } };
      }
      const code = err instanceof AkaError && err.code === 'ERR_AKA_STATE' ? 'UE_ISIM' : 'UE_CHALLENGE_INVALID';
      return new UeError(code, `ISIM AUTHENTICATE failed: ${(err as Error).message}`, { cause: err });
    }
  }

  #checkRspauth(branch: string, m: SipMessage): RspauthVerdict {
    const key = this.#byBranch.get(branch);
    const sent = key === undefined ? undefined : this.#sent.get(key);
    if (!sent || sent.answer.macFailure) return 'no-credentials';
    const info = m.authenticationInfo();
    if (info?.rspauth === undefined) return 'absent';
    const a = sent.answer;
    const qop = (info.qop ?? a.qop) as DigestQop | undefined;
    const expected = rspauth({
      username: this.#username, realm: a.realm, uri: sent.uri, nonce: a.nonce, hash: a.hash, password: a.password,
      ...(qop ? { qop, nc: sent.nc, cnonce: sent.cnonce, body: m.body } : {}),
    });
    return verifyDigestResponse(expected, info.rspauth) ? 'verified' : 'mismatch';
  }
}

/**
 * The SIP.js side of {@link DigestResponder}: `authenticate()` succeeds only for a challenge the responder prepared,
 * and `toString()` is the Authorization it wrote. The base class's MD5 code is never reached.
 */
export class AkaDigestAuthentication extends Core.DigestAuthentication {
  readonly #responder: DigestResponder;
  #header: string | undefined;

  /**
   * @param loggerFactory SIP.js's, as the base class wants it.
   * @param responder where prepared answers live.
   */
  constructor(loggerFactory: Core.LoggerFactory, responder: DigestResponder) {
    super(loggerFactory, undefined, undefined, undefined);
    this.#responder = responder;
  }

  /** Answers the challenge `request` received; false (SIP.js then hands the 401 to the Registerer) when it cannot. */
  override authenticate(request: Core.OutgoingRequestMessage, _challenge: unknown, _body?: string): boolean {
    this.#header = this.#responder.authorize(request);
    return this.#header !== undefined;
  }

  /** The Authorization / Proxy-Authorization value. */
  override toString(): string {
    if (this.#header === undefined) throw new UeError('UE_STATE', 'no challenge answered yet');
    return this.#header;
  }
}
