/**
 * TS 23.280 §10.6.2.3 (dynamic configuration) end to end, every role its own process (migration-testbed.ts): the
 * UE's IdM client logs in at the primary IdMS (step 1, code + PKCE), exchanges its access token for the security
 * token (RFC 8693), gets a partner access token (RFC 7523), and asks the partner MMS for a migration configuration,
 * which the primary MMS confirms over mutual TLS; SIPp then registers with the partner identities and the primary
 * keys: registrar → partner MMS → primary MMS → relay ("via SIP core / IMS") → HSS → 200. DELETE ends the live
 * registration too (the partner MMS's Registration-Termination-Request, TS 29.229 §6.1.9: the registrar's binding is
 * gone when the DELETE is answered), and the same REGISTER gets 403. A user with a static mapping registers beside it
 * (§10.6.2.2) without touching the primary MMS.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { loadTlsMaterial } from '../../certs/layout.ts';
import { requestBinding } from '../../mms/binding-client.ts';
import { isMigrationError } from '../../mms/migration-errors.ts';
import { IdmClientError, endMigration, requestMigration } from '../../ue-client/idm-client.ts';
import type { Migration, MigrateStep } from '../../ue-client/migrate.ts';
import { Milenage, computeOpc, openAutn, parseAkaNonce } from '../../lib/aka/index.ts';
import type { DigestChallenge } from '../../lib/sip/headers/auth.ts';
import { freePorts } from '../helpers/ports.ts';
import { runSipp, writeAkaScenario, type SippResult } from '../helpers/sipp.ts';
import { sipBindings } from '../mms/testbed.ts';
import { Ue, callId, initialAuthorization, registerBytes } from '../registrar/helpers.ts';
import {
  PARTNER_REALM, migrate, startMigrationTestbed, staticIdentity, subscriber, type MigrationTestbed, type Subscriber,
} from './migration-testbed.ts';

const alice = subscriber('alice');
const bob = subscriber('bob');
const carol = subscriber('carol', ['elsewhere.example']);

const failure = (r: SippResult): string => `sipp exit ${r.code}\n${r.output.slice(-3000)}`;

describe('TS 23.280 §10.6.2.3: dynamic configuration end to end (and §10.6.2.2 beside it)', () => {
  let tb: MigrationTestbed;
  let local: number[];
  let m: Migration;
  const steps: MigrateStep[] = [];

  const migrateAs = (u: Subscriber, onStep?: (s: MigrateStep) => void): Promise<Migration> => migrate(tb, u, onStep);
  const sipp = (u: Subscriber, impi: string, impu: string, transport: 'udp' | 'tcp', port: number): Promise<SippResult> =>
    runSipp(`127.0.0.1:${transport === 'udp' ? tb.addresses.sipUdp : tb.addresses.sipTcp}`,
      writeAkaScenario({ domain: PARTNER_REALM, impi, impu, k: u.k, op: u.op, amf: u.amf }, tb.dir), { transport, localPort: port, timeoutS: 15 });

  before(async () => {
    tb = await startMigrationTestbed([alice, bob, carol]);
    local = await freePorts(4);
  });
  after(() => tb?.close());

  test('steps before registration: login → token exchange → jwt-bearer → configuration; partner identities in the partner realm', async () => {
    m = await migrateAs(alice, (s) => steps.push(s));
    assert.deepEqual(steps, ['login', 'token-exchange', 'jwt-bearer', 'configuration']);
    assert.equal(m.mcpttId, alice.mcpttId);
    const c = m.configuration;
    assert.match(c.partner_impi, /^mig-[0-9a-f]{12}@partner\.example$/);
    assert.deepEqual(c.partner_impus, [`sip:${c.partner_impi}`]);
    assert.equal(c.domain, PARTNER_REALM);
    assert.equal(c.registrar, `sip:127.0.0.1:${tb.addresses.sipUdp};transport=udp`);
    assert.ok(Date.parse(c.expires_at) > Date.now());
    // Nothing of the primary identity reaches the UE's answer.
    assert.ok(!JSON.stringify(c).includes(alice.impi));
    await tb.role('primary-mms').waitFor(new RegExp(`migration binding confirmed: ${alice.impi} is ${c.partner_impi}`), 5000);
  });

  test('a second request while the configuration lives returns the same one (200, same id)', async () => {
    const again = await requestMigration({ mms: tb.addresses.migrationApi, accessToken: m.partnerAccessToken, ca: tb.ca.partner });
    assert.deepEqual(again, m.configuration);
  });

  test('SIPp registers with the partner identities and the primary keys over UDP: 200; the primary MMS logs steps 5–8, the HSS saw only the primary IMPI', async () => {
    const c = m.configuration;
    const r = await sipp(alice, c.partner_impi, c.partner_impus[0] as string, 'udp', local[0] as number);
    assert.equal(r.code, 0, failure(r));
    const primaryMms = tb.role('primary-mms');
    await primaryMms.waitFor(/"step":8,"node":"primary-mms"/, 5000);
    // Alice's registration is the only traffic through the primary MMS so far (bob's is static, carol's refused).
    const steps = primaryMms.output().split('\n').filter((l) => l.includes('"flow":"dynamic"')).map((l) => /"step":(\d+)/.exec(l)?.[1]);
    assert.deepEqual([...new Set(steps)], ['5', '6', '7', '8'], 'the primary MMS took steps 5–8 of §10.6.2.3');
    const hss = tb.output('hss');
    assert.match(hss, new RegExp(`"impi":"${alice.impi.replace('.', '\\.')}"`));
    assert.ok(!hss.includes(c.partner_impi), 'the HSS never sees the partner IMPI');
    assert.ok(!tb.output('registrar').includes(alice.impi), 'the registrar never sees the primary IMPI');
    assert.match(tb.output('partner-mms'), /"flow":"dynamic"/);
    // The registrar labels the steps by the identity's namespace, per registration (one registrar serves both flows).
    const mine = tb.output('registrar').split('\n').filter((l) => l.includes('"step":') && l.includes(c.partner_impi));
    assert.deepEqual([...new Set(mine.map((l) => /"flow":"(\w+)"/.exec(l)?.[1]))], ['dynamic'], 'the registrar\'s steps of a dynamic binding are §10.6.2.3');
  });

  test('§10.6.2.2 beside it: bob registers with his static mapping over TCP; the MAR goes by the relay, not the primary MMS', async () => {
    const id = staticIdentity(bob);
    const r = await sipp(bob, id.impi, id.impu, 'tcp', local[1] as number);
    assert.equal(r.code, 0, failure(r));
    assert.ok(!tb.output('primary-mms').includes(bob.impi), 'a static mapping never crosses the primary MMS');
    assert.match(tb.output('relay'), new RegExp(`"step":6,"node":"relay".*${bob.impi.replace('.', '\\.')}`));
    const mine = tb.output('registrar').split('\n').filter((l) => l.includes('"step":') && l.includes(id.impi));
    assert.ok(mine.length > 0);
    assert.deepEqual([...new Set(mine.map((l) => /"flow":"(\w+)"/.exec(l)?.[1]))], ['static'], 'the same registrar labels a static mapping §10.6.2.2');
  });

  test('a user whose subscription does not list this partner: 403 migration_not_allowed, nothing allocated', async () => {
    await assert.rejects(migrateAs(carol), (e: unknown) => {
      assert.ok(e instanceof IdmClientError);
      assert.equal(e.code, 'ERR_IDM_OAUTH');
      assert.equal(e.error, 'migration_not_allowed');
      assert.equal(e.status, 403);
      return true;
    });
    assert.match(tb.output('primary-mms'), /migration refused: the subscriber may not migrate to this partner realm/);
  });

  test('the primary binding API takes partner MMSs only: a certificate of the primary system itself fails the handshake', async () => {
    const own = await loadTlsMaterial(tb.pki, 'primary', 'relay', ['partner']);
    const body = { mcptt_id: carol.mcpttId, partner_realm: PARTNER_REALM, partner_impi: `x@${PARTNER_REALM}`, partner_impus: [`sip:x@${PARTNER_REALM}`], expires_at: new Date(Date.now() + 60_000).toISOString() };
    await assert.rejects(requestBinding({ url: tb.addresses.bindingApi, tls: { cert: own.cert, key: own.key, ca: own.ca }, timeoutMs: 3000 }, body),
      (e: unknown) => isMigrationError(e, 'ERR_MIGRATION_PRIMARY_UNAVAILABLE') && /cannot be reached/.test(e.message));
  });

  test('no or a bad token: 401 invalid_token from the migration API', async () => {
    for (const accessToken of ['', 'not.a.jwt', `${m.partnerAccessToken.slice(0, -4)}AAAA`]) {
      await assert.rejects(requestMigration({ mms: tb.addresses.migrationApi, accessToken, ca: tb.ca.partner }), (e: unknown) => {
        assert.ok(e instanceof IdmClientError);
        assert.equal(e.status, 401);
        assert.equal(e.error, 'invalid_token');
        return true;
      });
    }
  });

  test('DELETE ends it on both sides and at the registrar: 204, the registration gone (RTR); then the same REGISTER gets a decoy 401 whose answer gets 403, and the primary binding is gone', async () => {
    const c = m.configuration;
    const registrar = tb.role('registrar');
    assert.ok((await sipBindings(tb, registrar)).some((b) => b.aor === c.partner_impus[0]), 'registered before');
    await endMigration({ mms: tb.addresses.migrationApi, accessToken: m.partnerAccessToken, ca: tb.ca.partner, id: c.id });
    assert.ok(!(await sipBindings(tb, registrar)).some((b) => b.aor === c.partner_impus[0]), 'the RTR ended the live registration before the 204');
    await tb.role('primary-mms').waitFor(new RegExp(`migration binding ended: ${alice.impi} / ${c.partner_impi}`), 5000);
    const ue = await Ue.udp(tb.addresses.sipUdp);
    try {
      const impu = c.partner_impus[0] as string;
      const id = callId();
      // No user enumeration (issue #11): an identity nobody resolves any more is challenged like a live one.
      const r = await ue.send(registerBytes(ue, { impu, callId: id, cseq: 1, authorization: initialAuthorization(c.partner_impi) }));
      assert.equal(r.msg.status, 401, r.text);
      const ch = r.msg.wwwAuthenticate()[0] as DigestChallenge;
      // A decoy, not a vector of alice's HSS: her key does not open it.
      const { rand, autn } = parseAkaNonce(ch.nonce as string);
      const usim = new Milenage(Buffer.from(alice.k, 'hex'), computeOpc(Buffer.from(alice.k, 'hex'), Buffer.from(alice.op, 'hex')));
      assert.equal(openAutn(usim, rand, autn).macValid, false, 'the challenge after the migration ended carries no vector of the user');
      // The ISIM finds a MAC failure in the decoy: its report (an empty response, TS 24.229 §5.1.1.5.3) gets 403.
      const empty = `Digest username="${c.partner_impi}", realm="${PARTNER_REALM}", nonce="${ch.nonce}", uri="sip:${PARTNER_REALM}", response="", algorithm=AKAv1-MD5`;
      const refused = await ue.send(registerBytes(ue, { impu, callId: id, cseq: 2, authorization: empty }));
      assert.equal(refused.msg.status, 403, refused.text);
    } finally {
      ue.close();
    }
    await assert.rejects(endMigration({ mms: tb.addresses.migrationApi, accessToken: m.partnerAccessToken, ca: tb.ca.partner, id: c.id }),
      (e: unknown) => e instanceof IdmClientError && e.status === 404 && e.error === 'not_found');
  });
});
