/**
 * `mcx idms`: runs a primary or partner IdMS until SIGINT/SIGTERM, printing `idms: listening https://HOST:PORT
 * role=ROLE issuer=URL [admin=URL] [metrics=URL]`; `mcx idms user …` provisions users (cli-user.ts). Every option goes through zod
 * (parseConfig), so each bad one is named (exit 2).
 */
import { z } from 'zod';
import type { Command } from 'commander';
import type { CommandModule } from '../lib/cli.ts';
import { hostPortSchema } from '../lib/config/address.ts';
import { collectOption, storeSpecSchema } from '../lib/config/options.ts';
import { parseConfig } from '../lib/config/validate.ts';
import { defaultResource } from '../lib/idm/vocabulary.ts';
import { METRICS_OPTION_HELP, metricsReadySuffix } from '../lib/metrics/telemetry.ts';
import { createLogger, type Logger } from '../lib/log.ts';
import { serveUntilSignal } from '../lib/serve.ts';
import { addUserCommands } from './cli-user.ts';
import { DEFAULT_TTLS, IDMS_ROLES, MAX_CLOCK_SKEW_S } from './constants.ts';
import type { IdmsConfig } from './server.ts';

/** Where the testbed and the tests have always found it; the one definition is lib's. */
export { defaultResource } from '../lib/idm/vocabulary.ts';

/** Defaults shown in `--help` and used when an option is absent. */
export const IDMS_DEFAULTS = {
  listen: '127.0.0.1:8443',
  store: 'memory',
  client: 'mcx-ue=http://127.0.0.1/callback',
} as const;

// Not URL.parse: Node 20 lacks it before 20.18.
const parseUrl = (s: string): URL | null => {
  try {
    return new URL(s);
  } catch {
    return null;
  }
};
const httpsUrl = z.string().refine((s) => {
  const u = parseUrl(s);
  return u !== null && u.protocol === 'https:' && u.search === '' && u.hash === '' && !s.endsWith('?') && !s.endsWith('#');
}, 'must be an https:// URL without query or fragment');
const absoluteUri = z.string().refine((s) => parseUrl(s) !== null && !s.includes('#'), 'must be an absolute URI without fragment');
const required = z.string({ error: 'required' });
const seconds = (max: number) => z.coerce.number().int().min(1).max(max);

const pair = (what: string, value: z.ZodType<string>) => z.string().transform((s, ctx) => {
  const i = s.indexOf('=');
  const name = s.slice(0, i).trim();
  const rest = s.slice(i + 1).trim();
  const v = value.safeParse(rest);
  if (i <= 0 || !v.success) {
    ctx.addIssue({ code: 'custom', message: `expected ${what}, got ${JSON.stringify(s)}${v.success ? '' : ` (${v.error.issues[0]?.message ?? ''})`}` });
    return z.NEVER;
  }
  return [name, v.data] as const;
});

const serveSchema = z.object({
  'role': z.enum(IDMS_ROLES, { error: 'required: primary or partner' }),
  'listen': hostPortSchema,
  'issuer': required.pipe(httpsUrl),
  'tls-cert': required.min(1),
  'tls-key': required.min(1),
  'signing-key': required.min(1),
  'signing-cert': required.min(1),
  'partner': z.array(pair('NAME=ISSUER_URL', httpsUrl)),
  'trusted-issuer': z.array(httpsUrl),
  'trust-cert': z.array(z.string().min(1)),
  'resource': absoluteUri.optional(),
  'client': z.array(pair('CLIENT_ID=REDIRECT_URI[,REDIRECT_URI…]', z.string().min(1))).min(1),
  'store': storeSpecSchema,
  'state-dir': z.string().min(1),
  'admin': hostPortSchema.optional(),
  'admin-token-file': z.string().min(1).optional(),
  'users': z.string().min(1).optional(),
  'access-token-ttl': seconds(86_400),
  'refresh-token-ttl': seconds(30 * 86_400),
  'security-token-ttl': seconds(600),
  'metrics': hostPortSchema.optional(),
}).superRefine((o, ctx) => {
  const issue = (path: string, message: string) => ctx.addIssue({ code: 'custom', path: [path], message });
  if (o.role === 'primary') {
    if (o['trusted-issuer'].length || o['trust-cert'].length) issue('trusted-issuer', 'only a partner IdMS verifies security tokens');
  } else {
    if (o.partner.length) issue('partner', 'only a primary IdMS issues security tokens to partners');
    if (!o['trusted-issuer'].length) issue('trusted-issuer', 'a partner IdMS needs at least one trusted primary issuer URL');
    if (!o['trust-cert'].length) issue('trust-cert', 'a partner IdMS needs the primary IdMS signing certificate (PEM)');
    const n = o['trusted-issuer'].length;
    if (n > 1 && n !== o['trust-cert'].length) issue('trust-cert', 'with several --trusted-issuer, give one --trust-cert each, in the same order');
  }
});

