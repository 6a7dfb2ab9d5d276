/**
 * Benchmark (not a test) of what the Prometheus metrics (issue #14) add to a migrated registration's hot path, and
 * what a scrape costs:
 *
 *   node --import tsx bench/metrics-overhead.ts [registrations=200000]
 *
 * Per registration of the static flow the four processes do, beside their real work: the registrar 2 answers
 * received (MAR, SAR) and 1 outcome (counter + latency histogram); the partner MMS and the relay 2 requests answered
 * and 2 answers received each; the HSS 2 requests answered and 1 vector-generation observation. This replays exactly
 * those calls — the node observer of lib/metrics/diameter.ts on real MAA/SAA messages (result codes read from them),
 * RegistrarMetrics.outcome, the HSS histogram, and the `performance.now()` pairs the node takes — on prom-client
 * objects in one process, and reports CPU (user + system) per registration. A whole-chain bench on a shared 2-core
 * box is too noisy for a difference of microseconds; this isolates it.
 */
import { buildMaa, buildMar, buildSaa, buildSar, ServerAssignmentType, UserDataAlreadyAvailable } from '../lib/diameter/cx/index.ts';
import { TypedEmitter } from '../lib/diameter/events.ts';
import type { DiameterNode, NodeEvents, NodeObserver } from '../lib/diameter/node.ts';
import { observeDiameter } from '../lib/metrics/diameter.ts';
import { RoleMetrics } from '../lib/metrics/role-metrics.ts';
import { RegistrarMetrics } from '../registrar/metrics.ts';
import { hssMetrics } from '../hss/metrics.ts';
import { openStore } from '../lib/store/store.ts';

const N = Number(process.argv[2] ?? 200_000);
const base = { sessionId: 'registrar.partner.example;1;1', originHost: 'registrar.partner.example', originRealm: 'partner.example', destinationRealm: 'primary.example' };
const mar = buildMar({ ...base, userName: 'alice@primary.example', publicIdentity: 'sip:alice@primary.example', serverName: 'sip:registrar.partner.example', numberAuthItems: 4, scheme: 'unknown' });
const sar = buildSar({
  ...base, userName: 'alice@primary.example', publicIdentities: ['sip:alice@primary.example'], serverName: 'sip:registrar.partner.example',
  serverAssignmentType: ServerAssignmentType.REGISTRATION, userDataAlreadyAvailable: UserDataAlreadyAvailable.USER_DATA_NOT_AVAILABLE,
});
const origin = { originHost: 'hss.primary.example', originRealm: 'primary.example' };
const maa = buildMaa(mar, { ...origin, result: { resultCode: 2001 } });
const saa = buildSaa(sar, { ...origin, result: { resultCode: 2001 } });

/** A node stand-in that hands out the observer observeDiameter installs. */
function observed(metrics: RoleMetrics): NodeObserver {
  let o: NodeObserver | undefined;
  const node = { events: new TypedEmitter<NodeEvents>(), observe: (x: NodeObserver) => void (o = x) } as unknown as DiameterNode;
  observeDiameter(node, metrics);
  return o as NodeObserver;
}

const store = await openStore('memory', { ephemeral: true });
const registrarMetrics = new RoleMetrics('registrar', undefined, { system: 'partner' });
const registrar = { node: observed(registrarMetrics), metrics: new RegistrarMetrics(registrarMetrics, { stats: () => ({}), store }) };
const mms = observed(new RoleMetrics('mms', undefined, { system: 'partner' }));
const relay = observed(new RoleMetrics('relay', undefined, { system: 'primary' }));
const hssRole = new RoleMetrics('hss', undefined, { system: 'primary' });
const hss = { node: observed(hssRole), vectors: hssMetrics(hssRole, { stats: () => ({}), subscribers: { count: async () => 0 } as never }) };

function registration(i: number): void {
  const seconds = (i % 50) / 1000;
  for (const [req, ans] of [[mar, maa], [sar, saa]] as const) {
    // The node's two clock reads around each request it sends (registrar, MMS, relay).
    for (let k = 0; k < 3; k++) performance.now();
    registrar.node.answered('mms.partner.example', req, ans, seconds);
    mms.served(req, ans);
    mms.answered('relay.primary.example', req, ans, seconds);
    relay.served(req, ans);
    relay.answered('hss.primary.example', req, ans, seconds);
    hss.node.served(req, ans);
  }
  hss.vectors.observe(seconds / 10);
  registrar.metrics.outcome(200, 1, seconds * 2);
}

for (let i = 0; i < 20_000; i++) registration(i);
const cpu0 = process.cpuUsage();
const t0 = performance.now();
for (let i = 0; i < N; i++) registration(i);
const cpu = process.cpuUsage(cpu0);
const wall = performance.now() - t0;
const us = (cpu.user + cpu.system) / N;
process.stdout.write(`metrics hot path: ${N} registrations, ${us.toFixed(2)} µs CPU per registration summed over the four roles `
  + `(wall ${(wall * 1000 / N).toFixed(2)} µs), DESIGN §2.8 budget 300 µs → ${(us / 3).toFixed(2)} %\n`);

const s0 = process.cpuUsage();
const rounds = 50;
let bytes = 0;
for (let i = 0; i < rounds; i++) bytes += (await registrarMetrics.scrape()).body.length;
const sc = process.cpuUsage(s0);
process.stdout.write(`scrape of the registrar (role + process metrics): ${((sc.user + sc.system) / rounds / 1000).toFixed(2)} ms CPU, ${Math.round(bytes / rounds / 1024)} KiB\n`);
await store.close();
