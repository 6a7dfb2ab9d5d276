/**
 * A software ISIM (TS 31.103 identities, TS 33.102 USIM-side AKA) whose SQN state lives in a JSON file. It takes the
 * home network's K with OP or OPc; for migration the SIP stack may register with partner identities while this ISIM
 * keeps the primary subscription's keys and SQN state (digest §3.4).
 */
import { access, mkdir, readFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { buildAuts, openAutn } from '../lib/aka/autn.ts';
import { AkaError, assertBytes } from '../lib/aka/errors.ts';
import { computeOpc, Milenage } from '../lib/aka/milenage.ts';
import { SeqMsArray, sqnToBuf, type SqnVerdict } from '../lib/aka/sqn.ts';
import { lockIsimFile, type IsimLock } from './isim-lock.ts';
import { decodeIsimState, encodeIsimState, writeFileAtomic, type IsimState } from './isim-state.ts';

/** What an ISIM is provisioned with. Exactly one of `op` and `opc`. */
export interface IsimCredentials {
  k: Buffer;
  op?: Buffer;
  opc?: Buffer;
  impi: string;
  impus: string[];
  domain: string;
}

/** AUTHENTICATE succeeded (31.103 tag DB): RES is the Digest password, CK/IK key the security association. */
export interface IsimAuthSuccess {
  res: Buffer;
  ck: Buffer;
  ik: Buffer;
}

/** AUTHENTICATE found the SQN unacceptable (31.103 tag DC): send `auts` (RFC 3310 §3.4) with an empty password. */
export interface IsimSyncFailure {
  syncFailure: Buffer;
  /** Which Annex C.2 check failed: `delta` (C.2.1, too far ahead) or `replay` (C.2.2, not fresh in its slot). */
  reason: Exclude<SqnVerdict, 'fresh'>;
}

/** Result of {@link Isim.authenticate}; narrow with `'syncFailure' in result`. */
export type IsimAuthResult = IsimAuthSuccess | IsimSyncFailure;

/** The secret-free view of an ISIM, for `isim show` and logs. */
export interface IsimPublicView {
  file: string;
  impi: string;
  impus: string[];
  domain: string;
  /** Whether OP or OPc was provisioned (the value itself is secret). */
  opVariant: 'op' | 'opc';
  /** SQN_MS, the highest accepted SQN, 12 hex digits. */
  sqnMs: string;
  /** SEQ_MS(0..31) as decimal strings, index = IND. */
  seqMs: string[];
}

function sameCredentials(s: IsimState, c: IsimCredentials): boolean {
  const kind = c.op !== undefined ? 'op' : 'opc';
  const value = c.op ?? c.opc;
  return s.k.equals(c.k) && s.opVariant.kind === kind && value !== undefined && s.opVariant.value.equals(value) &&
    s.impi === c.impi && s.domain === c.domain && s.impus.length === c.impus.length &&
    s.impus.every((u, i) => u === c.impus[i]);
}

function stateFromCredentials(c: IsimCredentials): IsimState {
  assertBytes('K', c.k, 16);
  const opVariant = c.op !== undefined && c.opc === undefined ? { kind: 'op' as const, value: c.op }
    : c.opc !== undefined && c.op === undefined ? { kind: 'opc' as const, value: c.opc }
      : undefined;
  if (!opVariant) throw new AkaError('ERR_AKA_INPUT', 'exactly one of OP and OPc is required');
  assertBytes(opVariant.kind === 'op' ? 'OP' : 'OPc', opVariant.value, 16);
  if (!c.impi || !c.domain || c.impus.length === 0 || c.impus.some((u) => !u)) {
    throw new AkaError('ERR_AKA_INPUT', 'IMPI, home domain and at least one IMPU are required');
  }
  return {
    impi: c.impi, impus: [...c.impus], domain: c.domain, k: Buffer.from(c.k),
    opVariant: { kind: opVariant.kind, value: Buffer.from(opVariant.value) }, seqMs: new SeqMsArray(),
  };
}

/** What every open handle of one file in this process shares: one state, one queue, one lock. */
interface OpenFile {
  file: string;
  key: string;
  state: IsimState;
  milenage: Milenage;
  queue: Promise<unknown>;
  handles: number;
  lock: IsimLock;
}

/** The files open in this process, by resolved path. */
const openFiles = new Map<string, OpenFile>();
/** Opens and closes run one at a time, so two opens of one file in this process cannot both take its lock. */
let bookkeeping: Promise<unknown> = Promise.resolve();

function oneAtATime<T>(op: () => Promise<T>): Promise<T> {
  const run = bookkeeping.then(op, op);
  bookkeeping = run.catch(() => undefined);
  return run;
}

async function persist(file: string, state: IsimState): Promise<void> {
  try {
    await writeFileAtomic(file, `${JSON.stringify(encodeIsimState(state), null, 2)}\n`);
  } catch (err) {
    throw new AkaError('ERR_AKA_STATE', `cannot write ISIM state ${file}: ${(err as Error).message}`, { cause: err });
  }
}

/** Reads `file`, or creates it from `initialCredentials` when it does not exist; the caller holds its lock. */
async function load(file: string, initialCredentials: IsimCredentials | undefined): Promise<IsimState> {
  let text: string | undefined;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') {
      throw new AkaError('ERR_AKA_STATE', `cannot read ISIM state ${file}: ${(err as Error).message}`, { cause: err });
    }
  }
  if (text === undefined) {
    if (!initialCredentials) throw noState(file);
    const state = stateFromCredentials(initialCredentials);
    await persist(file, state);
    return state;
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new AkaError('ERR_AKA_STATE', `ISIM state ${file} is not JSON`, { cause: err });
  }
  const state = decodeIsimState(json);
  if (initialCredentials && !sameCredentials(state, initialCredentials)) throw otherCredentials(file);
  return state;
}

