/**
 * TS 23.280 §10.6.2.1: "The MC service UE performs one of the following procedures for each partner MC system to which
 * the MC service UE wishes to migrate" — one UE, two partner systems at once, on the testbed of `mcx testbed
 * --partners 2` (partners-testbed.ts: real SIP, Diameter and HTTPS on loopback, each partner its own PKI, IdMS, MMS and
 * registrar, mutual TLS only between the primary and each partner).
 *
 * - carol: one login, then per partner a token exchange, jwt-bearer and migration configuration; registered in A and
 *   B with one ISIM (both 200, both bindings live; the ISIM accepted both partners' vectors of the one HSS in order).
 *   Ending the migration to A leaves B working: B's REGISTER gets 200, A's a decoy challenge and then 403.
 * - dave, whose primary allows partner A only: migration configuration at A (control), at B `migration_not_allowed`
 *   with the primary MMS's reason; a REGISTER at B under B's static mapping: a decoy 401, then 403, the HSS's 5004 logged.
 * - `mcx ue migrate --partner A --partner B` (its own process): one registration per partner, alive together, ended.
 * - The testbed's summary names every partner's addresses and users.
 * - Partner A's certificate: refused by partner B's MMS (TLS handshake, logged with its issuer) and by partner B's
 *   registrar (pointed at A's MMS its Cx peer never opens; a REGISTER there gets 504).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { loadTlsMaterial } from '../../certs/layout.ts';
import { writeTestbedClientFiles } from '../../deploy/client-files.ts';
import { openDynamicIsim } from '../../deploy/demo-dynamic.ts';
import { registerDemoUe, type DemoOutcome } from '../../deploy/demo-ue.ts';
import { formatPartnersSummary } from '../../deploy/summary-partners.ts';
import { refusedIdentity } from '../../deploy/topology.ts';
import { adminRequest } from '../../lib/admin/client.ts';
import { CX_APPLICATION, DiameterNode } from '../../lib/diameter/node.ts';
import type { BindingView } from '../../registrar/admin-api.ts';
import { IdmClientError, endMigration, type MigrationConfiguration } from '../../ue-client/idm-client.ts';
import type { Isim } from '../../ue-client/isim.ts';
import { Isim as IsimFile } from '../../ue-client/isim.ts';
import { accessAtPartner, configureAtPartner, loginAtPrimary, migrate, type MigrateStep } from '../../ue-client/migrate.ts';
import { freePort } from '../helpers/ports.ts';
import { startMcx } from '../helpers/process.ts';
import { A, B, PRIMARY_REALM, startPartnersTestbed, type PartnersBed } from './partners-testbed.ts';

/** The registrar's UDP address a configuration names. */
function registrarOf(c: MigrationConfiguration): { host: string; port: number } {
  const m = /^sip:([\d.]+):(\d+);transport=udp$/.exec(c.registrar);
  assert.ok(m, c.registrar);
  return { host: m[1] as string, port: Number(m[2]) };
}

