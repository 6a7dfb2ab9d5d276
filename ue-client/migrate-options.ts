/**
 * Options of `mcx ue migrate` (TS 23.280 §10.6.2.3 from the UE): one zod schema, like `register`'s (options.ts,
 * whose ISIM, TLS, timer and run-mode fields and rules it shares), over an optional JSON credentials file. The IdM
 * half (issuers, the partner MMS, the MC service user's login) is validated here; the registration half has no
 * registrar, domain or identities yet: the migration configuration supplies them (migration-target.ts), so the
 * validated {@link MigrateConfig} carries only what may override them.
 *
 * Trust is split by system: `--primary-ca` for the primary IdMS only (it receives the user's password), `--partner-ca`
 * for the partner IdMS, the partner MMS and the registrar's TLS. `--tls-ca`, which trusted every CA for every server
 * (so a certificate of the partner PKI could pose as the primary IdMS), is refused with that explanation.
 *
 * The partner: `--partner-idms` and `--partner-mms` (one partner system), or `--partner name=…,idms=…,mms=…[,ca=…]`
 * once per partner system (partner-option.ts; `ca=` instead of `--partner-ca` for that partner). One `--partner` is
 * the same run as the two flags; several keep one registration per partner alive from one process
 * (migrate-partners-run.ts), so they exclude what names one registration: `--registrar`, `--local-port`, and the
 * softphone modes `--configure-only` / `--end-only` (run those once per partner).
 */
import { dirname, join } from 'node:path';
import { z } from 'zod';
import { UsageError } from '../lib/cli.ts';
import { hostPortSchema, type HostPort } from '../lib/config/address.ts';
import { ConfigFileError, readConfigFile } from '../lib/config/files.ts';
import {
  SHARED_FIELD_SCHEMAS, checkIsimKeys, parseWithCredentials, sharedUeConfig, warnIfReadableByOthers, type IssueOn, type SharedUeConfig, type Warn,
} from './options.ts';
import { partnerOptionsSchema, type PartnerOption } from './partner-option.ts';
import type { TransportName } from './transports/index.ts';

/** Option names a credentials file of `migrate` may carry (the same as the flags). */
export const MIGRATE_CREDENTIAL_FIELDS = [
  'primary-idms', 'partner-idms', 'partner-mms', 'partner', 'username', 'password', 'password-file', 'client-id', 'redirect-uri', 'scope',
  'k', 'op', 'opc', 'amf', 'isim-state', 'isim-impi', 'isim-impu', 'isim-domain', 'transport', 'registrar', 'expires', 'primary-ca',
  'partner-ca', 'tls-servername', 'local-port', 'timeout',
] as const;

/** Every option of `migrate`, by its flag name. */
export const MIGRATE_OPTION_FIELDS = [
  ...MIGRATE_CREDENTIAL_FIELDS, 'credentials', 'hold', 'keep', 'end', 'json', 'tls-ca', 'test-drop', 'test-t1', 'configure-only', 'clients-dir',
  'end-only', 'id',
] as const;

/**
 * What the command does: register after the IdM steps (the default), or stop after the migration configuration and
 * write softphone files for it (`--configure-only`), or end a configuration (`--end-only --id`).
 */
export type MigrateMode = 'register' | 'configure-only' | 'end-only';

/** Default client of the UE at both IdMSs, and its redirect URI (a native app's loopback redirect, RFC 8252 §7.3). */
export const MIGRATE_DEFAULTS = { clientId: 'mcx-ue', redirectUri: 'http://127.0.0.1/callback', scope: '3gpp:mc:ptt_service' } as const;

/** The validated options. */
export interface MigrateConfig {
  /**
   * The MC service user, the IdMSs and the partner MMS migration API; `primaryCa` are the `--primary-ca` paths (the
   * primary IdMS only), `partnerCa` the `--partner-ca` ones (partner IdMS and MMS; also `ue.tls.ca`, the registrar).
   */
  idm: {
    primaryIssuer: string;
    partnerIssuer: string;
    partnerMms: string;
    username: string;
    password: string;
    /** `--password-file`, when the password came from one (to print a command that reads it again). */
    passwordFile?: string;
    clientId: string;
    redirectUri: string;
    scopes: string[];
    primaryCa?: string[];
    partnerCa?: string[];
    /**
     * Every partner system of the run, in order: one (named `partner` when it came from `--partner-idms` and
     * `--partner-mms`; the first's issuer, MMS and CA are also `partnerIssuer`, `partnerMms`, `partnerCa`) or several.
     */
    partners: PartnerOption[];
  };
  /** Overrides of what the configuration names (migration-target.ts). */
  transport?: TransportName;
  registrar?: HostPort;
  /** End the migration (DELETE the configuration) once de-registered. */
  end: boolean;
  mode: MigrateMode;
  /** `--configure-only`: where the softphone files go (default `clients/` beside the ISIM state file). */
  clientsDir?: string;
  /** `--end-only`: the configuration to end. */
  id?: string;
  /** The registration options that do not come from the configuration. */
  ue: SharedUeConfig;
}

