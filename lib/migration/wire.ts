/**
 * The wire of the two migration APIs (DESIGN §2.4 [design]; TS 23.280 §10.6.2.3): request and answer types and
 * their zod schemas, one copy for both ends — the partner MMS serves the configuration API and calls the binding
 * API (mms/migration-api.ts, mms/binding-client.ts), the primary MMS serves the binding API (mms/binding-api.ts),
 * the UE calls the configuration API (ue-client/idm/migration.ts). Errors on both are `{error, error_description}`
 * (lib/http/json.ts reads them).
 *
 * Request schemas are strict (an unknown member is refused: a typo must not pass as an absent optional field);
 * answer schemas strip what they do not name, so a client keeps only the fields it knows (nothing else the server
 * sends — a token, the primary identities — travels further).
 */
import { z } from 'zod';
import { realmSchema } from '../config/address.ts';
import { identitySchema } from './identity.ts';

/** The partner MMS's migration configuration API, toward the UE (bearer: the partner access token). */
export const CONFIGURATIONS_PATH = 'migration/v1/configurations';

/** `POST /migration/v1/configurations`: an empty object (who asks is in the token). */
export const configurationRequestSchema = z.object({}).strict();

/**
 * The answer of `POST` (201 new, 200 the user's live one) and `GET /migration/v1/configurations/:id`: the partner
 * identities to register with, the domain (Request-URI and realm), the registrar and the expiry (ISO 8601).
 */
export const configurationSchema = z.object({
  id: z.string(),
  partner_impi: z.string(),
  partner_impus: z.array(z.string()),
  domain: z.string(),
  registrar: z.string(),
  expires_at: z.string(),
});
/** A migration configuration as the UE sees it. */
export type ConfigurationView = z.infer<typeof configurationSchema>;

/** The primary MMS's binding API, toward partner MMSs (mutual TLS). */
export const BINDINGS_PATH = 'migration/v1/bindings';

/** `POST /migration/v1/bindings`: what the partner asks for. */
export const bindingRequestSchema = z.object({
  mcptt_id: z.string().min(1).max(255),
  partner_realm: realmSchema,
  partner_impi: identitySchema('impi'),
  partner_impus: z.array(identitySchema('impu')).min(1).max(16),
  expires_at: z.iso.datetime({ offset: true }),
}).strict();
/** What the partner asks for. */
export type BindingRequest = z.infer<typeof bindingRequestSchema>;

/** The 200 answer of `POST /migration/v1/bindings`: what the primary confirms. */
export const bindingAnswerSchema = z.object({
  primary_impi: z.string(),
  primary_impus: z.array(z.string()).min(1),
  primary_realm: z.string(),
  /** The expiry the primary accepted (at most the one asked for). */
  expires_at: z.string().optional(),
});
/** What the primary confirms. */
export type BindingAnswer = z.infer<typeof bindingAnswerSchema>;

/** `DELETE /migration/v1/bindings/:partner_impi?partner_realm=R` (204; 404 when there was none). */
export function bindingPath(partnerRealm: string, partnerImpi: string): string {
  return `${BINDINGS_PATH}/${encodeURIComponent(partnerImpi)}?partner_realm=${encodeURIComponent(partnerRealm)}`;
}
