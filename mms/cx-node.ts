/**
 * The Diameter side every agent role shares (partner MMS, primary MMS, relay): a Cx node listening for its
 * downstream (TCP or mutual TLS), connected to the peers of each `--route` realm (TCP or mutual TLS, reconnecting),
 * with its handlers.
 *
 * Routes are given as addresses, while lib/diameter routes by Origin-Host, which a peer only tells in its CEA. So
 * each realm's route starts empty (requests answer 3002 until a route peer is up: never a guess toward any peer of
 * the realm, which could be the very peer a request came from) and a peer we connected to joins the route of the
 * realm whose `--route` lists its address when it comes up. The transport reports the peer's IP without the port,
 * so peers of one IP are ordered by when they came up.
 */
import { lookup } from 'node:dns/promises';
import { isIP } from 'node:net';
import { formatHostPort } from '../lib/config/address.ts';
import { readTlsFiles } from '../lib/config/files.ts';
import type { TlsFiles, TlsPem } from '../lib/config/files.ts';
import { CX_APPLICATION_ID, CxCommand } from '../lib/diameter/cx/index.ts';
import { CX_APPLICATION, DiameterNode } from '../lib/diameter/node.ts';
import type { Handler, ReconnectOptions } from '../lib/diameter/node.ts';
import type { Logger } from '../lib/log.ts';
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
  /** Paths of the PEM files: own certificate and key, trusted CAs (own system's and the other system's). */
  tls?: TlsFiles;
  /** Upstream answer timeout (default 1000 ms, DESIGN §2.1). */
  timeoutMs?: number;
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
}

const COMMANDS = { mar: CxCommand.MAR, sar: CxCommand.SAR, uar: CxCommand.UAR, lir: CxCommand.LIR } as const;

async function addressesOf(host: string, log: Logger): Promise<string[]> {
  if (isIP(host)) return [host];
  try {
    return (await lookup(host, { all: true })).map((a) => a.address);
  } catch (err) {
    log.warn({ host, err: (err as Error).message }, 'route peer does not resolve: it is still connected to when it does, but joins no route until a restart');
    return [];
  }
}

/**
 * Starts the node: handlers, listener, route peers.
 * @param handlersOf the Cx commands served, given the node they forward through; the rest are answered 3001.
 * @throws ConfigFileError for unreadable TLS files; listen errors (EADDRINUSE) as they come.
 */
export async function startCxNode(config: AgentNodeConfig, handlersOf: (node: DiameterNode) => CxHandlers): Promise<CxNode> {
  const log = config.logger;
  const pem = config.tls ? await readTlsFiles(config.tls) : undefined;
  const haveTls = pem !== undefined;
  const node = new DiameterNode({
    originHost: config.originHost, originRealm: config.realm, applications: [CX_APPLICATION], reconnect: AGENT_RECONNECT,
    logger: log.child({ component: 'diameter' }),
  });
  for (const [name, handler] of Object.entries(handlersOf(node)) as [keyof typeof COMMANDS, Handler][]) node.handle(CX_APPLICATION_ID, COMMANDS[name], handler);

  // Which realms a peer we connect to at an IP serves, and the Origin-Hosts learned per realm.
  const realmsByIp = new Map<string, Set<string>>();
  const learned = new Map<string, string[]>();
  for (const route of config.routes) {
    node.addRoute(route.realm, []);
    learned.set(route.realm, []);
    for (const peer of route.peers) {
      for (const ip of await addressesOf(peer.host, log)) realmsByIp.set(ip, (realmsByIp.get(ip) ?? new Set()).add(route.realm));
    }
  }
  for (const [ip, realms] of realmsByIp) {
    if (realms.size > 1) log.warn({ ip, realms: [...realms] }, 'route peers of several realms share an IP: a peer there joins each of their routes');
  }
  node.events.on('peerUp', (p) => {
    if (p.role !== 'initiator') return;
    for (const realm of realmsByIp.get(p.remoteAddress) ?? []) {
      const hosts = learned.get(realm) as string[];
      if (hosts.some((h) => h.toLowerCase() === p.originHost.toLowerCase())) continue;
      hosts.push(p.originHost);
      node.addRoute(realm, hosts);
      log.info({ realm, peer: p.originHost, route: hosts }, `route to ${realm}: ${hosts.join(', ')}`);
    }
  });

  try {
    const tls = isTlsLink(config.listen, haveTls) ? pem : undefined;
    const bound = await node.listen({ host: config.listen.host, port: config.listen.port, ...(tls ? { tls } : {}) });
    for (const route of config.routes) {
      for (const peer of route.peers) {
        const peerTls = isTlsLink(peer, haveTls) ? pem : undefined;
        node.addPeer({ host: peer.host, port: peer.port, ...(peerTls ? { tls: peerTls } : {}) });
      }
    }
    return { node, diameterUrl: `${tls ? 'tls' : 'tcp'}://${formatHostPort(bound)}`, ...(pem ? { tls: pem } : {}) };
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
  };
}