const noState = (file: string): AkaError => new AkaError('ERR_AKA_STATE', `no ISIM state at ${file} and no credentials to create it`);
const otherCredentials = (file: string): AkaError =>
  new AkaError('ERR_AKA_STATE', `ISIM state ${file} holds other credentials; remove it to re-provision`);

/**
 * The ISIM. Operations are serialised per file. One process at a time has a file open: {@link Isim.open} takes the
 * file's lock (`<file>.lock`, isim-lock.ts) and the last {@link Isim.close} of this process releases it. Opening a
 * file this process has open already gives another handle on the same in-memory state (never a second copy that
 * could drop the first one's SQN updates).
 */
export class Isim {
  readonly #open: OpenFile;
  #closed = false;

  private constructor(open: OpenFile) {
    this.#open = open;
  }

  /**
   * Opens the ISIM kept in `file`, or creates it there from `initialCredentials` (all SEQ_MS zero; missing parent
   * directories are made 0700) when the file does not exist. Creation is durable before this resolves. Holds the
   * file's lock until {@link close}.
   * @throws UeError `UE_ISIM_LOCKED` when another process has the file open (`UE_ISIM` when the lock cannot be
   * created); AkaError `ERR_AKA_STATE` when the file is missing and no credentials are given, is unreadable or
   * invalid, or holds credentials other than `initialCredentials` (SQN state must never move between subscriptions);
   * `ERR_AKA_INPUT` when the credentials are malformed.
   */
  static open(file: string, initialCredentials?: IsimCredentials): Promise<Isim> {
    return oneAtATime(async () => {
      const key = resolve(file);
      let open = openFiles.get(key);
      if (open) {
        if (initialCredentials && !sameCredentials(open.state, initialCredentials)) throw otherCredentials(file);
      } else {
        if (initialCredentials) {
          // Malformed credentials are refused before anything touches the file system.
          stateFromCredentials(initialCredentials);
          try {
            await mkdir(dirname(file), { recursive: true, mode: 0o700 });
          } catch (err) {
            throw new AkaError('ERR_AKA_STATE', `cannot create the directory of ${file}: ${(err as Error).message}`, { cause: err });
          }
        } else if (!(await access(file).then(() => true, (e: NodeJS.ErrnoException) => e.code !== 'ENOENT'))) {
          throw noState(file);
        }
        const lock = await lockIsimFile(file);
        let state: IsimState;
        try {
          state = await load(file, initialCredentials);
        } catch (err) {
          await lock.release();
          throw err;
        }
        const { k, opVariant } = state;
        const milenage = new Milenage(k, opVariant.kind === 'op' ? computeOpc(k, opVariant.value) : opVariant.value);
        open = { file, key, state, milenage, queue: Promise.resolve(), handles: 0, lock };
        openFiles.set(key, open);
      }
      open.handles++;
      return new Isim(open);
    });
  }

