/**
 * The rehearsal of a multi-host deployment as three steps — up (network, files, every role from its systemd unit),
 * flows (both seed flows from the UE, and the evidence that they crossed the hosts), down (everything of the prefix)
 * — and `run`, which does the three and tears down whatever happened, a failure or a signal included.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createNetwork, destroyNetwork, alive, namespacesWithPrefix, type Teardown } from './network.ts';
import { collectEvidence, runDynamicFlow, runStaticFlow, type Evidence, type FlowOutcome } from './flows.ts';
import { startRedis, startUnit, type StartedUnit } from './launch.ts';
import { DROPPED, ROLES, UE_ADDRESS, firewallRules, namespacesOf, unitName, type Namespaces, type RoleKey, type StoreKind } from './plan.ts';
import { provision, netnsLayoutOf, type NetnsLayout } from './provision.ts';
import type { DemoUsers } from '../topology.ts';

/** What every step takes. */
export interface NetnsOptions {
  prefix: string;
  dir: string;
  store: StoreKind;
  /** Progress lines for the operator (not with --json). */
  say: (line: string) => void;
}

/** A deployment that is up. */
export interface Deployment {
  ns: Namespaces;
  layout: NetnsLayout;
  users: DemoUsers;
  units: StartedUnit[];
  /** Leftovers of an earlier run of the prefix that `up` removed first. */
  leftovers: Teardown;
}

/** Refuses to run without root: namespaces, veths and /etc/netns need it. */
export function requireRoot(): void {
  if (process.getuid?.() !== 0) {
    throw new Error('mcx deploy netns must run as root: it creates network namespaces, veth links and /etc/netns/<namespace>/hosts');
  }
}

/**
 * Removes leftovers of the prefix, makes the files, builds the network and starts every role. They all start at once,
 * as units on hosts of their own would (nothing orders hosts): a role whose Diameter peer is not up yet reconnects
 * (lib/diameter/peer-table.ts, from 100 ms backing off), and each counts as ready only once its routes are up
 * (plan.ts readinessOf).
 * @param teardownOnFailure tear down what was built before throwing (`run` does it itself, and reports it).
 * @throws the first failure.
 */
export async function up(o: NetnsOptions, teardownOnFailure = true): Promise<Deployment> {
  requireRoot();
  const ns = namespacesOf(o.prefix);
  const leftovers = await destroyNetwork(o.prefix);
  if (leftovers.namespaces.length) o.say(`netns: removed leftovers of prefix ${o.prefix}: ${leftovers.namespaces.join(', ')} (${leftovers.terminated.length} processes)`);
  const { layout, users } = await provision(o.dir, o.store, (line) => o.say(`netns: ${line}`));
  const units: StartedUnit[] = [];
  try {
    await createNetwork(ns);
    o.say(`netns: network up: ${Object.values(ns).join(', ')} (router ${ns.wan}); files in ${layout.dir}`);
    if (o.store === 'redis') {
      for (const host of ['primary', 'partner'] as const) units.push(await startRedis(layout, ns, host));
    }
    const started = await Promise.allSettled((Object.keys(ROLES) as RoleKey[]).map((key) => startUnit(layout, ns, key)));
    for (const s of started) if (s.status === 'fulfilled') units.push(s.value);
    const failed = started.find((s) => s.status === 'rejected');
    if (failed) throw failed.reason;
    for (const u of units) o.say(`netns: ${u.unit} in ${u.ns} (pid ${u.pid}): ${readyLine(u)}`);
    return { ns, layout, users, units, leftovers };
  } catch (e) {
    if (teardownOnFailure) await destroyNetwork(o.prefix);
    throw e;
  }
}

/** The unit's ready line (its first line saying where it listens). */
export function readyLine(u: StartedUnit): string {
  return /^\S+: listening .*$/m.exec(u.output)?.[0] ?? (u.key === 'redis' ? 'redis-server ready on 127.0.0.1' : 'ready');
}

/** One check of the rehearsal's verdict. */
export interface Check {
  what: string;
  ok: boolean;
  detail: string;
}

/**
 * What must hold after the flows: both registered, the registrar saw both from the UE's address, and every
 * opening of the firewall the rehearsal uses counted packets.
 */
