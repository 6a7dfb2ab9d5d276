/**
 * IdMS users: username, scrypt password hash, a stable `sub` and the `mcptt_id` that links the user to the HSS
 * subscriber with the same MC service ID. Kept in the role's {@link Store}, so several IdMS processes on one Redis
 * see the same users. Passwords are checked in constant time, and an unknown username costs the same scrypt as a
 * known one, so timing tells nothing about which usernames exist.
 */
import { randomBytes, randomUUID, scrypt as scryptCb, timingSafeEqual, type ScryptOptions } from 'node:crypto';
import { readCsvTable } from '../lib/csv/table.ts';
import type { Store } from '../lib/store/store.ts';
import { IdmsError } from './errors.ts';

/** A stored user. */
export interface UserRecord {
  username: string;
  /** OIDC `sub`: opaque, never reassigned (33.180 B.8), kept across password changes. */
  sub: string;
  mcpttId: string;
  passwordHash: string;
  createdAt: string;
}

/** A user as the admin API shows it: no hash. */
export type UserView = Omit<UserRecord, 'passwordHash'>;

/** What provisioning takes. */
export interface UserInput {
  username: string;
  password: string;
  mcpttId: string;
}

const USERNAME = /^[A-Za-z0-9._@+-]{1,128}$/;
const MCPTT_ID = /^\S{1,255}$/;
const MIN_PASSWORD = 8;
const MAX_PASSWORD = 1024;
// OWASP's scrypt floor (N=2^15 needs 32 MiB); the parameters travel in every hash, so raising them later is safe.
const SCRYPT = { logN: 15, r: 8, p: 1, keyLen: 32, saltLen: 16 } as const;

function scrypt(password: string, salt: Buffer, keyLen: number, opts: ScryptOptions): Promise<Buffer> {
  return new Promise((resolve, reject) => scryptCb(password, salt, keyLen, opts, (e, key) => (e ? reject(e) : resolve(key))));
}

const scryptOptions = (logN: number, r: number, p: number): ScryptOptions => ({ N: 2 ** logN, r, p, maxmem: 2 * 128 * r * 2 ** logN + 1024 * 1024 });

/** Hashes `password` as `scrypt$logN$r$p$salt$hash` (base64url). */
export async function hashPassword(password: string): Promise<string> {
  const salt = randomBytes(SCRYPT.saltLen);
  const key = await scrypt(password, salt, SCRYPT.keyLen, scryptOptions(SCRYPT.logN, SCRYPT.r, SCRYPT.p));
  return ['scrypt', SCRYPT.logN, SCRYPT.r, SCRYPT.p, salt.toString('base64url'), key.toString('base64url')].join('$');
}

/** Whether `password` matches `hash` (constant-time comparison of the derived keys; false for a malformed hash). */
export async function verifyPasswordHash(password: string, hash: string): Promise<boolean> {
  const m = /^scrypt\$(\d{1,2})\$(\d{1,2})\$(\d{1,2})\$([\w-]+)\$([\w-]+)$/.exec(hash);
  if (!m) return false;
  const expected = Buffer.from(m[5] as string, 'base64url');
  const derived = await scrypt(password, Buffer.from(m[4] as string, 'base64url'), expected.length,
    scryptOptions(Number(m[1]), Number(m[2]), Number(m[3])));
  return derived.length === expected.length && timingSafeEqual(derived, expected);
}

let dummyHash: Promise<string> | undefined;

/** Checks one user input; @returns the problems, empty when valid. */
export function userInputProblems(u: Partial<Record<keyof UserInput, unknown>>): string[] {
  const p: string[] = [];
  if (typeof u.username !== 'string' || !USERNAME.test(u.username)) p.push('username: 1-128 of A-Z a-z 0-9 . _ @ + -');
  if (typeof u.password !== 'string' || u.password.length < MIN_PASSWORD || u.password.length > MAX_PASSWORD) {
    p.push(`password: ${MIN_PASSWORD}-${MAX_PASSWORD} characters`);
  }
  if (typeof u.mcpttId !== 'string' || !MCPTT_ID.test(u.mcpttId)) p.push('mcptt_id: 1-255 characters without spaces (the MC service ID, e.g. sip:alice@primary.example)');
  return p;
}

/** The users of one IdMS, under `<namespace>user:` and `<namespace>sub:` in the store. */
export class UserRepo {
  readonly #store: Store;
  readonly #ns: string;

  /** @param namespace key prefix of this IdMS (e.g. `idms:primary:`), so two IdMSs can share one Redis. */
  constructor(store: Store, namespace: string) {
    this.#store = store;
    this.#ns = namespace;
  }

