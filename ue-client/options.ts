/**
 * Options of `mcx ue register|deregister`: one zod schema (through lib/config `parseConfig`, so every bad option is
 * named and the CLI exits 2), an optional JSON credentials file whose keys are the option names, and the flags
 * overriding it. The validated {@link UeConfig} is what `run.ts` works from. The fields, rules and conversion that
 * `mcx ue migrate` shares (migrate-options.ts) are exported from here.
 */
import { stat } from 'node:fs/promises';
import { z } from 'zod';
import { UsageError } from '../lib/cli.ts';
import { hostPortSchema, realmSchema, type HostPort } from '../lib/config/address.ts';
import { readConfigFile } from '../lib/config/files.ts';
import { caListSchema } from '../lib/config/options.ts';
import { parseConfig } from '../lib/config/validate.ts';
import type { UeFlow } from './ladder.ts';
import type { DropPattern, TransportName } from './transports/index.ts';

/** Option names a credentials file may carry (the same as the flags). */
export const CREDENTIAL_FIELDS = [
  'registrar', 'domain', 'impi', 'impu', 'k', 'op', 'opc', 'amf', 'transport', 'isim-state', 'isim-impi', 'isim-impu',
  'isim-domain', 'flow', 'expires', 'password', 'tls-ca', 'tls-servername', 'local-port', 'timeout',
] as const;

/** Every option of `register` / `deregister`, by its flag name. */
export const UE_OPTION_FIELDS = [...CREDENTIAL_FIELDS, 'credentials', 'hold', 'keep', 'json', 'test-drop', 'test-t1'] as const;
type Field = (typeof UE_OPTION_FIELDS)[number];

/** The validated options. */
export interface UeConfig {
  registrar: HostPort;
  domain: string;
  impi: string;
  impu: string;
  transport: TransportName;
  flow: UeFlow;
  expires: number;
  /** ISIM state file and, when it must be created or checked, K with OP or OPc and the ISIM's own identities. */
  isim?: { file: string; k?: Buffer; op?: Buffer; opc?: Buffer; impi?: string; impus?: string[]; domain?: string };
  amf?: Buffer;
  password?: Buffer;
  tls?: { ca?: string[]; servername?: string };
  localPort?: number;
  /** Seconds one REGISTER operation may take. */
  timeoutS: number;
  hold: boolean;
  keep: boolean;
  json: boolean;
  /** Test hooks (hidden options). */
  test?: { drop?: DropPattern; t1?: number };
}

const hex = (octets: number) => z.string().regex(new RegExp(`^(0x)?[0-9a-fA-F]{${octets * 2}}$`), `must be ${octets * 2} hex digits`)
  .transform((s) => Buffer.from(s.replace(/^0x/i, ''), 'hex'));
