/**
 * `mcx deploy netns up|flows|down|run`: the rehearsal of a multi-host deployment on one machine (root), README
 * "Multi-host deployment". `run` is the whole of it, torn down at the end whatever happened (also on SIGINT/SIGTERM:
 * the first signal tears down and exits 128 + its number, a second exits at once).
 */
import { constants } from 'node:os';
import type { Command } from 'commander';
import { z } from 'zod';
import { UsageError, type CommandModule } from '../../lib/cli.ts';
import { parseConfig } from '../../lib/config/validate.ts';
import { down, flows, requireRoot, runAll, up, type Check, type RunReport } from './deployment.ts';
import { firewallRules, namespacesOf, PREFIX, type Namespaces } from './plan.ts';
import { netnsLayoutOf, provisioned } from './provision.ts';
import { namespacesWithPrefix, destroyNetwork } from './network.ts';

const optionsSchema = z.object({
  prefix: z.string().regex(PREFIX, 'must be a lower-case letter and up to 15 letters or digits (it names the namespaces <prefix>-primary, …)'),
  dir: z.string().min(1, 'must not be empty'),
  store: z.enum(['memory', 'redis'], { error: 'must be memory or redis (a redis-server per system, on its loopback)' }),
  json: z.boolean(),
});
type Options = z.output<typeof optionsSchema>;

function parse(raw: Record<string, unknown>): Options {
  return parseConfig(optionsSchema, { prefix: raw.prefix, dir: raw.dir ?? '.netns', store: raw.store ?? 'memory', json: raw.json === true });
}

function out(line: string): void {
  process.stdout.write(`${line}\n`);
}

function checkLines(checks: readonly Check[]): string[] {
  return checks.map((c) => `${c.ok ? 'ok  ' : 'FAIL'} ${c.what}: ${c.detail}`);
}

function printRun(r: RunReport): void {
  for (const f of r.flows) {
    out(`flow ${f.flow}: ${f.command}`);
    for (const line of f.report?.ladder ?? []) out(`  ${line}`);
  }
  if (r.evidence) {
    for (const b of r.evidence.bindings) out(`registrar binding: ${b.aor} ← ${b.contacts.map((c) => c.source).join(', ')}`);
    out(`firewall (${r.namespaces.wan}): ${Object.entries(r.evidence.firewall).map(([k, v]) => `${k} ${v}`).join('; ')}`);
  }
  if (r.error) out(`error: ${r.error}`);
  for (const line of checkLines(r.checks)) out(line);
  out(`result: ${r.ok ? 'OK' : 'FAILED'}`);
}

/** Tears the prefix down on the first SIGINT/SIGTERM, then exits 128 + its number; a second signal exits at once. */
function teardownOnSignal(prefix: string): () => void {
  let stopping = false;
  const onSignal = (signal: NodeJS.Signals): void => {
    const code = 128 + (constants.signals[signal] ?? 0);
    if (stopping) process.exit(code);
    stopping = true;
    process.stderr.write(`netns: ${signal}: tearing down ${prefix}-*\n`);
    void destroyNetwork(prefix).finally(() => process.exit(code));
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  return () => {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  };
}

function summary(ns: Namespaces, dir: string): string[] {
  const l = netnsLayoutOf(dir);
  return [
    `netns: up — hosts ${ns.primary}, ${ns.partner}, ${ns.ue}; router and firewall ${ns.wan} (openings: ${firewallRules().map((r) => r.name).join('; ')})`,
    `netns: logs in ${l.host('primary').log} and ${l.host('partner').log}; a shell on a host: ip netns exec ${ns.ue} bash`,
    `netns: next: mcx deploy netns flows --prefix ${ns.primary.replace(/-primary$/, '')} --dir ${dir}; mcx deploy netns down --prefix ${ns.primary.replace(/-primary$/, '')}`,
  ];
}

async function action(step: 'up' | 'flows' | 'down' | 'run', raw: Record<string, unknown>): Promise<void> {
  const o = parse(raw);
  const say = o.json ? (line: string) => process.stderr.write(`${line}\n`) : out;
  try {
    requireRoot();
  } catch (e) {
    throw new UsageError((e as Error).message, 1);
  }
  const ns = namespacesOf(o.prefix);
  if (step === 'down') {
    const t = await down(o.prefix);
    say(`netns: removed ${t.namespaces.length ? t.namespaces.join(', ') : 'nothing'}; ${t.terminated.length} processes stopped (${t.killed.length} killed)`);
    process.exitCode = t.leftNamespaces.length || t.leftProcesses.length ? 1 : 0;
    return;
  }
  const opts = { prefix: o.prefix, dir: o.dir, store: o.store, say };
  if (step === 'up') {
    const stop = teardownOnSignal(o.prefix);
    await up(opts);
    stop();
    for (const line of summary(ns, o.dir)) say(line);
    return;
  }
  if (step === 'flows') {
    if ((await namespacesWithPrefix(o.prefix)).length < 4) throw new UsageError(`--prefix ${o.prefix}: no deployment is up (mcx deploy netns up first)`, 1);
    const { layout, users } = await provisioned(o.dir);
    const r = await flows(layout, ns, users);
    if (o.json) out(JSON.stringify(r));
    else printRun({ ok: r.checks.every((c) => c.ok), prefix: o.prefix, namespaces: ns, dir: layout.dir, store: o.store, units: [], ...r });
    process.exitCode = r.checks.every((c) => c.ok) ? 0 : 1;
    return;
  }
  const stop = teardownOnSignal(o.prefix);
  const r = await runAll(opts);
  stop();
  if (o.json) out(JSON.stringify(r));
  else printRun(r);
  process.exitCode = r.ok ? 0 : 1;
}

/** Adds `mcx deploy netns …`. */
export const deployCommand: CommandModule = (program: Command) => {
  const netns = program.command('deploy').description('deployments beyond one process: rehearsals of real hosts')
    .command('netns')
    .description('rehearse a multi-host deployment on this machine (root): network namespaces <prefix>-primary, -partner and -ue behind a '
      + 'router with the firewall of README "Multi-host deployment", each role run from its systemd unit (deploy/systemd)');
  const prefix = (c: Command): Command => c
    .option('--prefix <name>', 'names the namespaces <prefix>-primary, -partner, -ue, -wan and nothing else; up removes what an earlier run of it left', 'mcx');
  const dir = (c: Command): Command => c.option('--dir <path>', 'the deployment\'s files (PKI, users, each host\'s /etc/mcx, state, logs), reused when present', '.netns');
  const store = (c: Command): Command => c.option('--store <kind>', 'memory (journals), or redis: a redis-server per system on its loopback', 'memory');
  const json = (c: Command): Command => c.option('--json', 'print one JSON report on stdout (progress on stderr)', false);
  store(dir(prefix(netns.command('up').description('build the namespaces and start every role; leave them running'))))
    .action((o: Record<string, unknown>) => action('up', o));
  json(dir(prefix(netns.command('flows').description('run both seed flows from the UE namespace against a deployment that is up, and check that they crossed the hosts'))))
    .action((o: Record<string, unknown>) => action('flows', o));
  prefix(netns.command('down').description('stop every process in the prefix\'s namespaces and remove them')).action((o: Record<string, unknown>) => action('down', o));
  json(store(dir(prefix(netns.command('run').description('up, flows, down: the whole rehearsal, torn down even when it fails (exit 0 when every check held)')))))
    .action((o: Record<string, unknown>) => action('run', o));
};
