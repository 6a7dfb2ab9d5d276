/**
 * The testbed's demo of TS 23.280 §10.6.2.3 (dynamic configuration) for the user of `ue/carol.json`: the UE's IdM
 * client authenticates the MC service user at the primary IdMS (step 1: authorization code + PKCE), exchanges the
 * access token for the security token (RFC 8693) and that for a partner access token (RFC 7523, TS 33.180 §5.1.4.2),
 * asks the partner MMS for a migration configuration (confirmed by the primary MMS), then registers with the partner
 * identities it was given and the keys of its primary ISIM. Prints the configuration and the ladder (steps 1–13).
 * The pieces the demo of several partner systems shares (demo-partners.ts) are exported.
 */
import { formatHostPort } from '../lib/config/address.ts';
import { seedStep } from '../lib/seed-steps.ts';
import { Isim } from '../ue-client/isim.ts';
import { endMigration, type MigrationConfiguration } from '../ue-client/idm-client.ts';
import { migrate, type MigrateStep } from '../ue-client/migrate.ts';
import { registerDemoUe } from './demo-ue.ts';
import { DYNAMIC_FLOW_STEPS, buildLadder, formatLadder, type StepLine } from './ladder.ts';
import type { RunningTestbed } from './testbed.ts';

/** A line of the demo's output. */
export function say(line: string): void {
  process.stdout.write(`${line}\n`);
}

/** The IdM steps before the registration, in order. */
export const IDM_STEPS: readonly MigrateStep[] = ['login', 'token-exchange', 'jwt-bearer', 'configuration'];

/**
 * What the IdM client is told at each step: print it, log step 1's login as the UE's seed step, note how far it got.
 * @returns the callback and the last step done (`done()`: its index in {@link IDM_STEPS}, -1 before the first).
 */
export function idmStepPrinter(tb: RunningTestbed): { onStep: (step: MigrateStep, detail: string) => void; done: () => number } {
  const ue = tb.logger.child({ role: 'ue' });
  let done = -1;
  return {
    onStep: (step, detail) => {
      done = IDM_STEPS.indexOf(step);
      if (step === 'login') seedStep(ue, 'dynamic', 1, 'ue', detail);
      say(`  ${step.padEnd(14)} ${detail}`);
    },
    done: () => done,
  };
}

/** The ISIM of carol (ue/carol.isim.json). */
export function openDynamicIsim(tb: RunningTestbed): Promise<Isim> {
  const { carol, layout, realms } = tb;
  return Isim.open(layout.dynamicIsimFile, {
    k: Buffer.from(carol.k, 'hex'), op: Buffer.from(carol.op, 'hex'), impi: carol.primary.impi, impus: [carol.primary.impu], domain: realms.primary,
  });
}

/**
 * Registers carol as configuration `c` names (its UDP registrar, its partner identities) with `isim`, then prints the
 * ladder of `recorded()` (steps 1–13) and the result.
 * @param of with several partner systems: the partner's realm, in the demo line and the ladder heading.
 * @returns whether the UE got its 200 with every step 1–13 seen.
 */
export async function registerConfigured(tb: RunningTestbed, c: MigrationConfiguration, isim: Isim, recorded: () => StepLine[], of?: string): Promise<boolean> {
  // Where the configuration says to register: the proof that the partner MMS named the right registrar.
  const at = /^sips?:\[?([^\]]+?)\]?:(\d+);transport=udp$/i.exec(c.registrar);
  if (!at) {
    say(`result: FAILED: the configuration names no UDP registrar (${c.registrar})`);
    return false;
  }
  const to = { host: at[1] as string, port: Number(at[2]) };
  say(`demo: ${c.partner_impi} (ISIM of ${tb.carol.primary.impi}) registers with the partner SIP core${of === undefined ? '' : ` of ${of}`} at udp://${formatHostPort(to)}`);
  const outcome = await registerDemoUe({ ...to, domain: c.domain, impi: c.partner_impi, impu: c.partner_impus[0] as string, isim });
  const rungs = buildLadder(recorded(), outcome.sip, DYNAMIC_FLOW_STEPS);
  say(formatLadder('dynamic', rungs, of));
  const missing = rungs.find((r) => !r.line);
  if (outcome.failure !== undefined || missing) {
    say(`result: FAILED at step ${missing?.step ?? 13}: ${outcome.failure ?? `no role logged step ${missing?.step ?? '?'}`}`);
    return false;
  }
  say(`result: OK — ${c.partner_impus[0] as string} registered (${outcome.final?.status} ${outcome.final?.reason}) by dynamic configuration ${c.id} ` +
    `(until ${c.expires_at}); the vectors came from the primary HSS for ${tb.carol.primary.impi} through the primary MMS`);
  return true;
}

/**
 * Deletes configuration `c` at the partner MMS `mms` (and, through it, the binding at the primary MMS).
 * @returns whether it was deleted (a failure is printed).
 */
export async function endDemoMigration(c: MigrationConfiguration, mms: { url: string; ca: string; accessToken: string }): Promise<boolean> {
  try {
    await endMigration({ mms: mms.url, accessToken: mms.accessToken, ca: mms.ca, id: c.id });
  } catch (e) {
    say(`result: FAILED to end the migration: configuration ${c.id} stays until ${c.expires_at}: ${(e as Error).message}`);
    return false;
  }
  say(`migration ended: configuration ${c.id} deleted (--once)`);
  return true;
}

/**
 * Runs the dynamic demo; prints its ladder and result.
 * @param end delete the configuration afterwards (`--once`: the next run's IdMS issuers have other ports, so a
 *   configuration left behind would only wait for its expiry).
 * @returns whether the UE got its 200 with every step 1–13 seen.
 */
export async function runDynamicDemo(tb: RunningTestbed, end = false): Promise<boolean> {
  const { carol, realms, testbed } = tb;
  const recorded = tb.logs.record();
  say(`demo: ${carol.username} (ISIM of ${carol.primary.impi}) migrates to ${realms.partner}: login, token exchange, jwt-bearer, migration configuration`);
  const steps = idmStepPrinter(tb);
  let m;
  try {
    m = await migrate({ ...testbed.migrationOptions(carol), onStep: steps.onStep });
  } catch (e) {
    say(`result: FAILED at ${IDM_STEPS[steps.done() + 1] ?? 'configuration'}, before registration: ${(e as Error).message}`);
    return false;
  }
  const c = m.configuration;
  const isim = await openDynamicIsim(tb);
  // Closed at once: the ISIM file is then free for `mcx ue migrate` against the running testbed (one process per ISIM).
  const ok = await registerConfigured(tb, c, isim, recorded).finally(() => isim.close());
  if (!ok) return false;
  if (!end) {
    tb.dynamicConfiguration = c;
    return true;
  }
  return endDemoMigration(c, { url: testbed.addresses.migrationApi, ca: testbed.ca.partner, accessToken: m.partnerAccessToken });
}
