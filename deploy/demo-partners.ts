/**
 * The testbed's demos with several partner systems (`mcx testbed --partners N`, N ≥ 2; TS 23.280 §10.6.2.1: the UE
 * performs the procedures "for each partner MC system" it wishes to migrate to; TS 33.180 §5.1.4.2: the token
 * exchange "shall be repeated for each partner identity management domain"):
 *
 * - carol migrates dynamically to every partner: one login at the primary IdMS, then per partner a token exchange
 *   (the security token's `aud` names that partner's IdMS), a jwt-bearer grant there, a migration configuration at its
 *   MMS, and a registration at its SIP core — with one ISIM, so every partner's vectors come from the one primary
 *   HSS and the ISIM accepts them in order; afterwards each registrar shows its binding live, all at once.
 * - dave's primary allows partner A only (`dynamic:<A>`): at partner B the primary MMS refuses his migration
 *   configuration (`migration_not_allowed`), and a REGISTER under the identity B's MMS maps statically reaches the
 *   primary HSS, which refuses it (5004 roaming not allowed): the UE gets a challenge no vector of his made, then 403.
 *   Both refusals are printed from the lines the primary MMS and the HSS logged.
 */
import { adminRequest } from '../lib/admin/client.ts';
import { formatHostPort } from '../lib/config/address.ts';
import type { BindingView } from '../registrar/admin-api.ts';
import { IdmClientError, type MigrationConfiguration } from '../ue-client/idm-client.ts';
import { Isim } from '../ue-client/isim.ts';
import { accessAtPartner, configureAtPartner, loginAtPrimary, type PrimaryLogin } from '../ue-client/migrate.ts';
import {
  IDM_STEPS, endDemoMigration, idmStepPrinter, openDynamicIsim, registerConfigured, say,
} from './demo-dynamic.ts';
import { registerDemoUe } from './demo-ue.ts';
import { buildLadder, formatLadder } from './ladder.ts';
import type { RunningTestbed } from './testbed.ts';
import { refusedIdentity, type PartnerSystem } from './topology.ts';

/** How long the demo waits for a refusal's log line after the answer that carried it. */
const LOG_WAIT_MS = 5000;

/** carol's migration to one partner, live. */
interface LiveMigration {
  partner: PartnerSystem;
  configuration: MigrationConfiguration;
  accessToken: string;
}

/** Every binding the registrar of `partner` holds now (through its admin API). */
async function bindingsAt(tb: RunningTestbed, partner: PartnerSystem): Promise<BindingView[]> {
  const target = await tb.testbed.adminTarget(tb.testbed.role(tb.testbed.rolesOf(partner.name).registrar));
  return (await adminRequest<{ bindings: BindingView[] }>(target, 'GET', 'admin/v1/bindings')).bindings;
}

/** Says that each registrar holds carol's binding now; false (and why) when one does not. */
async function allLive(tb: RunningTestbed, live: readonly LiveMigration[], isim: Isim): Promise<boolean> {
  for (const m of live) {
    const impu = m.configuration.partner_impus[0] as string;
    const b = (await bindingsAt(tb, m.partner)).find((x) => x.aor === impu && x.contacts.length > 0);
    if (!b) {
      say(`result: FAILED: the registrar of ${m.partner.realm} holds no binding of ${impu} any more`);
      return false;
    }
    say(`  ${m.partner.realm.padEnd(24)} registrar binding ${impu} live (${b.contacts[0]?.expires ?? '?'} s left)`);
  }
  say(`demo: ${tb.carol.username} is registered in ${live.length} partner systems at once with one ISIM (SQN_MS now ${isim.toJSON().sqnMs}): ` +
    'every partner\'s vectors came from the one primary HSS, and the ISIM accepted them in order');
  return true;
}

/**
 * carol to every partner system (see the module comment); prints per partner the IdM steps, the ladder (steps 1–13)
 * and the result, then that every binding is live.
 * @param end delete every configuration afterwards (`--once`).
 * @returns whether every registration got its 200 with every step seen, and every binding was live at the end.
 */
