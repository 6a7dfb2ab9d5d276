/**
 * What our SIP.js transports share. SIP.js 0.21 ships only a WebSocket transport; its `Transport` interface is the
 * seam for Node sockets (DESIGN §2.1). Beyond the interface this base adds three hooks the UE needs:
 *
 * - taps see every message on the wire (and every datagram the test drop pattern ate), for the ladder;
 * - inbound hooks run, in arrival order, before SIP.js parses a message. SIP.js answers a 401 synchronously inside
 *   its client transaction, but the ISIM is asynchronous (it persists SEQ_MS before releasing RES), so the AKA work
 *   for a challenge is done here first and SIP.js's digest code only picks up the result;
 * - error listeners hear failures that no `send()` can report (ICMP port unreachable, a closed connection), so a
 *   registration fails at once instead of waiting for Timer F.
 */
import { Core, EmitterImpl, TransportState, type Emitter, type Transport } from 'sip.js';
import { parseMessage, type SipMessage } from '../../lib/sip/index.ts';
import { UeError } from '../errors.ts';

/** The SIP transports of the UE. */
export type TransportName = 'udp' | 'tcp' | 'tls';

/** One message crossing the UE's transport. */
export interface WireEvent {
  direction: 'out' | 'in';
  raw: string;
  /** Eaten by the test drop pattern: never reached the wire (out) or SIP.js (in). */
  dropped: boolean;
  /** An outgoing retransmission (Timer E). */
  retransmission: boolean;
  /** `Date.now()` when it crossed. */
  at: number;
}

/** Sees every {@link WireEvent}; must not throw. */
export type WireTap = (e: WireEvent) => void;

/** Runs before SIP.js sees an inbound message; later messages wait for it. `parsed` is undefined when unparseable. */
export type InboundHook = (raw: string, parsed: SipMessage | undefined) => Promise<void> | void;

/** Hears transport failures outside a `send()`. */
export type TransportErrorListener = (error: UeError) => void;

/** A transport's local address, for Via and Contact. */
export interface LocalAddress {
  host: string;
  port: number;
}

/** The part of every transport SIP.js does not define. */
export abstract class UeTransport implements Transport {
  abstract readonly protocol: 'UDP' | 'TCP' | 'TLS';
  onConnect: (() => void) | undefined;
  onDisconnect: ((error?: Error) => void) | undefined;
  onMessage: ((message: string) => void) | undefined;
  #state: TransportState = TransportState.Disconnected;
  readonly #stateChange = new EmitterImpl<TransportState>();
  readonly #taps = new Set<WireTap>();
  readonly #hooks: InboundHook[] = [];
  readonly #errorListeners = new Set<TransportErrorListener>();
  #inbound: Promise<void> = Promise.resolve();
  #refusal: string | undefined;

  get state(): TransportState {
    return this.#state;
  }

  get stateChange(): Emitter<TransportState> {
    return this.#stateChange;
  }

  /** Opens the socket or connection. */
  abstract connect(): Promise<void>;
  /** Closes it; pending retransmissions stop. */
  abstract disconnect(): Promise<void>;
  /** The bound local address (valid once connected). */
  abstract localAddress(): LocalAddress;
  /** Puts one message on the wire (subclasses tap it). */
  protected abstract write(message: string): Promise<void>;

  /** Same as {@link disconnect}: nothing else to release. */
  dispose(): Promise<void> {
    return this.disconnect();
  }

  isConnected(): boolean {
    return this.#state === TransportState.Connected;
  }

