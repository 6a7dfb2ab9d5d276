/**
 * Our own login page at the interaction URL (oidc-provider's dev interactions are off): a plain HTML form posting
 * username and password, checked with scrypt in constant time (users.ts). A native MC client's embedded browser shows
 * it; `ue-client/idm-client.ts` fills it in non-interactively the same way.
 *
 * Consent is implied: the clients are the operator's pre-registered MC clients, so a successful login grants the
 * requested `openid` scopes and MC resource scopes at once ([design]; TS 33.180 defines no consent step). The
 * interaction cookie is SameSite=Lax, so a cross-site form cannot post a login into someone else's interaction.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { InteractionDetails, Provider } from 'oidc-provider';
import type { Logger } from '../lib/log.ts';
import type { Store } from '../lib/store/store.ts';
import { ACR_PASSWORD, OIDC_SCOPES, RESOURCE_SCOPES } from './constants.ts';
import type { UserRepo } from './users.ts';

/** What the login page needs. */
export interface LoginOptions {
  provider: Provider;
  users: UserRepo;
  /** The resource indicator whose scopes a login grants (this IdMS's MC services). */
  resource: string;
  store: Store;
  /** Key prefix for the failed-attempt counters. */
  namespace: string;
  /** Failed logins after which the interaction ends with `access_denied` (default 5). */
  maxAttempts?: number;
  logger: Logger;
}

const MAX_BODY = 16 * 1024;
const PATH = /^\/interaction\/([\w-]{1,64})(\/login|\/abort)?$/;

const escapeHtml = (s: string): string =>
  s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c] as string);

function send(res: ServerResponse, status: number, html: string): void {
  res.writeHead(status, {
    'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store', 'x-frame-options': 'DENY', 'referrer-policy': 'no-referrer',
    // No form-action: browsers apply it to the redirect chain that ends at the client's redirect URI.
    'content-security-policy': "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'",
  });
  res.end(html);
}

function page(title: string, body: string): string {
  return `<!DOCTYPE html><html><head><meta charset="utf-8"><title>${escapeHtml(title)}</title>`
    + '<style>body{font-family:sans-serif;max-width:22em;margin:3em auto}label,input,button{display:block;width:100%;margin:.3em 0}</style>'
    + `</head><body><h1>${escapeHtml(title)}</h1>${body}</body></html>`;
}

/** The login form of interaction `uid`; `message` is shown above it (a failed attempt). */
export function loginPage(uid: string, clientId: string, message?: string): string {
  const note = message ? `<p role="alert">${escapeHtml(message)}</p>` : '';
  return page('MC service user login', `${note}<p>Client: ${escapeHtml(clientId)}</p>`
    + `<form method="post" action="/interaction/${escapeHtml(uid)}/login" autocomplete="off">`
    + '<label>Username <input name="username" required autofocus></label>'
    + '<label>Password <input name="password" type="password" required></label>'
    + '<button type="submit">Sign in</button></form>'
    + `<form method="post" action="/interaction/${escapeHtml(uid)}/abort"><button type="submit">Cancel</button></form>`);
}

async function readForm(req: IncomingMessage): Promise<URLSearchParams | undefined> {
  if (!/^application\/x-www-form-urlencoded\b/i.test(req.headers['content-type'] ?? '')) return undefined;
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const c of req as AsyncIterable<Buffer>) {
    size += c.length;
    if (size > MAX_BODY) return undefined;
    chunks.push(c);
  }
  return new URLSearchParams(Buffer.concat(chunks).toString('utf8'));
}

