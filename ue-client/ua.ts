/**
 * The UE's SIP user agent: SIP.js 0.21 `UserAgent` + `Registerer` over our Node transports, with the hooks SIP.js
 * needs to be an IMS UE (DESIGN §2.1, the SIP.js facts checked against node_modules/sip.js/lib):
 *
 * - `authenticationFactory` is replaced: challenges are answered by {@link DigestResponder} (aka-auth.ts);
 * - responses are dropped unless the top Via's sent-by equals `viaHost` with no port, so Via carries the bare local
 *   address with `;rport` (the registrar answers to the source port, RFC 3581) and the Contact gets the port once
 *   the transport is bound;
 * - `userAgentCore.register` is wrapped: the first REGISTER carries the TS 24.229 §5.1.1.2.1 Authorization (IMPI,
 *   empty nonce and response) and a REGISTER re-sent after SIP.js's loop guard refused a 401 carries the answer to
 *   that 401;
 * - the Registerer's own `register()` calls (its 423 retry, its refresh timer at 99 %) are routed: the 423 retry
 *   keeps our request delegate, the timer is ignored because register.ts refreshes per TS 24.229;
 * - a final response SIP.js swallows without telling the Registerer's delegate (no Contact of ours in a 2xx, 423
 *   without Min-Expires, a Via it dislikes) is reported as a stall, so a registration never hangs silently.
 */
import { isIP } from 'node:net';
import { Core, Registerer, UserAgent, type RegistererRegisterOptions } from 'sip.js';
import { formatCredentials } from '../lib/sip/index.ts';
import { silentLogger, type Logger } from '../lib/log.ts';
import { DigestResponder, type UeSecrets } from './aka-auth.ts';
import { UeError } from './errors.ts';
import { Ladder, type LadderEvent, type UeFlow } from './ladder.ts';
import { UeTransport, requestKey, resolveTransport, responseKey, type DropPattern, type TransportName, type WireEvent } from './transports/index.ts';

/** An address as a SIP host: IPv6 references are bracketed (RFC 3261 §25.1). */
function uriHost(address: string): string {
  return isIP(address) === 6 ? `[${address}]` : address;
}

/** 24.229 §5.1.1.2.1: the UE proposes 600 000 s; the registrar shortens it. */
export const DEFAULT_EXPIRES = 600_000;

/** What a UE is. */
export interface UeAgentOptions {
  /** Where REGISTER goes (the P-CSCF/registrar), resolved once. */
  registrar: { host: string; port: number };
  transport: TransportName;
  /** Home network domain of the registration: Request-URI `sip:<domain>` and the initial realm. */
  domain: string;
  /** The private identity registered (Digest username) — the partner IMPI when migrating. */
  impi: string;
  /** The public identity registered (From/To) — a `sip:` URI. */
  impu: string;
  secrets: UeSecrets;
  /** Seed flow, for the ladder's step numbers (default `home`). */
  flow?: UeFlow;
  /** Requested expiry in seconds (default {@link DEFAULT_EXPIRES}). */
  expires?: number;
  tls?: { ca?: string[]; servername?: string };
  udp?: { localPort?: number; timers?: { t1?: number; t2?: number }; drop?: DropPattern };
  /** Ladder lines of what came before the registration (the IdM and configuration steps of `mcx ue migrate`). */
  prelude?: readonly LadderEvent[];
  /** Send the 24.229 empty-credentials Authorization in the first REGISTER (default: when an ISIM is used). */
  initialAuthorization?: boolean;
  userAgentString?: string;
  logger?: Logger;
}

/** A final response SIP.js did not pass to the Registerer's delegate. */
export interface Stall {
  status: number;
  reason: string;
  raw: string;
}

/** A started UE: SIP.js objects plus our hooks. Registration logic lives in register.ts. */
export class UeAgent {
  readonly userAgent: UserAgent;
  readonly registerer: Registerer;
  readonly transport: UeTransport;
  readonly responder: DigestResponder;
  readonly ladder: Ladder;
  readonly options: Readonly<UeAgentOptions>;
  /** Called when a final response to the outstanding REGISTER went nowhere (see the module comment). */
  onStall: ((s: Stall) => void) | undefined;
  readonly #log: Logger;
  readonly #sendRegister: Registerer['register'];
  #inFlight: Core.OutgoingRequestDelegate | undefined;
  #answerNext: 'authorization' | 'proxy-authorization' | undefined;
  #delivering = false;
  #branch: string | undefined;
  #moved = false;

