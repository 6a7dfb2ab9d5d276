/**
 * The client side of the admin APIs (lib/admin/server.ts: the HSS's subscribers, the MMS's mappings, the IdMS's
 * users, the registrar's bindings), for the `mcx … --admin URL` commands and the partner-facing roles that read
 * them: lib/http with the bearer token, JSON or CSV bodies, and the APIs' error shape as an {@link AdminApiError}.
 */
import { isHttpError } from '../http/errors.ts';
import { requestJson } from '../http/json.ts';

/** Where an admin API is and how to authenticate to it. */
export interface AdminTarget {
  /** `http://host:port` (loopback) or `https://host:port`. */
  url: string;
  token: string;
  /** PEM CAs trusted for HTTPS (default: the system's). */
  ca?: string | string[];
  /** Overall deadline of a request (default 10 s). */
  timeoutMs?: number;
}

/** One problem of a refused input, as the admin APIs list them (`problems`): by CSV line and field. */
export interface AdminProblem {
  line?: number;
  field?: string;
  message: string;
}

/** A non-2xx answer of an admin API (or one that is not JSON: `error` `bad_response`). */
export class AdminApiError extends Error {
  override readonly name = 'AdminApiError';

  /**
   * @param status HTTP status.
   * @param error the `error` code of the JSON body.
   * @param problems provisioning problems, when the API listed them.
   */
  constructor(readonly status: number, readonly error: string, description: string, readonly problems: AdminProblem[] = []) {
    super(description);
  }
}

const problemsOf = (body: Record<string, unknown> | undefined): AdminProblem[] =>
  (Array.isArray(body?.problems) ? body.problems : []).filter((p): p is AdminProblem => typeof (p as AdminProblem | null)?.message === 'string');

/**
 * One request; resolves with the parsed JSON body (undefined for 204).
 * @param path relative to `t.url` (`admin/v1/…`).
 * @throws AdminApiError for a non-2xx or non-JSON answer; HttpError (lib/http) naming `admin API <origin>` when no
 *   answer came (unreachable, TLS, timeout, too large).
 */
export async function adminRequest<T>(t: AdminTarget, method: 'GET' | 'POST' | 'PUT' | 'DELETE', path: string, body?: { json: unknown } | { csv: string }): Promise<T> {
  const url = new URL(path, t.url.endsWith('/') ? t.url : `${t.url}/`);
  try {
    const res = await requestJson<T>(url, {
      method, bearer: t.token, label: `admin API ${url.origin}`, ...(t.timeoutMs === undefined ? {} : { timeoutMs: t.timeoutMs }),
      ...(t.ca === undefined ? {} : { tls: { ca: t.ca } }),
      ...(body === undefined ? {} : 'json' in body ? { json: body.json } : { text: { body: body.csv, contentType: 'text/csv' } }),
    });
    return res.json as T;
  } catch (e) {
    if (isHttpError(e, 'ERR_HTTP_BAD_JSON')) throw new AdminApiError(e.status ?? 0, 'bad_response', `admin API answered ${e.status ?? 0} with non-JSON`);
    if (isHttpError(e, 'ERR_HTTP_STATUS')) {
      const status = e.status ?? 0;
      throw new AdminApiError(status, e.error ?? 'error', e.errorDescription ?? `HTTP ${status}`, problemsOf(e.body));
    }
    throw e;
  }
}
