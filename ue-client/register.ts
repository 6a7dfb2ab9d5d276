/**
 * Registration procedures of the UE over a {@link UeAgent}: initial registration with its challenges (IMS AKA with
 * resync, SIP Digest), refresh before expiry as TS 24.229 §5.1.1.4.1 times it (600 s before expiry when more than
 * 1 200 s were granted, else at half), and de-registration. Every failure ends in a {@link UeError} saying why.
 *
 * SIP.js answers the first challenge of each REGISTER itself (through our authenticationFactory); its loop guard
 * hands any further 401 — the fresh challenge after `auts`, a re-challenge — to the delegate, which re-sends the
 * REGISTER carrying the answer to that 401 (deferred: the Registerer is still "waiting" inside the callback). A tap
 * counts the challenges of an operation, so a resync that does not converge or a registrar that never stops
 * challenging ends the operation instead of looping.
 */
import type { Core, NameAddrHeader } from 'sip.js';
import { seedStep, type SeedFlow } from '../lib/seed-steps.ts';
import { silentLogger, type Logger } from '../lib/log.ts';
import type { RspauthVerdict } from './aka-auth.ts';
import { UeError, macFailureError, rejectionError, stallError } from './errors.ts';
import { responseKey, type WireEvent } from './transports/index.ts';
import type { UeAgent } from './ua.ts';

/** What a successful (re-)registration established. */
export interface RegistrationResult {
  impi: string;
  impu: string;
  /** Seconds granted for our Contact. */
  expires: number;
  contact: string;
  serviceRoute: string[];
  associatedUris: string[];
  rspauth: RspauthVerdict;
  /** Challenges answered on the way (1 normally, 2 with a resync). */
  challenges: number;
  resynchronised: boolean;
}

/** Knobs of {@link Registration}. */
export interface RegistrationOptions {
  /** Give up one operation after this long (default 40 s, past Timer F's 32 s). */
  timeoutMs?: number;
  /** Challenges answered per operation before giving up (default 4). */
  maxChallenges?: number;
  /** Seconds from a granted expiry to its refresh (default {@link refreshDelaySeconds}). */
  refreshDelay?: (grantedSeconds: number) => number;
  /** Hears each refresh's outcome, and transport failures while registered (the registration is over after an error). */
  onRefresh?: (outcome: RegistrationResult | UeError) => void;
  logger?: Logger;
}

/**
 * TS 24.229 §5.1.1.4.1: re-register 600 s before expiry when the granted expiry exceeds 1 200 s, else when half of it
 * has passed.
 */
export function refreshDelaySeconds(granted: number): number {
  return granted > 1200 ? granted - 600 : granted / 2;
}

type Kind = 'register' | 'refresh' | 'deregister';
const MAX_TIMER_MS = 2 ** 31 - 1;

/** One UE's registration. */
export class Registration {
  readonly #ue: UeAgent;
  readonly #o: RegistrationOptions;
  readonly #log: Logger;
  #queue: Promise<unknown> = Promise.resolve();
  #timer: NodeJS.Timeout | undefined;
  #current: RegistrationResult | undefined;
  #closed = false;
  /** An operation is running (it hears transport errors itself). */
  #busy = false;
  /** Ends the running operation with an error (see {@link abort}). */
  #abortCurrent: ((err: UeError) => void) | undefined;

