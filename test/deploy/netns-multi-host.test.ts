/**
 * The multi-host rehearsal (README "Multi-host deployment", `mcx deploy netns`): the primary system, the partner
 * system and the UE each in a network namespace of their own behind a router whose firewall opens only the ports of
 * the README's table, every role started from its systemd unit (deploy/systemd) with the testbed's PKI and users.
 * Both seed flows of TS 23.280 §10.6.2 pass from the UE's namespace — §10.6.2.2 (alice, static) and §10.6.2.3 (carol:
 * IdMS login, RFC 8693 token exchange, RFC 7523 jwt-bearer, migration configuration) — across the veths: the
 * registrar's bindings name the UE's namespace address as their source, and every firewall opening they need counted
 * packets while nothing else crossed. `up` leaves a running deployment whose leftovers the next `run` of the prefix
 * removes; `run` leaves no namespace, /etc/netns directory, veth or process behind.
 *
 * Network namespaces need root (CI runs as root); without it the rehearsal test is skipped with that reason, and
 * the CLI's refusal is checked instead.
 */
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { RunReport } from '../../deploy/netns/deployment.ts';
import { alive, pidsIn, sh, tool } from '../../deploy/netns/network.ts';
import { DROPPED, ROLES, SUBNETS, UE_ADDRESS, firewallRules, namespacesOf } from '../../deploy/netns/plan.ts';
import { start, startMcx, NODE, type Proc } from '../helpers/process.ts';

const ROOT_ONLY = process.getuid?.() === 0 ? false : 'needs root: network namespaces, veth links and /etc/netns (ip netns) are root-only; CI runs as root';

/** Waits for `p` at most `ms` (then SIGTERM: the launcher tears down and exits). */
async function finished(p: Proc, ms: number): Promise<{ code: number | null; out: string }> {
  const t = setTimeout(() => void p.stop('SIGTERM', 20_000), ms);
  const code = await p.exited;
  clearTimeout(t);
  return { code, out: p.output() };
}

/** Processes and namespaces of `prefix` on this machine, and host interfaces or routes of the rehearsal's addresses. */
async function traces(prefix: string): Promise<string[]> {
  const found: string[] = [];
  for (const n of await readdir('/run/netns').catch(() => [])) if (n.startsWith(`${prefix}-`)) found.push(`namespace ${n}`);
  for (const n of await readdir('/etc/netns').catch(() => [])) if (n.startsWith(`${prefix}-`)) found.push(`/etc/netns/${n}`);
  const host = await sh(tool('ip'), ['-j', 'addr']);
  if (host.includes('"198.18.')) found.push('a 198.18.0.0/15 address on a host interface');
  return found;
}

