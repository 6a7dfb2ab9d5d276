/**
 * One transport connection to a Diameter peer and its RFC 6733 §5.6 state machine, simplified to one connection per
 * object: an initiator goes Wait-I-CEA → I-Open, a responder Wait-CER (R-Conn-CER) → R-Open, both end in Closing →
 * Closed. Election between the two connections of a simultaneous open (§5.6.4) and reconnection live in the node,
 * which owns the peer table; this class exchanges CER/CEA, runs the RFC 3539 watchdog and answers DWR and DPR, on
 * top of the framed message pipe of `link.ts` (hop-by-hop matching, error answers to undecodable requests).
 */
import type { DiameterMessage } from './codec.ts';
import { asDiameterError } from './errors.ts';
import { ApplicationId, BaseCommand, isProtocolError, ResultCode } from './constants.ts';
import { getValue, validateMessage } from './message.ts';
import { buildCea, buildCer, buildDpa, buildDpr, buildDwa, buildDwr, readCea, readCer, readDpr } from './peer-messages.ts';
import type { Capabilities } from './peer-messages.ts';
import { advertisedApplications, commonApplications, localCapabilities, sameIdentity } from './capabilities.ts';
import { Watchdog } from './watchdog.ts';
import type { WatchdogState } from './watchdog.ts';
import { admitPeer, type PeerIdentity } from './admission.ts';
import { errorAnswerOf } from './error-answers.ts';
import { MessageLink } from './link.ts';
import type { PeerConnectionOptions, PeerRole, PeerState } from './peer-types.ts';

export { PeerLostError } from './link.ts';
export type { Admission, PeerConnectionOptions, PeerHooks, PeerRole, PeerState, PeerTimers } from './peer-types.ts';

/** One connection's state machine. */
export class PeerConnection extends MessageLink {
  readonly role: PeerRole;
  /** The peer's CER/CEA, once received. */
  capabilities: Capabilities | undefined;
  /** Applications usable with this peer (may contain 0xFFFFFFFF: the peer relays everything). */
  applications: number[] = [];
  /** Who the peer is, once its CER/CEA was admitted (admission.ts): host and realm, and its role when certified. */
  identity: PeerIdentity | undefined;
  private current: PeerState;
  private readonly watchdog: Watchdog;
  private capabilitiesTimer: NodeJS.Timeout | undefined;
  private lastDwr: number | undefined;
  private cerHopByHop: number | undefined;

  /** Wires the socket; call {@link start} next. */
  constructor(private readonly o: PeerConnectionOptions) {
    super(o.socket, o.logger, o.maxMessageSize, o.trace, o.writeHoldMs);
    this.role = o.role;
    this.current = o.role === 'initiator' ? 'wait-i-cea' : 'wait-cer';
    this.log = o.logger.child({ remote: this.describe(), role: o.role });
    this.watchdog = new Watchdog(o.timers.watchdog, {
      sendDwr: () => this.guard(() => this.sendDwr()),
      suspect: () => this.guard(() => {
        this.log.warn('watchdog: no DWA within Tw, peer SUSPECT; failing pending requests over');
        this.failPending('watchdog SUSPECT', true);
        this.o.hooks.health(this, false);
      }),
      recover: () => {
        this.log.info('watchdog: peer answered again, OKAY');
        this.o.hooks.health(this, true);
      },
      down: () => this.guard(() => this.close('watchdog: no answer within 2 Tw, peer DOWN')),
    });
  }

  /** Sends CER (initiator) or starts waiting for one (responder). */
  start(): void {
    const waitingFor = this.role === 'initiator' ? 'CEA' : 'CER';
    this.capabilitiesTimer = setTimeout(() => this.guard(() => this.close(`no ${waitingFor} within ${this.o.timers.capabilitiesMs} ms`)), this.o.timers.capabilitiesMs);
    if (this.role === 'responder') return;
    this.cerHopByHop = this.pending.nextId();
    this.send(buildCer(this.localCaps(), { hopByHop: this.cerHopByHop, endToEnd: this.o.nextEndToEnd() }));
  }

  /** Current state. */
  get state(): PeerState {
    return this.current;
  }

  /** RFC 3539 status (meaningful while open). */
  get health(): WatchdogState {
    return this.watchdog.state;
  }

  /** Open and not SUSPECT: may take new requests. */
  get available(): boolean {
    return this.current === 'open' && this.watchdog.state === 'okay';
  }

