/**
 * A local Diameter node (RFC 6733 §2): identity and applications, listeners, the peer table, request handlers, and
 * outgoing requests with routing, per-request timeouts and failover (§5.5.4: on loss of the connection, or when its
 * watchdog turns SUSPECT, pending requests are re-sent to the next peer with the T bit and the same end-to-end id).
 * With `relay` it also forwards requests it does not serve (router.ts).
 *
 * ```ts
 * const node = new DiameterNode({ originHost: 'hss.primary.example', originRealm: 'primary.example', applications: [CX_APPLICATION] });
 * node.handle(CX_APPLICATION_ID, CxCommand.MAR, async (req, ctx) => buildMaa(req, …));
 * await node.listen({ host: '127.0.0.1', port: 3868 });
 * ```
 */
import type { Logger } from '../log.ts';
import { silentLogger } from '../log.ts';
import { withHeader, type DiameterMessage } from './codec.ts';
import { ApplicationId, DisconnectCause, ResultCode } from './constants.ts';
import { DiameterError } from './errors.ts';
import { EndToEndIdGenerator, SessionIdGenerator, getValue, validateMessage } from './message.ts';
import { defaultDictionary } from './dictionary/index.ts';
import type { Dictionary } from './dictionary/index.ts';
import { PRODUCT_NAME } from './capabilities.ts';
import type { LocalIdentity } from './capabilities.ts';
import { TypedEmitter } from './events.ts';
import { DiameterNodeError } from './node-errors.ts';
import type { PeerConnection } from './peer.ts';
import { PeerTable } from './peer-table.ts';
import type { PeerConfig, PeerEvent, UnconnectedPeer } from './peer-table.ts';
import { OutgoingRequest, type RequestSender } from './outgoing.ts';
import { RequestTimers } from './request-timers.ts';
import { RouteTable, relayRequest, shouldRelay } from './router.ts';
import type { RelayContext, RouteQuery } from './router.ts';
import { listenTransport } from './transport.ts';
import type { ListenAddress, TransportListener } from './transport.ts';
import type { DiameterNodeOptions, Handler, HandlerContext, NodeEvents, NodeObserver, NodeRequestOptions, PeerStatus } from './node-types.ts';
import { DEFAULT_FOREIGN_ROLES, requestOriginProblem, type PeerIdentity } from './admission.ts';
import { errorAnswerOf, refuse, withRequest } from './error-answers.ts';
import type { ErrorOrigin } from './error-answers.ts';

export { CX_APPLICATION } from './capabilities.ts';
export type { ApplicationSpec } from './capabilities.ts';
export type { PeerConfig, PeerEvent, ReconnectOptions, UnconnectedPeer } from './peer-table.ts';
export type { RelayOptions } from './router.ts';
export type { ListenAddress, TlsSettings } from './transport.ts';
export type { WatchdogOptions } from './watchdog.ts';
export { DiameterNodeError, isDiameterNodeError } from './node-errors.ts';
export type { DiameterNodeErrorCode } from './node-errors.ts';
export type {
  DiameterNodeOptions, Handler, HandlerContext, HandlerSpec, NodeEvents, NodeObserver, NodeRequestOptions, NodeTimeouts, PeerStatus,
} from './node-types.ts';

/** A local Diameter node. */
export class DiameterNode {
  readonly originHost: string;
  readonly originRealm: string;
  /** peerUp / peerDown / peerSuspect / peerRecovered / failover. */
  readonly events: TypedEmitter<NodeEvents>;
  /** Realm routing table used by `request` and the relay. */
  readonly routes = new RouteTable();
  private readonly log: Logger;
  private readonly identity: LocalIdentity;
  private readonly handlers = new Map<string, Handler>();
  private readonly table: PeerTable;
  private readonly listeners: TransportListener[] = [];
  private listenersClosed: Promise<void> | undefined;
  private readonly endToEnd = new EndToEndIdGenerator();
  private readonly sessions: SessionIdGenerator;
  private readonly dictionary: Dictionary;
  private readonly requestMs: number;
  private readonly timers = new RequestTimers();
  private readonly relay: RelayContext | undefined;
  private closing: Promise<void> | undefined;
  private observer: NodeObserver | undefined;

