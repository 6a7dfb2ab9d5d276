/**
 * The partner MMS's migration configuration API (DESIGN §2.4 [design]; TS 23.280 §10.6.2.3 precondition), HTTPS
 * toward the UE, every request with `Authorization: Bearer <partner access token>` (RFC 7523 grant of the partner
 * IdMS: signature with the partner IdMS certificate, issuer, audience, expiry, the migration scope, the primary
 * identity claims):
 *
 * | method | path | |
 * |---|---|---|
 * | POST | /migration/v1/configurations | body `{}` → 201 `{id, partner_impi, partner_impus, domain, registrar, expires_at}`; the user's live one → 200 |
 * | GET | /migration/v1/configurations/:id | the caller's configuration → 200 |
 * | DELETE | /migration/v1/configurations/:id | ends it here, at the primary MMS and at the registrar (RTR) → 204 |
 *
 * POST allocates a partner IMPI/IMPU, asks the primary MMS of the user's primary system (found by the token's
 * `primary_iss`) to confirm over mutual TLS (binding-client.ts), and stores the binding (bindings.ts) only then; a
 * refusal (403 `migration_not_allowed`) or a failure after the confirmation releases what was allocated.
 */
import { X509Certificate, randomUUID, type KeyObject } from 'node:crypto';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { ConfigFileError } from '../lib/config/files.ts';
import { AccessTokenError, verifyPartnerAccessToken, type PartnerAccessTokenClaims } from '../lib/idm/access-token.ts';
import { MIGRATION_SCOPE } from '../lib/idm/vocabulary.ts';
import type { Logger } from '../lib/log.ts';
import { CONFIGURATIONS_PATH, configurationRequestSchema, type ConfigurationView } from '../lib/migration/wire.ts';
import { allocateDynamicPartnerImpi } from '../lib/seed-steps.ts';
import type { Store } from '../lib/store/store.ts';
import { releaseBinding, requestBinding, type BindingAnswer, type BindingClientOptions } from './binding-client.ts';
import {
  configurationOfUser, getConfiguration, partnerImpiInUse, removeConfiguration, reserveUser, saveConfiguration, type MigrationConfiguration,
} from './bindings.ts';
import { MigrationError, isMigrationError } from './migration-errors.ts';
import { createMigrationServer, parseBody } from './migration-http.ts';
import { MmsStats } from './stats.ts';
import type { PrimarySystem } from './options.ts';

/** How the partner MMS verifies partner access tokens. */
export interface TokenPolicy {
  /** The partner IdMS issuer URL. */
  issuer: string;
  /** The public key of its token-signing certificate (checked once at start: {@link tokenKeyOf}). */
  key: KeyObject;
  /** This API's resource identifier (`aud`). */
  audience: string;
}

/** What the migration API needs. */
export interface MigrationApiOptions {
  store: Store;
  /** The partner realm: the domain of the allocated identities and of the registration. */
  domain: string;
  /** The registrar the UE registers with, as told to it (`sip:host:port;transport=udp`). */
  registrar: string;
  token: TokenPolicy;
  /** Lifetime of a configuration, seconds (the primary may shorten it). */
  ttlS: number;
  primarySystems: readonly PrimarySystem[];
  /** Server certificate and key (toward UEs). */
  tls: { cert: string; key: string };
  /** Own certificate, key and the primary CAs, for the binding API of the primary MMSs. */
  clientTls: BindingClientOptions['tls'];
  /** The CAs trusted for one primary system's binding API (default `clientTls.ca`). */
  caOf?(sys: PrimarySystem): string[];
  logger: Logger;
  /** Where configurations created, ended and refused are counted. */
  stats?: MmsStats;
  /**
   * A configuration ended here (DELETE, or the primary no longer confirms it): its registrations end at the
   * registrars (rtr.ts) before the request is answered.
   */
  onEnded?(partnerImpi: string, reason: string): Promise<void>;
}

const REALM = 'mcx-mms-migration';

function view(c: MigrationConfiguration, o: MigrationApiOptions): ConfigurationView {
  return { id: c.id, partner_impi: c.partnerImpi, partner_impus: [...c.partnerImpus], domain: o.domain, registrar: o.registrar, expires_at: new Date(c.expiresAt).toISOString() };
}

async function caller(req: FastifyRequest, policy: TokenPolicy): Promise<PartnerAccessTokenClaims> {
  const m = /^Bearer\s+(\S+)\s*$/i.exec(req.headers.authorization ?? '');
  if (!m) throw new MigrationError('ERR_MIGRATION_TOKEN', 'a bearer token (the partner access token) is required', false, { tokenAbsent: true });
  try {
    return await verifyPartnerAccessToken(m[1] as string, { issuer: policy.issuer, key: { key: policy.key }, audience: policy.audience, requiredScopes: [MIGRATION_SCOPE] });
  } catch (e) {
    if (e instanceof AccessTokenError) throw new MigrationError('ERR_MIGRATION_TOKEN', e.message, e.bearerError === 'insufficient_scope');
    throw e;
  }
}

