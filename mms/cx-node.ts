/**
 * The Diameter side every agent role shares (partner MMS, primary MMS, relay): a Cx node listening for its
 * downstream (TCP or mutual TLS), connected to the peers of each `--route` realm (TCP or mutual TLS, reconnecting),
 * with its handlers.
 *
 * Routes are given as addresses, while lib/diameter routes by Origin-Host, which a peer only tells in its CEA. So
 * each realm's route starts empty (requests answer 3002 until a route peer is up: never a guess toward any peer of
 * the realm, which could be the very peer a request came from) and a peer we connected to joins the route of the
 * realm whose `--route` lists its configured address when it comes up — in the place `--route` gives it, whatever
 * order the peers came up in, so the first configured peer is the primary one and the next ones its failover. A peer
 * that goes down stays in the route: lib/diameter skips peers without an open connection, fails the requests pending
 * on a lost one over to the next (RFC 6733 §5.5.4), and uses the peer again once it is back. Besides the realm routes, a role may keep
 * named paths (the partner MMS's path to the primary MMS of each realm, for dynamic bindings): learned the same way,
 * used through `request(…, { route })`, never by the route table.
 *
 * With the role's telemetry, the node's requests are counted and timed (lib/metrics/diameter.ts) and each realm
 * route and named path is a readiness check: ready while one of the peers it learned is open.
 */
import { formatHostPort } from '../lib/config/address.ts';
import { readTlsFiles } from '../lib/config/files.ts';
import type { TlsFiles, TlsPem } from '../lib/config/files.ts';
import { CX_APPLICATION_ID, CxCommand } from '../lib/diameter/cx/index.ts';
import { CX_APPLICATION, DiameterNode } from '../lib/diameter/node.ts';
import type { Handler, ReconnectOptions } from '../lib/diameter/node.ts';
import type { Logger } from '../lib/log.ts';
import { observeDiameter } from '../lib/metrics/diameter.ts';
import { openPeerCheck } from '../lib/metrics/readiness.ts';
import type { MetricsConfig, RoleTelemetry } from '../lib/metrics/telemetry.ts';
import type { MessageTrace } from '../lib/trace/types.ts';
import type { EndpointSpec, RouteSpec } from './options.ts';
import { isTlsLink } from './options.ts';

/**
 * Reconnection of the agents: they stand between a registrar that gives up after 1.5 s and an HSS that may
 * restart, so a peer that is back within seconds is used within seconds (lib/diameter's defaults wait up to 10 s).
 */
export const AGENT_RECONNECT: ReconnectOptions = { initialMs: 100, maxMs: 2000, afterDprMs: 1000 };

/** The Diameter settings of every agent role. */
export interface AgentNodeConfig {
  /** Downstream listener; TLS per {@link isTlsLink}. */
  listen: EndpointSpec;
  originHost: string;
  realm: string;
  /** Upstream realms and their peers, in order of preference. */
  routes: RouteSpec[];
  /** Named paths besides the realm routes (e.g. `primary-mms`): realms and their peers, in order of preference. */
  paths?: Record<string, RouteSpec[]>;
  /** Paths of the PEM files: own certificate and key, trusted CAs (own system's and the other system's). */
  tls?: TlsFiles;
  /** Upstream answer timeout (default 1000 ms, DESIGN §2.1). */
  timeoutMs?: number;
  /** `--metrics` (system label default: `primary`, or the MMS's `--role`). */
  metrics?: MetricsConfig;
  /** Records every Diameter message (`--trace`, lib/trace); shared with other roles of the process, not closed here. */
  trace?: MessageTrace;
  logger: Logger;
}

/** The Cx commands an agent may serve. */
export type CxHandlers = Partial<Record<'mar' | 'sar' | 'uar' | 'lir', Handler>>;

/** A started agent node. */
export interface CxNode {
  node: DiameterNode;
  /** `tcp://host:port` or `tls://host:port` as bound. */
  diameterUrl: string;
  /** The PEM material read from `config.tls` (for an admin API on the same certificate). */
  tls?: TlsPem;
  /** The Origin-Hosts of a named path's realm that have come up, in order (empty until one does). */
  path(name: string, realm: string): readonly string[];
  /** The same for a realm's `--route` (empty for a realm without one). */
  route(realm: string): readonly string[];
}

const COMMANDS = { mar: CxCommand.MAR, sar: CxCommand.SAR, uar: CxCommand.UAR, lir: CxCommand.LIR } as const;
/** The group of the realm routes among the named paths. */
const ROUTES = '';

const endpointKey = (e: { host: string; port: number }): string => `${e.host.toLowerCase()}:${e.port}`;
const groupKey = (group: string, realm: string): string => `${group}\n${realm.toLowerCase()}`;

