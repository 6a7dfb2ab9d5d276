/**
 * One two-system testbed of TS 23.280 §10.6.2: the primary system (HSS, relay standing for the SIP core / IMS,
 * primary MMS, primary IdMS) and the partner system (partner IdMS, partner MMS with its static mappings and
 * migration API, registrar), wired as roles.ts describes, mutual TLS on every link between the systems. Each role
 * runs in this process or as an `mcx` child process: `mcx testbed` runs them all here; the end-to-end and MMS tests
 * run them as processes, the way an operator does, and start a subset, or one role at a time, when a test needs a
 * peer missing, restarted or from a third system.
 *
 * `start()` brings the roles up in dependency order and returns once every Cx route among them is up, so the first
 * REGISTER does not meet 3002 → 504. `close()` stops them through their own graceful stop (lib/lifecycle.ts).
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { caPaths } from '../certs/layout.ts';
import { createLogger, type Logger } from '../lib/log.ts';
import type { EndpointSpec } from '../mms/run.ts';
import { REGISTRAR_DEFAULTS, type DigestAlgorithm, type SipListen } from '../registrar/config.ts';
import type { MigrateOptions } from '../ue-client/migrate.ts';
import { LogCollector } from './ladder.ts';
import { freeTcpPort } from './ports.ts';
import { writeProvisioningFiles } from './provisioning.ts';
import { RoleHandle, type Launcher } from './role-handle.ts';
import {
  ROLE_NAMES, UE_CLIENT, endpointOf, hssRecipe, idmsRecipe, partnerMmsRecipe, primaryMmsRecipe, registrarRecipe, relayRecipe,
  type RoleContext, type RoleName, type RoleRecipe,
} from './roles.ts';
import { resolveSipListeners, type TestbedAddresses, type TestbedPlan } from './testbed-plan.ts';
import { ensurePki, layoutOf, type Realms, type TestbedLayout } from './topology.ts';

export type { TestbedAddresses, TestbedPlan } from './testbed-plan.ts';

const LOOPBACK = '127.0.0.1';
const ROUTE_WAIT_MS = 10_000;

/** The two systems. */
export class TwoSystemTestbed {
  private readonly current = new Map<RoleName, RoleHandle>();
  private readonly started: RoleHandle[] = [];
  private readonly deferred: Array<() => Promise<unknown>> = [];
  private readonly ctx: RoleContext;
  private readonly logger: Logger;
  private sip: Promise<SipListen[]> | undefined;
  private closing: Promise<void> | undefined;

  private constructor(
    private readonly plan: TestbedPlan,
    readonly layout: TestbedLayout,
    /** Whether the PKI was made now or found (and reused) in the directory. */
    readonly pkiState: 'created' | 'reused' | 'regenerated',
    /** The CA certificates (PEM) of both systems: what a migrating UE trusts. */
    readonly ca: { primary: string; partner: string },
    readonly logs: LogCollector,
  ) {
    this.ctx = { layout, realms: plan.realms, store: plan.store ?? 'memory' };
    this.logger = plan.logger ?? createLogger('testbed', { level: 'debug', destination: logs.stream });
  }

  /**
   * Makes (or reuses) the directory, its PKI and the provisioning files; starts nothing.
   * @throws UsageError for a directory whose PKI was made for other realms.
   */
  static async create(plan: TestbedPlan): Promise<TwoSystemTestbed> {
    const dir = typeof plan.dir === 'string' ? plan.dir : await mkdtemp(join(tmpdir(), `mcx-${plan.dir.temp}-`));
    try {
      const layout = layoutOf(dir);
      const pkiState = await ensurePki(layout, plan.realms, plan.otherSystems);
      const p = typeof plan.provisioning === 'function' ? await plan.provisioning(layout) : plan.provisioning;
      if (p) await writeProvisioningFiles(layout, plan.realms.primary, p);
      const ca = { primary: await readFile(caPaths(layout.pki, 'primary').cert, 'utf8'), partner: await readFile(caPaths(layout.pki, 'partner').cert, 'utf8') };
      return new TwoSystemTestbed(plan, layout, pkiState, ca, plan.logs ?? new LogCollector(false, { keep: true, quiet: true }));
    } catch (e) {
      if (typeof plan.dir !== 'string') await rm(dir, { recursive: true, force: true });
      throw e;
    }
  }

