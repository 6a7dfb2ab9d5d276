/**
 * The one error type of `lib/store`. Callers branch on `code`, never on the message, so the set of codes is closed:
 * adding one is an API change.
 */

/**
 * - `ERR_STORE_INPUT`: a bad argument (empty key, value that is not JSON, TTL or SQN out of range): a programming error.
 * - `ERR_STORE_NOT_DURABLE`: the store cannot promise that a write survives a crash (Redis without `appendonly yes`,
 *   or without `appendfsync always` where SQNs live; a memory store without `stateDir`); refused because a reused SQN
 *   is a security bug. Also an SQN operation on a Redis store whose server does not fsync every write.
 * - `ERR_STORE_CONNECT`: Redis is unreachable, or a command timed out on the way.
 * - `ERR_STORE_CORRUPT`: persisted state cannot be read back (journal line, snapshot, stored value or counter).
 * - `ERR_STORE_CLOSED`: the store was closed.
 * - `ERR_STORE_LOCKED`: another live process holds the memory store's `stateDir`.
 * - `ERR_STORE_IO`: writing the journal failed (disk full, EIO) or Redis refused a write; the store stops accepting
 *   operations, since its memory may now be ahead of its disk.
 * - `ERR_STORE_SQN_EXHAUSTED`: SEQ would pass 2^43-1; wrapping round would reissue old SQNs, so it is refused.
 */
export type StoreErrorCode =
  | 'ERR_STORE_INPUT'
  | 'ERR_STORE_NOT_DURABLE'
  | 'ERR_STORE_CONNECT'
  | 'ERR_STORE_CORRUPT'
  | 'ERR_STORE_CLOSED'
  | 'ERR_STORE_LOCKED'
  | 'ERR_STORE_IO'
  | 'ERR_STORE_SQN_EXHAUSTED';

/** A store failure with a machine-readable `code`. */
export class StoreError extends Error {
  readonly code: StoreErrorCode;

  /**
   * @param code what went wrong, from the closed set {@link StoreErrorCode}.
   * @param message human-readable detail, naming the file, key or setting involved; never a stored value.
   */
  constructor(code: StoreErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'StoreError';
    this.code = code;
  }
}

/** Whether `e` is a {@link StoreError}, optionally with the given `code`. */
export function isStoreError(e: unknown, code?: StoreErrorCode): e is StoreError {
  return e instanceof StoreError && (code === undefined || e.code === code);
}
