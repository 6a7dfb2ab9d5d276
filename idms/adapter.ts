/**
 * oidc-provider's persistence on our {@link Store} (memory with journal, or Redis), so sessions, interactions, codes,
 * refresh tokens and grants survive a restart and are shared by every IdMS process on one Redis.
 *
 * Layout under the IdMS namespace (`idms:<role>:`): `oidc:<Model>:<id>` → `{p: payload, x: expiry ms | null}` with the
 * store TTL; `oidc:SessionUid:<uid>` and `oidc:UserCode:<code>` → id (secondary indexes); and one key per token of a
 * grant, `oidc:grant:<grantId>:<Model>:<id>`, so revoking a grant is a prefix listing. One key per member (rather
 * than a list under the grant) keeps concurrent writers from losing each other's updates.
 */
import type { Adapter, AdapterPayload } from 'oidc-provider';
import type { Store } from '../lib/store/store.ts';

/** Models whose records belong to a grant and go when it is revoked (as in oidc-provider's memory adapter). */
const GRANTABLE = new Set([
  'AccessToken', 'AuthorizationCode', 'RefreshToken', 'DeviceCode', 'BackchannelAuthenticationRequest', 'PreAuthorizedCode',
]);

interface Stored {
  p: AdapterPayload;
  /** Expiry in epoch ms, so `consume` can keep the remaining lifetime. */
  x: number | null;
}

const ttl = (ms: number | null): { ttlMs?: number } => (ms === null ? {} : { ttlMs: Math.max(1, Math.ceil(ms)) });

/** The adapter of one model. */
export class StoreAdapter implements Adapter {
  readonly #store: Store;
  readonly #base: string;
  readonly #model: string;

  /**
   * @param namespace the IdMS key prefix (`idms:primary:`).
   * @param model the oidc-provider model name (`Session`, `AccessToken`, …).
   */
  constructor(store: Store, namespace: string, model: string) {
    this.#store = store;
    this.#base = `${namespace}oidc:`;
    this.#model = model;
  }

  #key(id: string): string {
    return `${this.#base}${this.#model}:${id}`;
  }

  #grantMember(grantId: string, id: string): string {
    return `${this.#base}grant:${grantId}:${this.#model}:${id}`;
  }

  /** Stores `payload` under `id` for `expiresIn` seconds (forever when absent), with its indexes. */
  async upsert(id: string, payload: AdapterPayload, expiresIn?: number): Promise<void> {
    const ms = typeof expiresIn === 'number' ? expiresIn * 1000 : null;
    const record: Stored = { p: payload, x: ms === null ? null : Date.now() + ms };
    await this.#store.set(this.#key(id), record, ttl(ms));
    const writes: Promise<void>[] = [];
    if (this.#model === 'Session' && typeof payload.uid === 'string') {
      writes.push(this.#store.set(`${this.#base}SessionUid:${payload.uid}`, id, ttl(ms)));
    }
    if (typeof payload.userCode === 'string') {
      writes.push(this.#store.set(`${this.#base}UserCode:${payload.userCode}`, id, ttl(ms)));
    }
    if (GRANTABLE.has(this.#model) && typeof payload.grantId === 'string') {
      writes.push(this.#store.set(this.#grantMember(payload.grantId, id), 1, ttl(ms)));
    }
    await Promise.all(writes);
  }

  /** The payload stored under `id`, if live. */
  async find(id: string): Promise<AdapterPayload | undefined> {
    return (await this.#store.get<Stored>(this.#key(id)))?.p;
  }

  /** The session whose cookie-independent `uid` is `uid`. */
  async findByUid(uid: string): Promise<AdapterPayload | undefined> {
    const id = await this.#store.get<string>(`${this.#base}SessionUid:${uid}`);
    return id === undefined ? undefined : this.find(id);
  }

  /** The device code with user code `userCode` (device flow is off; kept for the interface). */
  async findByUserCode(userCode: string): Promise<AdapterPayload | undefined> {
    const id = await this.#store.get<string>(`${this.#base}UserCode:${userCode}`);
    return id === undefined ? undefined : this.find(id);
  }

  /** Marks a code or refresh token used, keeping its remaining lifetime. */
  async consume(id: string): Promise<void> {
    const rec = await this.#store.get<Stored>(this.#key(id));
    if (!rec) return;
    const left = rec.x === null ? null : rec.x - Date.now();
    if (left !== null && left <= 0) return;
    await this.#store.set(this.#key(id), { p: { ...rec.p, consumed: Math.floor(Date.now() / 1000) }, x: rec.x }, ttl(left));
  }

  /** Removes `id` and its indexes. */
  async destroy(id: string): Promise<void> {
    const rec = await this.#store.get<Stored>(this.#key(id));
    await this.#store.delete(this.#key(id));
    if (!rec) return;
    const p = rec.p;
    const deletes: Promise<boolean>[] = [];
    if (this.#model === 'Session' && typeof p.uid === 'string') {
      deletes.push(this.#store.compareAndDelete(`${this.#base}SessionUid:${p.uid}`, id));
    }
    if (typeof p.userCode === 'string') deletes.push(this.#store.compareAndDelete(`${this.#base}UserCode:${p.userCode}`, id));
    if (typeof p.grantId === 'string' && GRANTABLE.has(this.#model)) deletes.push(this.#store.delete(this.#grantMember(p.grantId, id)));
    await Promise.all(deletes);
  }

  /** Removes every token of the grant (code reuse, refresh token reuse, revocation). */
  async revokeByGrantId(grantId: string): Promise<void> {
    const prefix = `${this.#base}grant:${grantId}:`;
    for (const member of await this.#store.keys(prefix)) {
      const rest = member.slice(prefix.length);
      const colon = rest.indexOf(':');
      if (colon > 0) await this.#store.delete(`${this.#base}${rest.slice(0, colon)}:${rest.slice(colon + 1)}`);
      await this.#store.delete(member);
    }
  }
}

/**
 * The `adapter` configuration value: a factory oidc-provider calls once per model.
 * @param namespace the IdMS key prefix, e.g. `idms:primary:`.
 */
export function storeAdapter(store: Store, namespace: string): (model: string) => Adapter {
  return (model) => new StoreAdapter(store, namespace, model);
}
