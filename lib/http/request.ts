/**
 * The one HTTP(S) client of the project (undici), for every role and the UE: the HSS, IdMS and registrar
 * admin APIs, the primary MMS's binding API (mutual TLS), the IdMS and the partner MMS's migration API.
 *
 * Each request runs on its own undici `Agent`, closed when the answer is read: the TLS material differs per call
 * (one system's CA for this request, another's for the next), nothing is pooled across trust boundaries, and no
 * socket outlives the call to keep a CLI process alive. Certificate and host name are always verified — there is no
 * option to turn that off. Limits: a connect timeout, an overall deadline from sending to the last byte (a server
 * trickling bytes does not keep a request alive) and a largest answer body. Redirects are never followed.
 */
import { Agent, request } from 'undici';
import { HttpError, isTlsFailure, type HttpErrorCode } from './errors.ts';

/** The largest answer body read by default (1 MiB): every JSON answer and page of this project is a few KiB. */
export const DEFAULT_MAX_BODY_BYTES = 1024 * 1024;
/** The default overall deadline of a request. */
export const DEFAULT_TIMEOUT_MS = 10_000;
/** The default connect timeout (TCP and TLS handshake), never longer than the deadline. */
export const DEFAULT_CONNECT_TIMEOUT_MS = 5_000;

/** TLS material of a request. */
export interface HttpTls {
  /** PEM CA(s) trusted for the server; absent: the system's default CAs. */
  ca?: string | string[];
  /** Own PEM certificate and key, for a server asking for one (mutual TLS). */
  cert?: string;
  key?: string;
}

/** One request. */
export interface HttpRequestOptions {
  method?: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
  /** A JSON body (`content-type: application/json`). */
  json?: unknown;
  /** An `application/x-www-form-urlencoded` body. */
  form?: Record<string, string>;
  /** A text body of `contentType` (e.g. a CSV import). */
  text?: { body: string; contentType: string };
  /** `Authorization: Bearer` (RFC 6750 §2.1). */
  bearer?: string;
  /** Default `application/json`. */
  accept?: string;
  /** More headers (lower-case names), e.g. `cookie`. */
  headers?: Record<string, string>;
  tls?: HttpTls;
  /** Refuse an `http:` URL (credentials and tokens never travel in clear). */
  httpsOnly?: boolean;
  /** From sending to the last byte of the answer (default {@link DEFAULT_TIMEOUT_MS}). */
  timeoutMs?: number;
  /** TCP connect and TLS handshake (default {@link DEFAULT_CONNECT_TIMEOUT_MS}, at most `timeoutMs`). */
  connectTimeoutMs?: number;
  /** Largest answer body (default {@link DEFAULT_MAX_BODY_BYTES}). */
  maxBodyBytes?: number;
  signal?: AbortSignal;
  /** How errors name the request (default `METHOD origin/path`, never the query: it may carry identities). */
  label?: string;
}