describe('TS 23.280 §10.6.2.1: one UE migrated to two partner MC systems at once', () => {
  let bed: PartnersBed;
  let isim: Isim | undefined;
  const live = new Map<string, { c: MigrationConfiguration; token: string }>();

  before(async () => {
    bed = await startPartnersTestbed('two-partners');
  });
  after(async () => {
    await isim?.close();
    await bed?.close();
  });

  const tb = () => bed.tb.testbed;
  const opts = (name: string, user: { username: string; password: string } = bed.tb.carol) => tb().migrationOptions(user, name);
  const registerAs = (c: MigrationConfiguration, with_: Isim): Promise<DemoOutcome> =>
    registerDemoUe({ ...registrarOf(c), domain: c.domain, impi: c.partner_impi, impu: c.partner_impus[0] as string, isim: with_ });
  const bindings = async (name: string): Promise<BindingView[]> =>
    (await adminRequest<{ bindings: BindingView[] }>(await tb().adminTarget(tb().role(tb().rolesOf(name).registrar)), 'GET', 'admin/v1/bindings')).bindings;
  const liveAt = async (name: string, impu: string): Promise<boolean> => (await bindings(name)).some((b) => b.aor === impu && b.contacts.length > 0);

  test('carol: one login, a token exchange, jwt-bearer and configuration per partner; registered in A and B with one ISIM: both 200, both bindings live', async () => {
    const steps: MigrateStep[] = [];
    const onStep = (s: MigrateStep): number => steps.push(s);
    const session = await loginAtPrimary({ ...opts(A.name), onStep });
    for (const p of [A, B]) {
      const o = { ...opts(p.name), onStep };
      const token = await accessAtPartner(o, session, { issuer: o.partnerIssuer, ca: o.partnerCa });
      live.set(p.name, { c: await configureAtPartner(o, { mms: o.partnerMms, ca: o.partnerCa }, token), token });
    }
    assert.deepEqual(steps, ['login', 'token-exchange', 'jwt-bearer', 'configuration', 'token-exchange', 'jwt-bearer', 'configuration'], 'one login for both partners');
    // The primary decided per partner: a binding toward each realm.
    for (const p of [A, B]) {
      const c = live.get(p.name)?.c as MigrationConfiguration;
      assert.equal(c.domain, p.realm);
      await tb().role('primary-mms').waitFor(new RegExp(`migration binding confirmed: carol@primary\\.mcx\\.test is ${c.partner_impi.replace(/\./g, '\\.')} in ${p.realm.replace(/\./g, '\\.')}`), 5000);
    }
    isim = await openDynamicIsim(bed.tb);
    let sqn = BigInt(`0x${isim.toJSON().sqnMs}`);
    for (const p of [A, B]) {
      const c = live.get(p.name)?.c as MigrationConfiguration;
      const r = await registerAs(c, isim);
      assert.equal(r.failure, undefined, `${p.name}: ${r.failure}`);
      assert.equal(r.final?.status, 200);
      assert.equal(r.resynced, false, 'both partners\' vectors are fresh to the one ISIM: one SQN space, in order');
      const now = BigInt(`0x${isim.toJSON().sqnMs}`);
      assert.ok(now > sqn, `${p.name}: the ISIM accepted a higher SQN (${sqn} → ${now})`);
      sqn = now;
    }
    for (const p of [A, B]) assert.ok(await liveAt(p.name, live.get(p.name)?.c.partner_impus[0] as string), `binding live at ${p.name}'s registrar`);
    // Both partners' vectors came from the one HSS: a MAR of carol's for each partner's SIP core, SQNs going up.
    const mars = tb().output('hss').split('\n').filter((l) => l.includes('"impi":"carol@primary.mcx.test"') && l.includes('"sqns"'));
    const sqnOf = (p: typeof A): bigint => {
      const line = mars.find((l) => l.includes(`registrar.${p.realm}`));
      assert.ok(line, `the HSS served a MAR for ${p.name}'s SIP core:\n${mars.join('\n')}`);
      return BigInt(`0x${(JSON.parse(line) as { sqns: string[] }).sqns[0] ?? ''}`);
    };
    assert.ok(sqnOf(B) > sqnOf(A), 'one SQN space: B\'s vector after A\'s');
  });

  test('ending the migration to A leaves B working: B re-registers (200, still bound); A\'s REGISTER gets a decoy 401 and then 403', async () => {
    const a = live.get(A.name);
    const b = live.get(B.name);
    assert.ok(a && b && isim);
    const aOpts = opts(A.name);
    await endMigration({ mms: aOpts.partnerMms, accessToken: a.token, ca: tb().caOf(A.name), id: a.c.id });
    await tb().role('primary-mms').waitFor(new RegExp(`migration binding ended: carol@primary\\.mcx\\.test / ${a.c.partner_impi.replace(/\./g, '\\.')}`), 5000);
    const atB = await registerAs(b.c, isim);
    assert.equal(atB.final?.status, 200, atB.failure);
    assert.ok(await liveAt(B.name, b.c.partner_impus[0] as string));
    const atA = await registerAs(a.c, isim);
    assert.equal(atA.sip[11]?.startsWith('401 Unauthorized'), true, 'a challenge like any other (no user enumeration)');
    assert.equal(atA.macFailure, true, 'the challenge carried no vector of carol\'s HSS');
    assert.equal(atA.final?.status, 403);
  });

  test('dave, whose primary allows partner A only: a configuration at A; at B 403 migration_not_allowed, the primary MMS says why', async () => {
    const dave = bed.tb.dave;
    assert.ok(dave);
    const atA = await migrate(opts(A.name, dave));
    assert.equal(atA.configuration.domain, A.realm);
    await endMigration({ mms: opts(A.name, dave).partnerMms, accessToken: atA.partnerAccessToken, ca: tb().caOf(A.name), id: atA.configuration.id });
    await assert.rejects(migrate(opts(B.name, dave)), (e: unknown) => {
      assert.ok(e instanceof IdmClientError, String(e));
      assert.equal(e.status, 403);
      assert.equal(e.error, 'migration_not_allowed');
      return true;
    });
    await tb().role('primary-mms').waitFor(/"mcpttId":"sip:dave@mcptt\.primary\.mcx\.test","partnerRealm":"partner-b\.mcx\.test".*"msg":"migration refused: the subscriber may not migrate to this partner realm by dynamic configuration"/, 5000);
  });

  test('dave at B\'s registrar under B\'s static mapping: a decoy 401, then 403; the HSS says why (5004 roaming not allowed from partner-b)', async () => {
    const dave = bed.tb.dave;
    assert.ok(dave);
    const id = refusedIdentity(B);
    const udp = tb().addressesOf(B.name).sipUdp;
    const own = await IsimFile.open(bed.tb.layout.refusedIsimFile, {
      k: Buffer.from(dave.k, 'hex'), op: Buffer.from(dave.op, 'hex'), impi: dave.primary.impi, impus: [dave.primary.impu], domain: PRIMARY_REALM,
    });
    const r = await registerDemoUe({ host: '127.0.0.1', port: udp, domain: B.realm, impi: id.impi, impu: id.impu, isim: own }).finally(() => own.close());
    assert.match(r.sip[11] ?? '', /^401 Unauthorized, AKAv1-MD5/);
    assert.equal(r.macFailure, true);
    assert.equal(r.final?.status, 403);
    await tb().role('hss').waitFor(/"impi":"dave@primary\.mcx\.test".*"visited":"partner-b\.mcx\.test","path":"static".*5004 DIAMETER_ERROR_ROAMING_NOT_ALLOWED/, 5000);
  });

  test('mcx ue migrate --partner A --partner B, one process and one ISIM: a registration per partner, alive together, then de-registered and ended', async () => {
    await isim?.close();
    isim = undefined;
    const { layout, pki } = { layout: bed.tb.layout, pki: tb().pki };
    const a = tb().addresses;
    const partner = (name: string): string => {
      const p = tb().addressesOf(name);
      return `name=${name},idms=${p.partnerIssuer},mms=${p.migrationApi},ca=${pki}/${name}/ca.pem`;
    };
    const proc = startMcx(['ue', 'migrate', '--primary-idms', a.primaryIssuer, '--primary-ca', `${pki}/primary/ca.pem`, '--partner', partner(A.name),
      '--partner', partner(B.name), '--username', 'carol', '--password-file', layout.dynamicPasswordFile, '--isim-state', layout.dynamicIsimFile, '--end', '--json']);
    const code = await proc.exited;
    const out = proc.output();
    assert.equal(code, 0, out);
    const json = JSON.parse(out.split('\n').find((l) => l.startsWith('{"ok"')) ?? '{}') as {
      ok: boolean; partners: Array<{ name: string; ok: boolean; registered?: { impu: string }; deregistered?: boolean; migration?: { domain: string; ended: boolean } }>;
    };
    assert.equal(json.ok, true, out);
    assert.deepEqual(json.partners.map((p) => [p.name, p.ok, p.migration?.domain, p.deregistered, p.migration?.ended]),
      [[A.name, true, A.realm, true, true], [B.name, true, B.realm, true, true]]);
    for (const [i, p] of [A, B].entries()) assert.match(json.partners[i]?.registered?.impu ?? '', new RegExp(`^sip:mig-[0-9a-f]{12}@${p.realm.replace(/\./g, '\\.')}$`));
  });

  test('the summary names each partner system\'s realm, SIP core, IdMS, MMS and users, and the mcx ue migrate --partner command', async () => {
    bed.tb.clients = await writeTestbedClientFiles(bed.tb);
    const s = formatPartnersSummary(bed.tb);
    const first = tb().addressesOf(A.name);
    assert.match(s, new RegExp(`^ready udp=127\\.0\\.0\\.1:${first.sipUdp} tcp=127\\.0\\.0\\.1:${first.sipTcp} tls=127\\.0\\.0\\.1:${first.sipTls} dir=\\S+ user=\\S+alice\\.json$`, 'm'));
    for (const [i, p] of [A, B].entries()) {
      const x = tb().addressesOf(p.name);
      assert.match(s, new RegExp(`^ {2}partner ${'AB'[i]}: ${p.realm.replace(/\./g, '\\.')} `, 'm'));
      assert.ok(s.includes(`udp://127.0.0.1:${x.sipUdp}  tcp://127.0.0.1:${x.sipTcp}  tls://127.0.0.1:${x.sipTls}  domain ${p.realm}`), p.name);
      assert.ok(s.includes(`partner IdMS ${x.partnerIssuer}   MMS migration API ${x.migrationApi}/migration/v1/configurations`), p.name);
      assert.ok(s.includes(`--partner name=${p.name},idms=${x.partnerIssuer},mms=${x.migrationApi},ca=`), p.name);
    }
    const [partA, partB] = s.split(/^ {2}partner B: /m) as [string, string];
    assert.match(partA, /alice, static \(§10\.6\.2\.2\): partner IMPI alice\.mig@partner-a\.mcx\.test/);
    assert.match(partA, /bob, SIP Digest: SIP identity sip:bob@partner-a\.mcx\.test/);
    assert.match(partA, /carol, dynamic/);
    assert.match(partB, /carol, dynamic/);
    assert.match(partB, /dave, refused: dave\.mig@partner-b\.mcx\.test/);
    assert.doesNotMatch(partB, /alice|bob/);
  });

  test('partner A\'s certificate: partner B\'s MMS refuses it in the TLS handshake (logged with its issuer); partner B\'s registrar pointed at A\'s MMS never opens its Cx peer, and REGISTER gets 504', async () => {
    const bMms = tb().addressesOf(B.name).partnerMms;
    const aMms = tb().addressesOf(A.name).partnerMms;
    const aCert = await loadTlsMaterial(tb().pki, A.name, 'mms', ['primary']);
    // As partner A's MMS (its own certificate, trusting B's CA too so the refusal can only be B's).
    const node = new DiameterNode({ originHost: `mms.${A.realm}`, originRealm: A.realm, applications: [CX_APPLICATION], reconnect: { initialMs: 5000, maxMs: 5000 } });
    try {
      node.addPeer({ host: '127.0.0.1', port: bMms, originHost: `mms.${B.realm}`, tls: { ...aCert, ca: [...aCert.ca, bed.tb.testbed.caOf(B.name)] } });
      await assert.rejects(node.waitForPeer({ originHost: `mms.${B.realm}` }, 2000));
    } finally {
      await node.close();
    }
    await tb().role(tb().rolesOf(B.name).mms).waitFor(/"subject":"mms\.partner-a\.mcx\.test","issuer":"partner-a\.mcx\.test MC root CA".*refused: certificate not trusted/, 5000);

    const port = await freePort();
    const rogue = await tb().registrar({ partner: B.name, mms: aMms, sip: [{ transport: 'udp', host: '127.0.0.1', port }], instance: 'second' });
    await rogue.waitFor(new RegExp(`TLS server 127\\.0\\.0\\.1:${aMms} refused: `), 10_000);
    const c = live.get(B.name)?.c as MigrationConfiguration;
    const stray = await IsimFile.open(`${bed.tb.layout.dir}/stray.isim.json`, {
      k: Buffer.alloc(16, 1), op: Buffer.alloc(16, 2), impi: `x@${PRIMARY_REALM}`, impus: [`sip:x@${PRIMARY_REALM}`], domain: PRIMARY_REALM,
    });
    const r = await registerDemoUe({ host: '127.0.0.1', port, domain: B.realm, impi: c.partner_impi, impu: c.partner_impus[0] as string, isim: stray }).finally(() => stray.close());
    assert.equal(r.final?.status, 504, r.failure);
  });
});