/**
 * Starts the node: handlers, listener, route and path peers.
 * @param handlersOf the Cx commands served, given the node they forward through; the rest are answered 3001.
 * @param telemetry the role's metrics and readiness, fed by the node.
 * @throws ConfigFileError for unreadable TLS files; listen errors (EADDRINUSE) as they come.
 */
export async function startCxNode(config: AgentNodeConfig, handlersOf: (node: DiameterNode) => CxHandlers, telemetry?: RoleTelemetry): Promise<CxNode> {
  const log = config.logger;
  const pem = config.tls ? await readTlsFiles(config.tls) : undefined;
  const haveTls = pem !== undefined;
  const node = new DiameterNode({
    originHost: config.originHost, originRealm: config.realm, applications: [CX_APPLICATION], reconnect: AGENT_RECONNECT,
    logger: log.child({ component: 'diameter' }), ...(config.trace ? { trace: config.trace } : {}),
  });
  for (const [name, handler] of Object.entries(handlersOf(node)) as [keyof typeof COMMANDS, Handler][]) node.handle(CX_APPLICATION_ID, COMMANDS[name], handler);
  if (telemetry) observeDiameter(node, telemetry.metrics);

  // Which groups (realm routes, named paths) each configured peer address belongs to, and the Origin-Hosts learned.
  const groups: Array<[string, RouteSpec[]]> = [[ROUTES, config.routes], ...Object.entries(config.paths ?? {})];
  const byEndpoint = new Map<string, Array<{ group: string; realm: string; order: number }>>();
  const learned = new Map<string, string[]>();
  /** Per group and realm: Origin-Host → the place of its address in the `--route` list. */
  const places = new Map<string, Map<string, number>>();
  const peers = new Map<string, EndpointSpec>();
  for (const [group, routes] of groups) {
    for (const route of routes) {
      if (group === ROUTES) node.addRoute(route.realm, []);
      learned.set(groupKey(group, route.realm), []);
      const what = `${group ? `${group} path` : 'route'} to ${route.realm}`;
      telemetry?.ready.add(what, openPeerCheck(node, what, () => learned.get(groupKey(group, route.realm)) ?? []));
      places.set(groupKey(group, route.realm), new Map());
      for (const [order, peer] of route.peers.entries()) {
        const k = endpointKey(peer);
        byEndpoint.set(k, [...(byEndpoint.get(k) ?? []), { group, realm: route.realm, order }]);
        if (!peers.has(k)) peers.set(k, peer);
      }
    }
  }
  node.events.on('peerUp', (p) => {
    if (p.role !== 'initiator' || p.configured === undefined) return;
    for (const { group, realm, order } of byEndpoint.get(endpointKey(p.configured)) ?? []) {
      const key = groupKey(group, realm);
      const hosts = learned.get(key) as string[];
      if (hosts.some((h) => h.toLowerCase() === p.originHost.toLowerCase())) continue;
      const place = places.get(key) as Map<string, number>;
      place.set(p.originHost, order);
      hosts.push(p.originHost);
      hosts.sort((a, b) => (place.get(a) ?? 0) - (place.get(b) ?? 0));
      if (group === ROUTES) node.addRoute(realm, hosts);
      log.info({ realm, path: group || undefined, peer: p.originHost, route: hosts }, `${group ? `${group} path` : 'route'} to ${realm}: ${hosts.join(', ')}`);
    }
  });

  try {
    const tls = isTlsLink(config.listen, haveTls) ? pem : undefined;
    const bound = await node.listen({ host: config.listen.host, port: config.listen.port, ...(tls ? { tls } : {}) });
    for (const peer of peers.values()) {
      const peerTls = isTlsLink(peer, haveTls) ? pem : undefined;
      node.addPeer({ host: peer.host, port: peer.port, ...(peerTls ? { tls: peerTls } : {}) });
    }
    return {
      node, diameterUrl: `${tls ? 'tls' : 'tcp'}://${formatHostPort(bound)}`, ...(pem ? { tls: pem } : {}),
      path: (name, realm) => learned.get(groupKey(name, realm)) ?? [],
      route: (realm) => learned.get(groupKey(ROUTES, realm)) ?? [],
    };
  } catch (err) {
    await node.close();
    throw err;
  }
}

/** The fields of a role's ready log line: where it listens and where each realm goes, over what. */
export function formatListening(config: AgentNodeConfig, diameterUrl: string): Record<string, unknown> {
  const url = (p: EndpointSpec): string => `${isTlsLink(p, config.tls !== undefined) ? 'tls' : 'tcp'}://${formatHostPort(p)}`;
  return {
    diameter: diameterUrl, originHost: config.originHost, realm: config.realm,
    routes: Object.fromEntries(config.routes.map((r) => [r.realm, r.peers.map(url)])),
    ...(config.paths ? { paths: Object.fromEntries(Object.entries(config.paths).map(([name, rs]) => [name, Object.fromEntries(rs.map((r) => [r.realm, r.peers.map(url)]))])) } : {}),
  };
}
