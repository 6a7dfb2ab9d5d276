/**
 * The IMS identities a migration maps and binds (TS 23.003 §13): private identities (IMPI, an NAI), public
 * identities (IMPU, a SIP or tel URI) and realms. Shared by the partner MMS's static mappings, the binding API's
 * wire schemas (wire.ts) and whoever else checks one before it goes on the wire.
 */
import { z } from 'zod';
import { isRealm } from '../config/address.ts';

/** What kind of identity a value must be. */
export type IdentityKind = 'impi' | 'impu' | 'realm';

// An IMPI is an NAI (TS 23.003 §13.3): user@realm, no whitespace or controls.
const NAI = /^[^\s@\p{Cc}]+@[^\s@\p{Cc}]+$/u;
const IMPU = /^(sips?:[^\s\p{Cc}]+|tel:[^\s\p{Cc}]+)$/iu;

/**
 * Why `value` is not a usable identity of this kind.
 * @returns undefined when it is fine.
 */
export function identityProblem(kind: IdentityKind, value: unknown): string | undefined {
  if (typeof value !== 'string' || value === '') return 'is required';
  if (value.length > 255) return 'is longer than 255 characters';
  if (kind === 'impi') return NAI.test(value) ? undefined : 'must be an NAI such as user@realm.example';
  if (kind === 'impu') return IMPU.test(value) ? undefined : 'must be a sip:, sips: or tel: URI';
  return isRealm(value) ? undefined : 'must be a DNS name such as ims.example.net';
}

/** A zod string that must be an identity of `kind` ({@link identityProblem}'s message on failure). */
export function identitySchema(kind: IdentityKind): z.ZodType<string> {
  return z.string().superRefine((v, ctx) => {
    const bad = identityProblem(kind, v);
    if (bad) ctx.addIssue({ code: 'custom', message: bad });
  });
}
