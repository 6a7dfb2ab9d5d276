/**
 * Both seed flows of TS 23.280 §10.6.2 from the UE's namespace, across the router, with `mcx ue` as a user types
 * it: alice by static configuration (§10.6.2.2: REGISTER with the partner identities the partner MMS maps), carol by
 * dynamic configuration (§10.6.2.3: OIDC login at the primary IdMS, RFC 8693 token exchange, RFC 7523 jwt-bearer at
 * the partner IdMS, migration configuration at the partner MMS, then REGISTER). Both keep their registration
 * (`--keep`), so the evidence that the traffic crossed the hosts can be read afterwards: the registrar's bindings
 * name the UE's address as their source, and the router's firewall counted each opening the flows need.
 */
import { join } from 'node:path';
import type { BindingView } from '../../registrar/admin-api.ts';
import type { MigrateReport } from '../../ue-client/migrate-run.ts';
import type { UeRunReport } from '../../ue-client/run.ts';
import type { DemoUsers } from '../topology.ts';
import { mcxIn, type CommandResult, type StartedUnit } from './launch.ts';
import { firewallCounters, vethCounters } from './network.ts';
import { NETNS_REALMS, PORTS, ROLES, issuerOf, unitName, type Namespaces } from './plan.ts';
import type { NetnsLayout } from './provision.ts';

/** How long one `mcx ue` run may take (its own --timeout bounds each exchange). */
const UE_MS = 60_000;
const UE_TIMEOUT_S = '20';

/** One flow as the UE ran it. */
export interface FlowOutcome {
  flow: 'static' | 'dynamic';
  user: string;
  /** The command line, as an operator would type it in the UE's namespace. */
  command: string;
  code: number | null;
  /** The UE's `--json` report. */
  report?: UeRunReport | MigrateReport;
  /** What it wrote on stderr (diagnostics), when it failed. */
  stderr?: string;
}

/** What shows that the flows crossed the hosts. */
export interface Evidence {
  bindings: BindingView[];
  /** Packets counted by each opening of the router's firewall (and `dropped`). */
  firewall: Record<string, number>;
  veth: Record<string, { rxPackets: number; txPackets: number }>;
}

function outcome(flow: FlowOutcome['flow'], user: string, args: readonly string[], r: CommandResult): FlowOutcome {
  let report: FlowOutcome['report'];
  try {
    report = JSON.parse(r.stdout.trim().split('\n').pop() ?? '') as FlowOutcome['report'];
  } catch {
    // no report: the stderr tail says why
  }
  return {
    flow, user, command: `mcx ${args.join(' ')}`, code: r.code, ...(report ? { report } : {}),
    ...(r.code === 0 ? {} : { stderr: r.stderr.slice(-3000) }),
  };
}

/** §10.6.2.2: alice registers with her partner identities; her ISIM is the primary's. */
export async function runStaticFlow(l: NetnsLayout, ns: Namespaces, users: DemoUsers): Promise<FlowOutcome> {
  const args = ['ue', 'register', '--registrar', `${ROLES.registrar.name}:${PORTS.sip}`, '--domain', NETNS_REALMS.partner,
    '--impi', users.alice.partner.impi, '--impu', users.alice.partner.impu, '--flow', 'static', '--credentials', l.ue.aliceCredentials,
    '--timeout', UE_TIMEOUT_S, '--keep', '--json'];
  return outcome('static', users.alice.primary.impi, args, await mcxIn(ns.ue, args, UE_MS));
}

/** §10.6.2.3: carol logs in at her primary IdMS, gets a migration configuration and registers where it says. */
export async function runDynamicFlow(l: NetnsLayout, ns: Namespaces, users: DemoUsers): Promise<FlowOutcome> {
  const args = ['ue', 'migrate', '--primary-idms', issuerOf(ROLES.primaryIdms), '--partner-idms', issuerOf(ROLES.partnerIdms),
    '--partner-mms', `https://${ROLES.partnerMms.name}:${PORTS.mmsApi}`, '--username', users.carol.username, '--credentials', l.ue.carolCredentials,
    '--primary-ca', l.ue.primaryCa, '--partner-ca', l.ue.partnerCa, '--timeout', UE_TIMEOUT_S, '--keep', '--json'];
  return outcome('dynamic', users.carol.primary.impi, args, await mcxIn(ns.ue, args, UE_MS));
}

/**
 * The registrar's bindings (its admin API, on the partner host's loopback), the firewall's counters and the veths'.
 * @throws Error when the bindings cannot be read.
 */
export async function collectEvidence(l: NetnsLayout, ns: Namespaces, registrar: StartedUnit): Promise<Evidence> {
  // The last ready line: a log that earlier runs appended to names their listeners first.
  const admin = [...registrar.output.matchAll(/^registrar: listening .* admin=(\S+)/gm)].pop()?.[1];
  if (!admin) throw new Error(`${registrar.unit} printed no admin URL`);
  const dirs = l.host('partner');
  const token = join(dirs.state, 'mcx', `registrar-${ROLES.registrar.host}`, 'admin-token');
  const r = await mcxIn(ns.partner, ['registrar', 'bindings', '--admin', admin, '--admin-token-file', token,
    '--tls-ca', join(dirs.etc, 'pki', 'partner', 'ca.pem')], 30_000);
  if (r.code !== 0) throw new Error(`mcx registrar bindings (${unitName(ROLES.registrar)}) exited ${r.code}: ${r.stderr.slice(-2000)}`);
  const bindings = r.stdout.split('\n').filter(Boolean).map((line) => JSON.parse(line) as BindingView);
  return { bindings, firewall: await firewallCounters(ns), veth: await vethCounters(ns) };
}
