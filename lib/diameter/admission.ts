/**
 * Who a peer is and what it may send (DESIGN §2.7 [design]): the rules every node applies, whatever role it plays.
 *
 * At the capabilities exchange (CER as responder, CEA as initiator), for a TLS peer, whose identity is its
 * certificate (lib/pki/identity.ts: `mcx://<realm>/<role>`, vouched for by a CA of that realm):
 * - Origin-Realm must be the certificate's realm, Origin-Host one of its DNS names and inside that realm;
 * - responder only: a peer of another realm than the node's must hold one of the node's allowed foreign roles
 *   (default `mms`: across MC systems only MMSs talk Cx). The initiator chose its peer by configuration.
 * A refusal is answered 3010 DIAMETER_UNKNOWN_PEER with an Error-Message (peer.ts).
 *
 * On every application request afterwards: without Route-Record, Origin-Host and Origin-Realm must be the peer's
 * own from its CER; with Route-Record, the peer must be of the node's own realm — an agent of this system that
 * authenticated its own ingress the same way. A peer of another realm may not relay into this system. So inside a
 * system the Origin-Realm of a request is always an authenticated one. Refusals are 5012 DIAMETER_UNABLE_TO_COMPLY
 * with an Error-Message, never handled or forwarded.
 *
 * Plain TCP peers have no certificate: their CER values stand (as inside one system on loopback), the request rules
 * apply to them alike.
 */
import type { Socket } from 'node:net';
import { hostInRealm, socketIdentity, type McxRole } from '../pki/identity.ts';
import type { DiameterMessage } from './codec.ts';
import { getValue, getValues } from './message.ts';
import type { Capabilities } from './peer-messages.ts';
import { sameIdentity } from './capabilities.ts';

/** Roles of another realm a node admits by default. */
export const DEFAULT_FOREIGN_ROLES: readonly McxRole[] = ['mms'];

/** A peer's identity once its CER/CEA was admitted. */
export interface PeerIdentity {
  originHost: string;
  originRealm: string;
  /** The role its certificate names; undefined on plain TCP. */
  role?: McxRole;
  /** Whether host and realm were checked against a certificate (TLS) rather than taken from the CER (TCP). */
  certified: boolean;
}

/** What the node brings to the check. */
export interface AdmissionPolicy {
  /** The node's own realm. */
  realm: string;
  /** Roles admitted from another realm (responder side). */
  foreignRoles: readonly string[];
}

/** An admitted identity, or why not (plus the certificate subject, for the log). */
export type AdmissionResult = { ok: true; identity: PeerIdentity } | { ok: false; reason: string; subject?: string };

/**
 * Checks a received CER (`responder`) or CEA (`initiator`) against the connection's certificate.
 * @param socket the peer's connection (TLS or TCP).
 */
export function admitPeer(socket: Socket, caps: Capabilities, side: 'initiator' | 'responder', policy: AdmissionPolicy): AdmissionResult {
  const cert = socketIdentity(socket);
  if (cert === undefined) return { ok: true, identity: { originHost: caps.originHost, originRealm: caps.originRealm, certified: false } };
  if (!cert.ok) {
    const hint = /no mcx:\/\//.test(cert.reason) ? ' (a PKI from before manifest version 2? regenerate it: mcx certs init --force)' : '';
    return { ok: false, reason: `TLS identity: ${cert.reason}${hint}`, subject: cert.subject };
  }
  const id = cert.identity;
  const fail = (reason: string): AdmissionResult => ({ ok: false, reason: `TLS identity mismatch: ${reason}`, subject: id.subject });
  if (!id.dnsNames.some((n) => sameIdentity(n, caps.originHost))) {
    return fail(`Origin-Host ${caps.originHost} is not among the certificate's DNS names [${id.dnsNames.join(', ')}]`);
  }
  if (caps.originRealm.toLowerCase() !== id.realm) return fail(`Origin-Realm ${caps.originRealm} is not the certificate's realm ${id.realm}`);
  if (!hostInRealm(caps.originHost, id.realm)) return fail(`Origin-Host ${caps.originHost} is not in the certificate's realm ${id.realm}`);
  if (side === 'responder' && id.realm !== policy.realm.toLowerCase() && !policy.foreignRoles.includes(id.role)) {
    return {
      ok: false, subject: id.subject,
      reason: `a peer of realm ${id.realm} may act here only as ${policy.foreignRoles.join(', ') || 'nothing'}; its certificate is for role ${id.role}`,
    };
  }
  return { ok: true, identity: { originHost: caps.originHost, originRealm: caps.originRealm, role: id.role, certified: true } };
}

/**
 * Rule for each application request from an admitted peer.
 * @param relaying the node relays it as it is (relay mode): then a missing Origin-Host or Origin-Realm is refused
 *   here too; a handled request leaves that to dictionary validation (5005 DIAMETER_MISSING_AVP).
 * @returns undefined when it may be handled or forwarded, else the reason to refuse it with.
 */
export function requestOriginProblem(msg: DiameterMessage, peer: PeerIdentity, policy: Pick<AdmissionPolicy, 'realm'>, relaying = false): string | undefined {
  let host: string | undefined;
  let realm: string | undefined;
  let recorded: string[];
  try {
    host = getValue(msg, 'Origin-Host');
    realm = getValue(msg, 'Origin-Realm');
    recorded = getValues(msg, 'Route-Record');
  } catch {
    // A handled request gets its validation answer (5004 with Failed-AVP); a relayed one is never forwarded so.
    return relaying ? 'Origin-Host, Origin-Realm or Route-Record unreadable' : undefined;
  }
  if (recorded.length > 0) {
    return sameIdentity(peer.originRealm, policy.realm) ? undefined : `peer ${peer.originHost} of realm ${peer.originRealm} may not relay into realm ${policy.realm} (Route-Record present)`;
  }
  if (host !== undefined && !sameIdentity(host, peer.originHost)) {
    return `Origin-Host ${host} is not the peer's own (${peer.originHost}, from its CER)`;
  }
  if (realm !== undefined && !sameIdentity(realm, peer.originRealm)) {
    return `Origin-Realm ${realm} is not the peer's own (${peer.originRealm}, from its CER)`;
  }
  return relaying && (host === undefined || realm === undefined) ? 'missing Origin-Host or Origin-Realm' : undefined;
}
