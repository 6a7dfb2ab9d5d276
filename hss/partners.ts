/**
 * Which realms a subscriber may be served from, and by which path (DESIGN §2.3, §2.7): its home realm — the HSS's —
 * always; a partner realm only as its `allowed_partners` entry says (lib/allowed-partners.ts): `static` through the
 * primary relay (TS 23.280 §10.6.2.2), `dynamic` through the primary MMS under a live binding (§10.6.2.3), a plain
 * realm either way. The HSS holds this line itself, on every request that would hand out vectors or the profile
 * (MAR, UAR, the registering SARs), whatever agent stands in front of it: so a migration ends the moment the partner
 * is taken off the list, and a dynamic-only user's vectors never go out through the relay.
 *
 * The realm and the path are the authenticated ones. lib/diameter admits a request only when its Origin-Host and
 * Origin-Realm are those of the peer that sent it (checked against its certificate at CER), unless that peer is an
 * agent of this very system relaying it — which carries Route-Record, appended by each own-system agent with the peer
 * it authenticated. So the HSS reads the visited realm from its peer, or, behind own-system agents, from Origin-Realm;
 * and a request crossed the primary MMS exactly when the primary MMS is its peer or in its Route-Record.
 */
import type { DiameterMessage } from '../lib/diameter/codec.ts';
import { getValue, getValues } from '../lib/diameter/message.ts';
import { allowsMigration, type MigrationMode } from '../lib/allowed-partners.ts';
import type { SubscriberRecord } from './subscriber-model.ts';

/** The authenticated sender of a request: the open peer it came from (lib/diameter's HandlerContext.peer). */
export interface CxPeer {
  originHost: string;
  originRealm: string;
}

/** Where a request comes from, as far as the HSS can vouch for it. */
export interface CxOrigin {
  /** The visited network: the authenticated realm of the request's originator (lower-case). */
  realm: string;
  /** The request crossed one of the primary MMS's Diameter identities: the dynamic path. */
  viaPrimaryMms: boolean;
}

const same = (a: string, b: string): boolean => a.toLowerCase() === b.toLowerCase();

/**
 * The authenticated origin of `req`.
 * @param peer the connection it arrived on; a socket-free caller that passes none vouches for the request's own
 *   Origin-Host and Origin-Realm (as the node does for a peer that sent no Route-Record).
 * @param self the HSS's realm and the primary MMS's Diameter identities (`--mms-host`).
 */
export function requestOrigin(req: DiameterMessage, peer: CxPeer | undefined, self: { originRealm: string; mmsHosts: readonly string[] }): CxOrigin {
  const from: CxPeer = peer ?? { originHost: getValue(req, 'Origin-Host') ?? '', originRealm: getValue(req, 'Origin-Realm') ?? '' };
  const recorded = getValues(req, 'Route-Record');
  // Only an own-system agent may bring Route-Record (lib/diameter refuses it from anyone else); never trust it otherwise.
  const behindOwnAgents = same(from.originRealm, self.originRealm) && recorded.length > 0;
  const realm = behindOwnAgents ? getValue(req, 'Origin-Realm') ?? '' : from.originRealm;
  const crossed = same(from.originRealm, self.originRealm) ? [...recorded, from.originHost] : [];
  return { realm: realm.toLowerCase(), viaPrimaryMms: crossed.some((h) => self.mmsHosts.some((m) => same(h, m))) };
}

/**
 * Whether `record` may be served toward `realm`.
 * @param realm the visited network: the authenticated realm ({@link requestOrigin}) for MAR and SAR, the
 *   Visited-Network-Identifier for UAR.
 * @param home the HSS's own realm: always allowed, by any path.
 * @param mode the configuration the request's path stands for; `any` when the path does not matter (UAR).
 */
export function mayServe(record: Pick<SubscriberRecord, 'allowed_partners'>, realm: string | undefined, home: string, mode: MigrationMode | 'any'): boolean {
  if (realm === undefined || realm === '') return false;
  return same(realm, home) || allowsMigration(record.allowed_partners, realm, mode);
}

/** The configuration a request's path stands for: through the primary MMS dynamic, any other way static. */
export function modeOf(origin: CxOrigin): MigrationMode {
  return origin.viaPrimaryMms ? 'dynamic' : 'static';
}
