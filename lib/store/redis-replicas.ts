/**
 * Writes that survive the failover of a Redis master. Replication is asynchronous: a master acknowledges a write
 * before any replica has it, and a replica promoted after a `kill -9` of the master lacks the writes of the last
 * moment. For an SQN counter that means reissued SQNs (a security bug), for a binding a REGISTER answered 200 that is
 * forgotten. So after such a write the store sends `WAIT 1 <timeout>` on the same connection: the reply counts the
 * replicas that have everything this connection wrote, and a master with replicas that answers 0 did not make the
 * write failover-proof.
 *
 * The WAIT must follow the write on the same connection (it waits for that connection's last write): a WAIT on a fresh
 * connection, after a reconnection, would wait for nothing and acknowledge at once. So each connection counts its
 * (re)connections and errors (its epoch), and a write whose connection changed epoch before its WAIT answered is
 * failed, never acknowledged. Group commit: one WAIT at a time per connection; the writes sent while it is out all
 * join the next one, sent when it answers (the server has run them by then: they were ahead of it on the wire), so a
 * busy connection pays one replica round trip per batch, not one per write.
 */
import type { Logger } from '../log.ts';
import { StoreError } from './errors.ts';

/** What a write asks of the replicas of the master that applied it. */
export type ReplicaNeed =
  /** Nothing (reads; volatile records, which a failover makes unusable anyway: their stamp names the old master). */
  | 'none'
  /**
   * WAIT; a master whose replicas do not answer in time still acknowledges (relaxed writes), with a warning — but a
   * connection that fails before the WAIT's reply fails the write (its master may have died with it).
   */
  | 'wait'
  /** WAIT; no acknowledgement from a replica of a master that has replicas fails the operation (durable, SQN). */
  | 'must';

/** Default of {@link ReplicaPolicy.timeoutMs}. */
export const DEFAULT_REPLICA_ACK_TIMEOUT_MS = 500;

/** How the store waits for replicas. */
export interface ReplicaPolicy {
  /** The WAIT timeout. */
  timeoutMs: number;
  logger: Logger;
}

/** What the store knows of one master. */
export interface MasterState {
  /** Names the master in messages: `redis://127.0.0.1:7000`. */
  readonly at: string;
  /**
   * Replicas that a failover could promote, so a write must reach one of them: those the master's cluster or
   * Sentinel topology lists and does not consider failed, or (a plain master) those connected. Refreshed every second.
   */
  replicas: number;
  /** Epoch ms of the last warning about unacknowledged relaxed writes (one per 10 s). */
  warnedAt: number;
}

/** One connection: what writes on it, and the identity its WAIT queue is keyed by. */
export interface Connection {
  /** Enqueues `args` on this connection synchronously (node-redis does), in order with the commands before it. */
  send<T>(args: readonly string[]): Promise<T>;
  /** The object whose identity is the connection (the node-redis client). */
  readonly key: object;
  /** Grows at every error and (re)connection of the connection: equal values bracket one unbroken connection. */
  epoch(): number;
}

/** The WAITs of one connection: the one on the wire, and the writers waiting for the next. */
interface AckQueue {
  out: boolean;
  next: Array<{ resolve(n: number): void; reject(e: unknown): void }>;
}

const queues = new WeakMap<object, AckQueue>();

function flush(conn: Connection, q: AckQueue, timeoutMs: number): void {
  const batch = q.next;
  if (batch.length === 0) return;
  q.next = [];
  q.out = true;
  conn.send<number>(['WAIT', '1', String(timeoutMs)]).then(
    (n) => batch.forEach((w) => w.resolve(n)),
    (e: unknown) => batch.forEach((w) => w.reject(e)),
  ).finally(() => {
    q.out = false;
    flush(conn, q, timeoutMs);
  });
}

