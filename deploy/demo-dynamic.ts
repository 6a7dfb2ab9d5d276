/**
 * The testbed's demo of TS 23.280 §10.6.2.3 (dynamic configuration) for the user of `ue/carol.json`: the UE's IdM
 * client authenticates the MC service user at the primary IdMS (step 1: authorization code + PKCE), exchanges the
 * access token for the security token (RFC 8693) and that for a partner access token (RFC 7523, TS 33.180 §5.1.4.2),
 * asks the partner MMS for a migration configuration (confirmed by the primary MMS), then registers with the partner
 * identities it was given and the keys of its primary ISIM. Prints the configuration and the ladder (steps 1–13).
 */
import { formatHostPort } from '../lib/config/address.ts';
import { seedStep } from '../lib/seed-steps.ts';
import { Isim } from '../ue-client/isim.ts';
import { endMigration } from '../ue-client/idm-client.ts';
import { migrate, type MigrateStep } from '../ue-client/migrate.ts';
import { registerDemoUe } from './demo-ue.ts';
import { DYNAMIC_FLOW_STEPS, buildLadder, formatLadder } from './ladder.ts';
import type { RunningTestbed } from './testbed.ts';

/**
 * Runs the dynamic demo; prints its ladder and result.
 * @param end delete the configuration afterwards (`--once`: the next run's IdMS issuers have other ports, so a
 *   configuration left behind would only wait for its expiry).
 * @returns whether the UE got its 200 with every step 1–13 seen.
 */
export async function runDynamicDemo(tb: RunningTestbed, end = false): Promise<boolean> {
  const { carol, realms, layout, testbed } = tb;
  const ue = tb.logger.child({ role: 'ue' });
  const recorded = tb.logs.record();
  const say = (line: string): void => {
    process.stdout.write(`${line}\n`);
  };
  say(`demo: ${carol.username} (ISIM of ${carol.primary.impi}) migrates to ${realms.partner}: login, token exchange, jwt-bearer, migration configuration`);
  let m;
  const order: readonly MigrateStep[] = ['login', 'token-exchange', 'jwt-bearer', 'configuration'];
  let done = -1;
  try {
    m = await migrate({
      ...testbed.migrationOptions(carol),
      onStep: (step, detail) => {
        done = order.indexOf(step);
        if (step === 'login') seedStep(ue, 'dynamic', 1, 'ue', detail);
        say(`  ${step.padEnd(14)} ${detail}`);
      },
    });
  } catch (e) {
    say(`result: FAILED at ${order[done + 1] ?? 'configuration'}, before registration: ${(e as Error).message}`);
    return false;
  }
  const c = m.configuration;
  // Where the configuration says to register: the proof that the partner MMS named the right registrar.
  const at = /^sips?:\[?([^\]]+?)\]?:(\d+);transport=udp$/i.exec(c.registrar);
  if (!at) {
    say(`result: FAILED: the configuration names no UDP registrar (${c.registrar})`);
    return false;
  }
  const isim = await Isim.open(layout.dynamicIsimFile, {
    k: Buffer.from(carol.k, 'hex'), op: Buffer.from(carol.op, 'hex'), impi: carol.primary.impi, impus: [carol.primary.impu], domain: realms.primary,
  });
  const to = { host: at[1] as string, port: Number(at[2]) };
  say(`demo: ${c.partner_impi} (ISIM of ${carol.primary.impi}) registers with the partner SIP core at udp://${formatHostPort(to)}`);
  // Closed at once: the ISIM file is then free for `mcx ue migrate` against the running testbed (one process per ISIM).
  const outcome = await registerDemoUe({ ...to, domain: c.domain, impi: c.partner_impi, impu: c.partner_impus[0] as string, isim }).finally(() => isim.close());
  const rungs = buildLadder(recorded(), outcome.sip, DYNAMIC_FLOW_STEPS);
  say(formatLadder('dynamic', rungs));
  const missing = rungs.find((r) => !r.line);
  if (outcome.failure !== undefined || missing) {
    say(`result: FAILED at step ${missing?.step ?? 13}: ${outcome.failure ?? `no role logged step ${missing?.step ?? '?'}`}`);
    return false;
  }
  say(`result: OK — ${c.partner_impus[0] as string} registered (${outcome.final?.status} ${outcome.final?.reason}) by dynamic configuration ${c.id} ` +
    `(until ${c.expires_at}); the vectors came from the primary HSS for ${carol.primary.impi} through the primary MMS`);
  if (!end) tb.dynamicConfiguration = c;
  if (end) {
    try {
      await endMigration({ mms: testbed.addresses.migrationApi, accessToken: m.partnerAccessToken, ca: testbed.ca.partner, id: c.id });
    } catch (e) {
      say(`result: FAILED to end the migration: configuration ${c.id} stays until ${c.expires_at}: ${(e as Error).message}`);
      return false;
    }
    say(`migration ended: configuration ${c.id} deleted (--once)`);
  }
  return true;
}
