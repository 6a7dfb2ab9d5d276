/**
 * The UE's migration configuration client (DESIGN §2.4 [design]; the precondition of TS 23.280 §10.6.2.3): with the
 * partner access token from the partner IdMS (RFC 7523), it asks the partner MMS for partner SIP identities
 * (`POST /migration/v1/configurations`) and ends the migration (`DELETE …/{id}`). HTTPS only, the partner CA
 * verified; errors come back as IdmClientError `ERR_IDM_OAUTH` with the API's `error` (`invalid_token`,
 * `migration_not_allowed`, …).
 */
import { CONFIGURATIONS_PATH, configurationSchema, type ConfigurationView } from '../../lib/migration/wire.ts';
import { IdmClientError, httpsRequest, jsonOf, type TlsTrust } from './http.ts';

/** What the partner MMS assigned: the identities to register with (`domain`: Request-URI and realm), and where. */
export type MigrationConfiguration = ConfigurationView;

/** Where the partner MMS's migration API is, and the token that opens it. */
export interface MigrationClientOptions extends TlsTrust {
  /** `https://host:port` of the partner MMS migration API. */
  mms: string;
  /** The partner access token. */
  accessToken: string;
}

const configurationsUrl = (mms: string, id?: string): URL =>
  new URL(`${CONFIGURATIONS_PATH}${id === undefined ? '' : `/${encodeURIComponent(id)}`}`, mms.endsWith('/') ? mms : `${mms}/`);

/**
 * Requests a migration configuration (or gets the user's live one).
 * @throws IdmClientError `ERR_IDM_OAUTH` for a refusal, `ERR_IDM_TRANSPORT` / `ERR_IDM_PROTOCOL` otherwise.
 */
export async function requestMigration(o: MigrationClientOptions): Promise<MigrationConfiguration> {
  const res = await httpsRequest(configurationsUrl(o.mms), { method: 'POST', json: {}, bearer: o.accessToken }, o);
  // The schema keeps only the six known fields: whatever else the server put in (a token, the primary identities)
  // reaches no report.
  const c = configurationSchema.safeParse(jsonOf<unknown>(res, 'migration configuration'));
  if ((res.status !== 201 && res.status !== 200) || !c.success) {
    throw new IdmClientError('ERR_IDM_PROTOCOL', `migration configuration: HTTP ${res.status} without id, partner_impi, partner_impus, domain, registrar, expires_at`, { status: res.status });
  }
  return c.data;
}

/**
 * Ends a migration (here and at the primary MMS).
 * @throws IdmClientError `ERR_IDM_OAUTH` (`not_found`, `invalid_token`, …) or a transport error.
 */
export async function endMigration(o: MigrationClientOptions & { id: string }): Promise<void> {
  const res = await httpsRequest(configurationsUrl(o.mms, o.id), { method: 'DELETE', bearer: o.accessToken }, o);
  if (res.status === 204) return;
  jsonOf(res, 'end of migration');
  throw new IdmClientError('ERR_IDM_PROTOCOL', `end of migration: unexpected HTTP ${res.status}`, { status: res.status });
}