const caFiles = SHARED_FIELD_SCHEMAS['tls-ca'];

const https = z.string({ error: 'required' }).refine((s) => URL.canParse(s) && new URL(s).protocol === 'https:', 'must be an https:// URL');

const baseSchema = z.object({
  'primary-idms': https,
  'partner-idms': https.optional(),
  'partner-mms': https.optional(),
  'partner': partnerOptionsSchema.optional(),
  'username': z.string({ error: 'required' }).min(1),
  'password': z.string().min(1).optional(),
  'password-file': z.string().min(1).optional(),
  'client-id': z.string().regex(/^[\x21-\x7e]+$/, 'must be printable ASCII without spaces').default(MIGRATE_DEFAULTS.clientId),
  'redirect-uri': z.string().refine((s) => URL.canParse(s), 'must be an absolute URI').default(MIGRATE_DEFAULTS.redirectUri),
  'scope': z.string().regex(/^[\x21-\x7e]+( [\x21-\x7e]+)*$/, 'must be space-separated scope tokens').default(MIGRATE_DEFAULTS.scope),
  'transport': z.enum(['udp', 'tcp', 'tls']).optional(),
  'registrar': hostPortSchema.optional(),
  'end': z.boolean().default(false),
  'configure-only': z.boolean().default(false),
  'clients-dir': z.string().min(1).optional(),
  'end-only': z.boolean().default(false),
  'id': z.string().regex(/^[\w.:-]{1,128}$/, 'must be a configuration ID as --configure-only printed it').optional(),
  ...SHARED_FIELD_SCHEMAS,
  'primary-ca': caFiles,
  'partner-ca': caFiles,
  'tls-ca': z.unknown().optional(),
}).strict();

const schema = baseSchema.superRefine((o, ctx) => {
  const issue: IssueOn = (path, message) => ctx.addIssue({ code: 'custom', path: [path], message });
  if (o['tls-ca'] !== undefined) {
    issue('tls-ca', 'not an option of migrate (it trusted every CA for every server): give --primary-ca for the primary IdMS and ' +
      '--partner-ca for the partner IdMS, partner MMS and registrar');
  }
  checkIsimKeys(o, issue);
  checkModes(o, issue);
  checkPartners(o, issue);
  if (!o['isim-state'] && !o['end-only']) issue('isim-state', 'required: the primary ISIM answers the partner\'s IMS AKA challenge');
  if (o.k && !o['isim-impi']) issue('isim-impi', 'required with --k: the ISIM\'s own (primary) IMPI, e.g. alice@primary.example');
  if (o['isim-impi'] && !o['isim-impi'].includes('@') && !o['isim-domain']) issue('isim-domain', 'required when --isim-impi has no @domain');
  if (o.password !== undefined && o['password-file'] !== undefined) issue('password-file', 'give --password or --password-file, not both');
  if (o.password === undefined && o['password-file'] === undefined) issue('password', 'required (or --password-file): the MC service user\'s password at the primary IdMS');
  if (o.end && o.keep) issue('end', 'ends the migration after de-registration, so it cannot go with --keep');
  if (o.transport !== undefined && o.transport !== 'tls' && o['tls-servername']) issue('tls-servername', 'needs --transport tls (or a TLS registrar in the configuration)');
  if (o.transport !== undefined && o.transport !== 'udp' && (o['test-drop'] || o['local-port'] !== undefined)) issue('transport', '--local-port and the drop pattern need --transport udp');
}).superRefine((o, ctx) => {
  // The partner system(s) are required whatever else is wrong, as a missing required field is.
  const given = (o as { partner?: unknown }).partner;
  if (Array.isArray(given) && given.length > 0) return;
  for (const f of ['partner-idms', 'partner-mms'] as const) {
    if (o[f] === undefined) ctx.addIssue({ code: 'custom', path: [f], message: 'required (or --partner name=…,idms=…,mms=… per partner system)' });
  }
}, { when: () => true });

