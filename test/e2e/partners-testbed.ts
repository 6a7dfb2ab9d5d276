/**
 * The testbed of `mcx testbed --partners 2` (deploy/testbed.ts `startTestbed`, every role in this process on real
 * loopback sockets, mutual TLS between the primary and each partner) for the multi-partner tests: the primary system
 * and partner systems `partner-a` (partner-a.mcx.test) and `partner-b` (partner-b.mcx.test), each with its own PKI,
 * IdMS, MMS and registrar; alice static to A, carol dynamic to A and B, dave allowed dynamic to A only but mapped
 * statically at B. The log collector keeps every role's lines (`tb.testbed.output(role)`) and echoes none.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LogCollector } from '../../deploy/ladder.ts';
import { parseTestbedOptions, startTestbed, type RunningTestbed } from '../../deploy/testbed.ts';
import type { PartnerSystem } from '../../deploy/topology.ts';

export const PRIMARY_REALM = 'primary.mcx.test';
export const A: PartnerSystem = { name: 'partner-a', realm: 'partner-a.mcx.test' };
export const B: PartnerSystem = { name: 'partner-b', realm: 'partner-b.mcx.test' };

/** A running two-partner testbed and its temporary directory. */
export interface PartnersBed {
  tb: RunningTestbed;
  close(): Promise<void>;
}

/**
 * Starts it in a fresh temporary directory.
 * @param name tags the directory.
 */
export async function startPartnersTestbed(name: string): Promise<PartnersBed> {
  const tmp = await mkdtemp(join(tmpdir(), `mcx-${name}-`));
  try {
    // verbose: the roles log at debug, where the HSS names the SQNs of each MAA (per Cx transaction, issue #12); the
    // collector below keeps the lines and echoes none.
    const o = parseTestbedOptions({
      'dir': join(tmp, 'testbed'), 'listen': '127.0.0.1', 'ports': 'auto', 'store': 'memory', 'primary-realm': PRIMARY_REALM,
      'partner-realm': 'partner.mcx.test', 'rand-policy': 'uniform', 'digest-algorithms': 'MD5', 'partners': '2', 'once': false, 'verbose': true,
    });
    const tb = await startTestbed(o, { logs: new LogCollector(false, { keep: true, quiet: true }) });
    return { tb, close: async () => { await tb.close(); await rm(tmp, { recursive: true, force: true }); } };
  } catch (e) {
    await rm(tmp, { recursive: true, force: true });
    throw e;
  }
}