  /**
   * @param ue a started agent.
   * @param o timeouts, refresh timing and the refresh listener.
   */
  constructor(ue: UeAgent, o: RegistrationOptions = {}) {
    this.#ue = ue;
    this.#o = o;
    this.#log = o.logger ?? silentLogger;
    // A transport failure while idle (a TCP/TLS connection the registrar closed) ends the registration now,
    // not at the next refresh.
    ue.transport.onError((err) => {
      if (this.#current && !this.#busy) {
        this.#current = undefined;
        this.#cancelRefresh();
        this.#o.onRefresh?.(err);
      }
    });
    const flow = ue.options.flow ?? 'home';
    if (flow !== 'home') {
      ue.ladder.addListener((entry, line) => {
        if (entry.step !== undefined) seedStep(this.#log, flow as SeedFlow, entry.step, 'ue', line.trim());
      });
    }
  }

  /** The registration in force, if any. */
  get current(): RegistrationResult | undefined {
    return this.#current;
  }

  /**
   * Registers: REGISTER → challenge(s) → 200, then keeps refreshing until {@link deregister} or {@link close}.
   * @throws UeError with the reason (MAC failure, 403, timeout, 504, …).
   */
  register(): Promise<RegistrationResult> {
    return this.#serial(async () => {
      this.#ue.ladder.phase = 'register';
      const r = await this.#operate('register');
      this.#ue.ladder.mark('registered', 14, `expires ${r.expires} s${r.rspauth === 'verified' ? ', rspauth verified' : ''}`);
      return r;
    });
  }

  /**
   * De-registers our Contact (or every Contact of the IMPU with `all`: `Contact: *`, RFC 3261 §10.2.2) and stops
   * refreshing.
   * @param o.timeoutMs give up after this long instead of the registration's own timeout (a bounded clean-up).
   * @throws UeError when the registrar does not accept it.
   */
  deregister(all = false, o: { timeoutMs?: number } = {}): Promise<void> {
    this.#cancelRefresh();
    return this.#serial(async () => {
      this.#ue.ladder.phase = 'deregister';
      await this.#operate('deregister', all, o.timeoutMs);
      this.#current = undefined;
    });
  }

  /** Ends the operation under way now (if any) with `reason`, abandoning its outstanding REGISTER. */
  abort(reason: UeError): void {
    this.#abortCurrent?.(reason);
  }

  /** Stops refreshing (the binding stays until it expires). */
  close(): void {
    this.#closed = true;
    this.#cancelRefresh();
  }

  #serial<T>(op: () => Promise<T>): Promise<T> {
    const guarded = async (): Promise<T> => {
      this.#busy = true;
      try {
        return await op();
      } finally {
        this.#busy = false;
      }
    };
    const run = this.#queue.then(guarded, guarded);
    this.#queue = run.catch(() => undefined);
    return run;
  }

  #cancelRefresh(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  #scheduleRefresh(granted: number): void {
    this.#cancelRefresh();
    if (this.#closed) return;
    const due = Date.now() + Math.max(0, (this.#o.refreshDelay ?? refreshDelaySeconds)(granted)) * 1000;
    const arm = (): void => {
      // setTimeout cannot wait more than 2^31-1 ms (~24.8 days); longer grants are waited for in steps.
      this.#timer = setTimeout(() => (Date.now() < due ? arm() : void this.#refresh()), Math.min(MAX_TIMER_MS, Math.max(0, due - Date.now())));
    };
    arm();
  }

  async #refresh(): Promise<void> {
    try {
      const r = await this.#serial(() => {
        this.#ue.ladder.phase = 'refresh';
        return this.#operate('refresh');
      });
      this.#o.onRefresh?.(r);
    } catch (err) {
      this.#current = undefined;
      this.#o.onRefresh?.(err instanceof UeError ? err : new UeError('UE_STATE', String(err), { cause: err }));
    }
  }

  /** One REGISTER operation with all its challenges, resolved by its final outcome. */
  #operate(kind: Kind, all = false, timeoutMs = this.#o.timeoutMs ?? 40_000): Promise<RegistrationResult> {
    const ue = this.#ue;
    const max = this.#o.maxChallenges ?? 4;
    return new Promise<RegistrationResult>((resolve, reject) => {
      let done = false;
      let challenges = 0;
      let syncFailures = 0;
      let limit: UeError | undefined;
      const seen = new Set<string>();
      const onWire = (e: WireEvent): void => {
        const k = e.direction === 'in' && !e.dropped ? responseKey(e.raw) : undefined;
        if (!k || k.method !== 'REGISTER' || (k.status !== 401 && k.status !== 407) || seen.has(k.branch)) return;
        seen.add(k.branch);
        const a = ue.responder.answerFor(k.branch);
        if (a?.ok && a.note.outcome === 'sync-failure') syncFailures++;
        challenges++;
        if (ue.responder.macFailureSent) limit = macFailureError(k.status);
        else if (syncFailures > 1) limit = new UeError('UE_SYNC_FAILURE', 'resynchronisation failed: the ISIM still refuses the SQN after auts', { status: k.status });
        else if (challenges > max) limit = new UeError('UE_AUTH_REJECTED', `still challenged after ${max} answers (${k.status})`, { status: k.status });
        // Past a limit nothing more is answered, so SIP.js hands this challenge to the delegate.
        if (limit) ue.responder.withdraw(k.branch);
      };
      const untap = ue.transport.addTap(onWire);
      this.#abortCurrent = (err) => finish(err);
      const unerror = ue.transport.onError((err) => finish(err));
      const timer = setTimeout(() => finish(new UeError('UE_TIMEOUT', `no final response to ${kind === 'deregister' ? 'de-REGISTER' : 'REGISTER'} within ${timeoutMs / 1000} s`)), timeoutMs);
      ue.onStall = (s) => finish(stallError(s, ue.userAgent.configuration.viaHost));
      const finish = (err: UeError | null, r?: RegistrationResult): void => {
        if (done) return;
        done = true;
        this.#abortCurrent = undefined;
        clearTimeout(timer);
        untap();
        unerror();
        ue.onStall = undefined;
        if (err) {
          // Not synchronously: inside SIP.js's own callbacks (Timer F's 408) its transaction has not ended yet.
          setImmediate(() => ue.abortOutstanding());
          this.#log.info({ code: err.code, status: err.status }, `${kind} failed: ${err.message}`);
          reject(err);
        } else resolve(r as RegistrationResult);
      };
      const delegate: Core.OutgoingRequestDelegate = {
        onAccept: (res) => {
          if (ue.responder.macFailureSent) return finish(macFailureError(res.message.statusCode ?? 200));
          const rspauth = ue.responder.rspauthVerdict(res.message.viaBranch);
          if (rspauth === 'mismatch') {
            return finish(new UeError('UE_RSPAUTH_MISMATCH', 'Authentication-Info rspauth does not verify: the 200 OK is not from a network that knows XRES'));
          }
          if (kind === 'deregister') return finish(null, this.#current);
          try {
            const result = this.#result(res, rspauth, challenges, syncFailures > 0);
            this.#current = result;
            this.#scheduleRefresh(result.expires);
            finish(null, result);
          } catch (err) {
            finish(err as UeError);
          }
        },
        onReject: (res) => {
          const status = res.message.statusCode ?? 0;
          if (limit) return finish(limit);
          if (ue.responder.macFailureSent) return finish(macFailureError(status));
          if (status === 401 || status === 407) {
            const a = ue.responder.answerFor(res.message.viaBranch);
            if (!a) return finish(new UeError('UE_CHALLENGE_INVALID', `${status} without a challenge the UE could read`, { status }));
            if (!a.ok) return finish(a.error);
            const header = status === 401 ? 'authorization' : 'proxy-authorization';
            setImmediate(() => (kind === 'deregister' ? ue.unregister(delegate, all, header) : ue.register(delegate, header)));
            return;
          }
          finish(rejectionError(res.message));
        },
        onRedirect: (res) => finish(new UeError('UE_REJECTED', `registrar redirected: ${res.message.statusCode} ${res.message.reasonPhrase ?? ''}`, { status: res.message.statusCode })),
      };
      if (kind === 'deregister') ue.unregister(delegate, all);
      else ue.register(delegate);
    });
  }

  #result(res: Core.IncomingResponse, rspauth: RspauthVerdict, challenges: number, resynchronised: boolean): RegistrationResult {
    const m = res.message;
    const ours = this.#ue.userAgent.contact.uri;
    let expires: number | undefined;
    for (let i = 0; i < m.getHeaders('contact').length; i++) {
      const c: NameAddrHeader | undefined = m.parseHeader('contact', i);
      if (c && c.uri.host.toLowerCase() === ours.host.toLowerCase() && c.uri.port === ours.port && c.uri.user === ours.user) {
        expires = Number(c.getParam('expires') ?? m.getHeader('expires'));
      }
    }
    if (expires === undefined || !Number.isFinite(expires)) throw new UeError('UE_BINDING', '2xx does not list our Contact with an expiry');
    const list = (name: string): string[] => m.getHeaders(name).flatMap((v) => v.split(/,(?=(?:[^"]*"[^"]*")*[^"]*$)/)).map((s) => s.trim()).filter(Boolean);
    const { impi, impu } = this.#ue.options;
    return {
      impi, impu, expires, contact: this.#ue.userAgent.contact.toString({ register: true }), serviceRoute: list('service-route'),
      associatedUris: list('p-associated-uri'), rspauth, challenges, resynchronised,
    };
  }
}