/** Raw commander options of `mcx idms`. */
export interface IdmsCliOptions {
  role?: string;
  listen?: string;
  issuer?: string;
  tlsCert?: string;
  tlsKey?: string;
  signingKey?: string;
  signingCert?: string;
  partner?: string[];
  trustedIssuer?: string[];
  trustCert?: string[];
  resource?: string;
  client?: string[];
  store?: string;
  stateDir?: string;
  admin?: string;
  adminTokenFile?: string;
  users?: string;
  accessTokenTtl?: string;
  refreshTokenTtl?: string;
  securityTokenTtl?: string;
  metrics?: string;
}

/**
 * Validates `mcx idms` options into an {@link IdmsConfig}.
 * @throws UsageError naming every invalid option.
 */
export function parseIdmsOptions(o: IdmsCliOptions, logger: Logger): IdmsConfig {
  const c = parseConfig(serveSchema, {
    'role': o.role, 'listen': o.listen ?? IDMS_DEFAULTS.listen, 'issuer': o.issuer, 'tls-cert': o.tlsCert, 'tls-key': o.tlsKey,
    'signing-key': o.signingKey, 'signing-cert': o.signingCert, 'partner': o.partner ?? [], 'trusted-issuer': o.trustedIssuer ?? [],
    'trust-cert': o.trustCert ?? [], 'resource': o.resource, 'client': o.client ?? [IDMS_DEFAULTS.client],
    'store': o.store ?? IDMS_DEFAULTS.store, 'state-dir': o.stateDir ?? `.state/idms-${o.role ?? 'primary'}`, 'admin': o.admin,
    'admin-token-file': o.adminTokenFile, 'users': o.users, 'access-token-ttl': o.accessTokenTtl ?? DEFAULT_TTLS.accessToken,
    'refresh-token-ttl': o.refreshTokenTtl ?? DEFAULT_TTLS.refreshToken, 'security-token-ttl': o.securityTokenTtl ?? DEFAULT_TTLS.securityToken,
    'metrics': o.metrics,
  });
  const issuers = c['trusted-issuer'];
  const certs = c['trust-cert'];
  return {
    role: c.role, listen: c.listen, issuer: c.issuer, tls: { cert: c['tls-cert'], key: c['tls-key'] },
    signing: { key: c['signing-key'], cert: c['signing-cert'] }, resource: c.resource ?? defaultResource(c.role, c.issuer),
    clients: c.client.map(([clientId, uris]) => ({ clientId, redirectUris: uris.split(',').map((u) => u.trim()).filter(Boolean) })),
    partners: new Map(c.partner),
    // One issuer: every certificate is its (a key rollover); several: paired in order.
    trusted: issuers.map((issuer, i) => ({ issuer, certFiles: issuers.length === 1 ? certs : [certs[i] as string] })),
    store: c.store, stateDir: c['state-dir'], logger,
    ttls: {
      ...DEFAULT_TTLS, accessToken: c['access-token-ttl'], idToken: c['access-token-ttl'], refreshToken: c['refresh-token-ttl'],
      securityToken: c['security-token-ttl'], partnerAccessToken: c['access-token-ttl'],
    },
    ...(c.admin === undefined ? {} : { admin: c.admin }),
    ...(c['admin-token-file'] === undefined ? {} : { adminTokenFile: c['admin-token-file'] }),
    ...(c.users === undefined ? {} : { usersCsv: c.users }),
    ...(c.metrics === undefined ? {} : { metrics: { listen: c.metrics } }),
  };
}