  /** Creates the node; nothing listens or connects until `listen` / `addPeer`. */
  constructor(private readonly options: DiameterNodeOptions) {
    this.originHost = options.originHost;
    this.originRealm = options.originRealm;
    this.log = (options.logger ?? silentLogger).child({ node: options.originHost });
    this.events = new TypedEmitter<NodeEvents>((err, event) => this.log.error({ err, event }, 'event listener failed'));
    this.dictionary = options.dictionary ?? defaultDictionary;
    this.sessions = new SessionIdGenerator(options.originHost);
    this.requestMs = options.timeouts?.requestMs ?? 1000;
    this.identity = {
      originHost: options.originHost,
      originRealm: options.originRealm,
      applications: options.applications ?? [],
      relay: options.relay !== undefined && options.relay !== false,
      originStateId: options.originStateId ?? Math.floor(Date.now() / 1000),
      productName: options.productName ?? PRODUCT_NAME,
      vendorId: options.vendorId ?? 0,
      ...(options.firmwareRevision === undefined ? {} : { firmwareRevision: options.firmwareRevision }),
      ...(options.hostIpAddresses === undefined ? {} : { hostIpAddresses: options.hostIpAddresses }),
    };
    for (const h of options.handlers ?? []) this.handle(h.applicationId, h.commandCode, h.handler);
    for (const [realm, peers] of Object.entries(options.routes ?? {})) this.routes.set(realm, peers);
    this.table = new PeerTable({
      connection: {
        local: this.identity,
        logger: this.log,
        timers: { watchdog: options.watchdog ?? {}, capabilitiesMs: options.timeouts?.capabilitiesMs ?? 3000, dpaMs: options.timeouts?.dpaMs ?? 2000 },
        dictionary: this.dictionary,
        foreignRoles: options.foreignRoles ?? DEFAULT_FOREIGN_ROLES,
        ...(options.validate ? { validate: options.validate } : {}),
        ...(options.maxMessageSize === undefined ? {} : { maxMessageSize: options.maxMessageSize }),
        ...(options.writeHoldMs === undefined ? {} : { writeHoldMs: options.writeHoldMs }),
        nextEndToEnd: () => this.endToEnd.next(),
        ...(options.trace ? { trace: options.trace } : {}),
      },
      connectTimeoutMs: options.timeouts?.connectMs ?? 3000,
      reconnect: options.reconnect ?? {},
      acceptUnknownPeers: options.acceptUnknownPeers ?? true,
      log: this.log,
      events: this.events,
      onRequest: (conn, msg) => this.onRequest(conn, msg),
    });
    if (this.identity.relay) {
      const relay = typeof options.relay === 'object' ? options.relay : {};
      this.relay = {
        originHost: this.originHost,
        originRealm: this.originRealm,
        originStateId: this.identity.originStateId,
        routes: this.routes,
        localRealms: relay.localRealms ?? [],
        timeoutMs: relay.timeoutMs ?? 1000,
        handles: (msg) => this.handlers.has(key(msg.applicationId, msg.commandCode)),
        forward: (msg, q, timeoutMs) => this.send(msg, q, timeoutMs),
      };
    }
  }

  /**
   * Registers (or replaces) the handler of one command of one application.
   * @returns the node, for chaining.
   */
  handle(applicationId: number, commandCode: number, handler: Handler): this {
    if (applicationId !== ApplicationId.COMMON && !this.identity.applications.some((a) => a.applicationId === applicationId)) {
      // Requests of an application not advertised in CER/CEA are answered 3007 before any handler runs.
      this.log.warn({ applicationId, commandCode }, 'handler registered for an application the node does not advertise');
    }
    this.handlers.set(key(applicationId, commandCode), handler);
    return this;
  }

  /**
   * Listens for peers (TCP, or TLS with mutual authentication when `tls` is given).
   * @returns the bound address (`port` 0 asks for an ephemeral one).
   */
  async listen(address: ListenAddress): Promise<{ host: string; port: number }> {
    if (this.closing || this.listenersClosed) throw new DiameterNodeError('ERR_DIAMETER_CLOSED', 'node is closed');
    const listener = await listenTransport(address, (socket) => this.table.accept(socket), this.log);
    this.listeners.push(listener);
    this.log.info({ host: listener.host, port: listener.port, tls: listener.tls }, 'Diameter node listening');
    return { host: listener.host, port: listener.port };
  }

  /** Adds a peer to connect to (and keep connected, with back-off). Order matters: earlier peers are preferred. */
  addPeer(peer: PeerConfig): void {
    if (this.closing) throw new DiameterNodeError('ERR_DIAMETER_CLOSED', 'node is closed');
    this.table.add(peer);
  }

