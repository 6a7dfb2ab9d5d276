/**
 * The partner MMS's client of a primary MMS's binding API (binding-api.ts): HTTPS with mutual TLS — the partner
 * MMS's own certificate, the primary system's CA trusted, the server's name checked — and JSON both ways. Every
 * failure is a {@link MigrationError}: the primary's own refusal keeps its code (403 `migration_not_allowed`, …);
 * no answer, TLS refusal or an unusable answer is ERR_MIGRATION_PRIMARY_UNAVAILABLE.
 */
import { request, type RequestOptions } from 'node:https';
import type { IncomingMessage } from 'node:http';
import { MigrationError, type MigrationErrorCode } from './migration-errors.ts';

/** How the partner MMS reaches one primary MMS. */
export interface BindingClientOptions {
  /** `https://host:port` of the binding API. */
  url: string;
  /** Own certificate and key, CAs trusted for the server (the primary CA). */
  tls: { cert: string; key: string; ca: string[] };
  timeoutMs?: number;
}

/** What the partner asks for. */
export interface BindingRequest {
  mcptt_id: string;
  partner_realm: string;
  partner_impi: string;
  partner_impus: string[];
  expires_at: string;
}

/** What the primary confirms. */
export interface BindingAnswer {
  primary_impi: string;
  primary_impus: string[];
  primary_realm: string;
  /** The expiry the primary accepted (at most the one asked for). */
  expires_at?: string;
}

// Only the primary's decision about the user reaches the UE as such; anything else it says (404 of a wrong URL, a
// refused certificate of this MMS) is this system's problem, not the UE's: 502.
const BY_ERROR: Readonly<Record<string, MigrationErrorCode>> = { migration_not_allowed: 'ERR_MIGRATION_NOT_ALLOWED' };

function call(o: BindingClientOptions, method: 'POST' | 'DELETE', path: string, body?: unknown): Promise<{ status: number; json: unknown }> {
  const url = new URL(path, o.url.endsWith('/') ? o.url : `${o.url}/`);
  const payload = body === undefined ? undefined : JSON.stringify(body);
  const options: RequestOptions = {
    method, cert: o.tls.cert, key: o.tls.key, ca: o.tls.ca, timeout: o.timeoutMs ?? 5000,
    headers: { accept: 'application/json', ...(payload === undefined ? {} : { 'content-type': 'application/json' }) },
  };
  const unavailable = (why: string): MigrationError =>
    new MigrationError('ERR_MIGRATION_PRIMARY_UNAVAILABLE', `the primary MMS ${url.origin} ${why}`);
  const ms = o.timeoutMs ?? 5000;
  return new Promise((resolve, reject) => {
    const fail = (e: MigrationError): void => {
      clearTimeout(timer);
      reject(e);
    };
    const req = request(url, options, (res: IncomingMessage) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('error', (e) => fail(unavailable(`broke off its answer: ${e.message}`)));
      res.on('end', () => {
        clearTimeout(timer);
        const text = Buffer.concat(chunks).toString('utf8');
        try {
          resolve({ status: res.statusCode ?? 0, json: text === '' ? undefined : JSON.parse(text) });
        } catch {
          reject(unavailable(`answered HTTP ${res.statusCode ?? 0} with a body that is not JSON`));
        }
      });
    });
    // The socket timeout bounds idle time only; this bounds the whole exchange (a server dripping bytes included).
    const timer = setTimeout(() => req.destroy(new Error(`no complete answer within ${ms} ms`)), ms);
    req.on('timeout', () => req.destroy(new Error(`no answer within ${ms} ms`)));
    req.on('error', (e: NodeJS.ErrnoException) => fail(unavailable(`cannot be reached: ${e.code ?? ''} ${e.message}`.trim())));
    req.end(payload);
  });
}

function refusal(status: number, json: unknown): MigrationError {
  const e = (json ?? {}) as { error?: unknown; error_description?: unknown };
  const error = typeof e.error === 'string' ? e.error : `http_${status}`;
  const desc = typeof e.error_description === 'string' ? e.error_description : `HTTP ${status}`;
  return new MigrationError(BY_ERROR[error] ?? 'ERR_MIGRATION_PRIMARY_UNAVAILABLE', `primary MMS: ${error} (${desc})`);
}

/**
 * `POST /migration/v1/bindings`.
 * @throws MigrationError (the primary's refusal, or ERR_MIGRATION_PRIMARY_UNAVAILABLE).
 */
export async function requestBinding(o: BindingClientOptions, body: BindingRequest): Promise<BindingAnswer> {
  const { status, json } = await call(o, 'POST', 'migration/v1/bindings', body);
  if (status !== 200) throw refusal(status, json);
  const a = (json ?? {}) as Partial<BindingAnswer>;
  if (typeof a.primary_impi !== 'string' || !Array.isArray(a.primary_impus) || a.primary_impus.length === 0
    || !a.primary_impus.every((u) => typeof u === 'string') || typeof a.primary_realm !== 'string') {
    throw new MigrationError('ERR_MIGRATION_PRIMARY_UNAVAILABLE', 'the primary MMS confirmed a binding without primary_impi, primary_impus and primary_realm');
  }
  return a as BindingAnswer;
}

/**
 * `DELETE /migration/v1/bindings/:partner_impi?partner_realm=`.
 * @returns false when the primary had no such binding (404).
 * @throws MigrationError for any other failure.
 */
export async function releaseBinding(o: BindingClientOptions, partnerRealm: string, partnerImpi: string): Promise<boolean> {
  const { status, json } = await call(o, 'DELETE', `migration/v1/bindings/${encodeURIComponent(partnerImpi)}?partner_realm=${encodeURIComponent(partnerRealm)}`);
  if (status === 204) return true;
  if (status === 404) return false;
  throw refusal(status, json);
}