  get dir(): string {
    return this.layout.dir;
  }

  get pki(): string {
    return this.layout.pki;
  }

  get realms(): Realms {
    return this.plan.realms;
  }

  /** The SIP Digest algorithms the registrar offers password users (the plan's, else the registrar's default). */
  get digestAlgorithms(): readonly DigestAlgorithm[] {
    return this.plan.digestAlgorithms ?? REGISTRAR_DEFAULTS.digestAlgorithms;
  }

  /** The store spec of every role (`memory` or a redis URL). */
  get store(): string {
    return this.ctx.store;
  }

  /** The role of that name started last. */
  role(name: RoleName): RoleHandle {
    const h = this.current.get(name);
    if (!h) throw new Error(`testbed: ${name} is not started`);
    return h;
  }

  /** Whether a role of that name was started. */
  has(name: RoleName): boolean {
    return this.current.has(name);
  }

  /** What the role wrote so far ('' when it was never started). */
  output(name: RoleName): string {
    return this.current.get(name)?.output() ?? '';
  }

  /** Runs `close` when the testbed closes, before the roles stop (a test's own Diameter clients, say). */
  defer(close: () => Promise<unknown>): void {
    this.deferred.push(close);
  }

  private async run(recipe: RoleRecipe): Promise<RoleHandle> {
    const p = this.plan.processes;
    const asProcess = p === 'all' || (p?.includes(recipe.name) ?? false);
    if (asProcess && !this.plan.launch) throw new Error(`testbed: ${recipe.name} is to run as a process, but the plan has no launcher`);
    const h = asProcess
      ? await RoleHandle.process(recipe, this.logs, this.plan.launch as Launcher)
      : await RoleHandle.inline(recipe, this.logs, this.logger.child({ role: recipe.name }));
    if (this.closing) {
      // Started while the testbed closed (a sibling's start failed): it must not outlive the testbed.
      await h.stop();
      throw new Error(`testbed: closed while ${recipe.name} started`);
    }
    this.current.set(recipe.name, h);
    this.started.push(h);
    return h;
  }

  /** The registrar's listeners, ports resolved once (the partner MMS names the registrar before it is up). */
  sipListeners(): Promise<SipListen[]> {
    this.sip ??= resolveSipListeners(this.plan.sip);
    return this.sip;
  }

  /** A port given as a number is on loopback, over `transport` (absent: TLS, as the role's files decide). */
  private endpoint(upstream: number | EndpointSpec | undefined, from: RoleName, transport?: 'tcp'): EndpointSpec {
    if (typeof upstream === 'object') return upstream;
    if (upstream !== undefined) return { host: LOOPBACK, port: upstream, ...(transport ? { transport } : {}) };
    return endpointOf(this.role(from).addresses.diameterUrl as string);
  }

  /** The primary HSS; `port` to start it again where it was (same state directory: SQNs go on). */
  hss(o: { port?: number } = {}): Promise<RoleHandle> {
    return this.run(hssRecipe(this.ctx, { port: o.port ?? 0, tls: this.plan.tls?.hss ?? true, randPolicy: this.plan.randPolicy ?? 'uniform' }));
  }

  /** The relay of `system` (default primary), routing the primary realm to `upstream` (default: the HSS). */
  relay(o: { upstream?: number | EndpointSpec; system?: string } = {}): Promise<RoleHandle> {
    const system = o.system ?? 'primary';
    const realm = system === 'primary' ? this.realms.primary : this.otherRealm(system);
    return this.run(relayRecipe(this.ctx, { system, realm, upstream: this.endpoint(o.upstream, 'hss', this.plan.tls?.hss === false ? 'tcp' : undefined) }));
  }

  private otherRealm(system: string): string {
    const s = this.plan.otherSystems?.find((x) => x.name === system);
    if (!s) throw new Error(`testbed: no system ${system} in the PKI (plan.otherSystems)`);
    return s.realm;
  }

  /** The primary MMS behind the relay, with the HSS admin API as its subscriber directory. */
  primaryMms(): Promise<RoleHandle> {
    const hss = this.role('hss').addresses;
    return this.run(primaryMmsRecipe(this.ctx, {
      upstream: this.endpoint(undefined, 'relay'), hssAdminUrl: hss.adminUrl as string, hssAdminTokenFile: hss.adminTokenPath as string,
    }));
  }

