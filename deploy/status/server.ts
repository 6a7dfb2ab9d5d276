/**
 * The testbed's status page (issue #14): plain HTTP on loopback, read-only. fastify serves the page's three files
 * (assets/: HTML, CSS, JS — no build step, nothing from elsewhere) and the snapshot as JSON (`GET /api/status`); a
 * WebSocket (`/ws`, the `ws` package on fastify's server) sends the same snapshot when a page connects and then every
 * change: registrations as their steps arrive (batched, at most one frame per {@link PUSH_MS}), the state when it
 * differs from what was sent (read every `stateEveryMs` while a page is open, not at all otherwise). Not SSE: an open
 * EventSource keeps headless Chromium's `--dump-dom` from ever finishing.
 *
 * Loopback only, and only for loopback names: a request whose Host is not 127.0.0.0/8, [::1] or localhost is refused
 * (a DNS-rebinding page cannot read identities from it), and so is a WebSocket whose Origin is another site's. What
 * clients send on the WebSocket is ignored: nothing can be changed from the page.
 */
import { readFile } from 'node:fs/promises';
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import Fastify from 'fastify';
import { WebSocketServer, type WebSocket } from 'ws';
import type { Logger } from '../../lib/log.ts';
import type { RegistrationLog, RegistrationView } from './registrations.ts';
import type { StatusState } from './state.ts';

/** How often pending registration changes are pushed at most. */
export const PUSH_MS = 100;
/** A page that does not read its frames is dropped beyond this much queued. */
const MAX_BUFFERED = 4 * 1024 * 1024;
/** Every this many state reads, a ping: a page gone without a close (a dropped ssh tunnel) is noticed. */
const PING_EVERY = 15;

const ASSETS: Readonly<Record<string, string>> = {
  '/': 'index.html', '/status.css': 'status.css', '/status.js': 'status.js',
};
const TYPES: Readonly<Record<string, string>> = {
  html: 'text/html; charset=utf-8', css: 'text/css; charset=utf-8', js: 'text/javascript; charset=utf-8',
};
const HEADERS: Readonly<Record<string, string>> = {
  'content-security-policy': "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'cache-control': 'no-store',
};

/** What the server shows. */
export interface StatusServerOptions {
  /** Port on 127.0.0.1; 0 for an ephemeral one. */
  port: number;
  /** The state beside the ladders (state.ts). */
  state: () => Promise<StatusState>;
  registrations: RegistrationLog;
  logger: Logger;
  /** How often the state is read again while a page is open (default 2000 ms). */
  stateEveryMs?: number;
}

/** A serving status page. */
export interface StatusServer {
  /** `http://127.0.0.1:PORT/`. */
  url: string;
  /** Pages connected now. */
  readonly clients: number;
  close(): Promise<void>;
}

/** What a page gets first, and `GET /api/status`. */
export interface StatusSnapshot {
  state: StatusState;
  registrations: RegistrationView[];
  /** Registrations seen since the testbed started (more than are kept). */
  total: number;
}

/** Whether a Host (or Origin host) names this machine's loopback. */
export function isLoopbackHost(host: string | undefined): boolean {
  if (!host) return false;
  let name: string;
  try {
    name = new URL(`http://${host}`).hostname;
  } catch {
    return false;
  }
  return name === 'localhost' || name === '[::1]' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(name);
}

/** A WebSocket upgrade the page may make: `/ws`, a loopback Host, and no Origin or the same host's. */
function upgradeAllowed(req: IncomingMessage): boolean {
  if (req.url?.split('?')[0] !== '/ws' || !isLoopbackHost(req.headers.host)) return false;
  const origin = req.headers.origin;
  if (origin === undefined) return true;
  try {
    return new URL(origin).host === req.headers.host;
  } catch {
    return false;
  }
}

/**
 * Starts the status page on 127.0.0.1.
 * @throws listen errors (EADDRINUSE) as they come.
 */
