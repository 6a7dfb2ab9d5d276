/**
 * No user enumeration (issue #11, DESIGN §2.1/§2.7): an identity the HSS refuses (Experimental-Result 5001/5002 and
 * the other user refusals of cx.ts) gets the same first answer as a known one — a `401` with a well-formed challenge
 * — and its answer then gets the `403` of a wrong password. The decoy is
 *
 * - AKA-shaped when the REGISTER's Authorization asks for AKA: `algorithm=AKAv1-MD5`/`AKAv2-MD5`, or the 24.229
 *   §5.1.1.2.1 initial form (`nonce=""`) without an algorithm — what an IMS UE sends first (our UE and the SIPp
 *   template send no algorithm there; a password client sends no Authorization before a challenge). Realm the home
 *   domain, the configured AKA algorithm, `qop="auth,auth-int"`, a nonce of base64(random RAND ‖ random AUTN),
 *   32 octets like a real one. A real ISIM finds AUTN's MAC wrong;
 * - otherwise the password users' challenge set as this registrar last offered it (realm, algorithms, qop), with a
 *   random 32-octet nonce.
 *
 * Nothing secret is drawn or stored, so no response can ever verify. Equal latency is not attempted.
 */
import { randomBytes } from 'node:crypto';
import { akaNonce } from '../lib/aka/digest-aka.ts';
import type { DigestCredentials } from '../lib/sip/headers/auth.ts';
import type { ChallengeIdentity, DecoyChallenge } from './challenges.ts';
import { AKA_ALGORITHMS, type AkaAlgorithm, type DigestAlgorithm } from './config.ts';

/** What the registrar's SIP Digest challenges look like: kept up to date from the real ones it issues. */
export interface DigestShape {
  realm: string;
  qop: string[];
  algorithms: DigestAlgorithm[];
}

/**
 * Whether the REGISTER's Authorization asks for AKA: an AKA algorithm, or the 24.229 initial form without one.
 * @param cred the credentials the REGISTER carried, if any.
 */
export function asksForAka(cred: DigestCredentials | undefined): boolean {
  if (!cred) return false;
  const a = cred.algorithm?.toUpperCase();
  if (a === undefined) return (cred.nonce ?? '') === '';
  return AKA_ALGORITHMS.some((x) => x.toUpperCase() === a);
}

/**
 * A decoy challenge for `id`.
 * @param aka AKA-shaped (the REGISTER asked for AKA) or a password users' set.
 * @param domain realm of AKA challenges.
 * @param algorithm the configured AKA algorithm.
 * @param shape the password challenges' realm, qop and algorithms.
 */
export function decoyChallenge(id: ChallengeIdentity, o: { aka: boolean; domain: string; algorithm: AkaAlgorithm; shape: DigestShape; secAgree: boolean }): { nonce: string; record: DecoyChallenge } {
  const common = { kind: 'decoy' as const, ...id, secAgree: o.secAgree, algorithm: o.algorithm };
  if (o.aka) {
    return {
      nonce: akaNonce(randomBytes(16), randomBytes(16)),
      record: { ...common, shape: 'aka', realm: o.domain, algorithms: [], qop: [] },
    };
  }
  return {
    nonce: randomBytes(32).toString('base64'),
    record: { ...common, shape: 'digest', realm: o.shape.realm, algorithms: [...o.shape.algorithms], qop: [...o.shape.qop] },
  };
}