/**
 * The token-signing key of the partner IdMS from its certificate, refusing one that cannot be read or is outside
 * its validity period: a bad `--token-cert` must stop the start, not turn every UE request into 401.
 * @param file named in the error.
 * @throws ConfigFileError naming `--token-cert`.
 */
export function tokenKeyOf(pem: string, file: string, now = Date.now()): KeyObject {
  let cert: X509Certificate;
  try {
    cert = new X509Certificate(pem);
  } catch {
    throw new ConfigFileError(`--token-cert ${file}: not a PEM certificate`);
  }
  if (!(Date.parse(cert.validFrom) <= now && now <= Date.parse(cert.validTo))) {
    throw new ConfigFileError(`--token-cert ${file}: not valid now (valid ${cert.validFrom} to ${cert.validTo})`);
  }
  return cert.publicKey;
}

/** Builds the API (not listening yet: `listenMigration`). */
export function createMigrationApi(o: MigrationApiOptions): FastifyInstance {
  const app = createMigrationServer(o.tls, o.logger, REALM);
  const log = o.logger.child({ component: 'migration-api' });
  const clientOf = (sys: PrimarySystem): BindingClientOptions => ({ url: sys.bindingApi, tls: { ...o.clientTls, ca: o.caOf?.(sys) ?? o.clientTls.ca } });

  /** The caller's own live configuration `id`; another user's is as absent as a missing one. */
  async function owned(req: FastifyRequest<{ Params: { id: string } }>): Promise<MigrationConfiguration> {
    const who = await caller(req, o.token);
    const c = await getConfiguration(o.store, req.params.id);
    if (!c || c.mcpttId !== who.mcptt_id || c.primaryIss !== who.primary_iss) throw new MigrationError('ERR_MIGRATION_NOT_FOUND', `no migration configuration ${req.params.id}`);
    return c;
  }

  async function allocateImpi(): Promise<string> {
    for (;;) {
      const impi = allocateDynamicPartnerImpi(o.domain);
      if (!(await partnerImpiInUse(o.store, impi))) return impi;
    }
  }

  const stats = o.stats ?? new MmsStats();
  app.addHook('onResponse', async (req, reply) => {
    if (req.method === 'POST' && req.routeOptions.url === `/${CONFIGURATIONS_PATH}` && reply.statusCode >= 400) stats.inc('configurations_refused');
  });

  /**
   * Asks the primary to confirm (or confirm again) `c`'s binding. For a new binding, a failure that leaves it
   * unknown whether the primary stored it (no answer, a reset) releases it best effort; a refusal needs no release.
   * @param fresh a new binding (false: one already live, which a passing glitch must not release).
   * @returns the expiry the primary accepted (epoch ms).
   */
  async function confirm(sys: PrimarySystem, c: Pick<MigrationConfiguration, 'mcpttId' | 'partnerImpi' | 'partnerImpus'>, expiresAt: number, fresh: boolean): Promise<{ answer: BindingAnswer; expiresAt: number }> {
    let answer: BindingAnswer;
    try {
      answer = await requestBinding(clientOf(sys), {
        mcptt_id: c.mcpttId, partner_realm: o.domain, partner_impi: c.partnerImpi, partner_impus: c.partnerImpus, expires_at: new Date(expiresAt).toISOString(),
      });
    } catch (e) {
      if (fresh && isMigrationError(e, 'ERR_MIGRATION_PRIMARY_UNAVAILABLE')) await release(sys, c.partnerImpi, e.message);
      throw e;
    }
    const accepted = answer.expires_at === undefined ? expiresAt : Math.min(expiresAt, Date.parse(answer.expires_at));
    const why = answer.primary_realm.toLowerCase() !== sys.realm.toLowerCase() ? `it answered for realm ${answer.primary_realm}, not ${sys.realm}`
      : !(accepted > Date.now()) ? `it accepted no lifetime (expires_at ${String(answer.expires_at)})` : undefined;
    if (why) {
      await release(sys, c.partnerImpi, why);
      throw new MigrationError('ERR_MIGRATION_PRIMARY_UNAVAILABLE', `the primary MMS: ${why}`);
    }
    return { answer, expiresAt: accepted };
  }

  function release(sys: PrimarySystem, partnerImpi: string, why: string): Promise<void> {
    return releaseBinding(clientOf(sys), o.domain, partnerImpi).then(
      () => log.warn({ partnerImpi }, `released the primary binding of ${partnerImpi}: ${why}`),
      (e: unknown) => log.error({ partnerImpi, err: (e as Error).message }, `could not release the primary binding of ${partnerImpi} (it expires on its own): ${why}`),
    );
  }

  /** The user's live configuration, confirmed again at the primary (which may have dropped or refused it since). */
  async function reconfirmed(sys: PrimarySystem, live: MigrationConfiguration): Promise<MigrationConfiguration> {
    try {
      await confirm(sys, live, live.expiresAt, false);
      return live;
    } catch (e) {
      if (isMigrationError(e, 'ERR_MIGRATION_PRIMARY_UNAVAILABLE')) {
        log.warn({ id: live.id, err: e.message }, 'the primary MMS could not confirm the live configuration again; answering it as it stands');
        return live;
      }
      await removeConfiguration(o.store, live);
      log.warn({ id: live.id, err: (e as Error).message }, `the primary MMS no longer confirms configuration ${live.id}: removed`);
      await o.onEnded?.(live.partnerImpi, 'migration no longer confirmed by the primary MC system');
      throw e;
    }
  }

  app.post(`/${CONFIGURATIONS_PATH}`, async (req, reply) => {
    const who = await caller(req, o.token);
    parseBody(configurationRequestSchema, req.body);
    const sys = o.primarySystems.find((s) => s.idmsIssuer === who.primary_iss);
    if (!sys) throw new MigrationError('ERR_MIGRATION_NOT_ALLOWED', `the primary system of ${who.primary_iss} is not one this partner MC system works with`);
    const user = { primaryIss: who.primary_iss, mcpttId: who.mcptt_id };
    const unreserve = await reserveUser(o.store, user);
    if (!unreserve) {
      const live = await configurationOfUser(o.store, user);
      if (live) return reply.code(200).send(view(await reconfirmed(sys, live), o));
      throw new MigrationError('ERR_MIGRATION_CONFLICT', 'a migration configuration for this user is being created by another request; retry');
    }
    try {
      const partnerImpi = await allocateImpi();
      const draft = { mcpttId: who.mcptt_id, partnerImpi, partnerImpus: [`sip:${partnerImpi}`] };
      const now = Date.now();
      const { answer, expiresAt } = await confirm(sys, draft, now + o.ttlS * 1000, true);
      const c: MigrationConfiguration = {
        ...draft, id: randomUUID(), primaryIss: who.primary_iss, primarySub: who.primary_sub,
        primaryImpi: answer.primary_impi, primaryImpus: answer.primary_impus, primaryRealm: answer.primary_realm, createdAt: now, expiresAt,
      };
      try {
        if (!(await saveConfiguration(o.store, c))) throw new Error(`partner IMPI ${partnerImpi} was taken meanwhile`);
      } catch (e) {
        await release(sys, partnerImpi, `storing the binding failed: ${(e as Error).message}`);
        throw e;
      }
      log.info({ id: c.id, mcpttId: c.mcpttId, partnerImpi, primaryImpi: c.primaryImpi, primaryRealm: c.primaryRealm, expiresAt: new Date(c.expiresAt).toISOString() },
        `migration configured: ${c.mcpttId} is ${partnerImpi} (primary ${c.primaryImpi}) until ${new Date(c.expiresAt).toISOString()}`);
      stats.inc('configurations_created');
      return reply.code(201).send(view(c, o));
    } catch (e) {
      await unreserve();
      throw e;
    }
  });

  app.get<{ Params: { id: string } }>(`/${CONFIGURATIONS_PATH}/:id`, async (req) => view(await owned(req), o));

  app.delete<{ Params: { id: string } }>(`/${CONFIGURATIONS_PATH}/:id`, async (req, reply) => {
    const c = await owned(req);
    // Here first: from now on the partner MMS answers 5001 for the partner IMPI, whatever the primary says.
    await removeConfiguration(o.store, c);
    const sys = o.primarySystems.find((s) => s.realm.toLowerCase() === c.primaryRealm.toLowerCase());
    try {
      if (sys) await releaseBinding(clientOf(sys), o.domain, c.partnerImpi);
    } catch (e) {
      log.warn({ id: c.id, err: (e as Error).message }, `migration ended here, but the primary binding could not be released (it expires at ${new Date(c.expiresAt).toISOString()})`);
    }
    log.info({ id: c.id, mcpttId: c.mcpttId, partnerImpi: c.partnerImpi, primaryImpi: c.primaryImpi }, `migration ended: ${c.partnerImpi}`);
    await o.onEnded?.(c.partnerImpi, 'migration ended');
    stats.inc('configurations_ended');
    return reply.code(204).send();
  });

  return app;
}
