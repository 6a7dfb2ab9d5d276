/**
 * Set-up of the registrar tests: a real HSS (in-process `startHss`, subscribers from a CSV) as the Diameter peer and
 * the registrar under test (`startRegistrar`) on ephemeral ports with short timers, plus the subscribers and ISIMs.
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { silentLogger } from '../../lib/log.ts';
import { readAdminToken } from '../../lib/admin/token.ts';
import { adminRequest, type AdminTarget } from '../../lib/admin/client.ts';
import { adminApi } from '../../lib/admin/hss-api.ts';
import { startHss, type RunningHss } from '../../hss/run.ts';
import type { HssStatsSnapshot } from '../../hss/stats.ts';
import type { RandPolicy } from '../../hss/vectors.ts';
import type { BindingView } from '../../registrar/admin-api.ts';
import { startRegistrar, type RunningRegistrar } from '../../registrar/server.ts';
import type { RegistrarConfig } from '../../registrar/config.ts';
import { Isim } from '../../ue-client/isim.ts';

/** The registrar's (partner) home domain and the HSS's realm. */
export const DOMAIN = 'partner.example';
export const HSS_REALM = 'primary.example';

/** An AKA subscriber of the test HSS, with the keys its ISIM gets. */
export interface AkaUser {
  impi: string;
  impus: string[];
  k: string;
  op: string;
  amf: string;
}

/** A SIP Digest (password) subscriber. */
export interface PasswordUser {
  impi: string;
  impus: string[];
  password: string;
}

/** A fresh AKA user `name@partner.example` with random K and OP and a second (tel) IMPU. */
export function akaUser(name: string): AkaUser {
  return {
    impi: `${name}@${DOMAIN}`, impus: [`sip:${name}@${DOMAIN}`, `tel:+1555${randomBytes(3).readUIntBE(0, 3) % 10_000_000}`],
    k: randomBytes(16).toString('hex'), op: randomBytes(16).toString('hex'), amf: '8000',
  };
}

/** A password user. */
export function passwordUser(name: string, password = `pw of ${name} & co`): PasswordUser {
  return { impi: `${name}@${DOMAIN}`, impus: [`sip:${name}@${DOMAIN}`], password };
}

/** The HSS CSV for these users. */
export function subscribersCsv(aka: readonly AkaUser[], digest: readonly PasswordUser[] = []): string {
  const q = (s: string) => `"${s.replace(/"/g, '""')}"`;
  // The registrar's realm is the visited network the HSS must allow (DESIGN §2.3).
  return ['impi,impus,k,op,amf,password,allowed_partners',
    ...aka.map((u) => `${u.impi},${u.impus.join(' ')},${u.k},${u.op},${u.amf},,${DOMAIN}`),
    ...digest.map((u) => `${u.impi},${u.impus.join(' ')},,,,${q(u.password)},${DOMAIN}`)].join('\n') + '\n';
}

/** A temp directory removed by the returned function. */
export async function tempDir(prefix = 'mcx-reg-'): Promise<{ dir: string; remove: () => Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  return { dir, remove: () => rm(dir, { recursive: true, force: true }) };
}

/** Starts the in-process HSS with `csv` on an ephemeral port. */
export async function startTestHss(dir: string, csv: string, o: { randPolicy?: RandPolicy; port?: number; tls?: { cert: string; key: string; ca: string[] } } = {}): Promise<RunningHss> {
  const file = join(dir, `subscribers-${randomBytes(4).toString('hex')}.csv`);
  await writeFile(file, csv);
  return startHss({
    listen: { host: '127.0.0.1', port: o.port ?? 0 }, originHost: `hss.${HSS_REALM}`, realm: HSS_REALM, subscribersCsv: file,
    store: 'memory', stateDir: join(dir, `hss-${randomBytes(4).toString('hex')}`), randPolicy: o.randPolicy ?? 'uniform',
    admin: { host: '127.0.0.1', port: 0 }, logger: silentLogger, ...(o.tls ? { tls: o.tls } : {}),
  });
}

/** The TCP port of an HSS's `tcp://host:port`. */
export function hssPort(hss: RunningHss): number {
  return Number(/:(\d+)$/.exec(hss.diameterUrl)?.[1]);
}

/** A registrar on ephemeral UDP and TCP ports against `hssPorts`, with short test timers. */
export async function startTestRegistrar(dir: string, hssPorts: number[], over: Partial<RegistrarConfig> = {}): Promise<RunningRegistrar> {
  return startRegistrar({
    sip: [{ transport: 'udp', host: '127.0.0.1', port: 0 }, { transport: 'tcp', host: '127.0.0.1', port: 0 }],
    domain: DOMAIN, hss: hssPorts.map((port) => ({ host: '127.0.0.1', port })), originHost: `registrar.${DOMAIN}`, realm: DOMAIN,
    hssRealm: HSS_REALM, stateDir: join(dir, `registrar-${randomBytes(4).toString('hex')}`), minExpires: 2, maxExpires: 3600,
    regAwaitAuthMs: 5000, reconnect: { initialMs: 50, maxMs: 200, afterDprMs: 200 }, logger: silentLogger,
    ...over,
  });
}

/** The port of a registrar listener. */
export function sipPort(r: RunningRegistrar, transport: 'UDP' | 'TCP' | 'TLS'): number {
  const a = r.addresses.sip.find((s) => s.transport === transport);
  if (!a) throw new Error(`no ${transport} listener`);
  return a.port;
}

/** A fresh ISIM for `u` in `dir`. */
export function openIsim(dir: string, u: AkaUser): Promise<Isim> {
  return Isim.open(join(dir, `isim-${u.impi.replace(/[^\w.@-]/g, '_')}-${randomBytes(3).toString('hex')}.json`), {
    k: Buffer.from(u.k, 'hex'), op: Buffer.from(u.op, 'hex'), impi: u.impi, impus: u.impus, domain: DOMAIN,
  });
}

/** The admin API of a running HSS (its URL and the token from its token file). */
export async function hssAdmin(hss: RunningHss): Promise<AdminTarget> {
  return { url: hss.adminUrl, token: await readAdminToken(hss.adminTokenPath) };
}

/** The HSS's counters as its admin API reports them (`GET /admin/v1/stats`). */
export async function hssStats(hss: RunningHss): Promise<HssStatsSnapshot> {
  return adminApi.stats(await hssAdmin(hss));
}

/** Provisions `u` through the HSS admin API (`POST /admin/v1/subscribers`). */
export async function provisionAka(hss: RunningHss, u: AkaUser): Promise<void> {
  await adminApi.add(await hssAdmin(hss), { impi: u.impi, impus: u.impus, k: u.k, op: u.op, amf: u.amf, allowed_partners: [DOMAIN] });
}

/**
 * Every AOR with live bindings, from the registrar's admin API (`GET /admin/v1/bindings`); the registrar must have
 * been started with `admin`.
 */
export async function adminBindings(reg: RunningRegistrar): Promise<BindingView[]> {
  if (reg.addresses.admin === undefined || reg.adminTokenPath === undefined) throw new Error('the registrar runs without its admin API');
  const t: AdminTarget = { url: reg.addresses.admin, token: await readAdminToken(reg.adminTokenPath) };
  return (await adminRequest<{ bindings: BindingView[] }>(t, 'GET', 'admin/v1/bindings')).bindings;
}
