/**
 * One testbed of TS 23.280 §10.6.2: the primary system (HSS, relay standing for the SIP core / IMS, primary MMS,
 * primary IdMS) and its partner systems — one, `partner`, by default; `partner-a`, `partner-b`, … when the plan
 * names several — each with its partner IdMS, partner MMS (static mappings, migration API) and registrar, wired as
 * roles.ts describes, mutual TLS on every link between the primary and a partner (partners do not trust each
 * other). The accessors without a partner name (`addresses`, `partnerMms()`, `registrar()`, `ca.partner` …) are
 * the first partner's. Each role
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
import { RoleHandle, type Launcher, type RoleMetricsSource } from './role-handle.ts';
import {
  UE_CLIENT, endpointOf, hssRecipe, idmsRecipe, partnerMmsRecipe, partnerRoles, primaryMmsRecipe, registrarRecipe, relayRecipe, roleNamesOf,
  type PartnerRoles, type RoleContext, type RoleName, type RoleRecipe,
} from './roles.ts';
import { resolveSipListeners, type PartnerAddresses, type TestbedAddresses, type TestbedPlan } from './testbed-plan.ts';
import { DEFAULT_PARTNER, ensurePki, layoutOf, type PartnerSystem, type Realms, type TestbedLayout } from './topology.ts';

export type { PartnerAddresses, TestbedAddresses, TestbedPlan } from './testbed-plan.ts';

const LOOPBACK = '127.0.0.1';
const ROUTE_WAIT_MS = 10_000;
/** The `mcx` commands with `--trace`. */
const TRACED_COMMANDS = ['hss', 'relay', 'mms', 'registrar'];

/**
 * The primary system and its partner systems (the name is from when there was one partner; `mcx testbed
 * --partners N` builds N).
 */
export class TwoSystemTestbed {
  private readonly current = new Map<RoleName, RoleHandle>();
  private readonly started: RoleHandle[] = [];
  private readonly deferred: Array<() => Promise<unknown>> = [];
  private readonly ctx: RoleContext;
  private readonly logger: Logger;
  private sip: Promise<ReadonlyMap<string, SipListen[]>> | undefined;
  private closing: Promise<void> | undefined;

