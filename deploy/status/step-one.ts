/**
 * Step 1 of the dynamic flow (TS 23.280 §10.6.2.3: the MC service user authentication of TS 33.180) on a
 * registration's ladder. The IdMSs take it long before any REGISTER and know the user only by `mcptt_id` (TS 33.180
 * C.2 steps 6b and 8b), so it is joined through the migration configuration the registration's partner IMPI belongs
 * to: the partner IdMS's step 1 of that user last before the configuration was made, and the primary IdMS's last
 * before that.
 */
import type { StepSeen } from '../ladder.ts';

/** The live migration configuration of `partnerImpi` at the partner system of `registrar` (a registrar role name). */
export type MigrationLookup = (registrar: string, partnerImpi: string) => Promise<{ mcpttId: string; createdAt: number } | undefined>;

/** Slack for clocks of child processes: a step logged a little after the configuration's creation still counts. */
const SLACK_MS = 1000;

/** The partner IdMS role of the partner system whose registrar role is `registrar` (roles.ts `partnerRoles`). */
function idmsOf(registrar: string): string {
  return registrar === 'registrar' ? 'partner-idms' : registrar.replace(/-registrar$/, '-idms');
}

/**
 * The step-1 events of one registration.
 * @param seen the step-1 events of its user (one mcptt_id), oldest first.
 * @param registrar the registrar role that served it.
 * @param createdAt when its migration configuration was made (epoch ms).
 */
export function stepOneRungs(seen: readonly StepSeen[], registrar: string, createdAt: number): StepSeen[] {
  const before = seen.filter((s) => s.at <= createdAt + SLACK_MS);
  const partner = before.filter((s) => s.node === 'partner-idms' && s.role === idmsOf(registrar)).at(-1);
  if (!partner) return [];
  const primary = before.filter((s) => s.node === 'primary-idms' && s.at <= partner.at).at(-1);
  return primary ? [primary, partner] : [partner];
}