  /** Sets the route of a realm (or `*`): Origin-Host of peers, primary first. */
  addRoute(realm: string, peers: readonly string[]): void {
    this.routes.set(realm, peers);
  }

  /** Sets who hears of every application request sent and answered (metrics); one at a time. */
  observe(observer: NodeObserver | undefined): void {
    this.observer = observer;
  }

  /** A fresh Session-Id of this node (RFC 6733 §8.8). */
  nextSessionId(optional?: string): string {
    return this.sessions.next(optional);
  }

  /** A fresh End-to-End identifier. */
  nextEndToEnd(): number {
    return this.endToEnd.next();
  }

  /** Snapshot of every connection. */
  peers(): PeerStatus[] {
    return this.table.connections().map((c) => ({
      originHost: c.originHost, originRealm: c.originRealm, remoteAddress: c.remoteAddress, role: c.role, state: c.state, health: c.health,
    }));
  }

  /** The configured peers (`addPeer`) without an open connection, and why the last attempt failed. */
  unconnectedPeers(): UnconnectedPeer[] {
    return this.table.unconnected();
  }

  /**
   * Resolves when an open peer matches (by Origin-Host and/or realm; any peer when both are absent).
   * @throws Error when none opens within `timeoutMs`.
   */
  async waitForPeer(match: { originHost?: string; realm?: string } = {}, timeoutMs = 5000): Promise<PeerEvent> {
    const ok = (p: { originHost?: string; originRealm?: string }): boolean =>
      (match.originHost === undefined || p.originHost?.toLowerCase() === match.originHost.toLowerCase()) &&
      (match.realm === undefined || p.originRealm?.toLowerCase() === match.realm.toLowerCase());
    const found = this.table.open().find((c) => c.available && ok({ originHost: c.originHost, originRealm: c.originRealm }));
    if (found) return { originHost: found.originHost ?? '', originRealm: found.originRealm ?? '', remoteAddress: found.remoteAddress, role: found.role };
    return this.events.next('peerUp', (p) => ok(p), timeoutMs);
  }

  /**
   * Sends a request and resolves with its answer (whatever its Result-Code). The hop-by-hop id is set per
   * connection; an end-to-end id of 0 is replaced by a fresh one.
   * @throws DiameterNodeError ERR_DIAMETER_TIMEOUT, ERR_DIAMETER_NO_PEER, ERR_DIAMETER_CLOSED, ERR_DIAMETER_BAD_ANSWER.
   */
  request(msg: DiameterMessage, options: NodeRequestOptions = {}): Promise<DiameterMessage> {
    const out = msg.endToEnd === 0 ? withHeader(msg, { endToEnd: this.endToEnd.next() }) : msg;
    let q: RouteQuery;
    try {
      q = { applicationId: msg.applicationId, ...destinationOf(out, options), ...(options.route ? { route: options.route } : {}) };
    } catch (err) {
      return Promise.reject(err);
    }
    return this.send(out, q, options.timeoutMs ?? this.requestMs);
  }

  /**
   * Graceful stop: no more connections or reconnections, DPR to every open peer (waiting for each DPA up to
   * `timeouts.dpaMs`), listeners closed. Requests still pending fail with ERR_DIAMETER_CLOSED.
   * @param disconnectCause sent in the DPRs (default REBOOTING: peers may reconnect later).
   */
  close(disconnectCause: number = DisconnectCause.REBOOTING): Promise<void> {
    this.closing ??= (async () => {
      this.stopAccepting();
      await this.table.stop(disconnectCause);
      await this.listenersClosed;
      this.log.info('Diameter node closed');
    })();
    return this.closing;
  }

  /**
   * Stops accepting connections, the first stage of a role's stop (lib/lifecycle.ts): a peer that connects now is
   * refused, while the open peers keep being served until {@link close} sends them DPR. Idempotent.
   */
  stopAccepting(): void {
    this.listenersClosed ??= Promise.all(this.listeners.map((l) => l.close())).then(() => undefined);
  }

  private send(msg: DiameterMessage, q: RouteQuery, timeoutMs: number): Promise<DiameterMessage> {
    return new Promise((resolve, reject) => {
      const out = new OutgoingRequest(this.sender, msg, q, timeoutMs, resolve, reject);
      out.attempt(msg.flags.retransmit);
    });
  }

