/**
 * The rehearsal's network, built with iproute2 and nftables inside network namespaces only: nothing is added to the
 * host's interfaces, routes or firewall. Each host namespace (primary, partner, ue) has loopback up and one veth
 * `eth0` to the router namespace (`wan`), which forwards between them through the firewall of plan.ts. Names resolve
 * through /etc/netns/<ns>/hosts, which `ip netns exec` mounts over /etc/hosts.
 *
 * Teardown is by prefix and needs no record of the run that built it: every process still in one of the prefix's
 * namespaces gets SIGTERM (SIGKILL after a grace period), then the namespace goes (with it its veth ends) and its
 * /etc/netns directory. So leftovers of a run that was killed are removed by the next `up` or `down` of its prefix.
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { HOSTS, SUBNETS, addressesOf, hostsFile, nftRuleset, outboundSourceOf, type Namespaces } from './plan.ts';

const run = promisify(execFile);

/** Where `ip netns exec` finds per-namespace files for /etc. */
export const ETC_NETNS = '/etc/netns';
/** Where iproute2 keeps the named namespaces. */
const RUN_NETNS = '/run/netns';
/** Every command here is bounded. */
const COMMAND_MS = 15_000;

/**
 * The path of a system tool (iproute2's `ip`, `nft`) in the sbin and bin directories, so a caller's PATH (a unit's
 * Environment=PATH has no sbin) does not matter.
 * @throws Error naming the Debian package when it is not installed.
 */
export function tool(name: 'ip' | 'nft', pkg = name === 'ip' ? 'iproute2' : 'nftables'): string {
  for (const d of ['/usr/sbin', '/sbin', '/usr/bin', '/bin']) {
    if (existsSync(join(d, name))) return join(d, name);
  }
  throw new Error(`${name} not found: install the Debian package ${pkg} (scripts/debian-peers.sh does, as root)`);
}

/**
 * Runs one command (iproute2, nftables).
 * @throws Error naming the command and what it printed.
 */
export async function sh(cmd: string, args: readonly string[], input?: string): Promise<string> {
  try {
    const p = run(cmd, [...args], { timeout: COMMAND_MS, maxBuffer: 16 << 20 });
    if (input !== undefined) p.child.stdin?.end(input);
    return (await p).stdout;
  } catch (e) {
    const err = e as Error & { stderr?: string };
    throw new Error(`${cmd} ${args.join(' ')}: ${(err.stderr ?? '').trim() || err.message}`, { cause: e });
  }
}

/** The named namespaces that exist now. */
export async function listNamespaces(): Promise<string[]> {
  return readdir(RUN_NETNS).catch(() => []);
}

/** The namespaces of a prefix that exist now (leftovers included). */
export async function namespacesWithPrefix(prefix: string): Promise<string[]> {
  return (await listNamespaces()).filter((n) => n.startsWith(`${prefix}-`));
}

/** The processes in namespace `ns` (`ip netns pids`). */
export async function pidsIn(ns: string): Promise<number[]> {
  const out = await sh(tool('ip'), ['netns', 'pids', ns]).catch(() => '');
  return out.split(/\s+/).filter(Boolean).map(Number);
}

/** Whether process `pid` is still running (a zombie is not: it only waits to be reaped). */
export async function alive(pid: number): Promise<boolean> {
  try {
    const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
    return !/^\d+ \(.*\) Z /s.test(stat);
  } catch {
    return false;
  }
}

async function waitGone(pids: readonly number[], ms: number): Promise<number[]> {
  const deadline = Date.now() + ms;
  let left = [...pids];
  while (left.length > 0 && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 50));
    left = (await Promise.all(left.map(async (p) => ((await alive(p)) ? p : -1)))).filter((p) => p > 0);
  }
  return left;
}

/** What a teardown did. */
export interface Teardown {
  namespaces: string[];
  /** Processes that got SIGTERM, and those that needed SIGKILL after `graceMs`. */
  terminated: number[];
  killed: number[];
}

/**
 * Stops every process in the namespaces of `prefix` (SIGTERM: each role's graceful stop; SIGKILL after `graceMs`),
 * deletes the namespaces and their /etc/netns directories. Idempotent.
 */
