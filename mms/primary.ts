/**
 * The primary MMS of this stage: a pass-through Cx agent from the partner MMS (mutual TLS, the partner CA trusted)
 * to the primary relay, so the §10.6.2.3 path partner MMS → primary MMS → SIP core / IMS → HSS exists end to end
 * before the binding API of the dynamic configuration (10.1.6.1.2) gives it something to decide. It logs the seed
 * steps it takes part in (5 in, 6 out, 7 back, 8 to the partner).
 */
import type { AgentNodeConfig } from './cx-node.ts';
import { startForwardingAgent } from './forwarder.ts';
import type { RunningMms } from './run.ts';

/**
 * Starts the primary MMS.
 * @throws ConfigFileError for unreadable TLS files; listen errors (EADDRINUSE) as they come.
 */
export async function startPrimaryMms(config: AgentNodeConfig): Promise<RunningMms> {
  const agent = await startForwardingAgent(config, 'primary-mms');
  return { role: 'primary', ...agent };
}
