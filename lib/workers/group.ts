/**
 * Where this process stands in a worker group (`mcx <role> --workers N`, supervisor.ts): N processes of one role
 * started by `node:cluster`, each running the whole role on the same SIP / Diameter / admin addresses.
 *
 * How the processes share a listening port:
 * - `reuseport` (Node ≥ 22.12, ≥ 23.1: the `reusePort` option of dgram and net): each worker binds its own socket with
 *   SO_REUSEPORT and the kernel spreads the traffic — UDP datagrams by a hash of source and destination address and
 *   port (so one client socket always reaches the same worker), TCP and TLS connections likewise per connection;
 * - `cluster` (Node 20 and 22.0–22.11): the cluster primary holds the socket. A UDP socket is one shared handle that
 *   every worker reads (whichever is waiting gets the datagram: under load all of them); TCP connections are accepted
 *   by the primary and handed to the workers round-robin.
 * `MCX_PORT_SHARING=reuseport|cluster` overrides the choice (the fallback can be tried on a new Node; `reuseport` on an
 * older Node fails at bind with EADDRINUSE, since it ignores the option).
 *
 * A process outside a group binds exclusively, as always: two separate `mcx registrar` on one port still collide.
 */
import cluster from 'node:cluster';

/** How the workers of a group share their listening ports. */
export type PortSharing = 'reuseport' | 'cluster';

/** This process's place in its group. */
export interface WorkerSlot {
  /** 1…count. */
  index: number;
  count: number;
  sharing: PortSharing;
}

/** Environment the supervisor gives each worker. */
export const WORKER_ENV = { index: 'MCX_WORKER_INDEX', count: 'MCX_WORKER_COUNT', sharing: 'MCX_PORT_SHARING' } as const;

/** Whether this Node has `reusePort` on dgram and net sockets (added in 22.12.0 and 23.1.0). */
export function reusePortSupported(version: string = process.versions.node): boolean {
  const [major = 0, minor = 0] = version.split('.').map(Number);
  return major > 23 || (major === 23 && minor >= 1) || (major === 22 && minor >= 12);
}

/**
 * The sharing a new group uses: `MCX_PORT_SHARING` when set, else `reuseport` where this Node has it.
 * @throws Error for another value of `MCX_PORT_SHARING`.
 */
export function chosenSharing(env: NodeJS.ProcessEnv = process.env): PortSharing {
  const forced = env[WORKER_ENV.sharing];
  if (forced === undefined || forced === '') return reusePortSupported() ? 'reuseport' : 'cluster';
  if (forced === 'reuseport' || forced === 'cluster') return forced;
  throw new Error(`${WORKER_ENV.sharing}=${forced}: expected reuseport or cluster`);
}

let slot: WorkerSlot | null | undefined;

/** This process's slot when it is a worker of a group, else undefined. */
export function workerSlot(): WorkerSlot | undefined {
  if (slot === undefined) {
    const index = Number(process.env[WORKER_ENV.index]);
    const count = Number(process.env[WORKER_ENV.count]);
    const sharing = process.env[WORKER_ENV.sharing];
    slot = cluster.isWorker && Number.isInteger(index) && index >= 1 && Number.isInteger(count) && count >= index
      && (sharing === 'reuseport' || sharing === 'cluster') ? { index, count, sharing } : null;
  }
  return slot ?? undefined;
}

/**
 * What a listening socket of this process passes to `bind` / `listen` so the group shares the port: nothing outside
 * a group (an exclusive bind, as always); `reusePort` + `exclusive` (its own socket) or `exclusive: false` (the
 * primary's) inside one.
 */
export function sharedBindOptions(): { exclusive: boolean; reusePort?: true } | undefined {
  const s = workerSlot();
  if (!s) return undefined;
  return s.sharing === 'reuseport' ? { exclusive: true, reusePort: true } : { exclusive: false };
}