/** An answer, body read in full. */
export interface HttpResponse {
  status: number;
  /** Lower-case names; `set-cookie` (and any repeated header) as an array. */
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

const secs = (ms: number): string => `${ms / 1000} s`;

/** How errors name a request: `label`, or `METHOD origin/path` (never the query: it may carry identities). */
export function requestLabel(u: URL, o: Pick<HttpRequestOptions, 'method' | 'label'>): string {
  return o.label ?? `${o.method ?? 'GET'} ${u.origin}${u.pathname}`;
}

function urlOf(url: URL | string, o: HttpRequestOptions): URL {
  try {
    return typeof url === 'string' ? new URL(url) : url;
  } catch {
    throw new HttpError('ERR_HTTP_URL', `${o.label ?? `${o.method ?? 'GET'} ${String(url)}`}: not a URL`, { reason: 'not a URL' });
  }
}

function bodyOf(o: HttpRequestOptions): { body?: string; contentType?: string } {
  if (o.json !== undefined) return { body: JSON.stringify(o.json), contentType: 'application/json' };
  if (o.form !== undefined) return { body: new URLSearchParams(o.form).toString(), contentType: 'application/x-www-form-urlencoded' };
  if (o.text !== undefined) return { body: o.text.body, contentType: o.text.contentType };
  return {};
}

/**
 * The code and reason of a failure that is not the deadline's or the caller's.
 * @param presentedCert whether this client offered a certificate: a server requiring mutual TLS that refuses it
 *   (Node's TLS 1.3 servers) completes the handshake, then closes without a word, and that close is all there is to see.
 */
function transportFailure(e: unknown, presentedCert: boolean): { code: HttpErrorCode; reason: string } {
  const err = e as NodeJS.ErrnoException;
  const code = typeof err?.code === 'string' ? err.code : undefined;
  if (code === 'UND_ERR_CONNECT_TIMEOUT') return { code: 'ERR_HTTP_TIMEOUT', reason: 'no connection within the connect timeout' };
  if (code === 'UND_ERR_HEADERS_TIMEOUT' || code === 'UND_ERR_BODY_TIMEOUT') return { code: 'ERR_HTTP_TIMEOUT', reason: err.message };
  const message = err instanceof Error ? err.message : String(e);
  const reason = code && !message.includes(code) ? `${message} (${code})` : message;
  if (isTlsFailure(e)) return { code: 'ERR_HTTP_TLS', reason };
  if (presentedCert && (code === 'UND_ERR_SOCKET' || code === 'ECONNRESET')) {
    return { code: 'ERR_HTTP_TLS', reason: `${reason}: closed without an answer after the TLS handshake, as a server does that refuses this client's certificate` };
  }
  return { code: 'ERR_HTTP_UNREACHABLE', reason };
}

/**
 * Sends one request and reads the whole answer, whatever its status.
 * @throws HttpError `ERR_HTTP_URL`, `ERR_HTTP_UNREACHABLE`, `ERR_HTTP_TLS`, `ERR_HTTP_TIMEOUT`, `ERR_HTTP_ABORTED`,
 *   `ERR_HTTP_TOO_LARGE` (never `ERR_HTTP_STATUS`: see json.ts for that).
 */
export async function httpRequest(url: URL | string, o: HttpRequestOptions = {}): Promise<HttpResponse> {
  const u = urlOf(url, o);
  const method = o.method ?? 'GET';
  const label = requestLabel(u, o);
  const fail = (code: HttpErrorCode, reason: string, detail: { status?: number; cause?: unknown } = {}): HttpError =>
    new HttpError(code, `${label}: ${reason}`, { ...detail, reason });
  if (u.protocol !== 'https:' && (u.protocol !== 'http:' || o.httpsOnly)) {
    throw fail('ERR_HTTP_URL', `refusing ${u.protocol.slice(0, -1)}: ${o.httpsOnly ? 'HTTPS only' : 'not an http(s) URL'}`);
  }
  const timeoutMs = o.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const maxBody = o.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES;
  const { body, contentType } = bodyOf(o);
  const headers: Record<string, string> = { accept: o.accept ?? 'application/json', ...o.headers };
  if (contentType !== undefined) headers['content-type'] = contentType;
  if (o.bearer !== undefined) headers.authorization = `Bearer ${o.bearer}`;

  const agent = new Agent({
    connect: {
      timeout: Math.min(o.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS, timeoutMs),
      rejectUnauthorized: true, minVersion: 'TLSv1.2',
      ...(o.tls?.ca === undefined ? {} : { ca: o.tls.ca }),
      ...(o.tls?.cert === undefined ? {} : { cert: o.tls.cert }),
      ...(o.tls?.key === undefined ? {} : { key: o.tls.key }),
    },
    // The deadline below ends the request first; these only stop undici's own 300 s defaults from applying.
    headersTimeout: timeoutMs + 1000, bodyTimeout: timeoutMs + 1000,
  });
  const abort = new AbortController();
  let why: 'deadline' | 'caller' | undefined;
  const deadline = setTimeout(() => {
    why ??= 'deadline';
    abort.abort();
  }, timeoutMs);
  const onAbort = (): void => {
    why ??= 'caller';
    abort.abort();
  };
  o.signal?.addEventListener('abort', onAbort, { once: true });
  let status: number | undefined;
  let answer: { destroy(): unknown; on(event: 'error', f: () => void): unknown } | undefined;
  try {
    if (o.signal?.aborted) throw fail('ERR_HTTP_ABORTED', 'aborted');
    const res = await request(u, { dispatcher: agent, method, headers, body: body ?? null, signal: abort.signal });
    status = res.statusCode;
    answer = res.body;
    // Destroying the agent below errors an unread body: nobody listens to that any more.
    res.body.on('error', () => undefined);
    // A declared length over the limit is refused unread; an undeclared one is counted as it arrives.
    const declared = Number(res.headers['content-length'] ?? Number.NaN);
    const chunks: Buffer[] = [];
    let size = 0;
    if (!(declared > maxBody)) {
      for await (const chunk of res.body as AsyncIterable<Buffer>) {
        size += chunk.length;
        if (size > maxBody) break;
        chunks.push(chunk);
      }
    }
    if (declared > maxBody || size > maxBody) throw fail('ERR_HTTP_TOO_LARGE', `HTTP ${status} body larger than ${maxBody} bytes, not read`, { status });
    return { status, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') };
  } catch (e) {
    if (e instanceof HttpError) throw e;
    if (why === 'deadline') throw fail('ERR_HTTP_TIMEOUT', `no complete answer within ${secs(timeoutMs)}`, { ...(status === undefined ? {} : { status }) });
    if (why === 'caller') throw fail('ERR_HTTP_ABORTED', 'aborted');
    // Only before an answer began: a connection lost in the middle of one is not a certificate refusal.
    const t = transportFailure(e, o.tls?.cert !== undefined && status === undefined);
    throw fail(t.code, t.reason, { cause: e });
  } finally {
    clearTimeout(deadline);
    o.signal?.removeEventListener('abort', onAbort);
    answer?.destroy();
    await agent.destroy().catch(() => undefined);
  }
}