/** A WAIT that follows every write enqueued on `conn` so far: the next one, sent when the one on the wire answers. */
function acknowledgement(conn: Connection, timeoutMs: number): Promise<number> {
  let q = queues.get(conn.key);
  if (!q) {
    q = { out: false, next: [] };
    queues.set(conn.key, q);
  }
  const queue = q;
  return new Promise<number>((resolve, reject) => {
    queue.next.push({ resolve, reject });
    // A microtask: the writes of this synchronous stretch join too.
    if (!queue.out && queue.next.length === 1) queueMicrotask(() => (queue.out ? undefined : flush(conn, queue, timeoutMs)));
  });
}

/**
 * Sends the write `args` on `conn` and, when `need` asks for it and `master` has replicas, a WAIT behind it.
 * @param settle decides the need from the reply (take: a volatile record taken needs none), overriding `need`.
 * @throws StoreError `ERR_STORE_NOT_DURABLE` when `need` (or `settle`) is `must`, the master has replicas and none
 *   acknowledged within the timeout (the write is applied on the master, but not failover-proof: the caller must not
 *   use it); `ERR_STORE_CONNECT` when the connection fails before the WAIT's reply (any need); the write's own
 *   errors as they come.
 */
export async function writeWithReplicas<T>(conn: Connection, master: MasterState, args: readonly string[], need: ReplicaNeed,
  policy: ReplicaPolicy, settle?: (reply: T) => ReplicaNeed): Promise<T> {
  const epoch = conn.epoch();
  const reply = conn.send<T>(args);
  if (need === 'none' || master.replicas === 0) return reply;
  const ack = acknowledgement(conn, policy.timeoutMs);
  ack.catch(() => undefined); // read below, after the reply; a rejection before then is not unhandled
  const value = await reply;
  const needed = settle ? settle(value) : need;
  if (needed === 'none') return value;
  let acked = 0;
  let failure: unknown;
  try {
    acked = await ack;
    if (conn.epoch() !== epoch) failure = new Error('the connection was lost and made again meanwhile');
  } catch (e) {
    failure = e;
  }
  if (acked >= 1) return value;
  if (failure !== undefined) {
    // The connection failed between the write's reply and the WAIT's: the master may be gone with the write, so
    // not even a relaxed write is acknowledged.
    throw new StoreError('ERR_STORE_CONNECT', `WAIT for a replica of ${master.at} failed: ${(failure as Error).message}; ` +
      'the write may not survive a failover', { cause: failure });
  }
  const why = `no replica of ${master.at} acknowledged it within ${policy.timeoutMs} ms (WAIT 1)`;
  if (needed === 'must') {
    throw new StoreError('ERR_STORE_NOT_DURABLE',
      `write refused as not failover-proof: ${why}; a failover now would lose it (for an SQN reservation: reissue ` +
      'SQNs UEs have seen, a security bug)');
  }
  const now = Date.now();
  if (now - master.warnedAt > 10_000) {
    master.warnedAt = now;
    policy.logger.warn({ redis: master.at }, `store: relaxed writes acknowledged without a replica: ${why}; a failover now may lose them`);
  }
  return value;
}

/** The replicas a plain master (or a Sentinel's) reports connected and online in `INFO replication`. */
export function onlineReplicas(infoReplication: string): number {
  return infoReplication.split('\n').filter((l) => /^slave\d+:.*state=online/.test(l)).length;
}

/**
 * Per master id, the replicas `CLUSTER NODES` lists and does not flag as failed (`fail`); one merely suspected
 * (`fail?`) still counts, since the cluster may yet promote it.
 */
export function clusterReplicas(clusterNodes: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of clusterNodes.split('\n')) {
    const [, , flags = '', master = '-'] = line.trim().split(' ');
    const f = flags.split(',');
    if (master === '-' || !(f.includes('slave') || f.includes('replica'))) continue;
    if (f.includes('fail') || f.includes('noaddr') || f.includes('handshake')) continue;
    out.set(master, (out.get(master) ?? 0) + 1);
  }
  return out;
}