export async function startStatusServer(o: StatusServerOptions): Promise<StatusServer> {
  const log = o.logger.child({ component: 'status-page' });
  const files = new Map<string, Buffer>();
  for (const [path, file] of Object.entries(ASSETS)) files.set(path, await readFile(new URL(`./assets/${file}`, import.meta.url)));
  const snapshot = async (): Promise<StatusSnapshot> => ({ state: await o.state(), registrations: o.registrations.list(), total: o.registrations.total });

  const app = Fastify({ logger: false });
  app.addHook('onRequest', async (req, reply) => {
    reply.headers(HEADERS);
    if (!isLoopbackHost(req.headers.host)) return reply.code(403).type('text/plain').send('the status page answers loopback names only (127.0.0.1, localhost)\n');
  });
  for (const [path, file] of Object.entries(ASSETS)) {
    const body = files.get(path) as Buffer;
    app.get(path, async (_req, reply) => reply.type(TYPES[file.split('.').pop() as string] as string).send(body));
  }
  app.get('/api/status', async () => snapshot());
  app.setNotFoundHandler((req, reply) => reply.code(req.method === 'GET' || req.method === 'HEAD' ? 404 : 405).type('text/plain').send('not found (the status page is read-only)\n'));

  const wss = new WebSocketServer({ noServer: true, maxPayload: 1024, perMessageDeflate: false });
  const alive = new WeakSet<WebSocket>();
  app.server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    if (!upgradeAllowed(req)) {
      socket.end('HTTP/1.1 403 Forbidden\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
      return;
    }
    wss.handleUpgrade(req, socket, head, (ws) => wss.emit('connection', ws, req));
  });

  const send = (ws: WebSocket, text: string): void => {
    if (ws.readyState !== ws.OPEN) return;
    if (ws.bufferedAmount > MAX_BUFFERED) {
      log.debug('status page: a page does not read its frames; dropped');
      ws.terminate();
      return;
    }
    ws.send(text);
  };
  const broadcast = (msg: unknown): void => {
    if (wss.clients.size === 0) return;
    const text = JSON.stringify(msg);
    for (const ws of wss.clients) send(ws, text);
  };

  // Registration changes, pushed at most every PUSH_MS (a registration takes some 20 steps in a few ms).
  const pending = new Map<string, RegistrationView>();
  let pushTimer: NodeJS.Timeout | undefined;
  const stopChanges = o.registrations.onChange((r) => {
    if (wss.clients.size === 0) return;
    pending.set(r.id, r);
    pushTimer ??= setTimeout(() => {
      pushTimer = undefined;
      const registrations = [...pending.values()];
      pending.clear();
      broadcast({ type: 'registrations', registrations, total: o.registrations.total });
    }, PUSH_MS);
  });

  // The state, read again while a page is open and sent when it changed (its read time aside).
  let lastState = '';
  let ticks = 0;
  const tick = async (): Promise<void> => {
    if (wss.clients.size === 0) return;
    if (++ticks % PING_EVERY === 0) {
      for (const ws of wss.clients) {
        if (!alive.has(ws)) ws.terminate();
        else {
          alive.delete(ws);
          ws.ping();
        }
      }
    }
    const state = await o.state();
    const text = JSON.stringify({ ...state, at: 0 });
    if (text !== lastState) {
      lastState = text;
      broadcast({ type: 'state', state });
    }
  };
  const stateTimer = setInterval(() => {
    tick().catch((e: unknown) => log.warn({ err: (e as Error).message }, 'status page: reading the state failed'));
  }, o.stateEveryMs ?? 2000);
  stateTimer.unref();

  wss.on('connection', (ws: WebSocket) => {
    alive.add(ws);
    ws.on('pong', () => alive.add(ws));
    ws.on('error', () => ws.terminate());
    // Read-only: whatever a page sends is ignored.
    snapshot().then((s) => {
      send(ws, JSON.stringify({ type: 'snapshot', ...s }));
    }, (e: unknown) => {
      log.warn({ err: (e as Error).message }, 'status page: reading the state failed');
      ws.close(1011, 'state unavailable');
    });
  });

  await app.listen({ host: '127.0.0.1', port: o.port });
  const addr = app.server.address();
  const port = typeof addr === 'object' && addr ? addr.port : o.port;
  let closing: Promise<void> | undefined;
  return {
    url: `http://127.0.0.1:${port}/`,
    get clients() {
      return wss.clients.size;
    },
    close: () => {
      closing ??= (async () => {
        clearInterval(stateTimer);
        if (pushTimer) clearTimeout(pushTimer);
        stopChanges();
        for (const ws of wss.clients) ws.terminate();
        await new Promise<void>((resolve) => wss.close(() => resolve()));
        await app.close();
      })();
      return closing;
    },
  };
}