  private constructor(o: UeAgentOptions, ua: UserAgent, registerer: Registerer, transport: UeTransport, responder: DigestResponder) {
    this.options = o;
    this.userAgent = ua;
    this.registerer = registerer;
    this.transport = transport;
    this.responder = responder;
    this.#log = o.logger ?? silentLogger;
    this.ladder = new Ladder(o.flow ?? 'home', (b) => {
      const a = responder.answerFor(b);
      return a?.ok ? a.note : undefined;
    });
    for (const e of o.prelude ?? []) this.ladder.record(e);
    this.#sendRegister = registerer.register.bind(registerer);
    this.#wire();
  }

  /**
   * Builds the SIP.js user agent over our transport and connects it.
   * @throws UeError `UE_TRANSPORT` / `UE_TLS` when the transport cannot be opened, `UE_STATE` on a bad IMPU.
   */
  static async start(o: UeAgentOptions): Promise<UeAgent> {
    const uri = UserAgent.makeURI(o.impu);
    if (!uri || (uri.scheme !== 'sip' && uri.scheme !== 'sips')) throw new UeError('UE_STATE', `IMPU must be a sip: URI to register, got ${o.impu}`);
    const registrarUri = UserAgent.makeURI(`sip:${o.domain}`);
    if (!registrarUri) throw new UeError('UE_STATE', `not a domain: ${o.domain}`);
    const spec = await resolveTransport({ transport: o.transport, remote: o.registrar, ...(o.udp ? { udp: o.udp } : {}), ...(o.tls ? { tls: o.tls } : {}) });
    const log = o.logger ?? silentLogger;
    const ua = new UserAgent({
      uri, transportConstructor: spec.transportConstructor, transportOptions: spec.transportOptions,
      viaHost: uriHost(spec.localHost), forceRport: true, contactName: uri.user ?? 'ue', contactParams: { transport: o.transport },
      userAgentString: o.userAgentString ?? 'mcx-ue (SIP.js 0.21)', logBuiltinEnabled: false, logConfiguration: false, logLevel: 'debug',
      // SIP.js's own lines go to our log at debug; they carry no credentials (its MD5 code, which would, never runs).
      logConnector: (level, category, _label, content) => log.debug({ sipjs: category, level }, content),
    });
    const transport = ua.transport;
    if (!(transport instanceof UeTransport)) throw new UeError('UE_STATE', 'SIP.js did not construct our transport');
    const responder = new DigestResponder(o.secrets, o.impi);
    const registerer = new Registerer(ua, { registrar: registrarUri, expires: o.expires ?? DEFAULT_EXPIRES, logConfiguration: false });
    const agent = new UeAgent(o, ua, registerer, transport, responder);
    try {
      await ua.start();
    } catch (err) {
      throw err instanceof UeError ? err : new UeError('UE_TRANSPORT', `cannot start the UE: ${(err as Error).message}`, { cause: err });
    }
    // The Contact must name where the registrar can reach us; SIP.js builds it without a port.
    const local = transport.localAddress();
    ua.contact.uri.host = uriHost(local.host);
    ua.contact.uri.port = local.port;
    log.debug({ local, transport: o.transport }, 'UE transport connected');
    return agent;
  }

  /**
   * Sends REGISTER through the Registerer with `delegate`.
   * @param answerChallenge carry the answer to the challenge the previous REGISTER received (after SIP.js's loop
   *   guard handed that 401/407 to the delegate instead of answering it).
   */
  register(delegate: Core.OutgoingRequestDelegate, answerChallenge?: 'authorization' | 'proxy-authorization'): void {
    this.#answerNext = answerChallenge;
    this.#inFlight = this.#track(delegate);
    try {
      this.#sendRegister({ requestDelegate: this.#inFlight }).catch((err: unknown) => this.#rejectLocally(err));
    } catch (err) {
      this.#rejectLocally(err);
    }
  }