export async function destroyNetwork(prefix: string, graceMs = 10_000): Promise<Teardown> {
  const namespaces = await namespacesWithPrefix(prefix);
  const pids = [...new Set((await Promise.all(namespaces.map(pidsIn))).flat())].filter((p) => p !== process.pid);
  for (const p of pids) {
    try {
      process.kill(p, 'SIGTERM');
    } catch {
      // gone already
    }
  }
  const killed = await waitGone(pids, graceMs);
  for (const p of killed) {
    try {
      process.kill(p, 'SIGKILL');
    } catch {
      // gone meanwhile
    }
  }
  await waitGone(killed, 5_000);
  for (const ns of namespaces) await sh(tool('ip'), ['netns', 'del', ns]);
  const etc = await readdir(ETC_NETNS).catch(() => []);
  for (const d of etc.filter((n) => n.startsWith(`${prefix}-`))) await rm(join(ETC_NETNS, d), { recursive: true, force: true });
  return { namespaces, terminated: pids, killed };
}

/**
 * Builds the namespaces of `ns`: loopback up in each, a veth `eth0` from each host to the router (created inside the
 * namespaces, never in the host's), the hosts' addresses and default routes, forwarding and the firewall in the
 * router, and each host's /etc/netns hosts file.
 * @throws Error naming the command that failed (the caller tears down what was built).
 */
export async function createNetwork(ns: Namespaces): Promise<void> {
  for (const n of [ns.wan, ...HOSTS.map((h) => ns[h])]) {
    await sh(tool('ip'), ['netns', 'add', n]);
    await sh(tool('ip'), ['-n', n, 'link', 'set', 'lo', 'up']);
  }
  for (const h of HOSTS) {
    const gw = `${SUBNETS[h]}.1`;
    await sh(tool('ip'), ['link', 'add', 'name', 'eth0', 'netns', ns[h], 'type', 'veth', 'peer', 'name', h, 'netns', ns.wan]);
    for (const a of addressesOf(h)) await sh(tool('ip'), ['-n', ns[h], 'addr', 'add', `${a}/24`, 'dev', 'eth0']);
    await sh(tool('ip'), ['-n', ns[h], 'link', 'set', 'eth0', 'up']);
    await sh(tool('ip'), ['-n', ns.wan, 'addr', 'add', `${gw}/24`, 'dev', h]);
    await sh(tool('ip'), ['-n', ns.wan, 'link', 'set', h, 'up']);
    const src = outboundSourceOf(h);
    await sh(tool('ip'), ['-n', ns[h], 'route', 'add', 'default', 'via', gw, ...(src ? ['src', src] : [])]);
    await mkdir(join(ETC_NETNS, ns[h]), { recursive: true });
    await writeFile(join(ETC_NETNS, ns[h], 'hosts'), hostsFile());
  }
  // net.ipv4.ip_forward of the router's namespace alone (/proc/sys/net is per namespace); no procps needed.
  await sh(tool('ip'), ['netns', 'exec', ns.wan, process.execPath, '-e', "require('node:fs').writeFileSync('/proc/sys/net/ipv4/ip_forward', '1')"]);
  await sh(tool('ip'), ['netns', 'exec', ns.wan, tool('nft'), '-f', '-'], nftRuleset());
}

/** Packets counted by each rule of the router's firewall, by the rule's comment. */
export async function firewallCounters(ns: Namespaces): Promise<Record<string, number>> {
  const json = JSON.parse(await sh(tool('ip'), ['netns', 'exec', ns.wan, tool('nft'), '-j', 'list', 'table', 'inet', 'mcx'])) as {
    nftables: Array<{ rule?: { comment?: string; expr: Array<{ counter?: { packets: number } }> } }>;
  };
  const out: Record<string, number> = {};
  for (const item of json.nftables) {
    const r = item.rule;
    const counter = r?.expr.find((e) => e.counter)?.counter;
    if (r?.comment !== undefined && counter) out[r.comment] = counter.packets;
  }
  return out;
}

/** Bytes and packets through each host's veth end, as that host counts them. */
export async function vethCounters(ns: Namespaces): Promise<Record<string, { rxPackets: number; txPackets: number }>> {
  const out: Record<string, { rxPackets: number; txPackets: number }> = {};
  for (const h of HOSTS) {
    const [link] = JSON.parse(await sh(tool('ip'), ['-n', ns[h], '-j', '-s', 'link', 'show', 'eth0'])) as Array<{ stats64: { rx: { packets: number }; tx: { packets: number } } }>;
    out[h] = { rxPackets: link?.stats64.rx.packets ?? 0, txPackets: link?.stats64.tx.packets ?? 0 };
  }
  return out;
}