  #userKey(username: string): string {
    return `${this.#ns}user:${username}`;
  }

  #subKey(sub: string): string {
    return `${this.#ns}sub:${sub}`;
  }

  /**
   * Provisions a user. With `replace`, an existing user keeps its `sub` and gets the new password and `mcptt_id`.
   * @throws IdmsError `ERR_IDMS_USER_INPUT` listing every bad field; `ERR_IDMS_USER_EXISTS` when taken and not replacing.
   */
  async add(input: UserInput, opts: { replace?: boolean } = {}): Promise<UserView> {
    const problems = userInputProblems(input);
    if (problems.length) throw new IdmsError('ERR_IDMS_USER_INPUT', `invalid user: ${problems.join('; ')}`);
    const existing = await this.get(input.username);
    if (existing && !opts.replace) throw new IdmsError('ERR_IDMS_USER_EXISTS', `user ${input.username} exists`);
    const record: UserRecord = {
      username: input.username, sub: existing?.sub ?? randomUUID(), mcpttId: input.mcpttId,
      passwordHash: await hashPassword(input.password), createdAt: existing?.createdAt ?? new Date().toISOString(),
    };
    if (existing) {
      await this.#store.set(this.#userKey(record.username), record);
    } else if (!(await this.#store.setIfAbsent(this.#userKey(record.username), record))) {
      throw new IdmsError('ERR_IDMS_USER_EXISTS', `user ${input.username} exists`);
    }
    await this.#store.set(this.#subKey(record.sub), record.username);
    return view(record);
  }

  /** The user named `username`, if any. */
  get(username: string): Promise<UserRecord | undefined> {
    return this.#store.get<UserRecord>(this.#userKey(username));
  }

  /** The user whose `sub` is `sub`, if any (oidc-provider's `findAccount`). */
  async bySub(sub: string): Promise<UserRecord | undefined> {
    const username = await this.#store.get<string>(this.#subKey(sub));
    if (username === undefined) return undefined;
    const u = await this.get(username);
    return u?.sub === sub ? u : undefined;
  }

  /**
   * The user if `password` is theirs. Unknown users are checked against a dummy hash so both paths cost one scrypt.
   */
  async verify(username: string, password: string): Promise<UserRecord | undefined> {
    const user = USERNAME.test(username) ? await this.get(username) : undefined;
    if (!user) {
      dummyHash ??= hashPassword(randomBytes(16).toString('hex'));
      await verifyPasswordHash(password, await dummyHash);
      return undefined;
    }
    return (await verifyPasswordHash(password, user.passwordHash)) ? user : undefined;
  }

  /** Every user, by username. */
  async list(): Promise<UserView[]> {
    const keys = await this.#store.keys(`${this.#ns}user:`);
    const users = await Promise.all(keys.map((k) => this.#store.get<UserRecord>(k)));
    return users.filter((u): u is UserRecord => u !== undefined).map(view);
  }

  /** Removes a user. @returns false when there was none. */
  async remove(username: string): Promise<boolean> {
    const user = await this.get(username);
    if (!user) return false;
    await this.#store.delete(this.#userKey(username));
    await this.#store.compareAndDelete(this.#subKey(user.sub), username);
    return true;
  }
}

/** A record without its hash. */
export function view(u: UserRecord): UserView {
  return { username: u.username, sub: u.sub, mcpttId: u.mcpttId, createdAt: u.createdAt };
}

/** The columns of a users CSV. */
export const USER_COLUMNS = ['username', 'password', 'mcptt_id'] as const;

/**
 * Parses a users CSV: a header line naming `username`, `password` and `mcptt_id` (any order), then one user a line.
 * The CSV rules (quoting, comments, blank lines, line numbers) are lib/csv's, the same as for HSS subscribers and MMS
 * mappings.
 * @throws IdmsError `ERR_IDMS_USER_INPUT` naming the line of every problem.
 */
export function parseUsersCsv(text: string): UserInput[] {
  const table = readCsvTable(text, { columns: USER_COLUMNS, required: USER_COLUMNS });
  const problems = table.problems.map((p) => `line ${p.line}: ${p.message}`);
  const users = table.rows.map(({ line, values }) => {
    const u = { username: values.username, password: values.password, mcpttId: values.mcptt_id };
    for (const p of userInputProblems(u)) problems.push(`line ${line}: ${p}`);
    return u;
  });
  if (problems.length) throw new IdmsError('ERR_IDMS_USER_INPUT', `users CSV:\n  ${problems.join('\n  ')}`);
  return users;
}