  /** Both IdMSs at once, on ports picked now (each issuer names its port, and each IdMS names the other's issuer). */
  async idms(): Promise<[RoleHandle, RoleHandle]> {
    const ports = { primary: await freeTcpPort(LOOPBACK), partner: await freeTcpPort(LOOPBACK) };
    const host = (s: 'primary' | 'partner'): string => this.plan.issuerHosts?.[s] ?? LOOPBACK;
    const issuers = { primary: `https://${host('primary')}:${ports.primary}`, partner: `https://${host('partner')}:${ports.partner}` };
    const both = ['primary', 'partner'] as const;
    const started = await Promise.allSettled(both.map((system) => this.run(idmsRecipe(this.ctx, { system, port: ports[system], issuers }))));
    const failed = started.find((r) => r.status === 'rejected');
    if (failed) throw failed.reason;
    return [this.role('primary-idms'), this.role('partner-idms')];
  }

  /**
   * The partner MMS, routing the primary realm to `upstream` (default: the relay) and listening on `listen`
   * (default: any port, plain TCP unless the registrar link is TLS). With the primary MMS and both IdMSs up, it
   * also serves dynamic migrations (migration API, path to the primary MMS).
   */
  async partnerMms(o: { upstream?: number | EndpointSpec; listen?: EndpointSpec } = {}): Promise<RoleHandle> {
    const listen = o.listen ?? { host: LOOPBACK, port: 0, ...(this.plan.tls?.registrar === false ? { transport: 'tcp' as const } : {}) };
    const dynamic = this.has('primary-mms') && this.has('primary-idms') && this.has('partner-idms');
    const udp = (await this.sipListeners()).find((s) => s.transport === 'udp') as SipListen;
    return this.run(partnerMmsRecipe(this.ctx, {
      listen, upstream: this.endpoint(o.upstream, 'relay'), admin: this.plan.admin ?? false,
      ...(dynamic ? {
        dynamic: {
          primaryIdmsIssuer: this.role('primary-idms').addresses.issuer as string, partnerIdmsIssuer: this.role('partner-idms').addresses.issuer as string,
          bindingApi: this.role('primary-mms').addresses.apiUrl as string, primaryMmsCx: this.endpoint(undefined, 'primary-mms'),
          registrarUri: `sip:${udp.host}:${udp.port};transport=udp`,
        },
      } : {}),
    }));
  }

  /** The registrar, its Cx peer the partner MMS (default: the one started). */
  async registrar(o: { mms?: number } = {}): Promise<RoleHandle> {
    return this.run(registrarRecipe(this.ctx, {
      sip: await this.sipListeners(), mms: this.endpoint(o.mms, 'partner-mms'), cxTls: this.plan.tls?.registrar ?? true, admin: this.plan.admin ?? false,
      ...(this.plan.digestAlgorithms ? { digestAlgorithms: this.plan.digestAlgorithms } : {}), ...(this.plan.expires ? { expires: this.plan.expires } : {}),
    }));
  }

  /** A line `role` will log, awaited after its start (registered before it, so it cannot be missed). */
  private expect(role: RoleName, what: string, pred: (l: Record<string, unknown>) => boolean): Promise<unknown> {
    const p = this.logs.waitFor(what, pred, ROUTE_WAIT_MS)
      .catch((e: unknown) => {
        throw new Error(`${(e as Error).message}\n--- ${role} ---\n${this.output(role).slice(-3000)}`);
      });
    // Awaited only once the role has started; a start that fails first must not leave it an unhandled rejection.
    p.catch(() => undefined);
    return p;
  }

