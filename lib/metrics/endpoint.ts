/**
 * The metrics listener of a role (`--metrics HOST:PORT`) and of the testbed: plain HTTP, no token — meant for
 * loopback, where only the machine's own users reach it (a warning names any other address) — serving
 *
 * | method | path | |
 * |---|---|---|
 * | GET | /metrics | Prometheus text format 0.0.4 |
 * | GET | /metrics.json | the same as prom-client JSON (what the testbed merges from roles in child processes) |
 * | GET | /healthz | 200 `{"status":"ok"}` while the process answers |
 * | GET | /readyz | 200 `{"ready":true,"checks":{…}}`, or 503 with the checks that are not `ok` |
 *
 * {@link metricsRequestHandler} serves the same on another node:http server (the testbed's status page may mount it).
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { formatHostPort, isLoopback, type HostPort } from '../config/address.ts';
import type { Logger } from '../log.ts';
import type { ReadinessReport } from './readiness.ts';
import type { MetricJson } from './role-metrics.ts';

/** What a metrics listener serves. */
export interface MetricsTarget {
  /** The exposition text and its content type. */
  scrape(): Promise<{ body: string; contentType: string }>;
  /**
   * The same metrics as prom-client JSON, without the `system`/`role` labels.
   * @param withProcess with this process's metrics (default true; false for a role sharing its process).
   */
  json(withProcess?: boolean): Promise<MetricJson[]>;
  readiness(): ReadinessReport | Promise<ReadinessReport>;
}

/** A listening metrics endpoint. */
export interface MetricsListener {
  /** `http://host:port` as bound. */
  url: string;
  /** The port bound (the one chosen when asked for port 0). */
  port: number;
  close(): Promise<void>;
}

function send(res: ServerResponse, status: number, contentType: string, body: string): void {
  res.writeHead(status, { 'content-type': contentType, 'cache-control': 'no-store' });
  res.end(body);
}

const sendJson = (res: ServerResponse, status: number, value: unknown): void => send(res, status, 'application/json; charset=utf-8', `${JSON.stringify(value)}\n`);

/**
 * A request handler for the four paths.
 * @returns a handler that answers and returns true for them, and returns false (answering nothing) for any other path.
 */
export function metricsRequestHandler(target: MetricsTarget, logger: Logger): (req: IncomingMessage, res: ServerResponse) => boolean {
  return (req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (path !== '/metrics' && path !== '/metrics.json' && path !== '/healthz' && path !== '/readyz') return false;
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.setHeader('allow', 'GET, HEAD');
      sendJson(res, 405, { error: 'method_not_allowed', error_description: `${req.method ?? '?'} ${path}: only GET` });
      return true;
    }
    if (path === '/healthz') sendJson(res, 200, { status: 'ok' });
    else if (path === '/readyz') {
      Promise.resolve(target.readiness()).then((r) => sendJson(res, r.ready ? 200 : 503, r), (e: unknown) => {
        logger.error({ err: (e as Error).message }, 'metrics: readiness failed');
        sendJson(res, 503, { ready: false, checks: { readiness: `check failed: ${(e as Error).message}` } });
      });
    } else {
      const body = path === '/metrics' ? target.scrape() : target.json().then((j) => ({ body: `${JSON.stringify(j)}\n`, contentType: 'application/json; charset=utf-8' }));
      body.then((m) => send(res, 200, m.contentType, m.body), (e: unknown) => {
        logger.error({ err: (e as Error).message }, 'metrics: scrape failed');
        sendJson(res, 500, { error: 'server_error', error_description: 'scrape failed' });
      });
    }
    return true;
  };
}

/**
 * Listens on `at` (port 0: an ephemeral one) and serves {@link metricsRequestHandler}; 404 for any other path.
 * @throws listen errors (EADDRINUSE) as they come.
 */
export async function listenMetrics(at: HostPort, target: MetricsTarget, logger: Logger): Promise<MetricsListener> {
  if (!isLoopback(at.host)) logger.warn({ metrics: formatHostPort(at) }, 'metrics listener beyond loopback: it has no token, anyone who reaches it reads the metrics');
  const handle = metricsRequestHandler(target, logger);
  const server = createServer((req, res) => {
    if (!handle(req, res)) sendJson(res, 404, { error: 'not_found', error_description: `no route ${req.method ?? '?'} ${(req.url ?? '/').split('?')[0]}` });
  });
  // Scrapes are short: an idle keep-alive connection must not hold the stop.
  server.keepAliveTimeout = 5000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(at.port, at.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const a = server.address();
  const port = typeof a === 'object' && a ? a.port : at.port;
  return {
    url: `http://${formatHostPort({ host: at.host, port })}`,
    port,
    close: () => new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    }),
  };
}
