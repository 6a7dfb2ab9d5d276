/**
 * The IdM vocabulary shared by the IdMS that issues tokens and the servers and clients that use them (TS 33.180
 * §5.1.4.2, Annex B): the two IdMS roles, the migration scope, the MC service ID claim, the one signing algorithm,
 * and the default resource (`aud`) of each IdMS's access tokens. Here, not in idms/, so the MMS and the UE use the
 * same values without importing the IdMS.
 */

/** The two IdMS roles of TS 33.180 §5.1.4.2. */
export const IDMS_ROLES = ['primary', 'partner'] as const;
/** `primary` (the user's home IdMS) or `partner` (the IdMS of the MC system the user migrates to). */
export type IdmsRole = (typeof IDMS_ROLES)[number];

/** The migration scope [design]: 33.180 names none; the partner MMS's migration API requires this one. */
export const MIGRATION_SCOPE = '3gpp:mc:migration';

/** The MC service ID claim linking an IdMS user to the HSS subscriber of the same `mcptt_id` (33.180 B.2). */
export const MCPTT_ID_CLAIM = 'mcptt_id';

/** The only JWS algorithm issued or accepted for security tokens and access tokens. */
export const SIGNING_ALG = 'RS256';

/** The default `aud` of an IdMS's access tokens: its MC services (primary) or its MMS migration API (partner). */
export function defaultResource(role: IdmsRole, issuer: string): string {
  return new URL(role === 'primary' ? 'mc-services' : 'migration', issuer.endsWith('/') ? issuer : `${issuer}/`).href;
}
