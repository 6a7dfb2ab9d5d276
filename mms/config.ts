/**
 * The translation agent's configuration, checked the one way every role checks its options (`parseConfig`: a
 * UsageError naming each bad field).
 */
import { z } from 'zod';
import { realmSchema } from '../lib/config/address.ts';
import { parseConfig } from '../lib/config/validate.ts';
import { DEFAULT_PRIMARY_TIMEOUT_MS } from './agent.ts';
import type { AgentIdentity } from './translate.ts';

/** Schema of the agent's settings. */
export const agentConfigSchema = z.object({
  originHost: realmSchema,
  originRealm: realmSchema,
  /** The MMS's SIP URI (Server-Name toward the primary under topology hiding). */
  sipUri: z.string().regex(/^sips?:[^\s]+$/i, 'must be a sip: or sips: URI such as sip:mms.partner.example'),
  topologyHiding: z.boolean().default(false),
  primaryTimeoutMs: z.number().int().min(100).max(60_000).default(DEFAULT_PRIMARY_TIMEOUT_MS),
});

/** Validated settings. */
export type AgentConfig = AgentIdentity & { primaryTimeoutMs: number };

/**
 * Validates the agent's settings.
 * @param fieldPrefix how fields are named to the user (`--` for CLI options).
 * @throws UsageError naming every invalid field.
 */
export function parseAgentConfig(input: unknown, fieldPrefix = '--'): AgentConfig {
  return parseConfig(agentConfigSchema, input, fieldPrefix);
}