  /** What an {@link OutgoingRequest} needs of its node. */
  private readonly sender: RequestSender = {
    closing: () => this.closing !== undefined,
    candidates: () => this.table.open().filter((c) => c.available),
    routes: this.routes,
    timers: this.timers,
    observer: () => this.observer,
    failedOver: (msg, from, reason) => {
      this.log.info({ endToEnd: msg.endToEnd, from: from.originHost, reason }, 'failing a pending request over');
      this.events.emit('failover', { endToEnd: msg.endToEnd, from: from.originHost ?? from.remoteAddress, reason });
    },
  };

  private onRequest(conn: PeerConnection, msg: DiameterMessage): void {
    this.answer(conn, msg).then(
      (answer) => {
        this.observer?.served(msg, answer);
        if (conn.send(answer)) return;
        if (conn.state === 'closed') this.log.debug({ commandCode: msg.commandCode }, 'answer dropped: connection gone');
        // Still connected, so the handler's answer could not be encoded (logged by send): refuse instead.
        else conn.send(refuse(msg, ResultCode.UNABLE_TO_COMPLY, 'answer could not be encoded', this.origin()));
      },
      (err: unknown) => this.log.error({ err }, 'request processing failed'),
    );
  }

  private origin(): ErrorOrigin {
    return { originHost: this.originHost, originRealm: this.originRealm, originStateId: this.identity.originStateId };
  }

  private async answer(conn: PeerConnection, msg: DiameterMessage): Promise<DiameterMessage> {
    const origin = this.origin();
    const relaying = this.relay !== undefined && shouldRelay(msg, this.relay);
    // admission.ts: the request is the peer's own, or relayed by an agent of this system; nothing else goes further.
    const peer = conn.identity;
    const problem = peer === undefined ? 'peer not admitted' : requestOriginProblem(msg, peer, { realm: this.originRealm }, relaying);
    if (problem !== undefined) {
      this.log.warn({ remote: conn.remoteAddress, peer: conn.originHost, commandCode: msg.commandCode, reason: problem },
        `request from ${conn.originHost ?? conn.remoteAddress} refused: ${problem}`);
      return refuse(msg, ResultCode.UNABLE_TO_COMPLY, problem, origin);
    }
    if (relaying && this.relay) return relayRequest(msg, conn.originHost ?? '', this.relay);
    const known = msg.applicationId === ApplicationId.COMMON || this.identity.applications.some((a) => a.applicationId === msg.applicationId);
    if (!known) return refuse(msg, ResultCode.APPLICATION_UNSUPPORTED, `application ${msg.applicationId} is not supported`, origin);
    const handler = this.handlers.get(key(msg.applicationId, msg.commandCode));
    if (!handler) return refuse(msg, ResultCode.COMMAND_UNSUPPORTED, `command ${msg.commandCode} is not supported`, origin);
    try {
      validateMessage(msg, this.dictionary, this.options.validate);
      const id = peer as PeerIdentity;
      const ctx: HandlerContext = {
        peer: { originHost: id.originHost, originRealm: id.originRealm, remoteAddress: conn.remoteAddress, certified: id.certified, ...(id.role ? { role: id.role } : {}) },
      };
      const answer = await handler(msg, ctx);
      // The answer travels back on the request's identifiers whatever the handler copied (§6.2).
      return withHeader(answer, { hopByHop: msg.hopByHop, endToEnd: msg.endToEnd, flags: { ...answer.flags, request: false } });
    } catch (err) {
      if (err instanceof DiameterError && err.resultCode !== undefined) {
        return errorAnswerOf(withRequest(err, msg), origin) ?? refuse(msg, ResultCode.UNABLE_TO_COMPLY, err.message, origin);
      }
      this.log.error({ err, commandCode: msg.commandCode }, 'handler failed');
      return refuse(msg, ResultCode.UNABLE_TO_COMPLY, 'internal error', origin);
    }
  }
}

function key(applicationId: number, commandCode: number): string {
  return `${applicationId}:${commandCode}`;
}

function destinationOf(msg: DiameterMessage, options: NodeRequestOptions): { destinationHost?: string; destinationRealm?: string } {
  const host = options.host ?? getValue(msg, 'Destination-Host');
  const realm = options.realm ?? getValue(msg, 'Destination-Realm');
  return { ...(host === undefined ? {} : { destinationHost: host }), ...(realm === undefined ? {} : { destinationRealm: realm }) };
}
