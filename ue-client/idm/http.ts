/**
 * HTTPS for the IdM client: lib/http with the caller's CA (the MC systems run private PKIs; certificate and host
 * name are always verified, there is no way to turn that off), HTTPS only, no automatic redirects (the client follows
 * them itself, so it sees the redirect to the native app's redirect URI), and a minimal cookie jar for the IdMS's
 * interaction and session cookies — what an embedded browser would keep. lib/http's errors become
 * {@link IdmClientError}s, the UE's closed set.
 */
import { isHttpError } from '../../lib/http/errors.ts';
import { parseJsonBody, statusError } from '../../lib/http/json.ts';
import { DEFAULT_MAX_BODY_BYTES, httpRequest, type HttpResponse } from '../../lib/http/request.ts';

export type { HttpResponse } from '../../lib/http/request.ts';

/**
 * Why an IdM client call failed. Closed set.
 * - `ERR_IDM_TRANSPORT`: connection or TLS (untrusted certificate, wrong host name), or the request was aborted.
 * - `ERR_IDM_TIMEOUT`: no complete answer within the request's deadline (`timeoutMs`, from sending to the last byte).
 * - `ERR_IDM_PROTOCOL`: the server answered something this client does not expect (bad JSON, no login form, a
 *   redirect off the issuer's origin, a mismatched `state`/`iss`, a body larger than {@link MAX_BODY_BYTES}).
 * - `ERR_IDM_OAUTH`: an OAuth error response (RFC 6749 §4.1.2.1 or §5.2): see `error` and `errorDescription`.
 * - `ERR_IDM_LOGIN`: the IdMS rejected the username or password.
 * - `ERR_IDM_TOKEN`: a returned token failed validation (ID token signature, issuer, audience, nonce).
 */
export type IdmClientErrorCode = 'ERR_IDM_TRANSPORT' | 'ERR_IDM_TIMEOUT' | 'ERR_IDM_PROTOCOL' | 'ERR_IDM_OAUTH' | 'ERR_IDM_LOGIN' | 'ERR_IDM_TOKEN';

/** A failed IdM client call. */
export class IdmClientError extends Error {
  override readonly name = 'IdmClientError';
  /** The OAuth `error` for `ERR_IDM_OAUTH` (e.g. `invalid_grant`). */
  readonly error: string | undefined;
  /** The OAuth `error_description`, when the server gave one. */
  readonly errorDescription: string | undefined;
  /** The HTTP status, when there was a response. */
  readonly status: number | undefined;

  /** @param message human-readable; never contains a token or password. */
  constructor(readonly code: IdmClientErrorCode, message: string, detail: { error?: string; errorDescription?: string; status?: number } = {}) {
    super(message);
    this.error = detail.error;
    this.errorDescription = detail.errorDescription;
    this.status = detail.status;
  }
}

/** Trust for the IdMS's certificate: PEM CA(s); absent means the system's default CAs. And the request's limits. */
export interface TlsTrust {
  ca?: string | string[];
  /** The whole request, from sending it to the last byte of the answer (default 10 s). */
  timeoutMs?: number;
  /** Aborts the request (ERR_IDM_TRANSPORT "aborted"). */
  signal?: AbortSignal;
}

/** The largest answer body read (1 MiB): discovery, JWKS, token and login pages are a few KiB. */
export const MAX_BODY_BYTES = DEFAULT_MAX_BODY_BYTES;

interface Cookie {
  name: string;
  value: string;
  host: string;
  path: string;
  expires: number;
}

/** Host-only cookies with Path and expiry: enough for oidc-provider's `_interaction*` and `_session` cookies. */
export class CookieJar {
  #cookies: Cookie[] = [];

  /** Takes the `Set-Cookie` headers of a response from `url`. */
  store(url: URL, setCookie: string | string[] | undefined): void {
    for (const line of typeof setCookie === 'string' ? [setCookie] : setCookie ?? []) {
      const [pair = '', ...attrs] = line.split(';').map((s) => s.trim());
      const eq = pair.indexOf('=');
      if (eq <= 0) continue;
      const c: Cookie = { name: pair.slice(0, eq), value: pair.slice(eq + 1), host: url.host, path: '/', expires: Infinity };
      for (const a of attrs) {
        const [k = '', v = ''] = a.split('=', 2).map((s) => s.trim());
        if (/^path$/i.test(k) && v.startsWith('/')) c.path = v;
        else if (/^max-age$/i.test(k)) c.expires = Date.now() + Number(v) * 1000;
        else if (/^expires$/i.test(k) && c.expires === Infinity) c.expires = Date.parse(v);
      }
      this.#cookies = this.#cookies.filter((x) => !(x.name === c.name && x.host === c.host && x.path === c.path));
      if (!(c.expires <= Date.now())) this.#cookies.push(c);
    }
  }

