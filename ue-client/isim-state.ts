/**
 * The software ISIM's persistent state: its JSON file format and the crash-safe write that guards SQN freshness.
 * The file holds K, so it is created 0600 and never printed; `Isim.toJSON()` is the display form.
 */
import { randomBytes } from 'node:crypto';
import { open, rename, unlink, type FileHandle } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { z } from 'zod';
import { AkaError } from '../lib/aka/errors.ts';
import { SeqMsArray } from '../lib/aka/sqn.ts';

/** Version of the state file format; bump on an incompatible change. */
export const ISIM_STATE_VERSION = 1;

const hex16 = z.string().regex(/^[0-9a-f]{32}$/, 'must be 32 lowercase hex digits');

/** Schema of the state file. Exactly one of `op` and `opc` is present. */
export const isimStateSchema = z
  .object({
    version: z.literal(ISIM_STATE_VERSION),
    impi: z.string().min(1),
    impus: z.array(z.string().min(1)).min(1),
    domain: z.string().min(1),
    k: hex16,
    op: hex16.optional(),
    opc: hex16.optional(),
    sqn: z.object({ indBits: z.number(), seqMs: z.array(z.string()) }),
  })
  .strict()
  .refine((s) => (s.op === undefined) !== (s.opc === undefined), { message: 'exactly one of op and opc is required' });

/** The state file's JSON. */
export type IsimStateFile = z.infer<typeof isimStateSchema>;

/** What the ISIM holds, decoded from the file. */
export interface IsimState {
  impi: string;
  impus: string[];
  domain: string;
  k: Buffer;
  /** The operator variant in the form it was provisioned: OP is turned into OPc in memory only. */
  opVariant: { kind: 'op' | 'opc'; value: Buffer };
  seqMs: SeqMsArray;
}

/**
 * Decodes and validates a parsed state file.
 * @throws AkaError `ERR_AKA_STATE` naming the first invalid field.
 */
export function decodeIsimState(json: unknown): IsimState {
  const r = isimStateSchema.safeParse(json);
  if (!r.success) {
    const i = r.error.issues[0];
    const where = i && i.path.length > 0 ? i.path.map(String).join('.') : 'state';
    throw new AkaError('ERR_AKA_STATE', `ISIM state file: ${where}: ${i?.message ?? 'invalid'}`);
  }
  const s = r.data;
  let seqMs: SeqMsArray;
  try {
    seqMs = SeqMsArray.fromJSON(s.sqn);
  } catch (err) {
    throw new AkaError('ERR_AKA_STATE', `ISIM state file: sqn: ${(err as Error).message}`, { cause: err });
  }
  const opVariant = s.op !== undefined
    ? { kind: 'op' as const, value: Buffer.from(s.op, 'hex') }
    : { kind: 'opc' as const, value: Buffer.from(s.opc ?? '', 'hex') };
  return { impi: s.impi, impus: [...s.impus], domain: s.domain, k: Buffer.from(s.k, 'hex'), opVariant, seqMs };
}

/** Encodes the state for the file (the inverse of {@link decodeIsimState}). */
export function encodeIsimState(s: IsimState): IsimStateFile {
  return {
    version: ISIM_STATE_VERSION,
    impi: s.impi,
    impus: [...s.impus],
    domain: s.domain,
    k: s.k.toString('hex'),
    ...(s.opVariant.kind === 'op' ? { op: s.opVariant.value.toString('hex') } : { opc: s.opVariant.value.toString('hex') }),
    sqn: s.seqMs.toJSON(),
  };
}

/**
 * Replaces `file` with `data` so that a crash at any point leaves either the old or the new content, never a mix,
 * and the new content is on disk when the promise resolves: write a temp file in the same directory (so rename stays
 * within one file system), fsync it, rename it over `file`, fsync the directory (which makes the rename durable).
 * @param mode permissions of the new file (0600: the ISIM file carries K).
 */
export async function writeFileAtomic(file: string, data: string, mode = 0o600): Promise<void> {
  const dir = dirname(file);
  const tmp = join(dir, `.${basename(file)}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`);
  let fh: FileHandle | undefined;
  try {
    fh = await open(tmp, 'wx', mode);
    await fh.writeFile(data, 'utf8');
    await fh.sync();
    await fh.close();
    fh = undefined;
    await rename(tmp, file);
  } catch (err) {
    await fh?.close().catch(() => undefined);
    await unlink(tmp).catch(() => undefined);
    throw err;
  }
  await fsyncDir(dir);
}

async function fsyncDir(dir: string): Promise<void> {
  // Windows cannot open a directory for fsync; NTFS journals the rename itself.
  if (process.platform === 'win32') return;
  const d = await open(dir, 'r');
  try {
    await d.sync();
  } finally {
    await d.close();
  }
}