/**
 * Adds `mcx idms [serve]` and `mcx idms user …`. The server is the default subcommand `serve` (as `mcx hss` does), so
 * the user subcommands' options are not swallowed by the server's.
 */
export const idmsCommand: CommandModule = (program: Command) => {
  const idms = program.command('idms').description('IdM server (TS 33.180): OIDC code flow + PKCE, RFC 8693 token exchange (primary), RFC 7523 (partner)');
  idms
    .command('serve', { isDefault: true })
    .description('run the IdMS until SIGINT/SIGTERM (the default: `mcx idms --role …` is `mcx idms serve --role …`)')
    .option('--role <role>', 'primary | partner')
    .option('--listen <host:port>', 'HTTPS listen address', IDMS_DEFAULTS.listen)
    .option('--issuer <url>', 'issuer identifier, https://… (what discovery and every token say)')
    .option('--tls-cert <file>', 'PEM server certificate (certs: <system>/idms.pem)')
    .option('--tls-key <file>', 'PEM server key')
    .option('--signing-key <file>', 'RS256 token-signing key (certs: <system>/idms-signing.key)')
    .option('--signing-cert <file>', 'its certificate, published in the JWKS x5c')
    .option('--partner <name=url>', 'primary: a partner IdMS that may receive security tokens (repeatable)', collectOption)
    .option('--trusted-issuer <url>', 'partner: issuer URL of a trusted primary IdMS (repeatable)', collectOption)
    .option('--trust-cert <file>', 'partner: that primary IdMS signing certificate, provisioned out of band (repeatable)', collectOption)
    .option('--resource <uri>', 'aud of this IdMS access tokens (partner: the partner MMS; default <issuer>/mc-services or /migration)')
    .option('--client <id=uris>', `registered native client and its redirect URIs (repeatable; default ${IDMS_DEFAULTS.client})`, collectOption)
    .option('--store <spec>', 'memory | redis | redis://… | rediss://… | redis+cluster://h:p,h:p | redis+sentinel://h:p/<master>', IDMS_DEFAULTS.store)
    .option('--state-dir <dir>', 'memory store journal and admin token (default .state/idms-<role>)')
    .option('--admin <host:port>', 'serve the admin API (HTTPS, bearer token) here')
    .option('--admin-token-file <file>', 'admin bearer token file (default: <state-dir>/admin-token, created 0600)')
    .option('--users <file.csv>', 'provision users at start: username,password,mcptt_id with a header row')
    .option('--access-token-ttl <s>', 'access/ID token lifetime', String(DEFAULT_TTLS.accessToken))
    .option('--refresh-token-ttl <s>', 'refresh token lifetime', String(DEFAULT_TTLS.refreshToken))
    .option('--metrics <host:port>', METRICS_OPTION_HELP)
    .option('--security-token-ttl <s>', `primary: security token lifetime (≤ 600; partners accept ${MAX_CLOCK_SKEW_S} s skew)`, String(DEFAULT_TTLS.securityToken))
    .action(async (opts: IdmsCliOptions) => {
      const logger = createLogger('idms');
      const config = parseIdmsOptions(opts, logger);
      // Loaded here, not at the top: `--help` needs none of the IdMS (oidc-provider alone is ~0.1 s; issue #12).
      const { startIdms } = await import('./server.ts');
      await serveUntilSignal({
        role: 'idms', logger, start: () => startIdms(config),
        ready: (r) => `listening ${r.url} role=${r.role} issuer=${r.issuer}${r.adminUrl ? ` admin=${r.adminUrl}` : ''}${metricsReadySuffix(r.metricsUrl)}`,
      });
    });
  addUserCommands(idms);
};
