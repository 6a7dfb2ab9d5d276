/**
 * Which S-CSCF serves a subscriber (TS 29.228 §6.1.2, §6.3.1): the Server-Name of a MAR is recorded as pending
 * (authentication in progress), a SAR REGISTRATION / RE_REGISTRATION makes it the assigned one, de-registration
 * clears it. Kept under `hss:serving:<impi>` beside the subscriber.
 *
 * Updates are read-modify-write without a lock: two S-CSCFs racing on one IMPI leave the last writer's name, which
 * is what 29.228 asks anyway (the newest assignment wins) and what a lost update would also produce.
 *
 * Writes are relaxed (lib/store; issue #12: the HSS fsynced serving state on every SAR): a crash may lose the last few
 * milliseconds of assignments, which the S-CSCF's next SAR (every re-registration sends one) puts back. Nothing here
 * is security state: the SQN counters stay durable.
 */
import type { Store } from '../lib/store/store.ts';

/** Store key of the serving state of an IMPI. */
export const servingKey = (impi: string): string => `hss:serving:${impi}`;

/**
 * Registration state as the HSS sees it (29.228 §6.3.1 / Table 6.3.1): `registered` after REGISTRATION,
 * `unregistered` when a server name is kept for an unregistered user (UNREGISTERED_USER, *_STORE_SERVER_NAME).
 */
export type ImsRegistrationState = 'registered' | 'unregistered' | 'not_registered';

/** The stored serving state. */
export interface ServingState {
  state: ImsRegistrationState;
  /** The assigned S-CSCF (SAR). */
  server_name?: string;
  /** The S-CSCF that last asked for vectors (MAR) and has not completed a SAR yet. */
  pending_server_name?: string;
  updated_at: string;
}

/** Serving-node bookkeeping over a Store. */
export class ServingRegistry {
  readonly #store: Store;

  /** @param store the HSS store. */
  constructor(store: Store) {
    this.#store = store;
  }

  /** The state of `impi` (`not_registered` with no names when nothing was recorded). */
  async get(impi: string): Promise<ServingState> {
    return (await this.#store.get<ServingState>(servingKey(impi))) ?? { state: 'not_registered', updated_at: new Date(0).toISOString() };
  }

  /**
   * MAR: `serverName` is authenticating the user; the assigned name, if any, is left alone. Nothing is written
   * when that is already known (a re-registration through the assigned S-CSCF), which spares the store a durable
   * write on most MARs.
   */
  async markPending(impi: string, serverName: string): Promise<ServingState> {
    const s = await this.get(impi);
    if (s.pending_server_name === serverName || (s.pending_server_name === undefined && s.server_name === serverName)) return s;
    return this.#save(impi, { ...s, pending_server_name: serverName });
  }

  /**
   * SAR REGISTRATION / RE_REGISTRATION / UNREGISTERED_USER / *_STORE_SERVER_NAME: store `serverName` as assigned.
   * Nothing is written when that is already the state (a re-registration through the assigned S-CSCF).
   * @returns the state before.
   */
  async assign(impi: string, serverName: string, state: Exclude<ImsRegistrationState, 'not_registered'>): Promise<ServingState> {
    const before = await this.get(impi);
    const { pending_server_name: pending, ...s } = before;
    if (pending === undefined && s.state === state && s.server_name === serverName) return before;
    await this.#save(impi, { ...s, state, server_name: serverName });
    return before;
  }

  /** SAR de-registration types: the user is no longer served; nothing is kept. */
  async clear(impi: string): Promise<void> {
    await this.#store.delete(servingKey(impi), { durability: 'relaxed' });
  }

  /**
   * SAR AUTHENTICATION_FAILURE / AUTHENTICATION_TIMEOUT (29.228 §6.1.2): drop the pending name; a registered user
   * keeps its assigned S-CSCF, anyone else is left with nothing.
   */
  async clearPending(impi: string): Promise<void> {
    const { pending_server_name: _pending, ...s } = await this.get(impi);
    if (s.state === 'registered' && s.server_name !== undefined) await this.#save(impi, s);
    else await this.clear(impi);
  }

  async #save(impi: string, s: Omit<ServingState, 'updated_at'>): Promise<ServingState> {
    const next: ServingState = { ...s, updated_at: new Date().toISOString() };
    await this.#store.set(servingKey(impi), next, { durability: 'relaxed' });
    return next;
  }
}