export function verdict(flows: readonly FlowOutcome[], e: Evidence, users: DemoUsers): Check[] {
  const checks: Check[] = flows.map((f) => ({
    what: `flow ${f.flow} (${f.user})`, ok: f.code === 0 && f.report?.ok === true && f.report.registered !== undefined,
    detail: f.report?.registered ? `registered ${f.report.registered.impu}, expires ${f.report.registered.expires} s` : `exit ${f.code}: ${f.report?.error?.message ?? f.stderr?.trim().split('\n').pop() ?? ''}`,
  }));
  const impus = [users.alice.partner.impu, ...flows.filter((f) => f.flow === 'dynamic').map((f) => f.report?.registered?.impu).filter((x): x is string => !!x)];
  for (const impu of impus) {
    const sources = e.bindings.find((b) => b.aor === impu)?.contacts.map((c) => c.source) ?? [];
    checks.push({ what: `registrar binding of ${impu} from the UE's namespace`, ok: sources.some((s) => s.toLowerCase().startsWith(`udp ${UE_ADDRESS}:`)), detail: sources.join(', ') || 'no binding' });
  }
  for (const r of firewallRules().filter((x) => x.exercised)) {
    const n = e.firewall[r.name] ?? 0;
    checks.push({ what: `firewall opening "${r.name}" crossed`, ok: n > 0, detail: `${n} packets` });
  }
  checks.push({ what: 'nothing else crossed the router', ok: (e.firewall[DROPPED] ?? 0) === 0, detail: `${e.firewall[DROPPED] ?? 0} packets dropped` });
  return checks;
}

/** The flows and the evidence, against the deployment of `ns` whose files are under `layout`. */
export async function flows(layout: NetnsLayout, ns: Namespaces, users: DemoUsers): Promise<{ flows: FlowOutcome[]; evidence: Evidence; checks: Check[] }> {
  const done = [await runStaticFlow(layout, ns, users), await runDynamicFlow(layout, ns, users)];
  const registrarLog = join(layout.host('partner').log, `${unitName(ROLES.registrar)}.log`);
  const registrar: StartedUnit = { key: 'registrar', unit: unitName(ROLES.registrar), ns: ns.partner, pid: 0, log: registrarLog, output: await readFile(registrarLog, 'utf8') };
  const evidence = await collectEvidence(layout, ns, registrar);
  return { flows: done, evidence, checks: verdict(done, evidence, users) };
}

/** A teardown and what it left behind (nothing, when it worked). */
export interface TeardownReport extends Teardown {
  /** Namespaces of the prefix still there, processes of the run still alive. */
  leftNamespaces: string[];
  leftProcesses: number[];
}

/** Tears down the prefix and checks that nothing of it is left. */
export async function down(prefix: string, pids: readonly number[] = []): Promise<TeardownReport> {
  requireRoot();
  namespacesOf(prefix);
  const t = await destroyNetwork(prefix);
  const leftProcesses: number[] = [];
  for (const p of new Set([...pids, ...t.terminated])) if (await alive(p)) leftProcesses.push(p);
  return { ...t, leftNamespaces: await namespacesWithPrefix(prefix), leftProcesses };
}

/** What `run` reports. */
export interface RunReport {
  ok: boolean;
  prefix: string;
  namespaces: Namespaces;
  dir: string;
  store: StoreKind;
  units: Array<{ unit: string; ns: string; pid: number; ready: string }>;
  flows: FlowOutcome[];
  evidence?: Evidence;
  checks: Check[];
  teardown?: TeardownReport;
  error?: string;
}

/**
 * Up, flows, down — down whatever happened before it.
 * @returns the report; `ok` when every check held and the teardown left nothing.
 */
export async function runAll(o: NetnsOptions): Promise<RunReport> {
  const ns = namespacesOf(o.prefix);
  const report: RunReport = { ok: false, prefix: o.prefix, namespaces: ns, dir: netnsLayoutOf(o.dir).dir, store: o.store, units: [], flows: [], checks: [] };
  try {
    const d = await up(o, false);
    report.units = d.units.map((u) => ({ unit: u.unit, ns: u.ns, pid: u.pid, ready: readyLine(u) }));
    const r = await flows(d.layout, d.ns, d.users);
    Object.assign(report, r);
  } catch (e) {
    report.error = (e as Error).message;
  } finally {
    report.teardown = await down(o.prefix, report.units.map((u) => u.pid));
  }
  const clean = report.teardown.leftNamespaces.length === 0 && report.teardown.leftProcesses.length === 0;
  report.checks.push({ what: 'teardown left no namespace or process', ok: clean, detail: `${report.teardown.namespaces.length} namespaces removed, ${report.teardown.terminated.length} processes stopped (${report.teardown.killed.length} killed)` });
  report.ok = report.error === undefined && report.checks.every((c) => c.ok);
  return report;
}