  /**
   * Sends a message SIP.js built. Rejects with a SIP.js `TransportError` (SIP.js turns it into a 503 for the client
   * transaction) when not connected or while sends are refused.
   */
  send(message: string): Promise<void> {
    if (this.#refusal !== undefined) return Promise.reject(new Core.TransportError(this.#refusal));
    if (!this.isConnected()) return Promise.reject(new Core.TransportError(`${this.protocol} transport is not connected`));
    return this.write(message).catch((err: unknown) => {
      throw err instanceof Core.TransportError ? err : new Core.TransportError(err instanceof Error ? err.message : String(err));
    });
  }

  /**
   * From now on every `send()` fails at once without touching the wire. Stopping SIP.js with this set lets its
   * Registerer give up its binding state (the de-REGISTER it tries fails like a transport error) while the binding
   * stays on the registrar — what `--keep` means.
   * @param reason the TransportError message.
   */
  refuseSends(reason: string): void {
    this.#refusal = reason;
  }

  /** Stops resending requests the UE has given up on (UDP Timer E); nothing to do on reliable transports. */
  stopRetransmissions(): void {
    // Reliable transports never retransmit.
  }

  /** Adds a wire tap. @returns a function removing it. */
  addTap(tap: WireTap): () => void {
    this.#taps.add(tap);
    return () => this.#taps.delete(tap);
  }

  /** Adds an inbound hook (run in the order added). */
  addInboundHook(hook: InboundHook): void {
    this.#hooks.push(hook);
  }

  /** Adds a listener for failures outside `send()`. @returns a function removing it. */
  onError(listener: TransportErrorListener): () => void {
    this.#errorListeners.add(listener);
    return () => this.#errorListeners.delete(listener);
  }

  protected setState(state: TransportState): void {
    if (this.#state === state) return;
    this.#state = state;
    this.#stateChange.emit(state);
  }

  protected tap(direction: WireEvent['direction'], raw: string, flags: { dropped?: boolean; retransmission?: boolean } = {}): void {
    const e: WireEvent = { direction, raw, dropped: flags.dropped ?? false, retransmission: flags.retransmission ?? false, at: Date.now() };
    for (const t of this.#taps) t(e);
  }

  /**
   * Hands a received message to the hooks, then to the taps and SIP.js, strictly in arrival order.
   * @param raw the message text; `framed` says whether it came framed from a stream (Content-Length mandatory).
   */
  protected deliver(raw: string, framed: boolean): void {
    this.#inbound = this.#inbound.then(async () => {
      let parsed: SipMessage | undefined;
      try {
        parsed = parseMessage(Buffer.from(raw, 'utf8'), { datagram: !framed });
      } catch {
        parsed = undefined; // SIP.js's own parser decides; the hooks simply skip it
      }
      for (const hook of this.#hooks) {
        try {
          await hook(raw, parsed);
        } catch (err) {
          this.fail(err instanceof UeError ? err : new UeError('UE_STATE', `inbound hook failed: ${(err as Error).message}`, { cause: err }));
        }
      }
      // Tapped after the hooks, so a tap (the ladder) sees what the hooks made of it, e.g. the ISIM's verdict.
      this.tap('in', raw);
      if (this.isConnected()) this.onMessage?.(raw);
    });
  }

  /** Reports a failure outside `send()` to the error listeners. */
  protected fail(error: UeError): void {
    for (const l of this.#errorListeners) l(error);
  }
}

/** Extracts `branch` and the CSeq method of a request's text, or undefined for a response. */
export function requestKey(raw: string): { branch: string; method: string } | undefined {
  if (raw.startsWith('SIP/2.0 ')) return undefined;
  const branch = /^(?:Via|v)[ \t]*:[^\r\n]*?;[ \t]*branch=([^;,\s]+)/im.exec(raw)?.[1];
  const method = /^CSeq[ \t]*:[ \t]*\d+[ \t]+([A-Za-z]+)/im.exec(raw)?.[1];
  return branch && method ? { branch, method: method.toUpperCase() } : undefined;
}

/** Extracts the top Via branch, CSeq method and status of a response's text, or undefined for a request. */
export function responseKey(raw: string): { branch: string; method: string; status: number } | undefined {
  const m = /^SIP\/2\.0[ \t]+(\d{3})/.exec(raw);
  if (!m) return undefined;
  const branch = /^(?:Via|v)[ \t]*:[^\r\n]*?;[ \t]*branch=([^;,\s]+)/im.exec(raw)?.[1];
  const method = /^CSeq[ \t]*:[ \t]*\d+[ \t]+([A-Za-z]+)/im.exec(raw)?.[1];
  return branch && method ? { branch, method: method.toUpperCase(), status: Number(m[1]) } : undefined;
}