describe('mcx deploy netns: the two MC systems and the UE on hosts of their own (network namespaces)', { timeout: 300_000 }, () => {
  const prefix = `mcxt${randomBytes(4).toString('hex')}`;
  const ns = namespacesOf(prefix);
  let dir: string | undefined;

  after(async () => {
    if (ROOT_ONLY === false) await startMcx(['deploy', 'netns', 'down', '--prefix', prefix]).exited;
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  test('TS 23.280 §10.6.2.2 and §10.6.2.3 from the UE namespace through the router: registered from the UE\'s address, nothing left after', { skip: ROOT_ONLY }, async () => {
    dir = await mkdtemp(join(tmpdir(), 'mcx-netns-'));
    // up: the deployment stays after the launcher exits (the leftovers the next run of the prefix must remove).
    const upRun = await finished(startMcx(['deploy', 'netns', 'up', '--prefix', prefix, '--dir', dir]), 100_000);
    assert.equal(upRun.code, 0, upRun.out);
    // The roles are the namespaces' top-level processes: on a fresh clone each also has tsx's esbuild service as a child.
    const inNs = (await Promise.all([ns.primary, ns.partner].map(pidsIn))).flat();
    const parentOf = async (pid: number): Promise<number> => Number((await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => '')).replace(/^.*\) \S+ /s, '').split(' ')[0]);
    const parents = await Promise.all(inNs.map(parentOf));
    const upPids = inNs.filter((_p, i) => !inNs.includes(parents[i] as number));
    const ps = upPids.length === Object.keys(ROLES).length ? '' : await sh('ps', ['-o', 'pid,ppid,args', '-p', inNs.join(',')]).catch((e: unknown) => String(e));
    assert.equal(upPids.length, Object.keys(ROLES).length, `one process per role after up, got ${upPids.length}\n${ps}\n${upRun.out}`);
    assert.match(await readFile(`/etc/netns/${ns.ue}/hosts`, 'utf8'), new RegExp(`^${ROLES.registrar.address.replaceAll('.', '\\.')} ${ROLES.registrar.name}$`, 'm'));
    assert.deepEqual((await traces(prefix)).filter((t) => t.includes('host interface')), [], 'nothing on the host\'s interfaces');

    // run, on Redis (one per system): removes the leftovers of up, runs both flows, tears everything down.
    const r = await finished(startMcx(['deploy', 'netns', 'run', '--prefix', prefix, '--dir', dir, '--store', 'redis', '--json']), 160_000);
    const report = JSON.parse(r.out.trim().split('\n').pop() ?? '{}') as RunReport;
    assert.equal(r.code, 0, `${r.out.slice(-6000)}`);
    assert.equal(report.ok, true);
    for (const p of upPids) assert.equal(await alive(p), false, `pid ${p} of up is gone`);

    const [staticFlow, dynamicFlow] = report.flows;
    assert.equal(staticFlow?.flow, 'static');
    assert.equal(staticFlow.code, 0, staticFlow.stderr);
    assert.equal(staticFlow.report?.registered?.impu, 'sip:alice.mig@partner.mcx.test');
    assert.ok(staticFlow.report.ladder.some((l) => /UE ← registrar\s+200 OK \(step 13\)/.test(l)), staticFlow.report.ladder.join('\n'));
    assert.equal(dynamicFlow?.flow, 'dynamic');
    assert.equal(dynamicFlow.code, 0, dynamicFlow.stderr);
    const carol = dynamicFlow.report?.registered?.impu ?? '';
    assert.match(carol, /^sip:mig-[0-9a-f]{12}@partner\.mcx\.test$/);
    const ladder = dynamicFlow.report?.ladder.join('\n') ?? '';
    for (const step of [/UE ← primary IdMS .*authenticated at https:\/\/idms\.primary\.mcx\.test:8443/, /security token for https:\/\/idms\.partner\.mcx\.test:8443/,
      /UE ← partner MMS .*at sip:registrar\.partner\.mcx\.test:5060/, /UE ← registrar\s+200 OK \(step 13\)/]) assert.match(ladder, step);

    // The registrar saw both REGISTERs come from the UE's namespace, through the router.
    const e = report.evidence;
    assert.ok(e);
    for (const impu of ['sip:alice.mig@partner.mcx.test', carol]) {
      const sources = e.bindings.find((b) => b.aor === impu)?.contacts.map((c) => c.source.toLowerCase()) ?? [];
      assert.ok(sources.some((s) => s.startsWith(`udp ${UE_ADDRESS}:`)), `${impu}: ${sources.join(', ')}`);
    }
    for (const rule of firewallRules().filter((x) => x.exercised)) assert.ok((e.firewall[rule.name] ?? 0) > 0, `${rule.name}: ${JSON.stringify(e.firewall)}`);
    assert.equal(e.firewall[DROPPED], 0, 'nothing but the openings crossed the router');
    assert.ok((e.veth.ue?.txPackets ?? 0) > 0 && (e.veth.partner?.rxPackets ?? 0) > 0 && (e.veth.primary?.rxPackets ?? 0) > 0, JSON.stringify(e.veth));
    assert.ok(report.units.some((u) => u.unit === 'mcx-registrar@partner.service' && u.ready.includes(`udp://${SUBNETS.partner}.`)));

    // Teardown: nothing of the prefix, and no process of either run.
    assert.deepEqual(report.teardown?.leftNamespaces, []);
    assert.deepEqual(report.teardown?.leftProcesses, []);
    assert.deepEqual(await traces(prefix), []);
    for (const u of report.units) assert.equal(await alive(u.pid), false, `${u.unit} (pid ${u.pid}) is gone`);
  });

  test('without root the launcher refuses, naming why, and builds nothing', async () => {
    const args = [join('bin', 'mcx.mjs'), 'deploy', 'netns', 'up', '--prefix', prefix, '--dir', join(tmpdir(), `${prefix}-none`)];
    // As root, the same command as the unprivileged user nobody — allowed to read the checkout wherever it lies (a CI
    // clone under a 0700 directory), nothing more: CAP_DAC_READ_SEARCH grants no namespace, link or /etc/netns.
    const asNobody = ['--reuid=65534', '--regid=65534', '--clear-groups', '--inh-caps=+dac_read_search', '--ambient-caps=+dac_read_search', '--'];
    const p = ROOT_ONLY === false ? start('setpriv', [...asNobody, NODE, ...args], { env: { ...process.env, HOME: '/nonexistent' } })
      : start(NODE, args);
    const r = await finished(p, 60_000);
    assert.equal(r.code, 1, r.out);
    assert.match(r.out, /must run as root: it creates network namespaces/);
    assert.equal(existsSync(join(tmpdir(), `${prefix}-none`)), false);
  });
});