  /**
   * Sends a de-REGISTER (`Contact: <ours>;expires=0`, or `Contact: *` + `Expires: 0` with `all`).
   * @param answerChallenge as for {@link register}.
   */
  unregister(delegate: Core.OutgoingRequestDelegate, all: boolean, answerChallenge?: 'authorization' | 'proxy-authorization'): void {
    this.#answerNext = answerChallenge;
    this.#inFlight = this.#track(delegate);
    try {
      this.registerer.unregister({ all, requestDelegate: this.#inFlight }).catch((err: unknown) => this.#rejectLocally(err));
    } catch (err) {
      this.#rejectLocally(err);
    }
  }

  /**
   * Ends an outstanding REGISTER now as if Timer F had fired, so nothing waits 32 s after the UE gave up on it.
   */
  abortOutstanding(): void {
    this.transport.stopRetransmissions();
    for (const uac of this.userAgent.userAgentCore.userAgentClients.values()) {
      const state = uac.transaction.state;
      // Only a transaction still waiting: a second final response would make the Registerer throw.
      if (uac.transaction.request.method !== 'REGISTER' || (state !== Core.TransactionState.Trying && state !== Core.TransactionState.Proceeding)) continue;
      const timeout = new Core.IncomingResponseMessage();
      timeout.statusCode = 408;
      timeout.reasonPhrase = 'Request Timeout';
      uac.transaction.receiveResponse(timeout);
    }
  }

  /**
   * Stops the UE without sending anything more: de-registration is register.ts's business, before this.
   * @param keepBinding only changes the log line: the binding stays on the registrar either way.
   */
  async stop(keepBinding = false): Promise<void> {
    // SIP.js's graceful stop would de-REGISTER a registered Registerer; refusing sends makes that fail locally.
    this.transport.refuseSends(keepBinding ? 'UE stopping, binding kept' : 'UE stopping');
    this.#inFlight = undefined;
    this.abortOutstanding();
    await this.userAgent.stop();
    this.#log.debug({ keepBinding }, 'UE stopped');
  }

  #wire(): void {
    const core = this.userAgent.userAgentCore;
    core.configuration.authenticationFactory = () => this.responder.credentials(this.userAgent.getLoggerFactory());
    const send = core.register.bind(core);
    core.register = (request, delegate) => {
      this.#prepare(request);
      return send(request, delegate);
    };
    this.registerer.register = (options?: RegistererRegisterOptions) => {
      // Our calls always pass a delegate; a bare call is the Registerer's own: its 423 retry happens while a
      // response is being delivered, its refresh timer at any other time (and TS 24.229 timing is register.ts's).
      if (options !== undefined) return this.#sendRegister(options);
      if (this.#delivering && this.#inFlight) return this.#sendRegister({ requestDelegate: this.#inFlight });
      this.#log.debug('ignored the Registerer\'s own refresh timer');
      return new Promise(() => undefined);
    };
    const deliver = this.transport.onMessage;
    this.transport.onMessage = (m) => {
      this.#delivering = true;
      try {
        deliver?.(m);
      } finally {
        this.#delivering = false;
      }
    };
    this.transport.addInboundHook(this.responder.inboundHook);
    this.transport.addTap(this.responder.wireTap);
    this.transport.addTap(this.ladder.tap);
    this.transport.addTap((e) => this.#watch(e));
  }

  /** Sets the Authorization of a REGISTER about to leave. */
  #prepare(request: Core.OutgoingRequestMessage): void {
    const answer = this.#answerNext;
    this.#answerNext = undefined;
    if (answer) {
      const header = this.responder.authorize(request);
      if (header !== undefined) request.setHeader(answer, header);
      return;
    }
    const wanted = this.options.initialAuthorization ?? this.options.secrets.isim !== undefined;
    if (wanted && !request.hasHeader('authorization')) {
      const { impi, domain } = this.options;
      request.setHeader('authorization', formatCredentials({ username: impi, realm: domain, uri: `sip:${domain}`, nonce: '', response: '' }));
    }
  }

  #track(delegate: Core.OutgoingRequestDelegate): Core.OutgoingRequestDelegate {
    const called = (): void => {
      this.#moved = true;
      if (this.#inFlight === tracked) this.#inFlight = undefined;
    };
    const tracked: Core.OutgoingRequestDelegate = {
      onAccept: (r: Core.IncomingResponse) => { called(); delegate.onAccept?.(r); },
      onReject: (r: Core.IncomingResponse) => { called(); delegate.onReject?.(r); },
      onRedirect: (r: Core.IncomingResponse) => { called(); delegate.onRedirect?.(r); },
    };
    return tracked;
  }

  /** Stall detection: a first final response to the current REGISTER after which nothing moved. */
  #watch(e: WireEvent): void {
    if (e.dropped) return;
    if (e.direction === 'out') {
      const k = requestKey(e.raw);
      if (k?.method === 'REGISTER') {
        this.#branch = k.branch;
        this.#moved = true;
      }
      return;
    }
    const k = responseKey(e.raw);
    if (!k || k.method !== 'REGISTER' || k.status < 200 || k.branch !== this.#branch) return;
    this.#branch = undefined;
    this.#moved = false;
    const reason = /^SIP\/2\.0[ \t]+\d{3}[ \t]*([^\r\n]*)/.exec(e.raw)?.[1] ?? '';
    setImmediate(() => {
      if (!this.#moved && this.#inFlight) this.onStall?.({ status: k.status, reason, raw: e.raw });
    });
  }

  #rejectLocally(err: unknown): void {
    const error = err instanceof UeError ? err : new UeError('UE_STATE', `SIP.js refused the REGISTER: ${(err as Error).message}`, { cause: err });
    this.#log.warn({ err: error.message }, 'REGISTER not sent');
    this.onStall?.({ status: 0, reason: error.message, raw: '' });
  }
}