/** The grant a successful login implies: requested OIDC scopes plus requested MC scopes on our resource. */
async function impliedGrant(o: LoginOptions, details: InteractionDetails, accountId: string): Promise<string> {
  const clientId = String(details.params.client_id);
  const existing = details.grantId ? await o.provider.Grant.find(details.grantId) : undefined;
  const grant = existing?.accountId === accountId ? existing : new o.provider.Grant({ accountId, clientId });
  const requested = String(details.params.scope ?? '').split(' ').filter(Boolean);
  const oidc = requested.filter((s) => (OIDC_SCOPES as readonly string[]).includes(s));
  if (oidc.length) grant.addOIDCScope(oidc.join(' '));
  const rs = requested.filter((s) => RESOURCE_SCOPES.includes(s));
  const asked = details.params.resource;
  const resources = asked === undefined ? [o.resource] : Array.isArray(asked) ? asked.map(String) : [String(asked)];
  if (rs.length) for (const r of resources) if (r === o.resource) grant.addResourceScope(r, rs.join(' '));
  return grant.save();
}

/**
 * The request handler of `/interaction/…`; answers every other path with false so the caller hands it on.
 * @returns whether the request was an interaction request (and has been answered).
 */
export function createLoginHandler(o: LoginOptions): (req: IncomingMessage, res: ServerResponse) => Promise<boolean> {
  const log = o.logger.child({ component: 'login' });
  const maxAttempts = o.maxAttempts ?? 5;
  return async (req, res) => {
    const m = PATH.exec(new URL(req.url ?? '/', 'https://idms.invalid').pathname);
    if (!m) return false;
    const [, uid, action] = m as unknown as [string, string, string | undefined];
    let details: InteractionDetails;
    try {
      details = await o.provider.interactionDetails(req, res);
    } catch {
      send(res, 400, page('Login session not found', '<p>The login session expired or was not found. Start the sign-in again from the application.</p>'));
      return true;
    }
    if (details.uid !== uid) {
      send(res, 400, page('Login session mismatch', '<p>This page does not belong to the current sign-in.</p>'));
      return true;
    }
    const clientId = String(details.params.client_id ?? '');
    if (req.method === 'GET' && action === undefined) {
      if (details.prompt.name === 'consent' && details.session) {
        // Already logged in (SSO session): consent is implied for the operator's own clients.
        const grantId = await impliedGrant(o, details, details.session.accountId);
        await o.provider.interactionFinished(req, res, { consent: { grantId } }, { mergeWithLastSubmission: true });
        return true;
      }
      send(res, 200, loginPage(uid, clientId));
      return true;
    }
    if (req.method !== 'POST' || action === undefined) {
      send(res, 405, page('Method not allowed', '<p>Use the login form.</p>'));
      return true;
    }
    if (action === '/abort') {
      await o.provider.interactionFinished(req, res, { error: 'access_denied', error_description: 'the user cancelled the login' }, { mergeWithLastSubmission: false });
      return true;
    }
    const form = await readForm(req);
    const username = form?.get('username') ?? '';
    const password = form?.get('password') ?? '';
    const user = form && username && password ? await o.users.verify(username, password) : undefined;
    if (!user) {
      const key = `${o.namespace}login-fail:${uid}`;
      const failures = ((await o.store.get<number>(key)) ?? 0) + 1;
      await o.store.set(key, failures, { ttlMs: Math.max(1000, details.exp * 1000 - Date.now()) });
      log.info({ client_id: clientId, username, failures }, 'login rejected: unknown user or wrong password');
      if (failures >= maxAttempts) {
        await o.provider.interactionFinished(req, res, { error: 'access_denied', error_description: 'too many failed login attempts' }, { mergeWithLastSubmission: false });
      } else {
        send(res, 401, loginPage(uid, clientId, 'Invalid username or password.'));
      }
      return true;
    }
    const grantId = await impliedGrant(o, details, user.sub);
    log.info({ client_id: clientId, username: user.username, sub: user.sub, mcptt_id: user.mcpttId }, 'login accepted');
    await o.provider.interactionFinished(req, res, {
      login: { accountId: user.sub, acr: ACR_PASSWORD, amr: ['pwd'] }, consent: { grantId },
    }, { mergeWithLastSubmission: false });
    return true;
  };
}
