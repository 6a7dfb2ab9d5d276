/**
 * The primary MMS's binding API (DESIGN §2.4 [design]), HTTPS with mutual TLS toward partner MMSs: a partner MMS
 * whose certificate chains to a trusted partner CA asks whether an MC service user may migrate to its realm.
 *
 * | method | path | |
 * |---|---|---|
 * | POST | /migration/v1/bindings | `{mcptt_id, partner_realm, partner_impi, partner_impus, expires_at}` → 200 `{primary_impi, primary_impus, primary_realm, expires_at}` |
 * | DELETE | /migration/v1/bindings/:partner_impi?partner_realm=R | → 204 |
 *
 * The client certificate must name an MMS of `partner_realm` (its URI `mcx://<partner_realm>/mms`, vouched for by a
 * CA of that realm: lib/pki/identity.ts; DESIGN §2.7), else 403 `untrusted_partner` — a partner's registrar or IdMS
 * certificate is not enough; the subscriber with that `mcptt_id` must allow the partner realm for dynamic
 * configuration in `allowed_partners` (`dynamic:REALM` or a plain `REALM`; lib/allowed-partners.ts), else 403
 * `migration_not_allowed` (also for an unknown `mcptt_id`: a partner learns nothing about who exists). Each
 * confirmed binding is recorded (primary-bindings.ts) with `expires_at` capped to the configured maximum; the Cx
 * gate (primary.ts) lets only bound users through.
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { allowsMigration } from '../lib/allowed-partners.ts';
import { isRealm } from '../lib/config/address.ts';
import { mcxUri, socketIdentity } from '../lib/pki/identity.ts';
import type { Logger } from '../lib/log.ts';
import type { Store } from '../lib/store/store.ts';
import { BINDINGS_PATH, bindingRequestSchema, type BindingAnswer } from '../lib/migration/wire.ts';
import { MigrationError } from './migration-errors.ts';
import { createMigrationServer, parseBody, type MigrationServerTls } from './migration-http.ts';
import { putBinding, removeBinding } from './primary-bindings.ts';
import type { SubscriberDirectory } from './subscriber-directory.ts';

/** What the binding API needs. */
export interface BindingApiOptions {
  store: Store;
  subscribers: SubscriberDirectory;
  /** The primary realm (Diameter realm of the HSS). */
  realm: string;
  /** Longest binding accepted, seconds; a later `expires_at` is shortened to it. */
  maxTtlS: number;
  /** Server certificate and key; `clientCa` = the partner CAs (mutual TLS). */
  tls: MigrationServerTls & { clientCa: string[] };
  logger: Logger;
}

/** Refuses a client whose certificate is not an MMS of `realm`. */
function checkPartner(req: FastifyRequest, realm: string): void {
  const r = realm.toLowerCase();
  const id = socketIdentity(req.raw.socket);
  if (id === undefined || !id.ok) {
    throw new MigrationError('ERR_MIGRATION_UNTRUSTED_PARTNER', `the client certificate is not a partner MMS's: ${id?.reason ?? 'no TLS'}`);
  }
  if (id.identity.realm !== r || id.identity.role !== 'mms') {
    throw new MigrationError('ERR_MIGRATION_UNTRUSTED_PARTNER',
      `the client certificate (${mcxUri(id.identity.realm, id.identity.role)}) is not an MMS of partner realm ${realm}`);
  }
}

/** Builds the API (not listening yet: `listenMigration`). */
export function createBindingApi(o: BindingApiOptions): FastifyInstance {
  const app = createMigrationServer(o.tls, o.logger, 'mcx-mms-bindings');
  const log = o.logger.child({ component: 'binding-api' });

  app.post(`/${BINDINGS_PATH}`, async (req): Promise<BindingAnswer> => {
    const b = parseBody(bindingRequestSchema, req.body);
    checkPartner(req, b.partner_realm);
    const now = Date.now();
    const asked = Date.parse(b.expires_at);
    if (!(asked > now)) throw new MigrationError('ERR_MIGRATION_INPUT', 'expires_at: must be in the future');
    const sub = await o.subscribers.byMcpttId(b.mcptt_id);
    if (!sub || !allowsMigration(sub.allowedPartners, b.partner_realm, 'dynamic')) {
      log.warn({ mcpttId: b.mcptt_id, partnerRealm: b.partner_realm, known: sub !== undefined },
        'migration refused: the subscriber may not migrate to this partner realm by dynamic configuration');
      throw new MigrationError('ERR_MIGRATION_NOT_ALLOWED', `${b.mcptt_id} may not migrate to ${b.partner_realm}`);
    }
    const expiresAt = Math.min(asked, now + o.maxTtlS * 1000);
    await putBinding(o.store, {
      mcpttId: b.mcptt_id, partnerRealm: b.partner_realm, partnerImpi: b.partner_impi, partnerImpus: b.partner_impus,
      primaryImpi: sub.impi, primaryImpus: sub.impus, primaryRealm: o.realm, createdAt: now, expiresAt,
    });
    log.info({ mcpttId: b.mcptt_id, partnerRealm: b.partner_realm, partnerImpi: b.partner_impi, primaryImpi: sub.impi, expiresAt: new Date(expiresAt).toISOString() },
      `migration binding confirmed: ${sub.impi} is ${b.partner_impi} in ${b.partner_realm}`);
    return { primary_impi: sub.impi, primary_impus: sub.impus, primary_realm: o.realm, expires_at: new Date(expiresAt).toISOString() };
  });

  app.delete<{ Params: { partner_impi: string }; Querystring: { partner_realm?: string } }>(`/${BINDINGS_PATH}/:partner_impi`, async (req, reply) => {
    const realm = req.query.partner_realm;
    if (typeof realm !== 'string' || !isRealm(realm)) throw new MigrationError('ERR_MIGRATION_INPUT', 'partner_realm: a DNS name is required');
    checkPartner(req, realm);
    const removed = await removeBinding(o.store, realm, req.params.partner_impi);
    if (!removed) throw new MigrationError('ERR_MIGRATION_NOT_FOUND', `no binding of ${req.params.partner_impi} in ${realm}`);
    log.info({ partnerRealm: realm, partnerImpi: removed.partnerImpi, primaryImpi: removed.primaryImpi }, `migration binding ended: ${removed.primaryImpi} / ${removed.partnerImpi}`);
    return reply.code(204).send();
  });

  return app;
}