export async function runPartnersDynamicDemo(tb: RunningTestbed, end = false): Promise<boolean> {
  const { carol, testbed } = tb;
  const partners = testbed.partners;
  say(`demo: ${carol.username} (ISIM of ${carol.primary.impi}) migrates to ${partners.map((p) => p.realm).join(' and ')}: one login at the primary IdMS, ` +
    'then per partner system a token exchange, jwt-bearer and migration configuration, and a registration with the same ISIM');
  const steps = idmStepPrinter(tb);
  let recorded = tb.logs.record();
  let session: PrimaryLogin;
  try {
    session = await loginAtPrimary({ ...testbed.migrationOptions(carol), onStep: steps.onStep });
  } catch (e) {
    say(`result: FAILED at login, before registration: ${(e as Error).message}`);
    return false;
  }
  const live: LiveMigration[] = [];
  const isim = await openDynamicIsim(tb);
  try {
    for (const [i, partner] of partners.entries()) {
      // Each partner's ladder from its own token exchange on (the login, shared, is on the first partner's).
      if (i > 0) recorded = tb.logs.record();
      say(`demo: ${carol.username} → ${partner.realm}: token exchange naming its IdMS, jwt-bearer there, migration configuration at its MMS`);
      const o = { ...testbed.migrationOptions(carol, partner.name), onStep: steps.onStep };
      let accessToken: string;
      let configuration: MigrationConfiguration;
      try {
        accessToken = await accessAtPartner(o, session, { issuer: o.partnerIssuer, ca: o.partnerCa });
        configuration = await configureAtPartner(o, { mms: o.partnerMms, ca: o.partnerCa }, accessToken);
      } catch (e) {
        say(`result: FAILED at ${IDM_STEPS[steps.done() + 1] ?? 'configuration'} for ${partner.realm}, before registration: ${(e as Error).message}`);
        return false;
      }
      if (!(await registerConfigured(tb, configuration, isim, recorded, partner.realm))) return false;
      live.push({ partner, configuration, accessToken });
    }
    if (!(await allLive(tb, live, isim))) return false;
  } finally {
    // Closed at once: the ISIM file is then free for `mcx ue migrate` against the running testbed (one process per ISIM).
    await isim.close();
    if (!end) tb.dynamicConfigurations = live.map((m) => m.configuration);
  }
  if (!end) return true;
  let ok = true;
  for (const m of live) {
    const url = testbed.addressesOf(m.partner.name).migrationApi;
    ok = (await endDemoMigration(m.configuration, { url, ca: testbed.caOf(m.partner.name), accessToken: m.accessToken })) && ok;
  }
  return ok;
}

/**
 * dave at partner B (see the module comment): the configuration request refused by the primary MMS, the REGISTER
 * under B's static mapping refused by the HSS; prints both refusals, the ladder of the REGISTER and the result.
 * @returns whether both refusals came, each with the line of the role that decided it.
 */
