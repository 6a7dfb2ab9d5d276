/**
 * Request routing (RFC 6733 §6.1): the realm routing table used by `node.request`, and the relay agent (§6.1.8,
 * §6.1.9, §6.2.2) a node becomes with `relay: true`. The relay only decides and rewrites; sending, hop-by-hop
 * identifiers, timeouts and failover are the node's (`RelayContext.forward`), so a translation agent (the partner MMS)
 * is built the same way on `node.handle` + `node.request` with its own rewriting and its own Session-Id.
 */
import { withAppendedAvps, withHeader, type DiameterMessage } from './codec.ts';
import { buildAvp, getValue, getValues } from './message.ts';
import { ResultCode } from './constants.ts';
import { peerSupports, sameIdentity } from './capabilities.ts';
import { refuse } from './error-answers.ts';
import type { ErrorOrigin } from './error-answers.ts';
import { isDiameterNodeError } from './node-errors.ts';

/** Realm → ordered peer identities (primary first, then failover). `*` is the default route. */
export class RouteTable {
  private readonly routes = new Map<string, string[]>();

  /**
   * Sets the route of a realm, replacing any earlier one.
   * @param realm a realm, or `*` for every realm without a route of its own.
   * @param peers Origin-Host values of peers, in order of preference.
   */
  set(realm: string, peers: readonly string[]): void {
    this.routes.set(realm.toLowerCase(), [...peers]);
  }

  /** Removes a realm's route. */
  delete(realm: string): void {
    this.routes.delete(realm.toLowerCase());
  }

  /** The route of a realm: its own, else the default route, else undefined. */
  get(realm: string): readonly string[] | undefined {
    return this.routes.get(realm.toLowerCase()) ?? this.routes.get('*');
  }

  /** Whether a realm has a route (its own or the default). */
  has(realm: string): boolean {
    return this.get(realm) !== undefined;
  }
}

/** What routing needs to know about an open connection. */
export interface RouteCandidate {
  readonly originHost: string | undefined;
  readonly originRealm: string | undefined;
  readonly applications: readonly number[];
}

/** Where a request should go. */
export interface RouteQuery {
  applicationId: number;
  destinationHost?: string;
  destinationRealm?: string;
  /** Peers not to use (already tried, the request's ingress, those in Route-Record). */
  exclude?: (candidate: RouteCandidate) => boolean;
  /** Origin-Hosts to use instead of the realm's route (NodeRequestOptions.route). */
  route?: readonly string[];
}

/**
 * Picks the peer for a request among available connections (in peer-table order): a peer whose Origin-Host is the
 * Destination-Host; else the explicit route of the query, or the realm's route, in order; else, without a route, the
 * peers of that realm in table order.
 * Only peers that advertised the application (or relay) qualify.
 */
export function selectPeer<C extends RouteCandidate>(candidates: readonly C[], routes: RouteTable, q: RouteQuery): C | undefined {
  const usable = candidates.filter((c) => peerSupports(c.applications, q.applicationId) && !(q.exclude?.(c) ?? false));
  if (q.destinationHost !== undefined) {
    const direct = usable.find((c) => sameIdentity(c.originHost, q.destinationHost));
    if (direct) return direct;
  }
  if (q.destinationRealm === undefined && q.route === undefined) return undefined;
  const route = q.route ?? routes.get(q.destinationRealm as string);
  if (route) {
    for (const host of route) {
      const c = usable.find((u) => sameIdentity(u.originHost, host));
      if (c) return c;
    }
    return undefined;
  }
  return usable.find((c) => sameIdentity(c.originRealm, q.destinationRealm));
}

/** Relay-agent settings. */
export interface RelayOptions {
  /** Upstream answer timeout for relayed requests (default 1000 ms, as for every agent of this project). */
  timeoutMs?: number;
  /** Realms served locally besides the node's own Origin-Realm. */
  localRealms?: readonly string[];
}

