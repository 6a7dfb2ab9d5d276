/**
 * Verifying the answer to a challenge (RFC 2617 §3.2.2 as SIP uses it, RFC 3310 §3.3/§3.5, RFC 4169, RFC 8760):
 *
 * - AKAv1-MD5: the Digest password is XRES as raw octets;
 * - AKAv2-MD5: the password is base64(HMAC-MD5(XRES ‖ IK ‖ CK, "http-digest-akav2-password"));
 * - SIP Digest MD5 / SHA-256: HA1 as the HSS computed it for its realm;
 *
 * with qop `auth`, `auth-int` (the request body hashed into HA2), or none (RFC 2069 form). The comparison is constant
 * time. The Digest `uri` must name the Request-URI (RFC 3261 §22.4, RFC 7616 §3.4.6), by the URI equivalence of
 * RFC 3261 §19.1.4 rather than as text, since a UA may spell the same URI differently (host case, escapes). A decoy
 * (decoy.ts) never verifies. A match yields the Authentication-Info value, whose `rspauth` proves to the UE that the registrar held the
 * same secret (for AKA: XRES, RFC 3310 §3.5).
 */
import { akav2Password, digestHa1, rspauth, digestResponse, verifyDigestResponse } from '../lib/aka/digest-aka.ts';
import type { DigestHash, DigestQop, DigestSecret } from '../lib/aka/digest-aka.ts';
import { formatAuthenticationInfo, type DigestCredentials } from '../lib/sip/headers/auth.ts';
import { urisEquivalent } from '../lib/sip/headers/uri-equivalence.ts';
import { parseUri, type Uri } from '../lib/sip/headers/uri.ts';
import { AKA_QOP, type ChallengeRecord } from './challenges.ts';
import type { DigestAlgorithm } from './config.ts';

/** Why credentials were refused; each is a 403. */
export type AuthFailure = 'identity' | 'uri' | 'algorithm' | 'qop' | 'response';

/** The outcome of {@link verifyCredentials}. */
export type AuthVerdict = { ok: true; authenticationInfo: string } | { ok: false; failure: AuthFailure };

/** The request parts the digest covers. */
export interface DigestRequest {
  method: string;
  /** For `auth-int`. */
  body: Buffer;
  /** What the Digest `uri` must be equivalent to. */
  requestUri: Uri;
  /** The local address and port the request arrived on: `sip:<address>:<port>` names this registrar too. */
  receivedOn?: { address: string; port: number };
}

/**
 * Whether the Digest `uri` names the resource of the request: a URI equivalent to the Request-URI, or `sip:` with no
 * user part naming the very address and port the request arrived on — this registrar, so a response computed for it
 * is usable nowhere else. The second form is what SIPp 3.6.1 writes whatever the Request-URI
 * (`uri="sip:<remote_ip>:<remote_port>"`). An unparsable `uri` matches nothing.
 */
function uriMatches(digestUri: string, req: DigestRequest): boolean {
  let u: Uri;
  try {
    u = parseUri(digestUri);
  } catch {
    return false;
  }
  if (urisEquivalent(u, req.requestUri)) return true;
  const at = req.receivedOn;
  if (!at || u.kind !== 'sip' || u.user !== undefined || u.headers !== undefined) return false;
  const host = u.host.replace(/^\[|\]$/g, '').toLowerCase();
  return host === at.address.toLowerCase() && (u.port ?? (u.scheme === 'sips' ? 5061 : 5060)) === at.port;
}

/**
 * The Authorization to act on: the first Digest credentials with a nonce, else the first Digest credentials (the
 * 24.229 initial REGISTER carries them with `nonce=""`).
 */
export function pickCredentials(req: { authorization(): DigestCredentials[] }): DigestCredentials | undefined {
  const digest = req.authorization().filter((c) => c.scheme.toLowerCase() === 'digest');
  return digest.find((c) => (c.nonce ?? '') !== '') ?? digest[0];
}

const HASH: Readonly<Record<DigestAlgorithm, DigestHash>> = { MD5: 'md5', 'SHA-256': 'sha-256' };

/** The secret and hash of a challenge for the algorithm the client answered with, or undefined when not offered. */
function secretOf(r: Exclude<ChallengeRecord, { kind: 'decoy' }>, algorithm: string | undefined): { hash: DigestHash; secret: DigestSecret } | undefined {
  const asked = algorithm?.toUpperCase();
  if (r.kind === 'aka') {
    // RFC 3310 §3.1: a missing algorithm means MD5, not AKA; tolerated here because the hash is the same.
    if (asked !== undefined && asked !== r.algorithm.toUpperCase()) return undefined;
    const xres = Buffer.from(r.xres, 'hex');
    const password = r.algorithm === 'AKAv2-MD5'
      ? akav2Password(xres, Buffer.from(r.ik ?? '', 'hex'), Buffer.from(r.ck ?? '', 'hex'))
      : xres;
    return { hash: 'md5', secret: { password } };
  }
  const alg = (Object.keys(HASH) as DigestAlgorithm[]).find((a) => a === (asked ?? 'MD5'));
  const ha1 = alg === undefined ? undefined : r.ha1[alg];
  return alg === undefined || ha1 === undefined ? undefined : { hash: HASH[alg], secret: { ha1 } };
}

/**
 * Checks credentials against the challenge their nonce named. The caller has already matched the nonce (it found the
 * record by it) and checks `nc` itself (single use).
 * @param r the challenge taken from the store.
 * @param c the Authorization credentials.
 * @param req method and body of the REGISTER.
 */
export function verifyCredentials(r: ChallengeRecord, c: DigestCredentials, req: DigestRequest): AuthVerdict {
  if (c.username !== r.impi || c.realm !== r.realm || c.uri === undefined || c.nonce === undefined) return { ok: false, failure: 'identity' };
  if (!uriMatches(c.uri, req)) return { ok: false, failure: 'uri' };
  if (r.kind === 'decoy') return { ok: false, failure: 'response' };
  const s = secretOf(r, c.algorithm);
  if (!s) return { ok: false, failure: 'algorithm' };
  const offered: readonly string[] = r.kind === 'aka' ? AKA_QOP : r.qop;
  if (c.qop !== undefined && !offered.includes(c.qop)) return { ok: false, failure: 'qop' };
  const qop = c.qop as DigestQop | undefined;
  const fields = {
    username: c.username, realm: c.realm, uri: c.uri, nonce: c.nonce, hash: s.hash,
    ...(qop === undefined ? {} : { qop, nc: c.nc, cnonce: c.cnonce }),
  };
  let expected: string;
  let secret: { ha1: string };
  try {
    // HA1 once for the response and the rspauth (issue #12).
    secret = { ha1: s.secret.password === undefined ? s.secret.ha1 : digestHa1(s.hash, c.username, c.realm, s.secret.password) };
    expected = digestResponse({ ...fields, ...secret, method: req.method, body: req.body });
  } catch {
    // nc/cnonce missing or malformed with qop: the credentials cannot be right.
    return { ok: false, failure: 'response' };
  }
  if (!verifyDigestResponse(expected, c.response ?? '')) return { ok: false, failure: 'response' };
  // The 200 carries no body, so rspauth's auth-int HA2 hashes the empty entity (RFC 2617 §3.2.3).
  const auth = rspauth({ ...fields, ...secret, body: Buffer.alloc(0) });
  const authenticationInfo = formatAuthenticationInfo(qop === undefined
    ? { rspauth: auth }
    : { qop, rspauth: auth, cnonce: c.cnonce, nc: c.nc });
  return { ok: true, authenticationInfo };
}