export async function runRefusedDemo(tb: RunningTestbed): Promise<boolean> {
  const { testbed, realms } = tb;
  const dave = tb.dave;
  const [a, b] = testbed.partners as readonly [PartnerSystem, PartnerSystem];
  if (!dave) throw new Error('testbed: no refused user (ue/dave.json) in a testbed of one partner');
  say(`demo: ${dave.username} (ISIM of ${dave.primary.impi}), whose primary allows only ${a.realm} (dynamic), migrates to ${b.realm}`);
  const refusedAtMms = tb.logs.waitFor('the primary MMS\'s refusal', (l) => l.role === 'primary-mms' && l.mcpttId === dave.mcpttId && /^migration refused/.test(String(l.msg)), LOG_WAIT_MS);
  refusedAtMms.catch(() => undefined);
  const steps = idmStepPrinter(tb);
  const o = { ...testbed.migrationOptions(dave, b.name), onStep: steps.onStep };
  let refusal: IdmClientError | undefined;
  try {
    const session = await loginAtPrimary(o);
    const token = await accessAtPartner(o, session, { issuer: o.partnerIssuer, ca: o.partnerCa });
    await configureAtPartner(o, { mms: o.partnerMms, ca: o.partnerCa }, token);
  } catch (e) {
    if (!(e instanceof IdmClientError)) throw e;
    refusal = e;
  }
  if (refusal?.error !== 'migration_not_allowed' || steps.done() !== IDM_STEPS.indexOf('jwt-bearer')) {
    say(`result: FAILED: the migration configuration at ${b.realm} was to be refused with migration_not_allowed; got ${refusal ? `${refusal.code} ${refusal.error ?? ''}: ${refusal.message}` : 'a configuration'}`);
    return false;
  }
  say(`  ${'configuration'.padEnd(14)} refused by the MMS of ${b.realm}: ${refusal.status ?? '-'} ${refusal.error}`);
  const mmsLine = await refusedAtMms.catch(() => undefined);
  if (!mmsLine) {
    say('result: FAILED: the primary MMS logged no refusal');
    return false;
  }
  say(`  ${'primary MMS'.padEnd(14)} ${String(mmsLine.msg)} (mcptt_id ${dave.mcpttId}, partner realm ${String(mmsLine.partnerRealm)})`);

  const id = refusedIdentity(b);
  const sip = testbed.role(testbed.rolesOf(b.name).registrar).addresses.sip?.find((s) => s.transport === 'udp');
  if (!sip) throw new Error(`testbed: the registrar of ${b.realm} has no UDP listener`);
  const refusedAtHss = tb.logs.waitFor('the HSS\'s refusal', (l) => l.role === 'hss' && l.impi === dave.primary.impi && /5004 DIAMETER_ERROR_ROAMING_NOT_ALLOWED/.test(String(l.msg)), LOG_WAIT_MS);
  refusedAtHss.catch(() => undefined);
  const recorded = tb.logs.record();
  say(`demo: ${id.impi} (${b.realm}'s MMS maps it to ${dave.primary.impi} statically; ISIM of ${dave.primary.impi}) registers with the partner SIP core of ${b.realm} ` +
    `at udp://${formatHostPort(sip)}`);
  const isim = await Isim.open(tb.layout.refusedIsimFile, {
    k: Buffer.from(dave.k, 'hex'), op: Buffer.from(dave.op, 'hex'), impi: dave.primary.impi, impus: [dave.primary.impu], domain: realms.primary,
  });
  const outcome = await registerDemoUe({ host: sip.host, port: sip.port, domain: b.realm, impi: id.impi, impu: id.impu, isim }).finally(() => isim.close());
  const lines = recorded();
  // The steps that happened: the HSS refused at step 6, so 7–10 never come, and the 401 is the registrar's decoy.
  const seen = [...new Set([...lines.map((l) => l.step), ...Object.keys(outcome.sip).map(Number)])].sort((x, y) => x - y);
  say(formatLadder('static', buildLadder(lines, outcome.sip, seen), `${b.realm} (refused)`));
  if (outcome.final) say(`  ${'final'.padEnd(14)} [${outcome.final.status} ${outcome.final.reason}]`);
  const hssLine = await refusedAtHss.catch(() => undefined);
  if (hssLine) say(`  ${'primary HSS'.padEnd(14)} ${String(hssLine.msg)} (IMPI ${dave.primary.impi}, visited ${String(hssLine.visited)}, path ${String(hssLine.path)})`);
  if (!hssLine || !outcome.macFailure || outcome.final?.status !== 403) {
    say(`result: FAILED: expected the HSS to refuse (5004) and the registrar to answer a challenge and then 403; ${hssLine ? '' : 'the HSS logged no refusal; '}` +
      `the UE saw ${outcome.final ? `${outcome.final.status} ${outcome.final.reason}` : 'no final response'}${outcome.macFailure ? ' after a MAC failure' : ''}`);
    return false;
  }
  say(`result: OK — ${dave.username} refused at ${b.realm} as his primary wants: the primary MMS answered migration_not_allowed, the HSS 5004 ` +
    `(roaming not allowed); the UE got a challenge no vector of his made, then ${outcome.final.status} ${outcome.final.reason}`);
  return true;
}