  /** The peer's Origin-Host, once known. */
  get originHost(): string | undefined {
    return this.capabilities?.originHost;
  }

  /** The peer's Origin-Realm, once known. */
  get originRealm(): string | undefined {
    return this.capabilities?.originRealm;
  }

  /**
   * Graceful stop (RFC 6733 §5.4): DPR, wait for the DPA (bounded), close. Closes at once when not open.
   * @param disconnectCause a DisconnectCause value.
   */
  async disconnect(disconnectCause: number, reason = 'local disconnect'): Promise<void> {
    if (this.current !== 'open') {
      this.close(reason);
      return;
    }
    this.current = 'closing';
    const dpr = buildDpr(this.origin(), disconnectCause, { endToEnd: this.o.nextEndToEnd() });
    const { answer } = this.sendRequest(dpr, false);
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, this.o.timers.dpaMs);
    });
    await Promise.race([answer.then(() => undefined, () => undefined), timeout]);
    clearTimeout(timer);
    this.close(`${reason} (DPR sent)`, true);
  }

  /**
   * Closes now (idempotent). Pending requests fail over; the node hears `closed` once.
   * @param graceful flush what was written (an error answer, a DPA) before closing.
   */
  close(reason: string, graceful = false, disconnectCause?: number): void {
    if (this.current === 'closed') return;
    this.current = 'closed';
    clearTimeout(this.capabilitiesTimer);
    this.watchdog.stop();
    this.teardown(reason, graceful);
    this.log.info({ reason }, 'Diameter connection closed');
    this.o.hooks.closed(this, reason, disconnectCause);
  }

  private localCaps(): Capabilities {
    return localCapabilities(this.o.local, this.socket.localAddress);
  }

  protected origin(): { originHost: string; originRealm: string; originStateId: number } {
    return { originHost: this.o.local.originHost, originRealm: this.o.local.originRealm, originStateId: this.o.local.originStateId };
  }

  protected onMessage(msg: DiameterMessage): void {
    if (this.current === 'open') this.watchdog.received(!msg.flags.request && msg.commandCode === BaseCommand.DEVICE_WATCHDOG);
    if (msg.flags.request) {
      this.onRequest(msg);
      return;
    }
    // Handled here, synchronously: a request right behind the CEA in the same chunk must find us open.
    if (this.current === 'wait-i-cea' && msg.hopByHop === this.cerHopByHop && msg.commandCode === BaseCommand.CAPABILITIES_EXCHANGE) {
      this.onCea(msg);
      return;
    }
    this.resolveAnswer(msg);
  }

  private onRequest(msg: DiameterMessage): void {
    const base = msg.applicationId === ApplicationId.COMMON;
    if (base && msg.commandCode === BaseCommand.CAPABILITIES_EXCHANGE) return this.onCer(msg);
    if (this.current === 'wait-cer' || this.current === 'wait-i-cea') {
      // RFC 6733 §5.3: nothing but CER/CEA before the exchange completes.
      this.close(`command ${msg.commandCode} received before the capabilities exchange`);
      return;
    }
    if (base && (msg.commandCode === BaseCommand.DEVICE_WATCHDOG || msg.commandCode === BaseCommand.DISCONNECT_PEER)) {
      if (!this.valid(msg)) return;
      if (msg.commandCode === BaseCommand.DEVICE_WATCHDOG) {
        this.send(buildDwa(msg, { resultCode: ResultCode.SUCCESS }, this.origin()));
        return;
      }
      const { disconnectCause } = readDpr(msg);
      this.send(buildDpa(msg, { resultCode: ResultCode.SUCCESS }, this.origin()));
      this.log.info({ disconnectCause }, 'DPR received, DPA sent');
      this.close(`peer sent DPR (Disconnect-Cause ${disconnectCause})`, true, disconnectCause);
      return;
    }
    this.o.hooks.request(this, msg);
  }

  /** Validates a peer message; on failure answers it and returns false. */
  private valid(msg: DiameterMessage): boolean {
    try {
      validateMessage(msg, this.o.dictionary, this.o.validate);
      return true;
    } catch (err) {
      const answer = errorAnswerOf(asDiameterError(err), this.origin());
      if (answer) this.send(answer);
      return false;
    }
  }

  private onCer(msg: DiameterMessage): void {
    if (this.role !== 'responder' || this.current !== 'wait-cer') {
      this.log.warn('CER on an established connection ignored');
      return;
    }
    if (!this.valid(msg)) {
      this.close('malformed CER', true);
      return;
    }
    const caps = readCer(msg);
    this.log = this.log.child({ peer: caps.originHost });
    const refusal = this.check(caps);
    if (refusal) {
      const cea = buildCea(msg, { resultCode: refusal.resultCode, errorMessage: refusal.reason }, this.localCaps());
      cea.flags.error = isProtocolError(refusal.resultCode);
      this.send(cea);
      const fields = { resultCode: refusal.resultCode, reason: refusal.reason, originRealm: caps.originRealm, ...(refusal.subject ? { subject: refusal.subject } : {}) };
      this.log.warn(fields, `CER from ${caps.originHost} refused: ${refusal.reason}`);
      this.close(`CER refused: ${refusal.reason}`, true);
      return;
    }
    this.send(buildCea(msg, { resultCode: ResultCode.SUCCESS }, this.localCaps()));
    this.open();
  }

  private onCea(cea: DiameterMessage): void {
    // The Result-Code first: a refusing CEA (an E-bit one especially) need not carry the rest of the grammar.
    const resultCode = safely(() => getValue(cea, 'Result-Code'));
    const from = safely(() => getValue(cea, 'Origin-Host')) ?? this.remoteAddress;
    if (resultCode !== ResultCode.SUCCESS) {
      const errorMessage = safely(() => getValue(cea, 'Error-Message'));
      const level = resultCode === ResultCode.ELECTION_LOST ? 'info' : 'warn';
      this.log[level]({ resultCode, errorMessage }, `CEA from ${from} refused the connection`);
      this.close(`CEA Result-Code ${resultCode ?? 'missing'}${errorMessage ? ` (${errorMessage})` : ''}`);
      return;
    }
    let caps: ReturnType<typeof readCea>;
    try {
      caps = readCea(cea);
    } catch (err) {
      this.close(`malformed CEA from ${from}: ${asDiameterError(err).message}`);
      return;
    }
    this.log = this.log.child({ peer: caps.originHost });
    if (this.o.expectedOriginHost !== undefined && !sameIdentity(this.o.expectedOriginHost, caps.originHost)) {
      this.refuseInitiated(`peer identifies as ${caps.originHost}, configured as ${this.o.expectedOriginHost}`);
      return;
    }
    const refusal = this.check(caps);
    if (refusal) {
      this.refuseInitiated(refusal.reason, refusal.subject);
      return;
    }
    this.open();
  }

  private refuseInitiated(reason: string, subject?: string): void {
    this.log.warn({ reason, ...(subject ? { subject } : {}) }, `connection to ${this.capabilities?.originHost ?? this.remoteAddress} refused: ${reason}`);
    this.close(reason);
  }

  /**
   * Local checks, then the node's: identity against the certificate and the foreign-role rule (3010,
   * admission.ts), common application (5010), admission.
   */
  private check(caps: Capabilities): { resultCode: number; reason: string; subject?: string } | undefined {
    this.capabilities = caps;
    const admitted = admitPeer(this.socket, caps, this.role, { realm: this.o.local.originRealm, foreignRoles: this.o.foreignRoles });
    if (!admitted.ok) return { resultCode: ResultCode.UNKNOWN_PEER, reason: admitted.reason, ...(admitted.subject ? { subject: admitted.subject } : {}) };
    this.identity = admitted.identity;
    this.applications = commonApplications(this.o.local, advertisedApplications(caps));
    if (this.applications.length === 0) return { resultCode: ResultCode.NO_COMMON_APPLICATION, reason: 'no common application' };
    const verdict = this.o.hooks.admit(this, caps);
    return verdict.accept ? undefined : { resultCode: verdict.resultCode, reason: verdict.reason };
  }

  private open(): void {
    clearTimeout(this.capabilitiesTimer);
    this.current = 'open';
    this.watchdog.start();
    this.log.info({ applications: this.applications, originRealm: this.originRealm }, 'Diameter peer open');
    this.o.hooks.opened(this);
  }

  private sendDwr(): void {
    if (this.lastDwr !== undefined) this.pending.take(this.lastDwr);
    const { hopByHop, answer } = this.sendRequest(buildDwr(this.origin(), { endToEnd: this.o.nextEndToEnd() }), false);
    this.lastDwr = hopByHop;
    answer.catch(() => undefined);
  }
}

/** A value read from a message that may be malformed, or undefined. */
function safely<T>(read: () => T): T | undefined {
  try {
    return read();
  } catch {
    return undefined;
  }
}
