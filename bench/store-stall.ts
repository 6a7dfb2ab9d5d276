/**
 * How long the memory store holds up the event loop with many keys (issue #12: "journal compaction and the expiry
 * sweep run on the event loop: 1.9 s and ~150 ms stalls at 400k keys"). Three phases on a fresh state directory:
 *
 * 1. load: N binding-shaped records (relaxed writes, 2,000 at a time), expiring `--ttl` seconds later;
 * 2. idle: reopened (sweep every second), 3 s with nothing due: the sweep's cost while every record is live;
 * 3. compaction: with a small compaction threshold, a steady stream of durable writes (one per 5 ms) for
 *    `--seconds`, so the journal passes it again and again and every compaction snapshots the N records: the
 *    longest event-loop stall and the slowest write;
 * 4. expiry: once the N records have expired (all within a few seconds), the sweep drops them: the longest stall.
 *
 * Usage: node --import tsx bench/store-stall.ts [--keys 400000] [--seconds 8] [--ttl 60]
 * Prints one JSON object. Nothing here is a test: it is measured on demand, like the rest of bench/.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { openStore, type Store } from '../lib/store/store.ts';

const { values } = parseArgs({ options: { keys: { type: 'string', default: '400000' }, seconds: { type: 'string', default: '8' }, ttl: { type: 'string', default: '60' } } });
const N = Number(values.keys);
const SECONDS = Number(values.seconds);
const TTL_S = Number(values.ttl);

const ms = (ns: number): number => Math.round(ns / 1e4) / 100;

/** Runs `body` while sampling the event-loop delay (1 ms resolution); resolves with the longest and the p99 stall. */
async function stalls<T>(body: () => Promise<T>): Promise<{ result: T; maxMs: number; p99Ms: number }> {
  const h = monitorEventLoopDelay({ resolution: 1 });
  h.enable();
  const result = await body();
  h.disable();
  return { result, maxMs: ms(h.max), p99Ms: ms(h.percentile(99)) };
}

const binding = (i: number): unknown => ({
  aor: `sip:u${i}@scale.mcx.test`, impi: `u${i}@scale.mcx.test`,
  bindings: [{ uri: `sip:u${i}@192.0.2.1:5060`, params: '', callId: `c${i}`, cseq: 1, expiresAt: Date.now() + TTL_S * 1000, path: [], source: 'udp 192.0.2.1:5060' }],
});

async function load(store: Store): Promise<number> {
  const t0 = performance.now();
  for (let i = 0; i < N; i += 2000) {
    const batch: Promise<void>[] = [];
    for (let j = i; j < Math.min(N, i + 2000); j++) batch.push(store.set(`registrar:aor:sip:u${j}@scale.mcx.test`, binding(j), { ttlMs: TTL_S * 1000, durability: 'relaxed' }));
    await Promise.all(batch);
  }
  return Math.round(performance.now() - t0);
}

const dir = await mkdtemp(join(tmpdir(), 'mcx-store-stall-'));
try {
  let store = await openStore('memory', { stateDir: dir, compactBytes: 1 << 30 });
  const loadMs = await load(store);
  const loadedAt = Date.now();
  await store.close();

  const reopenT0 = performance.now();
  store = await openStore('memory', { stateDir: dir, compactBytes: 64 * 1024, sweepIntervalMs: 1000 });
  const reopenMs = Math.round(performance.now() - reopenT0);
  const idle = await stalls(() => new Promise((r) => setTimeout(r, 3000)));
  let slowestWriteMs = 0;
  let writes = 0;
  const compaction = await stalls(async () => {
    const end = Date.now() + SECONDS * 1000;
    while (Date.now() < end) {
      const t = performance.now();
      await store.set(`hss:serving:x${writes % 100}`, { state: 'registered', server_name: 'sip:scscf.example', pad: 'p'.repeat(600) });
      slowestWriteMs = Math.max(slowestWriteMs, performance.now() - t);
      writes++;
      await new Promise((r) => setTimeout(r, 5));
    }
  });

  const expireAt = loadedAt + TTL_S * 1000;
  await new Promise((r) => setTimeout(r, Math.max(0, expireAt - Date.now())));
  const sweep = await stalls(() => new Promise((r) => setTimeout(r, 4000)));
  await store.close();
  process.stdout.write(`${JSON.stringify({
    keys: N, loadMs, reopenMs,
    idleSweep: { maxStallMs: idle.maxMs, p99StallMs: idle.p99Ms },
    compaction: { seconds: SECONDS, writes, maxStallMs: compaction.maxMs, p99StallMs: compaction.p99Ms, slowestDurableWriteMs: Math.round(slowestWriteMs * 100) / 100 },
    expirySweep: { maxStallMs: sweep.maxMs, p99StallMs: sweep.p99Ms },
  })}\n`);
} finally {
  await rm(dir, { recursive: true, force: true });
}
