/**
 * JSON over lib/http: request bodies as JSON, answers parsed, and error answers in the shape every API of this
 * project (and OAuth, RFC 6749 §5.2) uses — `{error, error_description}` plus the API's own members — turned into
 * an {@link HttpError} `ERR_HTTP_STATUS` carrying them.
 */
import { HttpError } from './errors.ts';
import { httpRequest, requestLabel, type HttpRequestOptions, type HttpResponse } from './request.ts';

/** A 2xx answer with its body parsed (undefined for an empty body, such as a 204's). */
export interface JsonResponse<T> {
  status: number;
  headers: HttpResponse['headers'];
  json: T | undefined;
}

/**
 * The body of `res` as JSON.
 * @param label names the request in errors.
 * @returns undefined for an empty body.
 * @throws HttpError `ERR_HTTP_BAD_JSON` (with the status) for a body that is not JSON, whatever the status.
 */
export function parseJsonBody(res: HttpResponse, label: string): unknown {
  if (res.body === '') return undefined;
  try {
    return JSON.parse(res.body) as unknown;
  } catch {
    const reason = `HTTP ${res.status} with a body that is not JSON`;
    throw new HttpError('ERR_HTTP_BAD_JSON', `${label}: ${reason}`, { status: res.status, reason });
  }
}

/**
 * The `ERR_HTTP_STATUS` error of a non-2xx answer whose JSON body is `json`: `error` and `error_description` when
 * they are strings, the whole object as `body`.
 */
export function statusError(status: number, json: unknown, label: string): HttpError {
  const body = typeof json === 'object' && json !== null && !Array.isArray(json) ? json as Record<string, unknown> : undefined;
  const error = typeof body?.error === 'string' ? body.error : undefined;
  const errorDescription = typeof body?.error_description === 'string' ? body.error_description : undefined;
  const reason = `HTTP ${status}${error === undefined ? '' : ` ${error}`}${errorDescription === undefined ? '' : ` (${errorDescription})`}`;
  return new HttpError('ERR_HTTP_STATUS', `${label}: ${reason}`, {
    status, reason, ...(error === undefined ? {} : { error }), ...(errorDescription === undefined ? {} : { errorDescription }), ...(body ? { body } : {}),
  });
}

/**
 * Sends one request expecting JSON back.
 * @returns a 2xx answer, body parsed; the caller checks its shape (a zod schema of lib/migration/wire.ts, say).
 * @throws HttpError `ERR_HTTP_STATUS` for a non-2xx answer, `ERR_HTTP_BAD_JSON` for a body that is not JSON, and
 *   every transport code of {@link httpRequest}.
 */
export async function requestJson<T>(url: URL | string, o: HttpRequestOptions = {}): Promise<JsonResponse<T>> {
  const res = await httpRequest(url, o);
  const label = requestLabel(typeof url === 'string' ? new URL(url) : url, o);
  const json = parseJsonBody(res, label);
  if (res.status < 200 || res.status > 299) throw statusError(res.status, json, label);
  return { status: res.status, headers: res.headers, json: json as T | undefined };
}
