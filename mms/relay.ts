/**
 * The relay role: stands for the "SIP core / IMS" of the primary MC system in TS 23.280 §10.6.2.2 (steps 5–8: it
 * takes the partner MMS's get SIP authentication information request to the primary HSS and the answer back) and is
 * the "via SIP core / IMS" of §10.6.2.3 steps 6–7. An RFC 6733 relay (forwarder.ts) with an upstream timeout of 1 s.
 */
import type { AgentNodeConfig } from './cx-node.ts';
import { startForwardingAgent } from './forwarder.ts';
import type { RunningForwarder } from './forwarder.ts';

/** What `mcx relay` configures. */
export type RelayConfig = AgentNodeConfig;

/** A started relay. */
export type RunningRelay = RunningForwarder;

/**
 * Starts the relay.
 * @throws ConfigFileError for unreadable TLS files; listen errors (EADDRINUSE) as they come.
 */
export function startRelay(config: RelayConfig): Promise<RunningRelay> {
  return startForwardingAgent(config, 'relay');
}
