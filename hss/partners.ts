/**
 * Which realms a subscriber may be served from (DESIGN §2.3: "allowed partner systems (for migration)"): its home
 * realm — the HSS's — and the partner realms of its `allowed_partners`. The HSS holds this line itself, on every
 * request that would hand out vectors or the profile (MAR, UAR, the registering SARs), whatever path the request
 * took: so a migration ends the moment the partner is taken off the list, and no agent in front of the HSS — relay
 * or primary MMS — is the only thing between a partner and a subscriber's vectors.
 */
import type { SubscriberRecord } from './subscriber-model.ts';

/**
 * Whether `record` may be served toward `realm`.
 * @param realm the visited network: the request's Origin-Realm (MAR, SAR) or Visited-Network-Identifier (UAR).
 * @param home the HSS's own realm.
 */
export function mayServe(record: Pick<SubscriberRecord, 'allowed_partners'>, realm: string | undefined, home: string): boolean {
  if (realm === undefined) return false;
  const r = realm.toLowerCase();
  return r === home.toLowerCase() || record.allowed_partners.some((p) => p.toLowerCase() === r);
}
