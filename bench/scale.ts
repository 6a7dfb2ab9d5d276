/**
 * Scale of state: location bindings written straight into the registrar's store before it starts, through the
 * store's own API (lib/store: the memory store journals and snapshots them in the registrar's `--state-dir`; on Redis
 * node-redis pipelines the concurrent SETs), keyed and shaped as registrar/bindings.ts keeps them, so the registrar
 * loads (memory) or finds (Redis) exactly what it would have written itself. The AORs are not the load's users: the
 * load registers beside N bindings of other users.
 */
import { createClient } from 'redis';
import { AOR_PREFIX, type AorRecord } from '../registrar/bindings.ts';
import { openStore } from '../lib/store/store.ts';

/** `1k`, `100k`, `1m` → 1000, 100000, 1000000. */
export function parseCount(s: string): number | undefined {
  const m = /^(\d+)([km]?)$/i.exec(s.trim());
  if (!m) return undefined;
  return Number(m[1]) * ({ '': 1, k: 1_000, m: 1_000_000 }[(m[2] as string).toLowerCase()] ?? 1);
}

/** `1000` → `1k`. */
export function formatCount(n: number): string {
  return n % 1_000_000 === 0 ? `${n / 1_000_000}m` : n % 1_000 === 0 ? `${n / 1_000}k` : String(n);
}

/** How the preload went. */
export interface Preload {
  requested: number;
  written: number;
  ms: number;
  /** Set when the write was cut short by the time bound. */
  bounded?: string;
}

const BATCH = 10_000;

/**
 * Writes `n` AOR records of one binding each (2 h left) for realm `realm`.
 * @param spec `memory` (written into `stateDir`) or a redis:// URL.
 * @param maxMs stop after this long and say so (the store stays consistent: whole batches only).
 */
export async function preloadBindings(spec: string, stateDir: string, n: number, realm: string, maxMs: number): Promise<Preload> {
  const t0 = performance.now();
  const store = await openStore(spec, { stateDir });
  let written = 0;
  let bounded: string | undefined;
  try {
    const expiresAt = Date.now() + 2 * 3600_000;
    while (written < n) {
      if (performance.now() - t0 > maxMs) {
        bounded = `stopped after ${Math.round(maxMs / 1000)} s with ${written} of ${n} written`;
        break;
      }
      const writes: Array<Promise<void>> = [];
      for (let i = written; i < Math.min(n, written + BATCH); i++) {
        const host = `198.51.${(i >> 8) & 255}.${i & 255}`;
        const aor = `sip:scale${i}@${realm}`;
        const rec: AorRecord = {
          aor, impi: `scale${i}@${realm}`,
          bindings: [{
            uri: `sip:scale${i}@${host}:5060;transport=udp`, key: `sip:scale${i}@${host}:5060;udp`, params: '', expiresAt,
            callId: `scale-${i}`, cseq: 1, path: [], source: `UDP ${host}:5060`,
          }],
        };
        writes.push(store.set(AOR_PREFIX + aor, rec, { ttlMs: expiresAt - Date.now() }));
      }
      await Promise.all(writes);
      written += writes.length;
    }
  } finally {
    await store.close();
  }
  if (/^redis/.test(spec)) await aofRewriteDone(spec, 120_000);
  return { requested: n, written, ms: performance.now() - t0, ...(bounded ? { bounded } : {}) };
}

/**
 * Waits until Redis has no AOF rewrite running or scheduled: the preload grows the AOF past
 * `auto-aof-rewrite-percentage`, and a rewrite (a fork writing the whole data set, fsynced) during the load would be
 * measured as the registrar's latency.
 */
async function aofRewriteDone(url: string, maxMs: number): Promise<void> {
  const client = createClient({ url });
  await client.connect();
  try {
    for (const end = Date.now() + maxMs; Date.now() < end;) {
      const info = await client.info('persistence');
      if (/aof_rewrite_in_progress:0/.test(info) && /aof_rewrite_scheduled:0/.test(info)) return;
      await new Promise((r) => setTimeout(r, 250));
    }
  } finally {
    await client.close();
  }
}
