/**
 * Where the primary MMS asks "may the subscriber with this `mcptt_id` migrate to that partner realm, and what are
 * its primary identities?" (DESIGN §2.4): the HSS, through its admin API (`GET /admin/v1/subscribers?mcptt_id=`),
 * which answers views without key material.
 */
import { AdminApiError, type AdminTarget } from '../lib/admin/client.ts';
import { adminApi } from '../lib/admin/hss-api.ts';
import { MigrationError } from './migration-errors.ts';

/** What the binding decision needs of a subscriber. */
export interface MigratingSubscriber {
  impi: string;
  impus: string[];
  /** The subscriber's `allowed_partners` entries: `REALM`, `static:REALM` or `dynamic:REALM` (lib/allowed-partners.ts). */
  allowedPartners: string[];
}

/** A lookup of subscribers by MC service ID. */
export interface SubscriberDirectory {
  /**
   * The subscriber whose `mcptt_id` this is, or undefined.
   * @throws MigrationError ERR_MIGRATION_PRIMARY_UNAVAILABLE when the directory cannot answer.
   */
  byMcpttId(mcpttId: string): Promise<MigratingSubscriber | undefined>;
}

/**
 * The HSS admin API as a {@link SubscriberDirectory}.
 * @param target its URL, bearer token and trusted CAs.
 */
export function hssDirectory(target: AdminTarget): SubscriberDirectory {
  return {
    async byMcpttId(mcpttId) {
      let found;
      try {
        found = (await adminApi.list({ timeoutMs: 3000, ...target }, mcpttId)).subscribers[0];
      } catch (err) {
        const why = err instanceof AdminApiError ? `HTTP ${err.status} ${err.error}` : (err as Error).message;
        throw new MigrationError('ERR_MIGRATION_PRIMARY_UNAVAILABLE', `the HSS subscriber directory did not answer: ${why}`, false, { cause: err });
      }
      return found && { impi: found.impi, impus: [...found.impus], allowedPartners: [...found.allowed_partners] };
    },
  };
}