  private constructor(
    private readonly plan: TestbedPlan,
    readonly layout: TestbedLayout,
    /** Whether the PKI was made now or found (and reused, or extended by a system) in the directory. */
    readonly pkiState: 'created' | 'reused' | 'regenerated' | 'extended',
    /** The CA certificates (PEM) of the primary and of the first partner: what a UE migrating there trusts. */
    readonly ca: { primary: string; partner: string },
    /** Every partner system's CA certificate (PEM), by PKI name. */
    private readonly partnerCas: ReadonlyMap<string, string>,
    readonly logs: LogCollector,
  ) {
    this.ctx = { layout, realms: plan.realms, partners: partnersOf(plan), store: plan.store ?? 'memory', ...(plan.trace ? { trace: plan.trace } : {}) };
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
      const partners = partnersOf(plan);
      const pkiState = await ensurePki(layout, plan.realms, plan.otherSystems, partners);
      const p = typeof plan.provisioning === 'function' ? await plan.provisioning(layout) : plan.provisioning;
      if (p) await writeProvisioningFiles(layout, plan.realms.primary, p, partners.map((x) => x.name));
      const cas = new Map<string, string>();
      for (const x of partners) cas.set(x.name, await readFile(caPaths(layout.pki, x.name).cert, 'utf8'));
      const ca = { primary: await readFile(caPaths(layout.pki, 'primary').cert, 'utf8'), partner: cas.get(partners[0]?.name ?? DEFAULT_PARTNER) as string };
      return new TwoSystemTestbed(plan, layout, pkiState, ca, cas, plan.logs ?? new LogCollector(false, { keep: true, quiet: true }));
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

  /** The partner systems, the first the default of every accessor that takes a partner name. */
  get partners(): readonly PartnerSystem[] {
    return this.ctx.partners;
  }

  /**
   * The partner system named `name` (default: the first).
   * @throws Error for a name that is not one of {@link partners}.
   */
  partner(name?: string): PartnerSystem {
    const p = name === undefined ? this.ctx.partners[0] : this.ctx.partners.find((x) => x.name === name);
    if (!p) throw new Error(`testbed: no partner system ${name ?? ''} (partners: ${this.ctx.partners.map((x) => x.name).join(', ')})`);
    return p;
  }

  /** The role names of partner system `name` (default: the first). */
  rolesOf(name?: string): PartnerRoles {
    return partnerRoles(this.partner(name).name);
  }

  /** The CA certificate (PEM) of `system`: `primary` or a partner's name. */
  caOf(system: string): string {
    if (system === 'primary') return this.ca.primary;
    const pem = this.partnerCas.get(system);
    if (pem === undefined) throw new Error(`testbed: no partner system ${system}`);
    return pem;
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

  /** The metrics and readiness of every role started (metrics-endpoint.ts reads them at each scrape). */
  metricsSources(): RoleMetricsSource[] {
    return this.started.flatMap((h) => (h.metrics ? [h.metrics] : []));
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
      ? await RoleHandle.process(this.withTraceFile(recipe), this.logs, this.plan.launch as Launcher)
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

  /** A role process of a traced testbed writes its own file beside the testbed's (the IdMS speaks neither SIP nor Diameter). */
  private withTraceFile(recipe: RoleRecipe): RoleRecipe {
    const file = this.plan.trace?.path;
    if (file === undefined || !TRACED_COMMANDS.includes(recipe.argv[0] as string)) return recipe;
    return { ...recipe, argv: [...recipe.argv, '--trace', `${file.replace(/\.pcapng$/i, '')}.${recipe.name}.pcapng`] };
  }

  /**
   * The listeners of partner `name`'s registrar (default: the first's), ports resolved once for every partner (its MMS
   * names the registrar before it is up): the plan's for the first, free ones of the same address for the others.
   */
  async sipListeners(name?: string): Promise<SipListen[]> {
    this.sip ??= (async () => {
      const out = new Map<string, SipListen[]>();
      const taken: number[] = [];
      for (const [i, p] of this.ctx.partners.entries()) {
        const sip = i === 0 ? this.plan.sip : { ...(this.plan.sip?.host ? { host: this.plan.sip.host } : {}), ...(this.plan.sip?.tls === false ? { tls: false as const } : {}) };
        const l = await resolveSipListeners(sip, taken);
        taken.push(...l.map((x) => x.port));
        out.set(p.name, l);
      }
      return out;
    })();
    return (await this.sip).get(this.partner(name).name) as SipListen[];
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

  /**
   * Every IdMS at once — the primary's and each partner's — on ports picked now (each issuer names its port, and the
   * primary IdMS names every partner's issuer, each partner's the primary's).
   * @returns the primary IdMS, then the partners' in order.
   */
  async idms(): Promise<RoleHandle[]> {
    const host = (s: 'primary' | 'partner'): string => this.plan.issuerHosts?.[s] ?? LOOPBACK;
    const ports = new Map<string, number>();
    for (const name of ['primary', ...this.ctx.partners.map((p) => p.name)]) {
      let port: number;
      do port = await freeTcpPort(LOOPBACK); while ([...ports.values()].includes(port));
      ports.set(name, port);
    }
    const url = (name: string, side: 'primary' | 'partner'): string => `https://${host(side)}:${ports.get(name) as number}`;
    const issuers = { primary: url('primary', 'primary'), partners: Object.fromEntries(this.ctx.partners.map((p) => [p.name, url(p.name, 'partner')])) };
    const recipes = [idmsRecipe(this.ctx, { port: ports.get('primary') as number, issuers }),
      ...this.ctx.partners.map((partner) => idmsRecipe(this.ctx, { partner, port: ports.get(partner.name) as number, issuers }))];
    const started = await Promise.allSettled(recipes.map((r) => this.run(r)));
    const failed = started.find((r) => r.status === 'rejected');
    if (failed) throw failed.reason;
    return recipes.map((r) => this.role(r.name));
  }

  /**
   * The MMS of partner `o.partner` (default: the first), routing the primary realm to `upstream` (default: the relay)
   * and listening on `listen` (default: any port, plain TCP unless the registrar link is TLS). With the primary MMS,
   * the primary IdMS and its own IdMS up, it also serves dynamic migrations (migration API, path to the primary MMS).
   */
  async partnerMms(o: { upstream?: number | EndpointSpec; listen?: EndpointSpec; partner?: string } = {}): Promise<RoleHandle> {
    const partner = this.partner(o.partner);
    const roles = partnerRoles(partner.name);
    const listen = o.listen ?? { host: LOOPBACK, port: 0, ...(this.plan.tls?.registrar === false ? { transport: 'tcp' as const } : {}) };
    const dynamic = this.has('primary-mms') && this.has('primary-idms') && this.has(roles.idms);
    const udp = (await this.sipListeners(partner.name)).find((s) => s.transport === 'udp') as SipListen;
    return this.run(partnerMmsRecipe(this.ctx, {
      partner, listen, upstream: this.endpoint(o.upstream, 'relay'), admin: this.plan.admin ?? false,
      ...(dynamic ? {
        dynamic: {
          primaryIdmsIssuer: this.role('primary-idms').addresses.issuer as string, partnerIdmsIssuer: this.role(roles.idms).addresses.issuer as string,
          bindingApi: this.role('primary-mms').addresses.apiUrl as string, primaryMmsCx: this.endpoint(undefined, 'primary-mms'),
          registrarUri: `sip:${udp.host}:${udp.port};transport=udp`,
        },
      } : {}),
    }));
  }

  /**
   * The registrar of partner `o.partner` (default: the first), its Cx peer `o.mms` (default: that partner's MMS),
   * listening on `o.sip` (default: the partner's listeners, {@link sipListeners}); `o.instance` names a further one
   * beside it (its own state directory).
   */
  async registrar(o: { mms?: number; partner?: string; sip?: SipListen[]; instance?: string } = {}): Promise<RoleHandle> {
    const partner = this.partner(o.partner);
    return this.run(registrarRecipe(this.ctx, {
      partner, sip: o.sip ?? await this.sipListeners(partner.name), mms: this.endpoint(o.mms, partnerRoles(partner.name).mms),
      ...(o.instance === undefined ? {} : { instance: o.instance }),
      cxTls: this.plan.tls?.registrar ?? true, admin: this.plan.admin ?? false,
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
   * Starts `roles` (default: every role of the primary and of each partner) in dependency order and waits until
   * every Cx route among them is up.
   * @throws the first start error (ConfigFileError, StoreError, EADDRINUSE …); what had started is stopped again.
   */
  async start(roles: readonly RoleName[] = roleNamesOf(this.ctx.partners)): Promise<this> {
    const want = new Set(roles);
    const { primary } = this.realms;
    const partners = this.ctx.partners.map((p) => ({ p, r: partnerRoles(p.name) }));
    const routed = (role: RoleName, peer: string, path = 'route'): Promise<unknown> =>
      this.expect(role, `the ${role}'s ${path} to ${peer}`, (l) => l.role === role && l.msg === `${path} to ${primary}: ${peer}.${primary}`);
    const idms = want.has('primary-idms') && partners.every(({ r }) => want.has(r.idms)) ? this.idms() : undefined;
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
      for (const { p, r } of partners.filter((x) => want.has(x.r.mms))) {
        if (this.has('relay')) waits.push(routed(r.mms, 'relay'));
        if (this.has('primary-mms') && idms) waits.push(routed(r.mms, 'mms', 'primary-mms path'));
        await this.partnerMms({ partner: p.name });
      }
      await Promise.all(waits);
      for (const { p } of partners.filter((x) => want.has(x.r.registrar))) {
        // By its node: the line's own `role` field (the connection's, initiator) hides the role's.
        const self = `registrar.${p.realm}`;
        const open = this.expect(partnerRoles(p.name).registrar, `the ${partnerRoles(p.name).registrar}'s Cx peer`, (l) => l.msg === 'Diameter peer open' && l.node === self);
        await this.registrar({ partner: p.name });
        await open;
      }
      return this;
    } catch (e) {
      await this.close();
      await idms?.catch(() => undefined);
      throw e;
    }
  }

  /** Where everything listens, the partner roles' of the first partner (0 and '' for a role not started). */
  get addresses(): TestbedAddresses {
    const port = (n: RoleName): number => (this.has(n) ? this.role(n).port : 0);
    const str = (n: RoleName, k: 'apiUrl' | 'issuer'): string => this.current.get(n)?.addresses[k] ?? '';
    return {
      hssDiameter: port('hss'), relay: port('relay'), primaryMms: port('primary-mms'), ...this.addressesOf(),
      bindingApi: str('primary-mms', 'apiUrl'), primaryIssuer: str('primary-idms', 'issuer'),
    };
  }

  /** Where the roles of partner `name` (default: the first) listen (0 and '' for a role not started). */
  addressesOf(name?: string): PartnerAddresses {
    const r = this.rolesOf(name);
    const registrar = this.current.get(r.registrar);
    const sip = (t: SipListen['transport']): number => registrar?.addresses.sip?.find((s) => s.transport === t)?.port ?? 0;
    const str = (n: RoleName, k: 'apiUrl' | 'issuer'): string => this.current.get(n)?.addresses[k] ?? '';
    return {
      partnerMms: this.has(r.mms) ? this.role(r.mms).port : 0, sipUdp: sip('udp'), sipTcp: sip('tcp'), sipTls: sip('tls'),
      migrationApi: str(r.mms, 'apiUrl'), partnerIssuer: str(r.idms, 'issuer'),
    };
  }

  /** The CA files of the primary and of partner `name` (default: the first), primary first (what a UE migrating there trusts). */
  caFiles(name?: string): string[] {
    return [caPaths(this.pki, 'primary').cert, caPaths(this.pki, this.partner(name).name).cert];
  }

  /**
   * The IdM half of a migration (ue-client/migrate.ts) to partner `partner` (default: the first) against this
   * testbed, for the primary IdMS user `user`.
   */
  migrationOptions(user: { username: string; password: string }, partner?: string): MigrateOptions {
    const a = this.addressesOf(partner);
    return {
      primaryIssuer: this.addresses.primaryIssuer, primaryCa: this.ca.primary, partnerIssuer: a.partnerIssuer, partnerCa: this.caOf(this.partner(partner).name),
      partnerMms: a.migrationApi, clientId: UE_CLIENT.clientId, redirectUri: UE_CLIENT.redirectUri, username: user.username, password: user.password,
    };
  }

  /** The admin API of a role started with one: URL, bearer token, and the CA of its system. */
  async adminTarget(h: RoleHandle): Promise<{ url: string; token: string; ca: string[] }> {
    const { adminUrl, adminTokenPath } = h.addresses;
    if (!adminUrl || !adminTokenPath) throw new Error(`testbed: ${h.name} runs without an admin API`);
    const of = this.ctx.partners.find((p) => Object.values(partnerRoles(p.name)).includes(h.name));
    const ca = of ? this.caOf(of.name) : this.ca.primary;
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

/** The plan's partner systems, or the one `partner` of the default layout. */
function partnersOf(plan: TestbedPlan): readonly PartnerSystem[] {
  return plan.partners?.length ? plan.partners : [{ name: DEFAULT_PARTNER, realm: plan.realms.partner }];
}
