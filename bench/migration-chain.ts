/**
 * Both MC systems as `mcx testbed` wires them (deploy/roles.ts), each role its own `mcx` process, PKI from
 * `mcx certs init`, mutual TLS on every Diameter leg and on every link between the systems:
 *
 *   static  (TS 23.280 §10.6.2.2): SIPp → registrar ─TLS→ partner MMS ─TLS→ relay ─TLS→ HSS
 *   dynamic (§10.6.2.3):           SIPp → registrar ─TLS→ partner MMS ─TLS→ primary MMS ─TLS→ relay ─TLS→ HSS
 *
 * Static users are `s<i>.static@partner` mapped (partner MMS `--mappings`) to `s<i>@primary`. Dynamic users are
 * `d<i>@primary`, migrated before the load through the real APIs with the UE's IdM client (ue-client/migrate.ts:
 * OIDC login with PKCE at the primary IdMS, RFC 8693 token exchange, RFC 7523 jwt-bearer at the partner IdMS,
 * `POST /migration/v1/configurations` at the partner MMS, which the primary MMS confirms); SIPp then registers the
 * partner identities (`mig-…@partner`) the partner MMS allocated. Both kinds of users are disjoint, so neither
 * target's HSS state touches the other's.
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { caPaths, certPaths, peerCaPath, signingPaths, trustedSigningCertPath } from '../certs/layout.ts';
import { NODE, ROOT } from '../deploy/process.ts';
import { freePorts } from '../deploy/ports.ts';
import { migrate } from '../ue-client/migrate.ts';
import {
  deploy, openBenchStore, readiness, startRole, subscribersCsv, type BenchContext, type Deployment, type Stopper, type Target, type TargetName,
} from './roles.ts';

const run = promisify(execFile);

export const PRIMARY_REALM = 'primary.example';
export const PARTNER_REALM = 'partner.example';
const CLIENT = { id: 'mcx-ue', redirect: 'http://127.0.0.1/callback' };
/** Bounded concurrency of the migrations: enough to overlap the round trips, few enough not to swamp two cores. */
const MIGRATION_CONCURRENCY = 8;

/** `mcx certs init` of both systems into `<dir>/pki` (once per run). */
export async function initPki(dir: string): Promise<string> {
  const pki = join(dir, 'pki');
  await run(NODE, ['bin/mcx.mjs', 'certs', 'init', '--dir', pki, '--system', `primary=${PRIMARY_REALM}`, '--system', `partner=${PARTNER_REALM}`], { cwd: ROOT });
  return pki;
}

/** `--tls-*` of a role: its certificate, its own CA, then the CAs of `trust`. */
function tls(pki: string, system: 'primary' | 'partner', role: 'hss' | 'relay' | 'mms' | 'registrar', trust: Array<'primary' | 'partner'> = []): string[] {
  const p = certPaths(pki, system, role);
  return ['--tls-cert', p.cert, '--tls-key', p.key, '--tls-ca', [p.ca, ...trust.map((t) => peerCaPath(pki, system, t))].join(',')];
}

/** What the migration timing was, for the report. */
export interface MigrationTiming {
  count: number;
  concurrency: number;
  ms: number;
}

/**
 * Starts both systems serving the `wanted` targets (static, dynamic or both) and, for dynamic, migrates `migrations`
 * users (the dynamic target's users; the static one has `ctx.users`).
 * @param name the deployment's name in profile folders (`static`, `dynamic`, `static-dynamic`).
 */