  /** The `Cookie` header for a request to `url`, or undefined. */
  header(url: URL): string | undefined {
    const now = Date.now();
    const matching = this.#cookies.filter((c) => c.host === url.host && c.expires > now
      && (url.pathname === c.path || url.pathname.startsWith(c.path.endsWith('/') ? c.path : `${c.path}/`)));
    return matching.length ? matching.map((c) => `${c.name}=${c.value}`).join('; ') : undefined;
  }
}

/** One HTTPS request. */
export interface HttpRequest {
  method: 'GET' | 'POST' | 'DELETE';
  /** `application/x-www-form-urlencoded` body. */
  form?: Record<string, string>;
  /** `application/json` body (instead of `form`). */
  json?: unknown;
  /** `Authorization: Bearer` (RFC 6750 §2.1). */
  bearer?: string;
  jar?: CookieJar;
  accept?: string;
}

/** The IdM client's error for a failure of lib/http. */
function idmError(e: unknown): unknown {
  if (!isHttpError(e)) return e;
  switch (e.code) {
    case 'ERR_HTTP_TIMEOUT': return new IdmClientError('ERR_IDM_TIMEOUT', e.message);
    case 'ERR_HTTP_TOO_LARGE': return new IdmClientError('ERR_IDM_PROTOCOL', e.message, e.status === undefined ? {} : { status: e.status });
    case 'ERR_HTTP_URL': return new IdmClientError('ERR_IDM_PROTOCOL', e.message);
    default: return new IdmClientError('ERR_IDM_TRANSPORT', e.message);
  }
}

/**
 * Sends one request over HTTPS; never follows redirects. The answer must be complete within `trust.timeoutMs` (an
 * overall deadline, connecting included: a server trickling bytes does not keep it alive) and at most
 * {@link MAX_BODY_BYTES} long.
 * @throws IdmClientError `ERR_IDM_TRANSPORT` for connection and TLS failures and an aborted request;
 *   `ERR_IDM_TIMEOUT` past the deadline; `ERR_IDM_PROTOCOL` for a non-https URL (credentials and tokens never travel
 *   in clear) or a body that is too large.
 */
export async function httpsRequest(url: URL, r: HttpRequest, trust: TlsTrust): Promise<HttpResponse> {
  if (url.protocol !== 'https:') {
    throw new IdmClientError('ERR_IDM_PROTOCOL', `refusing ${url.protocol.slice(0, -1)}: the IdMS is reached over HTTPS only`);
  }
  const cookie = r.jar?.header(url);
  const timeoutMs = trust.timeoutMs ?? 10_000;
  let res: HttpResponse;
  try {
    res = await httpRequest(url, {
      method: r.method, httpsOnly: true, timeoutMs, connectTimeoutMs: timeoutMs, maxBodyBytes: MAX_BODY_BYTES, accept: r.accept ?? 'application/json',
      ...(r.form ? { form: r.form } : r.json === undefined ? {} : { json: r.json }),
      ...(r.bearer === undefined ? {} : { bearer: r.bearer }),
      ...(cookie ? { headers: { cookie } } : {}),
      ...(trust.ca === undefined ? {} : { tls: { ca: trust.ca } }),
      ...(trust.signal === undefined ? {} : { signal: trust.signal }),
    });
  } catch (e) {
    throw idmError(e);
  }
  r.jar?.store(url, res.headers['set-cookie']);
  return res;
}

/**
 * Parses a JSON answer of a token or discovery endpoint.
 * @throws IdmClientError `ERR_IDM_OAUTH` for an RFC 6749 §5.2 error body, `ERR_IDM_PROTOCOL` for anything else.
 */
export function jsonOf<T>(res: HttpResponse, what: string): T {
  let json: unknown;
  try {
    json = parseJsonBody(res, what);
  } catch (e) {
    throw new IdmClientError('ERR_IDM_PROTOCOL', (e as Error).message, { status: res.status });
  }
  if (json === undefined) throw new IdmClientError('ERR_IDM_PROTOCOL', `${what}: HTTP ${res.status} with an empty body`, { status: res.status });
  const { error, errorDescription } = statusError(res.status, json, what);
  if (res.status >= 400 || error !== undefined) {
    const code = error ?? 'unknown_error';
    throw new IdmClientError('ERR_IDM_OAUTH', `${what}: ${code}${errorDescription ? ` (${errorDescription})` : ''}`, {
      error: code, status: res.status, ...(errorDescription === undefined ? {} : { errorDescription }),
    });
  }
  return json as T;
}
