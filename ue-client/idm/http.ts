/**
 * HTTPS for the IdM client: `node:https` with the caller's CA (the MC systems run private PKIs; certificate and host
 * name are always verified, there is no way to turn that off), no automatic redirects (the client follows them itself,
 * so it sees the redirect to the native app's redirect URI), and a minimal cookie jar for the IdMS's interaction and
 * session cookies — what an embedded browser would keep.
 */
import { request } from 'node:https';
import type { IncomingHttpHeaders, IncomingMessage } from 'node:http';

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
export const MAX_BODY_BYTES = 1024 * 1024;

/** A response, body read in full. */
export interface HttpResponse {
  status: number;
  headers: IncomingHttpHeaders;
  body: string;
}

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
  store(url: URL, setCookie: string[] | undefined): void {
    for (const line of setCookie ?? []) {
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

/**
 * Sends one request over HTTPS; never follows redirects. The answer must be complete within `trust.timeoutMs` (an
 * overall deadline: a server trickling bytes does not keep it alive) and at most {@link MAX_BODY_BYTES} long.
 * @throws IdmClientError `ERR_IDM_TRANSPORT` for connection and TLS failures and an aborted request;
 *   `ERR_IDM_TIMEOUT` past the deadline; `ERR_IDM_PROTOCOL` for a non-https URL (credentials and tokens never travel
 *   in clear) or a body that is too large.
 */
export function httpsRequest(url: URL, r: HttpRequest, trust: TlsTrust): Promise<HttpResponse> {
  if (url.protocol !== 'https:') {
    return Promise.reject(new IdmClientError('ERR_IDM_PROTOCOL', `refusing ${url.protocol.slice(0, -1)}: the IdMS is reached over HTTPS only`));
  }
  const body = r.form ? new URLSearchParams(r.form).toString() : r.json === undefined ? undefined : JSON.stringify(r.json);
  const headers: Record<string, string> = { accept: r.accept ?? 'application/json' };
  if (body !== undefined) headers['content-type'] = r.form ? 'application/x-www-form-urlencoded' : 'application/json';
  if (r.bearer !== undefined) headers.authorization = `Bearer ${r.bearer}`;
  const cookie = r.jar?.header(url);
  if (cookie) headers.cookie = cookie;
  const timeoutMs = trust.timeoutMs ?? 10_000;
  const what = `${r.method} ${url.origin}${url.pathname}`;
  return new Promise((resolve, reject) => {
    let settled = false;
    const settle = (e: IdmClientError | null, v?: HttpResponse): void => {
      if (settled) return;
      settled = true;
      clearTimeout(deadline);
      trust.signal?.removeEventListener('abort', onAbort);
      if (e) {
        req.destroy();
        reject(e);
      } else resolve(v as HttpResponse);
    };
    const onAbort = (): void => settle(new IdmClientError('ERR_IDM_TRANSPORT', `${what}: aborted`));
    const req = request(url, { method: r.method, headers, ...(trust.ca ? { ca: trust.ca } : {}) }, (res: IncomingMessage) => {
      r.jar?.store(url, res.headers['set-cookie']);
      const chunks: Buffer[] = [];
      let size = 0;
      res.on('data', (c: Buffer) => {
        size += c.length;
        if (size > MAX_BODY_BYTES) {
          settle(new IdmClientError('ERR_IDM_PROTOCOL', `${what}: HTTP ${res.statusCode ?? 0} body larger than ${MAX_BODY_BYTES} bytes, not read`, { status: res.statusCode ?? 0 }));
          return;
        }
        chunks.push(c);
      });
      res.on('end', () => settle(null, { status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', (e) => settle(new IdmClientError('ERR_IDM_TRANSPORT', `${what}: ${e.message}`)));
    });
    const deadline = setTimeout(() => settle(new IdmClientError('ERR_IDM_TIMEOUT', `${what}: no complete answer within ${timeoutMs / 1000} s`)), timeoutMs);
    req.on('error', (e: NodeJS.ErrnoException) => settle(new IdmClientError('ERR_IDM_TRANSPORT', `${url.origin}: ${e.code ?? ''} ${e.message}`.trim())));
    if (trust.signal?.aborted) return onAbort();
    trust.signal?.addEventListener('abort', onAbort, { once: true });
    req.end(body);
  });
}

/**
 * Parses a JSON answer of a token or discovery endpoint.
 * @throws IdmClientError `ERR_IDM_OAUTH` for an RFC 6749 §5.2 error body, `ERR_IDM_PROTOCOL` for anything else.
 */
export function jsonOf<T>(res: HttpResponse, what: string): T {
  let json: unknown;
  try {
    json = JSON.parse(res.body);
  } catch {
    throw new IdmClientError('ERR_IDM_PROTOCOL', `${what}: HTTP ${res.status} with a body that is not JSON`, { status: res.status });
  }
  const o = (json ?? {}) as { error?: unknown; error_description?: unknown };
  if (res.status >= 400 || typeof o.error === 'string') {
    const error = typeof o.error === 'string' ? o.error : 'unknown_error';
    const desc = typeof o.error_description === 'string' ? o.error_description : undefined;
    throw new IdmClientError('ERR_IDM_OAUTH', `${what}: ${error}${desc ? ` (${desc})` : ''}`, {
      error, status: res.status, ...(desc === undefined ? {} : { errorDescription: desc }),
    });
  }
  return json as T;
}