export async function startMigrationSystems(
  ctx: BenchContext, runStopper: Stopper, pki: string, wanted: TargetName[], name: string, migrations: number, timing: (t: MigrationTiming) => void,
): Promise<Deployment> {
  return deploy(runStopper, async (stopper) => {
    const d = join(ctx.dir, name + (ctx.store === 'redis' ? '-redis' : ''));
    const store = await openBenchStore(ctx, stopper);
    const statics = Array.from({ length: wanted.includes('static') ? ctx.users : 0 }, (_, i) => `s${i}`);
    const dynamics = Array.from({ length: wanted.includes('dynamic') ? migrations : 0 }, (_, i) => `d${i}`);
    const passwords = new Map(dynamics.map((u) => [u, randomBytes(9).toString('base64url')]));
    const mcptt = (u: string): string => `sip:${u}@mcptt.${PRIMARY_REALM}`;
    await writeFile(join(ctx.dir, `${name}-subscribers.csv`), subscribersCsv(ctx, [...statics, ...dynamics].map((u) => ({
      impi: `${u}@${PRIMARY_REALM}`, impu: `sip:${u}@${PRIMARY_REALM}`, mcpttId: mcptt(u), allowedPartners: PARTNER_REALM,
    }))));
    await writeFile(join(ctx.dir, `${name}-mappings.csv`), ['partner_impi,partner_impu,primary_impi,primary_impu,primary_realm',
      ...statics.map((u) => `${u}.static@${PARTNER_REALM},sip:${u}.static@${PARTNER_REALM},${u}@${PRIMARY_REALM},sip:${u}@${PRIMARY_REALM},${PRIMARY_REALM}`)].join('\n') + '\n');
    await writeFile(join(ctx.dir, `${name}-idms-users.csv`), ['username,password,mcptt_id', ...dynamics.map((u) => `${u},${passwords.get(u)},${mcptt(u)}`)].join('\n') + '\n');

    const [hss, hssAdmin, relay, primaryMms, bindingApi, partnerMms, migrationApi, sip, pIdms, qIdms] = await freePorts(10);
    const at = (p: number | undefined): string => `127.0.0.1:${p}`;
    const issuer = { primary: `https://${at(pIdms)}`, partner: `https://${at(qIdms)}` };
    const dyn = wanted.includes('dynamic');
    const role = (r: string, args: string[], ready: RegExp, readyMs?: number) => startRole(ctx, stopper, name, r, args, ready, readyMs);
    // The primary IdMS hashes every user's password (scrypt, N=2^15) before it listens: ~50 ms each on an idle core.
    const idmsReadyMs = 60_000 + migrations * 500;

    const idms = !dyn ? [] : [
      role('primary-idms', ['idms', '--role', 'primary', '--listen', at(pIdms), '--issuer', issuer.primary, ...idmsTls(pki, 'primary'),
        '--partner', `partner=${issuer.partner}`, ...store.args(join(d, 'primary-idms')), '--users', join(ctx.dir, `${name}-idms-users.csv`)], /idms: listening/, idmsReadyMs),
      role('partner-idms', ['idms', '--role', 'partner', '--listen', at(qIdms), '--issuer', issuer.partner, ...idmsTls(pki, 'partner'),
        '--trusted-issuer', issuer.primary, '--trust-cert', trustedSigningCertPath(pki, 'partner'), ...store.args(join(d, 'partner-idms'))], /idms: listening/, idmsReadyMs),
    ];
    // The IdMSs start beside the Cx path (the primary one hashes every user's password first: scrypt, the slowest
    // start) and are awaited before the migrations; a failure before then must not be an unhandled rejection.
    for (const p of idms) p.catch(() => undefined);
    const h = await role('hss', ['hss', '--listen', at(hss), '--origin-host', `hss.${PRIMARY_REALM}`, '--realm', PRIMARY_REALM,
      '--subscribers', join(ctx.dir, `${name}-subscribers.csv`), ...store.args(join(d, 'hss')), '--admin', at(hssAdmin),
      '--rand-policy', 'sipp361', ...tls(pki, 'primary', 'hss')], /hss: listening diameter=\S+ admin=(\S+)/);
    const [r, pm] = await Promise.all([
      role('relay', ['relay', '--listen', `tls://${at(relay)}`, '--origin-host', `relay.${PRIMARY_REALM}`, '--realm', PRIMARY_REALM,
        '--route', `${PRIMARY_REALM}=tls://${at(hss)}`, ...tls(pki, 'primary', 'relay', ['partner'])], /relay: listening/),
      !dyn ? undefined : role('primary-mms', ['mms', '--role', 'primary', '--listen', `tls://${at(primaryMms)}`, '--origin-host', `mms.${PRIMARY_REALM}`,
        '--realm', PRIMARY_REALM, '--route', `${PRIMARY_REALM}=tls://${at(relay)}`, '--binding-api', at(bindingApi), '--hss-admin', h.match[1] as string,
        '--hss-admin-token-file', join(d, 'hss', 'admin-token'), ...store.args(join(d, 'primary-mms')), ...tls(pki, 'primary', 'mms', ['partner'])], /mms: listening .*bindings=(\S+)/),
    ]);
    const mms = await role('partner-mms', ['mms', '--role', 'partner', '--listen', `tls://${at(partnerMms)}`, '--origin-host', `mms.${PARTNER_REALM}`,
      '--realm', PARTNER_REALM, '--route', `${PRIMARY_REALM}=tls://${at(relay)}`, '--mappings', join(ctx.dir, `${name}-mappings.csv`),
      ...store.args(join(d, 'partner-mms')), ...tls(pki, 'partner', 'mms', ['primary']),
      ...(!pm ? [] : ['--primary-system', `realm=${PRIMARY_REALM},idms=${issuer.primary},api=${pm.match[1]},cx=${at(primaryMms)}`,
        '--migration-api', at(migrationApi), '--token-issuer', issuer.partner, '--token-cert', signingPaths(pki, 'partner').cert,
        '--registrar-uri', `sip:${at(sip)};transport=udp`])], /mms: listening diameter=\S+(?: migration=(\S+))? role=partner/);
    const reg = await role('registrar', ['registrar', '--sip', `udp:${at(sip)},tcp:${at(sip)}`, '--domain', PARTNER_REALM, '--hss', at(partnerMms),
      '--diameter-tls', ...tls(pki, 'partner', 'registrar'), '--origin-host', `registrar.${PARTNER_REALM}`, '--realm', PARTNER_REALM,
      ...store.args(join(d, 'registrar'))], /registrar: listening/);
    const idmsStarted = await Promise.all(idms);

    const aux = [...idmsStarted.map((s) => s.measured), ...(store.server ? [store.server] : [])];
    const readyS = readiness([h, r, pm, mms, reg, ...idmsStarted]);
    const targets: Target[] = [];
    if (statics.length > 0) {
      targets.push({
        name: 'static', label: 'registrar → partner MMS → relay → HSS (static, mutual TLS)', sip: at(sip), domain: PARTNER_REALM,
        users: statics.map((u) => ({ impi: `${u}.static@${PARTNER_REALM}`, impu: `sip:${u}.static@${PARTNER_REALM}` })),
        chain: [reg.measured, mms.measured, r.measured, h.measured], aux: [...(pm ? [pm.measured] : []), ...aux], readyS,
      });
    }
    if (pm) {
      const migrationUrl = mms.match[1] as string;
      const t0 = performance.now();
      const ca = { primaryCa: await readFile(caPaths(pki, 'primary').cert, 'utf8'), partnerCa: await readFile(caPaths(pki, 'partner').cert, 'utf8') };
      const bound = await inBatches(dynamics, MIGRATION_CONCURRENCY, async (u) => (await migrate({
        primaryIssuer: issuer.primary, partnerIssuer: issuer.partner, partnerMms: migrationUrl, ...ca,
        clientId: CLIENT.id, redirectUri: CLIENT.redirect, username: u, password: passwords.get(u) as string,
      })).configuration);
      timing({ count: dynamics.length, concurrency: MIGRATION_CONCURRENCY, ms: performance.now() - t0 });
      targets.push({
        name: 'dynamic', label: 'registrar → partner MMS → primary MMS → relay → HSS (dynamic, mutual TLS)', sip: at(sip), domain: PARTNER_REALM,
        users: bound.map((c) => ({ impi: c.partner_impi, impu: c.partner_impus[0] as string })),
        chain: [reg.measured, mms.measured, pm.measured, r.measured, h.measured], aux, readyS,
      });
    }
    return targets;
  });
}

function idmsTls(pki: string, system: 'primary' | 'partner'): string[] {
  const p = certPaths(pki, system, 'idms');
  const s = signingPaths(pki, system);
  return ['--tls-cert', p.cert, '--tls-key', p.key, '--signing-key', s.key, '--signing-cert', s.cert, '--client', `${CLIENT.id}=${CLIENT.redirect}`];
}

/** `f` over `items` with at most `concurrency` at once, results in order. */
async function inBatches<T, R>(items: readonly T[], concurrency: number, f: (item: T) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array(items.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    for (let i = next++; i < items.length; i = next++) out[i] = await f(items[i] as T);
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, items.length) }, worker));
  return out;
}
