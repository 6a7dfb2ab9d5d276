/**
 * The public types of `DiameterNode` (node.ts): options, handlers, request options, peer snapshots and events.
 */
import type { Logger } from '../log.ts';
import type { MessageTrace } from '../trace/types.ts';
import type { DiameterMessage } from './codec.ts';
import type { ValidateOptions } from './message.ts';
import type { Dictionary } from './dictionary/index.ts';
import type { ApplicationSpec } from './capabilities.ts';
import type { PeerRole, PeerState } from './peer-types.ts';
import type { PeerTableEvents, ReconnectOptions } from './peer-table.ts';
import type { RelayOptions } from './router.ts';
import type { WatchdogOptions, WatchdogState } from './watchdog.ts';

/**
 * Who sent the request a handler is answering: the peer's identity as admitted at CER/CEA (admission.ts). Its host
 * and realm are the request's Origin-Host and Origin-Realm unless the request carries Route-Record, which only a
 * peer of the node's own realm may bring.
 */
export interface HandlerContext {
  peer: {
    originHost: string;
    originRealm: string;
    remoteAddress: string;
    /** The role its certificate names (`mcx://<realm>/<role>`); absent on plain TCP. */
    role?: string;
    /** Host and realm were checked against a certificate (TLS), not only taken from the CER (TCP). */
    certified: boolean;
  };
}

/**
 * Answers one request. Throw a DiameterError (e.g. from `requireValue`) to answer with its Result-Code and
 * Failed-AVP; anything else thrown becomes 5012 UNABLE_TO_COMPLY (and is logged).
 */
export type Handler = (request: DiameterMessage, ctx: HandlerContext) => Promise<DiameterMessage> | DiameterMessage;

/** A handler registered up front. */
export interface HandlerSpec {
  applicationId: number;
  commandCode: number;
  handler: Handler;
}

/** Node timers (ms). */
export interface NodeTimeouts {
  /** Default `request` timeout (default 1000). */
  requestMs?: number;
  /** TCP/TLS connect limit (default 3000). */
  connectMs?: number;
  /** Wait-I-CEA / Wait-CER limit (default 3000). */
  capabilitiesMs?: number;
  /** How long `close` waits for each DPA (default 2000). */
  dpaMs?: number;
}

/** Everything a node is made of. */
export interface DiameterNodeOptions {
  originHost: string;
  originRealm: string;
  /** Applications served or used (advertised in CER/CEA). */
  applications?: readonly ApplicationSpec[];
  handlers?: readonly HandlerSpec[];
  /** Become a relay agent (advertises 0xFFFFFFFF). `true` takes the defaults. */
  relay?: boolean | RelayOptions;
  /** Realm routes: realm (or `*`) → Origin-Host of peers, primary first. */
  routes?: Readonly<Record<string, readonly string[]>>;
  /** Accept CERs from peers never added with `addPeer` (default true; TLS still authenticates them). */
  acceptUnknownPeers?: boolean;
  /**
   * Roles (of the certificate's `mcx://<realm>/<role>`) a TLS peer of another realm may hold to be admitted at CER
   * (default `['mms']`: across MC systems only MMSs talk Cx; DESIGN §2.7). Peers of the node's realm: any role.
   */
  foreignRoles?: readonly string[];
  watchdog?: WatchdogOptions;
  reconnect?: ReconnectOptions;
  timeouts?: NodeTimeouts;
  productName?: string;
  vendorId?: number;
  firmwareRevision?: number;
  /** Default: seconds since the epoch at construction (changes on every restart, as §8.16 wants). */
  originStateId?: number;
  hostIpAddresses?: readonly string[];
  dictionary?: Dictionary;
  validate?: ValidateOptions;
  maxMessageSize?: number;
  /**
   * Write coalescing under load (lib/cork.ts): while a connection's messages come faster than two per `writeHoldMs`,
   * they wait up to `writeHoldMs` and leave together, so every hop downstream reads and answers them in one wake-up.
   * Default 0: each event-loop turn's messages leave at its end. A client at the start of a chain sets it (the
   * registrar's `--cx-batch-ms`); the agents after it pass the batches on without.
   */
  writeHoldMs?: number;
  logger?: Logger;
  /** Records every message of every connection, TLS in plaintext (`--trace`, lib/trace). */
  trace?: MessageTrace;
}

/** Routing and timeout of one `request`. */
export interface NodeRequestOptions {
  /** Default: the node's `timeouts.requestMs`. */
  timeoutMs?: number;
  /** Overrides the request's Destination-Realm for routing. */
  realm?: string;
  /** Overrides the request's Destination-Host for routing. */
  host?: string;
  /**
   * Origin-Hosts to use instead of the realm's route, in order of preference (failover included): for an agent
   * that sends some requests of a realm by another path than the route table's (the partner MMS: static mappings
   * toward the primary relay, dynamic bindings toward the primary MMS). None of them open → ERR_DIAMETER_NO_PEER.
   */
  route?: readonly string[];
}

/** A snapshot of one connection. */
export interface PeerStatus {
  originHost: string | undefined;
  originRealm: string | undefined;
  remoteAddress: string;
  role: PeerRole;
  state: PeerState;
  health: WatchdogState;
}

/**
 * What a metrics exporter hears of a node's application requests (lib/metrics/diameter.ts), synchronously: keep it
 * cheap, and never throw.
 */
export interface NodeObserver {
  /** An answer from `peer` (its Origin-Host) to a request this node sent, `seconds` after it left. */
  answered(peer: string, request: DiameterMessage, answer: DiameterMessage, seconds: number): void;
  /** A request this node sent got no answer: `timeout`, `no_peer`, `closed` or `error` (`peer` when one was tried). */
  failed(peer: string | undefined, request: DiameterMessage, reason: 'timeout' | 'no_peer' | 'closed' | 'error'): void;
  /** This node answered a request (served or relayed) with `answer`. */
  served(request: DiameterMessage, answer: DiameterMessage): void;
}

/** Node events: the peer table's, plus one per failover. */
export interface NodeEvents extends PeerTableEvents {
  failover: { endToEnd: number; from: string; reason: string };
}
