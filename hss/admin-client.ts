/**
 * A small client of the HSS admin API for `mcx hss subscriber …` (node:http/https directly, so a private CA from
 * `--tls-ca` can be trusted without extra dependencies).
 */
import { request as httpRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { SubscriberProblem, SubscriberView } from './subscriber-model.ts';
import type { HssStatsSnapshot } from './stats.ts';

/** Where the admin API is and how to authenticate to it. */
export interface AdminTarget {
  /** `http://host:port` or `https://host:port`. */
  url: string;
  token: string;
  /** PEM CAs trusted for HTTPS. */
  ca?: string[];
  timeoutMs?: number;
}

/** A non-2xx answer of the admin API. */
export class AdminApiError extends Error {
  override readonly name = 'AdminApiError';

  /**
   * @param status HTTP status.
   * @param error the `error` code of the JSON body.
   * @param problems provisioning problems, when the API listed them.
   */
  constructor(readonly status: number, readonly error: string, description: string, readonly problems: SubscriberProblem[] = []) {
    super(description);
  }
}

/**
 * One request; resolves with the parsed JSON body (undefined for 204).
 * @throws AdminApiError for a non-2xx answer; Error for connection failures.
 */
export function adminRequest<T>(t: AdminTarget, method: string, path: string, body?: { json: unknown } | { csv: string }): Promise<T> {
  const url = new URL(path, t.url.endsWith('/') ? t.url : `${t.url}/`);
  const payload = body === undefined ? undefined : 'json' in body ? JSON.stringify(body.json) : body.csv;
  const headers: Record<string, string> = { authorization: `Bearer ${t.token}`, accept: 'application/json' };
  if (body !== undefined) headers['content-type'] = 'json' in body ? 'application/json' : 'text/csv';
  const send = url.protocol === 'https:' ? httpsRequest : httpRequest;
  return new Promise<T>((resolve, reject) => {
    const req = send(url, { method, headers, ...(t.ca ? { ca: t.ca } : {}), timeout: t.timeoutMs ?? 10_000 }, (res: IncomingMessage) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        const status = res.statusCode ?? 0;
        let parsed: unknown;
        try {
          parsed = text === '' ? undefined : JSON.parse(text);
        } catch {
          return reject(new AdminApiError(status, 'bad_response', `admin API answered ${status} with non-JSON`));
        }
        if (status >= 200 && status < 300) return resolve(parsed as T);
        const e = (parsed ?? {}) as { error?: string; error_description?: string; problems?: SubscriberProblem[] };
        reject(new AdminApiError(status, e.error ?? 'error', e.error_description ?? `HTTP ${status}`, e.problems ?? []));
      });
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`admin API ${url.origin} did not answer in time`)));
    req.on('error', (e) => reject(new Error(`admin API ${url.origin}: ${e.message}`)));
    req.end(payload);
  });
}

/** Typed calls of the admin API. */
export const adminApi = {
  /** `GET /admin/v1/subscribers`. */
  list: (t: AdminTarget, mcpttId?: string) =>
    adminRequest<{ subscribers: SubscriberView[] }>(t, 'GET', `admin/v1/subscribers${mcpttId === undefined ? '' : `?mcptt_id=${encodeURIComponent(mcpttId)}`}`),
  /** `GET /admin/v1/subscribers/:impi`. */
  get: (t: AdminTarget, impi: string) => adminRequest<{ subscriber: SubscriberView }>(t, 'GET', `admin/v1/subscribers/${encodeURIComponent(impi)}`),
  /** `POST /admin/v1/subscribers`. */
  add: (t: AdminTarget, input: unknown, replace = false) =>
    adminRequest<{ subscriber: SubscriberView }>(t, 'POST', `admin/v1/subscribers${replace ? '?replace=true' : ''}`, { json: input }),
  /** `DELETE /admin/v1/subscribers/:impi`. */
  remove: (t: AdminTarget, impi: string) => adminRequest<undefined>(t, 'DELETE', `admin/v1/subscribers/${encodeURIComponent(impi)}`),
  /** `POST /admin/v1/subscribers/import`. */
  importCsv: (t: AdminTarget, csv: string, replace = false) =>
    adminRequest<{ imported: number; impis: string[] }>(t, 'POST', `admin/v1/subscribers/import${replace ? '?replace=true' : ''}`, { csv }),
  /** `GET /admin/v1/stats`. */
  stats: (t: AdminTarget) => adminRequest<HssStatsSnapshot & Record<string, string | number>>(t, 'GET', 'admin/v1/stats'),
};
