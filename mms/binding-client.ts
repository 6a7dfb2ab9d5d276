/**
 * The partner MMS's client of a primary MMS's binding API (binding-api.ts; wire types lib/migration/wire.ts): lib/http
 * with mutual TLS — the partner MMS's own certificate, the primary system's CA trusted, the server's name checked —
 * and JSON both ways. Every failure is a {@link MigrationError}: the primary's own refusal keeps its code (403
 * `migration_not_allowed`, …); no answer, TLS refusal or an unusable answer is ERR_MIGRATION_PRIMARY_UNAVAILABLE.
 */
import { isHttpError, type HttpError } from '../lib/http/errors.ts';
import { requestJson, type JsonResponse } from '../lib/http/json.ts';
import { BINDINGS_PATH, bindingAnswerSchema, bindingPath, type BindingAnswer, type BindingRequest } from '../lib/migration/wire.ts';
import { MigrationError, type MigrationErrorCode } from './migration-errors.ts';

export type { BindingAnswer, BindingRequest } from '../lib/migration/wire.ts';

/** How the partner MMS reaches one primary MMS. */
export interface BindingClientOptions {
  /** `https://host:port` of the binding API. */
  url: string;
  /** Own certificate and key, CAs trusted for the server (the primary CA). */
  tls: { cert: string; key: string; ca: string[] };
  /** Overall deadline of a request (default 5 s). */
  timeoutMs?: number;
}

// Only the primary's decision about the user reaches the UE as such; anything else it says (404 of a wrong URL, a
// refused certificate of this MMS) is this system's problem, not the UE's: 502.
const BY_ERROR: Readonly<Record<string, MigrationErrorCode>> = { migration_not_allowed: 'ERR_MIGRATION_NOT_ALLOWED' };

function refusal(status: number, e?: HttpError): MigrationError {
  const error = e?.error ?? `http_${status}`;
  return new MigrationError(BY_ERROR[error] ?? 'ERR_MIGRATION_PRIMARY_UNAVAILABLE', `primary MMS: ${error} (${e?.errorDescription ?? `HTTP ${status}`})`);
}

/**
 * One request.
 * @param expected a non-2xx status that is an answer, not a refusal (404 of a release).
 */
async function call(o: BindingClientOptions, method: 'POST' | 'DELETE', path: string, body?: BindingRequest, expected?: number): Promise<JsonResponse<unknown>> {
  const url = new URL(path, o.url.endsWith('/') ? o.url : `${o.url}/`);
  try {
    return await requestJson(url, { method, httpsOnly: true, tls: o.tls, timeoutMs: o.timeoutMs ?? 5000, ...(body === undefined ? {} : { json: body }) });
  } catch (e) {
    if (isHttpError(e, 'ERR_HTTP_STATUS')) {
      if (e.status === expected) return { status: e.status ?? 0, headers: {}, json: e.body };
      throw refusal(e.status ?? 0, e);
    }
    if (isHttpError(e, 'ERR_HTTP_BAD_JSON')) {
      throw new MigrationError('ERR_MIGRATION_PRIMARY_UNAVAILABLE', `the primary MMS ${url.origin} answered HTTP ${e.status ?? 0} with a body that is not JSON`);
    }
    if (isHttpError(e)) throw new MigrationError('ERR_MIGRATION_PRIMARY_UNAVAILABLE', `the primary MMS ${url.origin} cannot be reached: ${e.reason}`, false, { cause: e });
    throw e;
  }
}

/**
 * `POST /migration/v1/bindings`.
 * @throws MigrationError (the primary's refusal, or ERR_MIGRATION_PRIMARY_UNAVAILABLE).
 */
export async function requestBinding(o: BindingClientOptions, body: BindingRequest): Promise<BindingAnswer> {
  const { status, json } = await call(o, 'POST', BINDINGS_PATH, body);
  if (status !== 200) throw refusal(status);
  const a = bindingAnswerSchema.safeParse(json);
  if (!a.success) throw new MigrationError('ERR_MIGRATION_PRIMARY_UNAVAILABLE', 'the primary MMS confirmed a binding without primary_impi, primary_impus and primary_realm');
  return a.data;
}

/**
 * `DELETE /migration/v1/bindings/:partner_impi?partner_realm=`.
 * @returns false when the primary had no such binding (404).
 * @throws MigrationError for any other failure.
 */
export async function releaseBinding(o: BindingClientOptions, partnerRealm: string, partnerImpi: string): Promise<boolean> {
  const { status } = await call(o, 'DELETE', bindingPath(partnerRealm, partnerImpi), undefined, 404);
  if (status === 204) return true;
  if (status === 404) return false;
  throw refusal(status);
}