/** The rules of `--configure-only` and `--end-only`: each excludes what registers, and they exclude each other. */
function checkModes(o: z.infer<typeof baseSchema>, issue: IssueOn): void {
  const registers = ['hold', 'keep', 'end', 'local-port', 'test-drop'] as const;
  for (const mode of ['configure-only', 'end-only'] as const) {
    if (!o[mode]) continue;
    for (const f of registers) if (o[f] !== undefined && o[f] !== false) issue(f, `does not go with --${mode}, which does not register`);
  }
  if (o['configure-only'] && o['end-only']) issue('end-only', 'give --configure-only or --end-only, not both');
  if (o['configure-only'] && o.transport !== undefined) issue('transport', 'does not go with --configure-only: the softphone files are written for UDP and TCP');
  if (o['clients-dir'] !== undefined && !o['configure-only']) issue('clients-dir', 'needs --configure-only');
  if (o['end-only'] && o.id === undefined) issue('id', 'required with --end-only: the configuration to end, as --configure-only printed it');
  if (o.id !== undefined && !o['end-only']) issue('id', 'needs --end-only');
}

/** Either form of naming the partner systems, and what several of them exclude. */
function checkPartners(o: z.infer<typeof baseSchema>, issue: IssueOn): void {
  const several = o.partner ?? [];
  if (several.length === 0) return;
  for (const f of ['partner-idms', 'partner-mms'] as const) {
    if (o[f] !== undefined) issue(f, 'give --partner-idms and --partner-mms for one partner system, or --partner per partner system, not both');
  }
  if (several.length < 2) return;
  for (const mode of ['configure-only', 'end-only'] as const) if (o[mode]) issue(mode, 'takes one partner system: run it once per --partner');
  if (o.registrar !== undefined) issue('registrar', 'names one registrar; with several --partner each configuration names its own');
  if (o['local-port'] !== undefined) issue('local-port', 'one UDP port cannot carry a registration per partner system: leave it out with several --partner');
}

/** The password in `--password-file`: its first line (a trailing newline is not part of it). */
async function readPasswordFile(path: string, warn: Warn | undefined): Promise<string> {
  let text: string;
  try {
    text = await readConfigFile('password-file', path);
  } catch (err) {
    throw err instanceof ConfigFileError ? new UsageError(err.message) : err;
  }
  if (warn) await warnIfReadableByOthers('password-file', path, warn);
  const password = text.split(/\r?\n/)[0] ?? '';
  if (password === '') throw new UsageError(`--password-file ${path}: the first line is empty`);
  return password;
}

/**
 * Validates the options of `mcx ue migrate`: the credentials file (if `credentials` names one) first, flags over it.
 * The ISIM's IMPU and domain default to `sip:<isim-impi>` and the IMPI's domain.
 * @param flags option values by flag name; undefined means "not given".
 * @param warn told about secrets on the command line and secrets files others can read.
 * @throws UsageError naming every invalid option.
 */
export async function parseMigrateOptions(flags: Record<string, unknown>, warn?: Warn): Promise<MigrateConfig> {
  const c = await parseWithCredentials(schema, flags, MIGRATE_CREDENTIAL_FIELDS, warn);
  // Each partner's CA: its own `ca=`, else --partner-ca.
  const withCa = (p: PartnerOption): PartnerOption => {
    const ca = p.ca ?? c['partner-ca'];
    return { ...p, ...(ca ? { ca } : {}) };
  };
  const partners = (c.partner?.length ? c.partner : [{ name: 'partner', issuer: c['partner-idms'] as string, mms: c['partner-mms'] as string }]).map(withCa);
  const first = partners[0] as PartnerOption;
  const partnerCa = first.ca;
  const ue = sharedUeConfig({ ...c, 'tls-ca': partnerCa });
  const isimImpi = c['isim-impi'];
  if (ue.isim && isimImpi) {
    ue.isim.impus ??= [`sip:${isimImpi}`];
    ue.isim.domain ??= isimImpi.slice(isimImpi.lastIndexOf('@') + 1);
  }
  return {
    idm: {
      primaryIssuer: c['primary-idms'], partnerIssuer: first.issuer, partnerMms: first.mms, username: c.username, partners,
      password: c.password ?? await readPasswordFile(c['password-file'] as string, warn), clientId: c['client-id'], redirectUri: c['redirect-uri'],
      ...(c['password-file'] === undefined ? {} : { passwordFile: c['password-file'] }),
      scopes: c.scope.split(' '), ...(c['primary-ca'] ? { primaryCa: c['primary-ca'] } : {}), ...(partnerCa ? { partnerCa } : {}),
    },
    ...(c.transport ? { transport: c.transport } : {}),
    ...(c.registrar ? { registrar: c.registrar } : {}),
    end: c.end, ue,
    mode: c['configure-only'] ? 'configure-only' : c['end-only'] ? 'end-only' : 'register',
    ...(c['configure-only'] ? { clientsDir: c['clients-dir'] ?? join(dirname(c['isim-state'] as string), 'clients') } : {}),
    ...(c.id === undefined ? {} : { id: c.id }),
  };
}
