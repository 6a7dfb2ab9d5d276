/**
 * The UE's IdM client (TS 33.180 §5.1.2–5.1.4, Annex B/C): OIDC authorization code flow with PKCE S256 against the
 * primary IdMS, done non-interactively — it fetches the IdMS's login page and posts the user's credentials as a native
 * client's embedded browser would, following redirects itself with a cookie jar, until the IdMS redirects to the
 * client's redirect URI with the code (which is parsed, never fetched). Then the token calls of tokens.ts: code →
 * tokens, refresh, RFC 8693 token exchange (security token), RFC 7523 jwt-bearer at the partner IdMS.
 *
 * TLS is always verified against the given CA (`ca`, PEM); there is no switch to disable it.
 */
import { createHash, randomBytes } from 'node:crypto';
import type { JWTPayload } from 'jose';
import { CookieJar, IdmClientError, httpsRequest, type HttpResponse, type TlsTrust } from './idm/http.ts';
import { discover, redeemCode, validateIdToken, type Discovery, type TokenSet } from './idm/tokens.ts';

export { IdmClientError, type IdmClientErrorCode, type TlsTrust } from './idm/http.ts';
export {
  discover, exchangeToken, jwtBearer, redeemCode, refresh, validateIdToken, JWT_BEARER, TOKEN_EXCHANGE, TOKEN_TYPE_ACCESS_TOKEN,
  TOKEN_TYPE_JWT, type Discovery, type ExchangeOptions, type JwtBearerOptions, type RedeemOptions, type RefreshOptions,
  type SecurityTokenResponse, type TokenSet,
} from './idm/tokens.ts';
export { endMigration, requestMigration, type MigrationClientOptions, type MigrationConfiguration } from './idm/migration.ts';

/** A PKCE pair (RFC 7636 §4.1–4.2, S256). */
export interface Pkce {
  verifier: string;
  challenge: string;
}

/** A fresh verifier (256 random bits, 43 base64url characters) and its S256 challenge. */
export function createPkce(): Pkce {
  const verifier = randomBytes(32).toString('base64url');
  return { verifier, challenge: createHash('sha256').update(verifier).digest('base64url') };
}

/** Options of {@link authorizeWithPassword}. */
export interface AuthorizeOptions extends TlsTrust {
  issuer: string;
  clientId: string;
  redirectUri: string;
  username: string;
  password: string;
  /** Space-separated: `openid` plus MC scopes, e.g. `openid 3gpp:mc:ptt_service 3gpp:mc:migration`. */
  scope: string;
  /** Resource indicator (RFC 8707); the IdMS defaults to its MC services. */
  resource?: string;
  /**
   * Tests only: what to send instead of a fresh S256 pair — `omit` sends no PKCE, or a given challenge and method
   * (`plain`). The IdMS must refuse both.
   */
  pkceOverride?: 'omit' | { challenge: string; method: string };
  discovery?: Discovery;
}

/** What the authorization step yields. */
export interface Authorization {
  code: string;
  /** The PKCE verifier to redeem the code with (undefined when PKCE was overridden). */
  verifier: string | undefined;
  nonce: string;
  discovery: Discovery;
}

const MAX_HOPS = 12;

function loginFormAction(html: string): string | undefined {
  const m = /<form\b[^>]*\baction="([^"]+)"/i.exec(html);
  return m?.[1]?.replace(/&amp;/g, '&');
}

/** The error of an IdMS HTML error page (oidc-provider's `renderError`, ours prints `<b>error</b>: …`). */
function pageError(res: HttpResponse): IdmClientError {
  const field = (k: string): string | undefined => new RegExp(`<b>${k}</b>: ([^<]*)`).exec(res.body)?.[1];
  const error = field('error');
  const desc = field('error_description');
  return error
    ? new IdmClientError('ERR_IDM_OAUTH', `authorization: ${error}${desc ? ` (${desc})` : ''}`, { error, status: res.status, ...(desc ? { errorDescription: desc } : {}) })
    : new IdmClientError('ERR_IDM_PROTOCOL', `authorization: unexpected HTTP ${res.status}`, { status: res.status });
}

/** Whether `location` is the client's redirect URI (same scheme, host, port, path), ignoring the query. */
function isRedirectUri(location: URL, redirectUri: string): boolean {
  const r = new URL(redirectUri);
  return location.protocol === r.protocol && location.host === r.host && location.pathname === r.pathname;
}

/**
 * Runs the authorization request and the IdMS login page up to the code (RFC 6749 §4.1.1–4.1.2, RFC 9207 `iss`).
 * @throws IdmClientError `ERR_IDM_LOGIN` for rejected credentials, `ERR_IDM_OAUTH` for an error redirect (e.g.
 *   `invalid_request` when PKCE is missing or `plain`), `ERR_IDM_PROTOCOL` for anything unexpected.
 */
