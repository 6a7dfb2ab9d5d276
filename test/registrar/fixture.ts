/**
 * Set-up of the registrar tests: a real HSS (in-process `startHss`, subscribers from a CSV) as the Diameter peer and
 * the registrar under test (`startRegistrar`) on ephemeral ports with short timers, plus the subscribers and ISIMs.
 * A test file takes it whole from {@link registrarFixture} (its `before`/`after` hooks) rather than writing its own.
 */
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { after, before } from 'node:test';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { initPki } from '../../certs/issue.ts';
import { caPaths, certPaths, type Role } from '../../certs/layout.ts';
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
import { Ue } from './ue.ts';

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

/** Options of a test HSS. */
export interface TestHssOptions {
  randPolicy?: RandPolicy;
  /** Default: an ephemeral one. */
  port?: number;
  /** Diameter over TLS with these PEM texts. */
  tls?: { cert: string; key: string; ca: string[] };
}

/** Starts the in-process HSS with `csv` on an ephemeral port. */
export async function startTestHss(dir: string, csv: string, o: TestHssOptions = {}): Promise<RunningHss> {
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

/** The two systems of a test PKI: the registrar's (partner, {@link DOMAIN}) and the HSS's (primary, {@link HSS_REALM}). */
export type TestSystem = 'partner' | 'primary';

/** PEM file paths of one role, as the registrar's and the HSS's `tls` take them. */
export interface TestTlsFiles {
  cert: string;
  key: string;
  ca: string[];
}

/** What a registrar test file runs against. */
export interface RegistrarSetup {
  /** A PKI with these systems, made first (`f.tlsFiles`, `f.caPem`). */
  pki?: readonly TestSystem[];
  /** The HSS's AKA subscribers. Without subscribers of either kind no HSS is started (a file with its own peer). */
  aka?: readonly AkaUser[];
  /** Its SIP Digest (password) subscribers. */
  digest?: readonly PasswordUser[];
  /** Options of that HSS (a function: of the PKI). */
  hss?: Omit<TestHssOptions, 'port'> | ((f: RegistrarFixture) => Omit<TestHssOptions, 'port'>);
  /**
   * The registrar under test, against that HSS, with these settings over the test defaults; `false` for none (the
   * file starts its own with {@link RegistrarFixture.startRegistrar}).
   */
  registrar?: Partial<RegistrarConfig> | ((f: RegistrarFixture) => Partial<RegistrarConfig>) | false;
  /** A UDP UE toward that registrar, shared by the file's tests ({@link RegistrarFixture.ue}). */
  ue?: boolean;
}

/** A file's running set-up; read its parts inside tests and hooks (they exist once its `before` ran). */
export interface RegistrarFixture {
  /** A temporary directory, removed at teardown. */
  readonly dir: string;
  readonly hss: RunningHss;
  readonly reg: RunningRegistrar;
  /** The shared UDP UE (`ue: true`). */
  readonly ue: Ue;
  /** The TLS files of `role` in the PKI (`pki`). */
  tlsFiles(system: TestSystem, role: Role): TestTlsFiles;
  /** The PEM text of a system's root CA (what a UE of that system trusts). */
  caPem(system: TestSystem): string;
  /** Another HSS with the same subscribers (or `csv`), stopped at teardown if the test has not stopped it. */
  startHss(o?: TestHssOptions & { csv?: string }): Promise<RunningHss>;
  /** Another registrar, by default against the fixture's HSS, stopped at teardown. */
  startRegistrar(over?: Partial<RegistrarConfig>, hssPorts?: number[]): Promise<RunningRegistrar>;
  /** Runs `f` at teardown, before anything the fixture started stops (UEs, processes, stub peers). */
  onTeardown(f: () => unknown): void;
}

/**
 * The set-up of a registrar test file as `before`/`after` hooks of the calling `describe` (or file): the directory,
 * the HSS with the subscribers, the registrar; teardown in reverse order of start.
 * @param setup subscribers, HSS options and the registrar's settings.
 */
export function registrarFixture(setup: RegistrarSetup = {}): RegistrarFixture {
  const csv = subscribersCsv(setup.aka ?? [], setup.digest ?? []);
  const teardown: Array<() => unknown> = [];
  const state: { dir?: string; hss?: RunningHss; reg?: RunningRegistrar; ue?: Ue } = {};
  const need = <T>(v: T | undefined, what: string): T => {
    if (v === undefined) throw new Error(`registrarFixture: no ${what} (read it inside a test or hook, and set it up)`);
    return v;
  };
  const f: RegistrarFixture = {
    get dir() { return need(state.dir, 'directory'); },
    get hss() { return need(state.hss, 'HSS'); },
    get reg() { return need(state.reg, 'registrar'); },
    get ue() { return need(state.ue, 'UE'); },
    tlsFiles(system, role) {
      const p = certPaths(join(f.dir, 'pki'), system, role);
      return { cert: p.cert, key: p.key, ca: [p.ca] };
    },
    caPem: (system) => readFileSync(caPaths(join(f.dir, 'pki'), system).cert, 'utf8'),
    async startHss(o = {}) {
      const base = typeof setup.hss === 'function' ? setup.hss(f) : setup.hss;
      const hss = await startTestHss(f.dir, o.csv ?? csv, { ...base, ...o });
      teardown.push(() => hss.close());
      return hss;
    },
    async startRegistrar(over = {}, hssPorts = [hssPort(f.hss)]) {
      const reg = await startTestRegistrar(f.dir, hssPorts, over);
      teardown.push(() => reg.close());
      return reg;
    },
    onTeardown: (fn) => void teardown.push(fn),
  };
  before(async () => {
    const tmp = await tempDir();
    state.dir = tmp.dir;
    teardown.push(tmp.remove);
    if (setup.pki?.length) {
      const realms: Readonly<Record<TestSystem, string>> = { partner: DOMAIN, primary: HSS_REALM };
      await initPki({ dir: join(tmp.dir, 'pki'), systems: setup.pki.map((name) => ({ name, realm: realms[name] })) });
    }
    if ((setup.aka?.length ?? 0) + (setup.digest?.length ?? 0) > 0) state.hss = await f.startHss();
    if (setup.registrar !== false && state.hss) {
      state.reg = await f.startRegistrar(typeof setup.registrar === 'function' ? setup.registrar(f) : setup.registrar ?? {});
    }
    if (setup.ue) {
      const ue = await Ue.udp(sipPort(f.reg, 'UDP'));
      state.ue = ue;
      teardown.push(() => ue.close());
    }
  });
  after(async () => {
    let failed: { err: unknown } | undefined;
    for (const step of teardown.splice(0).reverse()) {
      try {
        await step();
      } catch (err) {
        failed ??= { err };
      }
    }
    if (failed) throw failed.err;
  });
  return f;
}
