/**
 * What a local node advertises in CER/CEA (RFC 6733 §5.3) and how two advertisements meet: the applications both
 * support (§5.3: none in common → 5010), with the Relay application 0xFFFFFFFF matching everything (§2.4).
 */
import { isIP } from 'node:net';
import type { Capabilities, VendorSpecificApplicationId } from './peer-messages.ts';
import { ApplicationId, VENDOR_3GPP } from './constants.ts';

/** One application a node supports; a vendor makes it advertised as a Vendor-Specific-Application-Id too. */
export interface ApplicationSpec {
  applicationId: number;
  /** Vendor-Id of a vendor-specific application (10415 for Cx). */
  vendorId?: number;
  /** Authentication (default) or accounting application. */
  kind?: 'auth' | 'acct';
}

/** The Cx/Dx application: `{Vendor-Id 10415, Auth-Application-Id 16777216}` (TS 29.229 §6). */
export const CX_APPLICATION: ApplicationSpec = { applicationId: ApplicationId.CX, vendorId: VENDOR_3GPP };

/** Product-Name every node of this project advertises. */
export const PRODUCT_NAME = 'mcx-migrate';

/** The local node as seen in CER/CEA. */
export interface LocalIdentity {
  originHost: string;
  originRealm: string;
  applications: readonly ApplicationSpec[];
  /** A relay advertises the Relay application (RFC 6733 §2.4). */
  relay: boolean;
  originStateId: number;
  productName: string;
  /** Vendor-Id of this implementation (0: none registered). */
  vendorId: number;
  firmwareRevision?: number;
  /** Host-IP-Address values; default: the local address of each connection. */
  hostIpAddresses?: readonly string[];
}

/**
 * `::ffff:a.b.c.d` (what a dual-stack socket reports for IPv4) as `a.b.c.d`; other addresses unchanged.
 * @param address a socket address.
 */
export function plainAddress(address: string): string {
  const m = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  return m ? (m[1] as string) : address;
}

/**
 * The Capabilities to send on one connection. Kamailio's cdp insists that the Cx application is listed, so vendor
 * applications are advertised both as Auth-Application-Id and inside a Vendor-Specific-Application-Id.
 * @param localAddress the connection's local address (used when no Host-IP-Address is configured).
 */
export function localCapabilities(id: LocalIdentity, localAddress: string | undefined): Capabilities {
  const configured = id.hostIpAddresses?.length ? [...id.hostIpAddresses] : undefined;
  const fromSocket = localAddress && isIP(plainAddress(localAddress)) ? [plainAddress(localAddress)] : undefined;
  const auth = id.applications.filter((a) => a.kind !== 'acct');
  const acct = id.applications.filter((a) => a.kind === 'acct');
  const vendors = [...new Set(id.applications.flatMap((a) => (a.vendorId === undefined ? [] : [a.vendorId])))];
  const vsai: VendorSpecificApplicationId[] = id.applications
    .filter((a) => a.vendorId !== undefined)
    .map((a) => (a.kind === 'acct'
      ? { vendorId: a.vendorId as number, acctApplicationId: a.applicationId }
      : { vendorId: a.vendorId as number, authApplicationId: a.applicationId }));
  const caps: Capabilities = {
    originHost: id.originHost,
    originRealm: id.originRealm,
    hostIpAddresses: configured ?? fromSocket ?? ['127.0.0.1'],
    vendorId: id.vendorId,
    productName: id.productName,
    originStateId: id.originStateId,
    supportedVendorIds: vendors,
    authApplicationIds: [...auth.map((a) => a.applicationId), ...(id.relay ? [ApplicationId.RELAY] : [])],
    acctApplicationIds: acct.map((a) => a.applicationId),
    vendorSpecificApplicationIds: vsai,
  };
  if (id.firmwareRevision !== undefined) caps.firmwareRevision = id.firmwareRevision;
  return caps;
}

/**
 * Every application id a peer advertised, top-level or vendor-specific, auth or acct.
 * @param c a received CER/CEA.
 */
export function advertisedApplications(c: Capabilities): Set<number> {
  const out = new Set<number>([...(c.authApplicationIds ?? []), ...(c.acctApplicationIds ?? [])]);
  for (const v of c.vendorSpecificApplicationIds ?? []) {
    if (v.authApplicationId !== undefined) out.add(v.authApplicationId);
    if (v.acctApplicationId !== undefined) out.add(v.acctApplicationId);
  }
  return out;
}

/**
 * The applications usable between the local node and a peer: the intersection, everything when either side is a
 * relay. An empty result means DIAMETER_NO_COMMON_APPLICATION.
 * @returns application ids; contains {@link ApplicationId.RELAY} when the peer is a relay.
 */
export function commonApplications(local: LocalIdentity, remote: ReadonlySet<number>): number[] {
  const mine = new Set(local.applications.map((a) => a.applicationId));
  if (remote.has(ApplicationId.RELAY)) return [ApplicationId.RELAY, ...mine];
  if (local.relay) return [...remote].filter((a) => a !== ApplicationId.COMMON);
  return [...mine].filter((a) => remote.has(a));
}

/**
 * Whether a peer with these common applications can take a request of `applicationId`.
 * @param common what {@link commonApplications} returned for the peer.
 */
export function peerSupports(common: readonly number[], applicationId: number): boolean {
  return applicationId === ApplicationId.COMMON || common.includes(applicationId) || common.includes(ApplicationId.RELAY);
}

/**
 * DiameterIdentity comparison: ASCII case-insensitive (RFC 6733 §5.6.4).
 * @returns true when both name the same node.
 */
export function sameIdentity(a: string | undefined, b: string | undefined): boolean {
  return a !== undefined && b !== undefined && a.toLowerCase() === b.toLowerCase();
}