  /** The private identity (EF_IMPI). */
  get impi(): string {
    return this.#open.state.impi;
  }

  /** The public identities (EF_IMPU), first = the default one. */
  get impus(): readonly string[] {
    return [...this.#open.state.impus];
  }

  /** The home network domain (EF_DOMAIN). */
  get domain(): string {
    return this.#open.state.domain;
  }

  /** Whether this ISIM was provisioned with K and this OP (or OPc): to check a file against given keys. */
  holdsKeys(keys: { k: Buffer; op?: Buffer | undefined; opc?: Buffer | undefined }): boolean {
    const { k, opVariant } = this.#open.state;
    const given = keys.op !== undefined ? { kind: 'op', value: keys.op } : keys.opc !== undefined ? { kind: 'opc', value: keys.opc } : undefined;
    return given !== undefined && k.equals(keys.k) && opVariant.kind === given.kind && opVariant.value.equals(given.value);
  }

  /**
   * AUTHENTICATE in IMS AKA context (33.102 §6.3.3): verify MAC-A, then SQN per Annex C.2 (Δ = 2^28, per-IND freshness).
   * On success SEQ_MS(IND) is updated and written to the state file before RES/CK/IK are returned, so a crash cannot
   * make an old SQN acceptable again. On an unacceptable SQN returns AUTS over SQN_MS; state is unchanged.
   * @throws AkaError `ERR_AKA_MAC_FAILURE` when MAC-A is wrong (no AUTS: the network is not authentic);
   * `ERR_AKA_INPUT` on wrong lengths; `ERR_AKA_STATE` when the state cannot be persisted (no RES is released then)
   * or this handle is closed.
   */
  authenticate(rand: Buffer, autn: Buffer): Promise<IsimAuthResult> {
    return this.#serial(async ({ file, state, milenage: m }) => {
      assertBytes('RAND', rand, 16);
      assertBytes('AUTN', autn, 16);
      const { sqn, macValid } = openAutn(m, rand, autn);
      if (!macValid) throw new AkaError('ERR_AKA_MAC_FAILURE', 'AUTN MAC-A does not verify');
      const verdict = state.seqMs.check(sqn);
      if (verdict !== 'fresh') return { syncFailure: buildAuts(m, rand, state.seqMs.highestSqn()), reason: verdict };
      // Accept in memory first: if persisting fails we still refuse this SQN later, and no RES leaves without a write.
      state.seqMs.accept(sqn);
      await persist(file, state);
      const { res, ck, ik } = m.f2345(rand);
      return { res, ck, ik };
    });
  }

  /** Zeroes the SEQ_MS array (a factory-fresh ISIM) and persists that. */
  reset(): Promise<void> {
    return this.#serial(async ({ file, state }) => {
      state.seqMs.reset();
      await persist(file, state);
    });
  }

  /**
   * Closes this handle; the last handle of the file in this process waits for a running operation and releases the
   * lock. Idempotent; later operations on this handle fail.
   */
  close(): Promise<void> {
    if (this.#closed) return Promise.resolve();
    this.#closed = true;
    const open = this.#open;
    return oneAtATime(async () => {
      if (--open.handles > 0) return;
      openFiles.delete(open.key);
      await open.queue;
      await open.lock.release();
    });
  }

  /** The secret-free view: identities and SQN state, never K, OP or OPc. */
  toJSON(): IsimPublicView {
    const { file, state: s } = this.#open;
    return {
      file, impi: s.impi, impus: [...s.impus], domain: s.domain, opVariant: s.opVariant.kind,
      sqnMs: sqnToBuf(s.seqMs.highestSqn()).toString('hex'), seqMs: s.seqMs.toJSON().seqMs,
    };
  }

  #serial<T>(op: (open: OpenFile) => Promise<T>): Promise<T> {
    const open = this.#open;
    const guarded = (): Promise<T> => (this.#closed ? Promise.reject(new AkaError('ERR_AKA_STATE', `ISIM ${open.file} is closed`)) : op(open));
    const run = open.queue.then(guarded, guarded);
    open.queue = run.catch(() => undefined);
    return run;
  }
}
