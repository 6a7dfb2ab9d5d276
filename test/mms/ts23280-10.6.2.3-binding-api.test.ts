/**
 * The primary MMS's binding API (DESIGN §2.4 [design], the precondition of TS 23.280 §10.6.2.3) on real HTTPS with
 * mutual TLS, driven by the partner MMS's own client (binding-client.ts), and the Cx gate it feeds: only the TLS
 * client of a partner CA gets in, only for the partner realm its certificate names, only for a subscriber whose
 * `allowed_partners` lists that realm; bindings expire no later than the configured maximum; a MAR for a primary IMPI
 * passes the gate only while a binding names it toward the MAR's Origin-Realm, with bound IMPUs only.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { FastifyInstance } from 'fastify';
import { loadTlsMaterial } from '../../certs/layout.ts';
import { buildMar, readCxResult } from '../../lib/diameter/cx/index.ts';
import { getValue } from '../../lib/diameter/message.ts';
import { silentLogger } from '../../lib/log.ts';
import { openStore, type Store } from '../../lib/store/store.ts';
import { createBindingApi } from '../../mms/binding-api.ts';
import { releaseBinding, requestBinding, type BindingClientOptions } from '../../mms/binding-client.ts';
import { MigrationError, isMigrationError } from '../../mms/migration-errors.ts';
import { listenMigration } from '../../mms/migration-http.ts';
import { bindingGate } from '../../mms/primary.ts';
import { bindingFor } from '../../mms/primary-bindings.ts';
import type { MigratingSubscriber } from '../../mms/subscriber-directory.ts';
import type { TwoSystemTestbed } from '../../deploy/testbed-builder.ts';
import { PARTNER_REALM, PRIMARY_REALM, staticTestbed } from './testbed.ts';

const ALICE: MigratingSubscriber & { mcpttId: string } = {
  mcpttId: 'sip:alice@mcptt.primary.example', impi: `alice@${PRIMARY_REALM}`, impus: [`sip:alice@${PRIMARY_REALM}`, 'tel:+4989222'], allowedPartners: [PARTNER_REALM],
};
const CAROL: MigratingSubscriber & { mcpttId: string } = {
  mcpttId: 'sip:carol@mcptt.primary.example', impi: `carol@${PRIMARY_REALM}`, impus: [`sip:carol@${PRIMARY_REALM}`], allowedPartners: ['elsewhere.example'],
};
const MAX_TTL_S = 3600;

describe('primary MMS binding API: mutual TLS, the partner realm of the certificate, allowed_partners, expiry cap', () => {
  let tb: TwoSystemTestbed;
  let store: Store;
  let api: FastifyInstance;
  let url: string;
  let partner: BindingClientOptions;
  let rogue: BindingClientOptions;
  let directoryDown = false;

  const body = (over: Partial<Record<string, unknown>> = {}) => ({
    mcptt_id: ALICE.mcpttId, partner_realm: PARTNER_REALM, partner_impi: `mig-1@${PARTNER_REALM}`, partner_impus: [`sip:mig-1@${PARTNER_REALM}`],
    expires_at: new Date(Date.now() + 600_000).toISOString(), ...over,
  }) as Parameters<typeof requestBinding>[1];
  const refusedWith = (code: string) => (e: unknown): boolean => {
    assert.ok(isMigrationError(e), String(e));
    assert.equal(e.code, code, e.message);
    return true;
  };
  // The primary's 403 untrusted_partner is this system's own misconfiguration: the partner's client reports it as
  // primary_unavailable (502 to a UE), with the primary's reason.
  const untrusted = (e: unknown): boolean => refusedWith('ERR_MIGRATION_PRIMARY_UNAVAILABLE')(e) && /untrusted_partner/.test((e as Error).message);

  before(async () => {
    tb = await staticTestbed('binding-api');
    store = await openStore('memory', { ephemeral: true });
    const own = await loadTlsMaterial(tb.pki, 'primary', 'mms', ['partner']);
    api = createBindingApi({
      store, realm: PRIMARY_REALM, maxTtlS: MAX_TTL_S, logger: silentLogger,
      subscribers: {
        byMcpttId: async (id) => {
          if (directoryDown) throw new MigrationError('ERR_MIGRATION_PRIMARY_UNAVAILABLE', 'the HSS subscriber directory did not answer');
          return [ALICE, CAROL].find((u) => u.mcpttId === id);
        },
      },
      tls: { cert: own.cert, key: own.key, clientCa: own.ca },
    });
    url = await listenMigration(api, { host: '127.0.0.1', port: 0 });
    const p = await loadTlsMaterial(tb.pki, 'partner', 'mms', ['primary']);
    partner = { url, tls: { cert: p.cert, key: p.key, ca: p.ca }, timeoutMs: 3000 };
    const r = await loadTlsMaterial(tb.pki, 'rogue', 'mms', []);
    rogue = { url, tls: { cert: r.cert, key: r.key, ca: p.ca }, timeoutMs: 3000 };
  });
  after(async () => {
    await api?.close();
    await store?.close();
    await tb?.close();
  });

  test('a trusted partner: 200 with the primary identities; the binding is recorded for the Cx gate', async () => {
    const a = await requestBinding(partner, body());
    assert.deepEqual({ ...a, expires_at: undefined }, { primary_impi: ALICE.impi, primary_impus: ALICE.impus, primary_realm: PRIMARY_REALM, expires_at: undefined });
    const b = await bindingFor(store, PARTNER_REALM, ALICE.impi);
    assert.equal(b?.partnerImpi, `mig-1@${PARTNER_REALM}`);
    assert.equal(b?.mcpttId, ALICE.mcpttId);
  });

  test('expires_at beyond the maximum is shortened to it; one in the past is invalid_request', async () => {
    const a = await requestBinding(partner, body({ expires_at: new Date(Date.now() + 86_400_000).toISOString() }));
    const left = Date.parse(a.expires_at as string) - Date.now();
    assert.ok(left <= MAX_TTL_S * 1000 && left > (MAX_TTL_S - 60) * 1000, `capped to ${MAX_TTL_S} s, got ${left} ms`);
    // To the partner a 400 of the primary is its own fault: reported upward as primary_unavailable, with the cause.
    await assert.rejects(requestBinding(partner, body({ expires_at: '2020-01-01T00:00:00Z' })),
      (e: unknown) => refusedWith('ERR_MIGRATION_PRIMARY_UNAVAILABLE')(e) && /invalid_request \(expires_at: must be in the future\)/.test((e as Error).message));
  });

  test('not allowed: a realm the subscription does not list, or an unknown mcptt_id → migration_not_allowed', async () => {
    await assert.rejects(requestBinding(partner, body({ mcptt_id: 'sip:nobody@mcptt.primary.example' })), refusedWith('ERR_MIGRATION_NOT_ALLOWED'));
    await assert.rejects(requestBinding(partner, body({ mcptt_id: CAROL.mcpttId })), refusedWith('ERR_MIGRATION_NOT_ALLOWED'));
    assert.equal(await bindingFor(store, PARTNER_REALM, CAROL.impi), undefined);
  });

  test('a certificate that does not name the partner realm asked for → untrusted_partner', async () => {
    await assert.rejects(requestBinding(partner, body({ partner_realm: 'other.example' })), untrusted);
  });

  test('a client of an unknown CA does not get through the handshake', async () => {
    await assert.rejects(requestBinding(rogue, body()), (e: unknown) => refusedWith('ERR_MIGRATION_PRIMARY_UNAVAILABLE')(e) && /cannot be reached/.test((e as Error).message));
  });

  test('malformed bodies name the field; the directory down is primary_unavailable', async () => {
    for (const [over, field] of [[{ partner_impi: 'no-at-sign' }, 'partner_impi'], [{ partner_impus: [] }, 'partner_impus'], [{ extra: 1 }, 'extra']] as const) {
      await assert.rejects(requestBinding(partner, body(over)),
        (e: unknown) => refusedWith('ERR_MIGRATION_PRIMARY_UNAVAILABLE')(e) && (e as Error).message.includes(`invalid_request (${field}`));
    }
    directoryDown = true;
    try {
      await assert.rejects(requestBinding(partner, body()), refusedWith('ERR_MIGRATION_PRIMARY_UNAVAILABLE'));
    } finally {
      directoryDown = false;
    }
  });

  test('the Cx gate: a bound IMPI from the partner passes; another realm, a peer of another realm, an unbound IMPU or no binding are refused (5001/5002)', async () => {
    await requestBinding(partner, body());
    const gate = bindingGate(store, { originHost: `mms.${PRIMARY_REALM}`, originRealm: PRIMARY_REALM });
    const mar = (o: { realm?: string; impi?: string; impu?: string }) => buildMar({
      sessionId: `mms.${PARTNER_REALM};1;1`, originHost: `mms.${o.realm ?? PARTNER_REALM}`, originRealm: o.realm ?? PARTNER_REALM, destinationRealm: PRIMARY_REALM,
      userName: o.impi ?? ALICE.impi, publicIdentity: o.impu ?? (ALICE.impus[0] as string), serverName: `sip:registrar.${PARTNER_REALM}`, numberAuthItems: 1, scheme: 'Digest-AKAv1-MD5',
    });
    // The connection's identity: Origin-Host checked against the TLS certificate at the CER, and its Origin-Realm.
    const from = (host: string, realm: string) => ({ peer: { originHost: host, originRealm: realm, remoteAddress: '127.0.0.1', role: 'mms', certified: true } });
    const partnerPeer = from(`mms.${PARTNER_REALM}`, PARTNER_REALM);
    assert.equal(await gate(mar({}), partnerPeer), undefined);
    const refusal = async (o: Parameters<typeof mar>[0], peer = partnerPeer) => {
      const answer = await gate(mar(o), peer);
      assert.ok(answer, 'refused');
      assert.ok(!String(getValue(answer, 'Error-Message')).includes(ALICE.impi), 'the refusal names no primary identity');
      return readCxResult(answer).experimentalResult;
    };
    assert.deepEqual(await refusal({ realm: 'other.example' }), { vendorId: 10415, code: 5001 });
    assert.deepEqual(await refusal({ impi: `bob@${PRIMARY_REALM}` }), { vendorId: 10415, code: 5001 });
    assert.deepEqual(await refusal({ impu: `sip:bob@${PRIMARY_REALM}` }), { vendorId: 10415, code: 5002 });
    // Another partner's node claiming this partner's realm in the request: the peer is what counts.
    assert.deepEqual(await refusal({}, from('mms.other.example', 'other.example')), { vendorId: 10415, code: 5001 });
    assert.deepEqual(await refusal({}, from('mms.other.example', PARTNER_REALM)), { vendorId: 10415, code: 5001 });
  });

  test('DELETE → 204, the gate refuses from then on; a second DELETE → 404; another partner IMPI of the same user is not removed', async () => {
    await requestBinding(partner, body({ partner_impi: `mig-2@${PARTNER_REALM}`, partner_impus: [`sip:mig-2@${PARTNER_REALM}`] }));
    assert.equal(await releaseBinding(partner, PARTNER_REALM, `mig-1@${PARTNER_REALM}`), false, 'mig-1 was replaced by mig-2');
    assert.equal((await bindingFor(store, PARTNER_REALM, ALICE.impi))?.partnerImpi, `mig-2@${PARTNER_REALM}`);
    assert.equal(await releaseBinding(partner, PARTNER_REALM, `mig-2@${PARTNER_REALM}`), true);
    assert.equal(await bindingFor(store, PARTNER_REALM, ALICE.impi), undefined);
    assert.equal(await releaseBinding(partner, PARTNER_REALM, `mig-2@${PARTNER_REALM}`), false);
    await assert.rejects(releaseBinding(partner, 'other.example', `mig-2@${PARTNER_REALM}`), untrusted);
  });
});
