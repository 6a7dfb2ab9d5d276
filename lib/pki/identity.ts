/**
 * Who a TLS peer is, read from its certificate (DESIGN §2.7 [design]). Every TLS leaf of this project carries exactly
 * one URI subjectAltName `mcx://<realm>/<role>` (SPIFFE-style: the trust domain is the MC system's realm, the path
 * the role the leaf may act as), and every root CA one URI `mcx://<realm>` declaring the realm it vouches for.
 *
 * A leaf's identity holds only when its realm is the realm its issuing CA declares: trusting a partner CA must not
 * let that CA mint certificates of the primary realm (or of another partner's). Its DNS names count only inside its
 * realm for the same reason: a partner CA could otherwise certify `mms.<primary realm>` as a host name.
 *
 * `certs/` writes these certificates; lib/diameter (CER/CEA admission) and the primary MMS's binding API read them.
 */
import type { Socket } from 'node:net';
import type { DetailedPeerCertificate, PeerCertificate, TLSSocket } from 'node:tls';

/** The roles a leaf may act as (the URI's path). */
export const MCX_ROLES = ['registrar', 'hss', 'mms', 'relay', 'idms'] as const;
/** A role a certificate may name. */
export type McxRole = (typeof MCX_ROLES)[number];

/** URI scheme of the identities. */
export const MCX_URI_SCHEME = 'mcx';

const LABEL = '[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?';
const URI = new RegExp(`^mcx://(?<realm>${LABEL}(?:\\.${LABEL})*)(?:/(?<role>[a-z]+))?$`);

/** Whether `x` names a role. */
export function isMcxRole(x: unknown): x is McxRole {
  return typeof x === 'string' && (MCX_ROLES as readonly string[]).includes(x);
}

/**
 * The identity URI of a leaf (`mcx://realm/role`) or of a root CA (`mcx://realm`, no role).
 * @param realm a DNS name; written lower-case (DiameterIdentity comparison is case-insensitive anyway).
 */
export function mcxUri(realm: string, role?: McxRole): string {
  return `${MCX_URI_SCHEME}://${realm.toLowerCase()}${role === undefined ? '' : `/${role}`}`;
}

/**
 * Reads an identity URI.
 * @returns realm (lower-case) and role (absent for a CA's URI), or undefined when `uri` is not one, or names an
 *   unknown role.
 */
export function parseMcxUri(uri: string): { realm: string; role?: McxRole } | undefined {
  const g = URI.exec(uri.toLowerCase())?.groups;
  const realm = g?.realm;
  if (realm === undefined || realm.length > 253) return undefined;
  if (g?.role === undefined) return { realm };
  return isMcxRole(g.role) ? { realm, role: g.role } : undefined;
}

/** Whether `host` is `realm` or a name under it (case-insensitive). */
export function hostInRealm(host: string, realm: string): boolean {
  const h = host.toLowerCase();
  const r = realm.toLowerCase();
  return h === r || h.endsWith(`.${r}`);
}

/** What a certificate says about its holder. */
export interface CertificateIdentity {
  realm: string;
  role: McxRole;
  /** DNS subjectAltNames, lower-case. */
  dnsNames: string[];
  /** The subject DN for logs, e.g. `CN=mms.partner.example, OU=mms, O=mcx-migrate partner MC system`. */
  subject: string;
}

/** A certificate's identity, or why it has none. */
export type IdentityResult =
  | { ok: true; identity: CertificateIdentity }
  | { ok: false; reason: string; subject: string };

/**
 * Splits Node's `subjectaltname` text (`DNS:a, URI:b, IP Address:c`; values with special characters are
 * JSON-quoted) into `[type, value]` pairs.
 */
export function subjectAltNames(text: string | undefined): Array<[string, string]> {
  const out: Array<[string, string]> = [];
  const src = text ?? '';
  let i = 0;
  while (i < src.length) {
    const colon = src.indexOf(':', i);
    if (colon < 0) break;
    const type = src.slice(i, colon).trim();
    let j = colon + 1;
    let value: string;
    if (src[j] === '"') {
      // JSON string: find its closing quote, skipping escapes.
      let k = j + 1;
      while (k < src.length && src[k] !== '"') k += src[k] === '\\' ? 2 : 1;
      try {
        value = JSON.parse(src.slice(j, k + 1)) as string;
      } catch {
        value = src.slice(j + 1, k);
      }
      j = k + 1;
    } else {
      const end = src.indexOf(', ', j);
      value = src.slice(j, end < 0 ? src.length : end);
      j = end < 0 ? src.length : end;
    }
    out.push([type, value]);
    const next = src.indexOf(', ', j);
    i = next < 0 ? src.length : next + 2;
  }
  return out;
}

/** A certificate's subject DN as one line. */
export function describeSubject(cert: PeerCertificate | undefined): string {
  const subject = cert?.subject as unknown as Record<string, string | string[]> | undefined;
  if (!subject) return '(no certificate)';
  return Object.entries(subject).map(([k, v]) => `${k}=${Array.isArray(v) ? v.join('+') : v}`).join(', ');
}

function mcxUris(cert: PeerCertificate): string[] {
  return subjectAltNames(cert.subjectaltname).filter(([t, v]) => t === 'URI' && v.toLowerCase().startsWith(`${MCX_URI_SCHEME}:`)).map(([, v]) => v);
}

/**
 * The identity of a verified certificate whose issuer chain is attached (`getPeerCertificate(true)`).
 * Refused: no or several `mcx://` URIs, a URI without a known role, an issuing CA that declares no realm or another
 * realm than the leaf's.
 */
export function certificateIdentity(cert: DetailedPeerCertificate): IdentityResult {
  const subject = describeSubject(cert);
  const fail = (reason: string): IdentityResult => ({ ok: false, reason, subject });
  const uris = mcxUris(cert);
  if (uris.length !== 1) {
    return fail(uris.length === 0 ? 'the certificate carries no mcx:// identity URI' : `the certificate carries ${uris.length} mcx:// URIs, not one`);
  }
  const id = parseMcxUri(uris[0] as string);
  if (!id || id.role === undefined) return fail(`the certificate's identity URI ${uris[0]} is not mcx://<realm>/<role>`);
  const issuer = cert.issuerCertificate;
  const issuerUris = issuer && issuer !== cert && issuer.raw !== undefined && !issuer.raw.equals(cert.raw) ? mcxUris(issuer) : [];
  const declared = issuerUris.length === 1 ? parseMcxUri(issuerUris[0] as string) : undefined;
  if (!declared || declared.role !== undefined) return fail(`the issuing CA (${describeSubject(issuer)}) declares no realm (mcx://<realm>)`);
  if (declared.realm !== id.realm) return fail(`the certificate names realm ${id.realm} but its CA vouches for ${declared.realm}`);
  const dnsNames = subjectAltNames(cert.subjectaltname).filter(([t]) => t === 'DNS').map(([, v]) => v.toLowerCase());
  return { ok: true, identity: { realm: id.realm, role: id.role, dnsNames, subject } };
}

/**
 * The certificate identity of a connected peer.
 * @returns undefined on a plain TCP socket (no certificate to read).
 */
export function socketIdentity(socket: Socket): IdentityResult | undefined {
  const tls = socket as Partial<TLSSocket>;
  if (typeof tls.getPeerCertificate !== 'function') return undefined;
  const cert = tls.getPeerCertificate(true);
  if (!cert || Object.keys(cert).length === 0) return { ok: false, reason: 'no certificate', subject: '(no certificate)' };
  return certificateIdentity(cert);
}