/** What the relay needs from its node. */
export interface RelayContext extends ErrorOrigin {
  routes: RouteTable;
  localRealms: readonly string[];
  timeoutMs: number;
  /** Whether a local handler exists for the request. */
  handles(msg: DiameterMessage): boolean;
  /** Sends to a selected peer with failover, end-to-end id unchanged; rejects with DiameterNodeError. */
  forward(msg: DiameterMessage, q: RouteQuery, timeoutMs: number): Promise<DiameterMessage>;
}

function destination(msg: DiameterMessage): { host?: string; realm?: string } | undefined {
  try {
    const host = getValue(msg, 'Destination-Host');
    const realm = getValue(msg, 'Destination-Realm');
    return { ...(host === undefined ? {} : { host }), ...(realm === undefined ? {} : { realm }) };
  } catch {
    return undefined; // undecodable: local processing answers it with the validation error
  }
}

/**
 * Whether a received request is relayed rather than processed here (§6.1.4/§6.1.5): it must be proxiable, not
 * addressed to us by Destination-Host, and either have a route for its Destination-Realm or not be one we serve
 * with a handler.
 */
export function shouldRelay(msg: DiameterMessage, ctx: RelayContext): boolean {
  if (!msg.flags.proxiable) return false;
  const dest = destination(msg);
  if (!dest || dest.realm === undefined) return false;
  if (sameIdentity(dest.host, ctx.originHost)) return false;
  if (ctx.routes.has(dest.realm)) return true;
  const local = [ctx.originRealm, ...ctx.localRealms].some((r) => sameIdentity(r, dest.realm));
  return !(local && ctx.handles(msg));
}

/** Whether a peer is the ingress or one the request crossed (returned, not assigned: tsx names no closure so). */
function crossed(ingress: string, recorded: readonly string[]): NonNullable<RouteQuery['exclude']> {
  return (c) => sameIdentity(c.originHost, ingress) || recorded.some((r) => sameIdentity(r, c.originHost));
}

/**
 * Relays one request and returns the answer to send back to `ingress`: loop detection (3005), Route-Record
 * appended with the ingress peer's identity, forwarded with a new hop-by-hop id (assigned by the connection) and the
 * same end-to-end id, the answer given the original hop-by-hop id back; no route / no open peer / upstream timeout →
 * 3002 DIAMETER_UNABLE_TO_DELIVER with the E bit.
 * @param ingress the Origin-Host of the peer the request came from.
 */
export async function relayRequest(msg: DiameterMessage, ingress: string, ctx: RelayContext): Promise<DiameterMessage> {
  let recorded: string[];
  try {
    recorded = getValues(msg, 'Route-Record');
  } catch {
    recorded = [];
  }
  if (recorded.some((r) => sameIdentity(r, ctx.originHost))) {
    return refuse(msg, ResultCode.LOOP_DETECTED, `${ctx.originHost} is already in Route-Record`, ctx);
  }
  const dest = destination(msg) ?? {};
  const query: RouteQuery = {
    applicationId: msg.applicationId,
    ...(dest.host === undefined ? {} : { destinationHost: dest.host }),
    ...(dest.realm === undefined ? {} : { destinationRealm: dest.realm }),
    // §6.1.9 / sparta relay spec: never back to where it came from, nor to a node it already crossed.
    exclude: crossed(ingress, recorded),
  };
  // The received octets go on as they came, Route-Record after them (wire.ts): nothing else is encoded again.
  const out = withAppendedAvps(msg, [buildAvp(['Route-Record', ingress])]);
  try {
    const answer = await ctx.forward(out, query, ctx.timeoutMs);
    return withHeader(answer, { hopByHop: msg.hopByHop });
  } catch (err) {
    const why = isDiameterNodeError(err) ? err.message : String(err);
    return refuse(msg, ResultCode.UNABLE_TO_DELIVER, `cannot deliver to ${dest.host ?? dest.realm ?? '?'}: ${why}`, ctx);
  }
}