/** Identities go into quoted Digest parameters and header fields: no white space, quotes, backslashes or angle brackets. */
export const identitySchema = z.string().regex(/^[^\s"\\<>]+$/, 'must be a non-empty identity without spaces, quotes or angle brackets');
/** A public identity to register: a `sip:`/`sips:` URI with nothing that could break out of a header field. */
export const sipUriSchema = z.string().regex(/^sips?:[^\s"\\<>]+$/i, 'must be a sip: or sips: URI');
const port = z.coerce.number().int().min(0).max(65535);

/** Schemas of the options `register`, `deregister` and `migrate` share, by flag name. */
export const SHARED_FIELD_SCHEMAS = {
  'k': hex(16).optional(),
  'op': hex(16).optional(),
  'opc': hex(16).optional(),
  'amf': hex(2).optional(),
  'isim-state': z.string().min(1).optional(),
  'isim-impi': identitySchema.optional(),
  'isim-impu': sipUriSchema.optional(),
  'isim-domain': realmSchema.optional(),
  'expires': z.coerce.number().int().min(1).max(2 ** 32 - 1).default(600_000),
  'tls-ca': z.union([z.string(), z.array(z.string())]).transform((v) => (Array.isArray(v) ? v : [v])).pipe(caListSchema).optional(),
  'tls-servername': z.string().min(1).optional(),
  'local-port': port.optional(),
  'timeout': z.coerce.number().positive().max(3600).default(40),
  'credentials': z.string().optional(),
  'hold': z.boolean().default(false),
  'keep': z.boolean().default(false),
  'json': z.boolean().default(false),
  'test-drop': z.string().regex(/^(0(\.\d+)?|\.\d+):.+$/, 'must be FRACTION:SEED with 0 <= FRACTION < 1').optional(),
  'test-t1': z.coerce.number().int().min(10).max(5000).optional(),
};

type Shared = z.output<z.ZodObject<typeof SHARED_FIELD_SCHEMAS>>;

/** Records one issue on a flag (the refinements' way of naming the field). */
export type IssueOn = (path: string, message: string) => void;

/** The ISIM key rules every UE command keeps: K with OP or OPc (not both), and a state file to keep SQNs in. */
export function checkIsimKeys(o: Pick<Shared, 'k' | 'op' | 'opc' | 'isim-state'>, issue: IssueOn): void {
  if (o.op && o.opc) issue('opc', 'give OP or OPc, not both');
  if (o.k && !o.op && !o.opc) issue('op', 'K needs --op or --opc');
  if ((o.op || o.opc) && !o.k) issue('k', 'required with --op/--opc');
  if (o.k && !o['isim-state']) issue('isim-state', 'required with --k (the ISIM keeps its SQN state there)');
}

const schema = z.object({
  'registrar': z.string({ error: 'required' }).pipe(hostPortSchema),
  'domain': z.string({ error: 'required' }).pipe(realmSchema),
  'impi': z.string({ error: 'required' }).pipe(identitySchema),
  'impu': z.string({ error: 'required' }).pipe(sipUriSchema),
  'transport': z.enum(['udp', 'tcp', 'tls']).default('udp'),
  'flow': z.enum(['static', 'dynamic', 'home']).default('home'),
  'password': z.string().min(1).optional(),
  ...SHARED_FIELD_SCHEMAS,
}).strict().superRefine((o, ctx) => {
  const issue: IssueOn = (path, message) => ctx.addIssue({ code: 'custom', path: [path], message });
  checkIsimKeys(o, issue);
  if (!o['isim-state'] && !o.password) issue('isim-state', 'required unless --password is given (SIP Digest)');
  if (o.transport !== 'tls' && (o['tls-ca'] || o['tls-servername'])) issue('transport', '--tls-ca/--tls-servername need --transport tls');
  if (o.transport !== 'udp' && (o['test-drop'] || o['local-port'] !== undefined)) issue('transport', '--local-port and the drop pattern need --transport udp');
});

/** Hears warnings about how secrets were given (the CLI prints them on stderr; they never stop the run). */
export type Warn = (message: string) => void;

/** Options whose values are secrets: on a command line they are visible to every local user. */
const SECRET_FLAGS = ['password', 'k', 'op', 'opc'] as const;

/** Warns when the secrets file `path` (named by `--option`) is readable by group or others. */
export async function warnIfReadableByOthers(option: string, path: string, warn: Warn): Promise<void> {
  if (process.platform === 'win32') return;
  const mode = await stat(path).then((st) => st.mode & 0o777, () => undefined);
  if (mode !== undefined && (mode & 0o044) !== 0) {
    warn(`--${option} ${path} is readable by group/others (mode ${mode.toString(8).padStart(4, '0')}) and holds secrets: chmod 600 ${path}`);
  }
}

/**
 * Reads the credentials file: a JSON object whose keys are option names.
 * @throws UsageError naming the file and the offending key.
 */
export async function readCredentialsFile(path: string, allowed: readonly string[] = CREDENTIAL_FIELDS): Promise<Record<string, unknown>> {
  let json: unknown;
  try {
    json = JSON.parse(await readConfigFile('credentials', path));
  } catch (err) {
    throw new UsageError(err instanceof SyntaxError ? `--credentials ${path}: not JSON: ${err.message}` : (err as Error).message);
  }
  if (typeof json !== 'object' || json === null || Array.isArray(json)) throw new UsageError(`--credentials ${path}: must be a JSON object`);
  const unknown = Object.keys(json).filter((k) => !allowed.includes(k));
  if (unknown.length) throw new UsageError(`--credentials ${path}: unknown field(s) ${unknown.join(', ')}; allowed: ${allowed.join(', ')}`);
  return json as Record<string, unknown>;
}

/**
 * Validates flags against `s`, over the credentials file when `credentials` names one (flags win).
 * @param allowed the option names the file may carry.
 * @param warn told about secrets on the command line and a credentials file others can read.
 * @throws UsageError naming every invalid option (values from the file are marked so).
 */
export async function parseWithCredentials<S extends z.ZodType>(s: S, flags: Record<string, unknown>, allowed: readonly string[], warn: Warn = () => undefined): Promise<z.output<S>> {
  const given = Object.fromEntries(Object.entries(flags).filter(([, v]) => v !== undefined));
  const file = typeof given.credentials === 'string' ? await readCredentialsFile(given.credentials, allowed) : {};
  if (typeof given.credentials === 'string') await warnIfReadableByOthers('credentials', given.credentials, warn);
  for (const f of SECRET_FLAGS.filter((k) => typeof given[k] === 'string')) {
    const instead = f === 'password' && allowed.includes('password-file') ? '--password-file or --credentials (a 0600 file)' : '--credentials (a 0600 JSON file)';
    warn(`--${f} on the command line is visible to other local users (ps, /proc/<pid>/cmdline): give it through ${instead} instead`);
  }
  try {
    return parseConfig(s, { ...file, ...given });
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    // Say where a bad value came from when the flag was not given.
    const fromFile = Object.keys(file).filter((k) => !(k in given));
    let msg = err.message;
    for (const k of fromFile) msg = msg.replaceAll(`--${k}:`, `--${k} (from the credentials file):`);
    throw new UsageError(msg);
  }
}

/** The {@link UeConfig} fields that come from {@link SHARED_FIELD_SCHEMAS}: ISIM, TLS trust, timers, run mode. */
export type SharedUeConfig = Omit<UeConfig, 'registrar' | 'domain' | 'impi' | 'impu' | 'transport' | 'flow' | 'password'>;

/** Turns the validated shared options into their {@link UeConfig} fields. */
export function sharedUeConfig(c: Shared): SharedUeConfig {
  const isimState = c['isim-state'];
  const drop = c['test-drop'];
  const tls = { ...(c['tls-ca'] ? { ca: c['tls-ca'] } : {}), ...(c['tls-servername'] ? { servername: c['tls-servername'] } : {}) };
  return {
    expires: c.expires, timeoutS: c.timeout, hold: c.hold, keep: c.keep, json: c.json,
    ...(isimState === undefined ? {} : {
      isim: {
        file: isimState, ...(c.k ? { k: c.k } : {}), ...(c.op ? { op: c.op } : {}), ...(c.opc ? { opc: c.opc } : {}),
        ...(c['isim-impi'] ? { impi: c['isim-impi'] } : {}), ...(c['isim-impu'] ? { impus: [c['isim-impu']] } : {}),
        ...(c['isim-domain'] ? { domain: c['isim-domain'] } : {}),
      },
    }),
    ...(c.amf ? { amf: c.amf } : {}),
    ...(Object.keys(tls).length ? { tls } : {}),
    ...(c['local-port'] === undefined ? {} : { localPort: c['local-port'] }),
    ...(drop === undefined && c['test-t1'] === undefined ? {} : {
      test: {
        ...(drop === undefined ? {} : { drop: { fraction: Number(drop.slice(0, drop.indexOf(':'))), seed: drop.slice(drop.indexOf(':') + 1) } }),
        ...(c['test-t1'] === undefined ? {} : { t1: c['test-t1'] }),
      },
    }),
  };
}

/**
 * Validates the options of `register` / `deregister`: the credentials file (if `credentials` names one) first, flags
 * over it.
 * @param flags option values by flag name; undefined means "not given".
 * @param warn told about secrets given where others can read them (see {@link parseWithCredentials}).
 * @throws UsageError naming every invalid option (values from the file are marked so).
 */
export async function parseUeOptions(flags: Partial<Record<Field, unknown>>, warn?: Warn): Promise<UeConfig> {
  const c = await parseWithCredentials(schema, flags, CREDENTIAL_FIELDS, warn);
  return {
    registrar: c.registrar, domain: c.domain, impi: c.impi, impu: c.impu, transport: c.transport, flow: c.flow, ...sharedUeConfig(c),
    ...(c.password === undefined ? {} : { password: Buffer.from(c.password, 'utf8') }),
  };
}