export async function authorizeWithPassword(o: AuthorizeOptions): Promise<Authorization> {
  const discovery = o.discovery ?? (await discover(o.issuer, o));
  const pkce = o.pkceOverride === undefined ? createPkce() : undefined;
  const state = randomBytes(16).toString('base64url');
  const nonce = randomBytes(16).toString('base64url');
  const url = new URL(discovery.authorization_endpoint);
  const q = url.searchParams;
  q.set('response_type', 'code');
  q.set('client_id', o.clientId);
  q.set('redirect_uri', o.redirectUri);
  q.set('scope', o.scope);
  q.set('state', state);
  q.set('nonce', nonce);
  if (o.resource) q.set('resource', o.resource);
  if (pkce) {
    q.set('code_challenge', pkce.challenge);
    q.set('code_challenge_method', 'S256');
  } else if (o.pkceOverride !== 'omit' && o.pkceOverride) {
    q.set('code_challenge', o.pkceOverride.challenge);
    q.set('code_challenge_method', o.pkceOverride.method);
  }
  const origin = new URL(o.issuer).origin;
  const jar = new CookieJar();
  let next: { url: URL; form?: Record<string, string> } = { url };
  let posted = false;
  for (let hop = 0; hop < MAX_HOPS; hop++) {
    const res = await httpsRequest(next.url, { method: next.form ? 'POST' : 'GET', jar, accept: 'text/html', ...(next.form ? { form: next.form } : {}) }, o);
    const location = res.headers.location;
    if (res.status >= 300 && res.status < 400 && location) {
      const to = new URL(location, next.url);
      if (isRedirectUri(to, o.redirectUri)) return { ...fromRedirect(to, state, discovery.issuer), verifier: pkce?.verifier, nonce, discovery };
      // The credentials only ever go to the issuer's own login page.
      if (to.origin !== origin) throw new IdmClientError('ERR_IDM_PROTOCOL', `authorization redirected off the IdMS to ${to.origin}`);
      next = { url: to };
      continue;
    }
    if (res.status === 401 && posted) throw new IdmClientError('ERR_IDM_LOGIN', 'the IdMS rejected the username or password', { status: 401 });
    if (res.status !== 200) throw pageError(res);
    const action = loginFormAction(res.body);
    if (!action || posted) throw new IdmClientError('ERR_IDM_PROTOCOL', 'the IdMS page has no login form to fill in', { status: res.status });
    const target = new URL(action, next.url);
    if (target.origin !== origin) throw new IdmClientError('ERR_IDM_PROTOCOL', `the login form posts off the IdMS to ${target.origin}`);
    next = { url: target, form: { username: o.username, password: o.password } };
    posted = true;
  }
  throw new IdmClientError('ERR_IDM_PROTOCOL', `no redirect to ${o.redirectUri} after ${MAX_HOPS} hops`);
}

function fromRedirect(to: URL, state: string, issuer: string): { code: string } {
  const p = to.searchParams;
  if (p.get('state') !== state) throw new IdmClientError('ERR_IDM_PROTOCOL', 'authorization response state does not match the request');
  const iss = p.get('iss');
  if (iss !== null && iss !== issuer) throw new IdmClientError('ERR_IDM_PROTOCOL', `authorization response iss ${iss} is not ${issuer} (RFC 9207)`);
  const error = p.get('error');
  if (error) {
    const desc = p.get('error_description') ?? undefined;
    throw new IdmClientError('ERR_IDM_OAUTH', `authorization: ${error}${desc ? ` (${desc})` : ''}`, { error, ...(desc ? { errorDescription: desc } : {}) });
  }
  const code = p.get('code');
  if (!code) throw new IdmClientError('ERR_IDM_PROTOCOL', 'authorization response carries neither code nor error');
  return { code };
}

/** Options of {@link login}: the authorization options without the test overrides. */
export type LoginOptions = Omit<AuthorizeOptions, 'pkceOverride' | 'discovery'>;

/** Tokens of a login, the ID token validated. */
export interface LoginResult extends TokenSet {
  idToken: string;
  /** The validated ID token claims (`sub`, `mcptt_id`, …). */
  idTokenClaims: JWTPayload;
}

/**
 * MC service user authentication (TS 23.280 §10.6 step 1, 33.180 C.1 steps 3a–3f): discovery, authorization code +
 * PKCE S256 with the credentials posted to the IdMS login page, code → tokens, ID token validated.
 * @throws IdmClientError (see {@link authorizeWithPassword}, {@link redeemCode}, {@link validateIdToken}).
 */
export async function login(o: LoginOptions): Promise<LoginResult> {
  const a = await authorizeWithPassword(o);
  const tokens = await redeemCode({ ...o, discovery: a.discovery, code: a.code, verifier: a.verifier });
  if (!tokens.idToken) throw new IdmClientError('ERR_IDM_TOKEN', 'the token response has no ID token (was openid requested?)');
  const idTokenClaims = await validateIdToken(tokens.idToken, { ...o, discovery: a.discovery, nonce: a.nonce });
  return { ...tokens, idToken: tokens.idToken, idTokenClaims };
}