  /**
   * Starts `roles` (default all) in dependency order and waits until every Cx route among them is up.
   * @throws the first start error (ConfigFileError, StoreError, EADDRINUSE …); what had started is stopped again.
   */
  async start(roles: readonly RoleName[] = ROLE_NAMES): Promise<this> {
    const want = new Set(roles);
    const { primary } = this.realms;
    const routed = (role: RoleName, peer: string, path = 'route'): Promise<unknown> =>
      this.expect(role, `the ${role}'s ${path} to ${peer}`, (l) => l.role === role && l.msg === `${path} to ${primary}: ${peer}.${primary}`);
    const idms = want.has('primary-idms') && want.has('partner-idms') ? this.idms() : undefined;
    idms?.catch(() => undefined);
    try {
      const waits: Array<Promise<unknown>> = [];
      if (want.has('hss')) await this.hss();
      if (want.has('relay')) {
        if (this.has('hss')) waits.push(routed('relay', 'hss'));
        await this.relay();
      }
      if (want.has('primary-mms')) {
        waits.push(routed('primary-mms', 'relay'));
        await this.primaryMms();
      }
      await idms;
      if (want.has('partner-mms')) {
        if (this.has('relay')) waits.push(routed('partner-mms', 'relay'));
        if (this.has('primary-mms') && idms) waits.push(routed('partner-mms', 'mms', 'primary-mms path'));
        await this.partnerMms();
      }
      await Promise.all(waits);
      if (want.has('registrar')) {
        // By its node: the line's own `role` field (the connection's, initiator) hides the role's.
        const self = `registrar.${this.realms.partner}`;
        const open = this.expect('registrar', 'the registrar\'s Cx peer', (l) => l.msg === 'Diameter peer open' && l.node === self);
        await this.registrar();
        await open;
      }
      return this;
    } catch (e) {
      await this.close();
      await idms?.catch(() => undefined);
      throw e;
    }
  }

  /** Where everything listens (0 and '' for a role not started). */
  get addresses(): TestbedAddresses {
    const port = (n: RoleName): number => (this.has(n) ? this.role(n).port : 0);
    const sip = (t: SipListen['transport']): number => (this.has('registrar') ? this.role('registrar').sipPort(t) : 0);
    const str = (n: RoleName, k: 'apiUrl' | 'issuer'): string => this.current.get(n)?.addresses[k] ?? '';
    return {
      hssDiameter: port('hss'), relay: port('relay'), primaryMms: port('primary-mms'), partnerMms: port('partner-mms'),
      sipUdp: sip('udp'), sipTcp: sip('tcp'), sipTls: this.current.get('registrar')?.addresses.sip?.some((s) => s.transport === 'tls') ? sip('tls') : 0,
      bindingApi: str('primary-mms', 'apiUrl'), migrationApi: str('partner-mms', 'apiUrl'),
      primaryIssuer: str('primary-idms', 'issuer'), partnerIssuer: str('partner-idms', 'issuer'),
    };
  }

  /** The CA files of both systems, primary first (what a migrating UE trusts). */
  caFiles(): string[] {
    return [caPaths(this.pki, 'primary').cert, caPaths(this.pki, 'partner').cert];
  }

  /** The IdM half of a migration (ue-client/migrate.ts) against this testbed, for the primary IdMS user `user`. */
  migrationOptions(user: { username: string; password: string }): MigrateOptions {
    const a = this.addresses;
    return {
      primaryIssuer: a.primaryIssuer, primaryCa: this.ca.primary, partnerIssuer: a.partnerIssuer, partnerCa: this.ca.partner, partnerMms: a.migrationApi,
      clientId: UE_CLIENT.clientId, redirectUri: UE_CLIENT.redirectUri, username: user.username, password: user.password,
    };
  }

  /** The admin API of a role started with one: URL, bearer token, and the CA of its system. */
  async adminTarget(h: RoleHandle): Promise<{ url: string; token: string; ca: string[] }> {
    const { adminUrl, adminTokenPath } = h.addresses;
    if (!adminUrl || !adminTokenPath) throw new Error(`testbed: ${h.name} runs without an admin API`);
    const ca = h.name === 'hss' ? this.ca.primary : this.ca.partner;
    return { url: adminUrl, token: (await readFile(adminTokenPath, 'utf8')).trim(), ca: [ca] };
  }

  /**
   * Stops everything (idempotent): what was deferred, then the roles — processes at once (SIGTERM, SIGKILL after
   * 5 s), roles in this process last started first — and removes a temporary directory.
   */
  close(): Promise<void> {
    this.closing ??= (async () => {
      for (const f of this.deferred.splice(0).reverse()) await f().catch(() => undefined);
      const handles = this.started.splice(0);
      await Promise.all(handles.filter((h) => h.proc).map((h) => h.stop().catch(() => undefined)));
      for (const h of handles.filter((x) => !x.proc).reverse()) await h.stop().catch(() => undefined);
      if (typeof this.plan.dir !== 'string') await rm(this.layout.dir, { recursive: true, force: true });
    })();
    return this.closing;
  }
}
