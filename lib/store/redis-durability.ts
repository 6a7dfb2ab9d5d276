/**
 * What the Redis store asks of every server that may hold its data — each master, and each replica that a failover
 * may promote: an AOF (`appendonly yes`), fsync'ed at every write (`appendfsync always`) where SQN counters live, and
 * no eviction of keys without a TTL. Redis acknowledges a write before it is on disk otherwise, and a counter that a
 * crash rolls back makes the HSS hand out SQNs that UEs have already seen: a security bug.
 */
import { ErrorReply } from 'redis';
import { StoreError } from './errors.ts';

/** The fix every refusal names. */
export const FIX = 'start it with `redis-server --appendonly yes --appendfsync always` (or CONFIG SET both and CONFIG REWRITE)';
/** What a store without SQNs accepts: an AOF fsync'ed at least every second. */
const FIX_NO_SQN = `${FIX}; a role that keeps no SQN counters (registrar, MMS, IdMS) may use --appendfsync everysec`;

/** The one command this file needs of a connection. */
export interface CommandSender {
  sendCommand<T>(args: readonly string[]): Promise<T>;
}

async function configGet(client: CommandSender, name: string): Promise<string | undefined> {
  try {
    const reply = await client.sendCommand<string[]>(['CONFIG', 'GET', name]);
    return reply[1];
  } catch (e) {
    if (e instanceof ErrorReply) return undefined;
    throw e;
  }
}

/**
 * Refuses a server that can lose acknowledged writes or evict counters: `appendonly yes` always; `appendfsync
 * always` when `keepsSqn`, else `always` or `everysec`.
 * @param at names the server in messages (`redis://127.0.0.1:7000`, `… (replica)`).
 * @returns whether the server fsyncs every write (what SQN operations need).
 * @throws StoreError `ERR_STORE_NOT_DURABLE` explaining the setting and the fix.
 */
export async function checkDurability(client: CommandSender, at: string, assumeDurable: boolean, keepsSqn: boolean): Promise<boolean> {
  // Pipelined: one round trip (a Sentinel client that is switching masters holds each command a while).
  const [appendonly, appendfsync, policy] = await Promise.all(['appendonly', 'appendfsync', 'maxmemory-policy'].map((n) => configGet(client, n)));
  if (appendonly === undefined || appendfsync === undefined) {
    if (assumeDurable) return true;
    throw new StoreError('ERR_STORE_NOT_DURABLE',
      `cannot read the durability settings of ${at} (CONFIG GET is refused, as on many managed Redis services). ` +
      'SQN allocation needs appendonly yes + appendfsync always, since a reused SQN is a security bug; ' +
      `${FIX}, or, if you know the server is configured so, pass assumeDurable (--redis-assume-durable)`);
  }
  if (appendonly !== 'yes') {
    throw new StoreError('ERR_STORE_NOT_DURABLE',
      `${at} runs with appendonly ${appendonly}: a crash loses acknowledged writes, so SQNs already sent to UEs ` +
      `would be issued again, and a reused SQN is a security bug; ${keepsSqn ? FIX : FIX_NO_SQN}`);
  }
  if (appendfsync !== 'always' && (keepsSqn || appendfsync !== 'everysec')) {
    throw new StoreError('ERR_STORE_NOT_DURABLE',
      `${at} runs with appendfsync ${appendfsync}: ${appendfsync === 'everysec' ? 'everysec can lose up to a second' : 'it can lose seconds'} ` +
      `of acknowledged writes on a crash, i.e. SQN allocations that UEs have already seen, which the HSS would ` +
      `then reissue; a reused SQN is a security bug; ${keepsSqn ? FIX : FIX_NO_SQN}`);
  }
  if (policy?.startsWith('allkeys-')) {
    throw new StoreError('ERR_STORE_NOT_DURABLE',
      `${at} runs with maxmemory-policy ${policy}, which may evict SQN counters (a counter that vanishes restarts ` +
      'at 0); use noeviction or a volatile-* policy');
  }
  return appendfsync === 'always';
}

/** The refusal of an SQN operation on a server that does not fsync every write. */
export function notFsyncedError(at: string): StoreError {
  return new StoreError('ERR_STORE_NOT_DURABLE',
    `SQN counters need a Redis server that fsyncs every write (appendfsync always), and ${at} does not: with everysec ` +
    `a crash reissues SQNs UEs have seen, a security bug; open the store with keepsSqn, and ${FIX}`);
}
