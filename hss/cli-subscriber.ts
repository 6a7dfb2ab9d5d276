/**
 * `mcx hss subscriber add|list|remove|import`: provisioning through the running HSS's admin API (`--admin URL`,
 * token from `--admin-token-file`), or straight into a shared Redis store (`--store redis://…`, with `--realm` for
 * SIP Digest HA1s). Output is JSON (one object per line) so scripts can read it.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { z } from 'zod';
import type { Command } from 'commander';
import { UsageError } from '../lib/cli.ts';
import { realmSchema } from '../lib/config/address.ts';
import { redisSpecSchema } from '../lib/config/options.ts';
import { parseConfig } from '../lib/config/validate.ts';
import { openStore } from '../lib/store/store.ts';
import type { AdminTarget } from '../lib/admin/client.ts';
import { readAdminToken } from '../lib/admin/token.ts';
import type { SubscriberProblem, SubscriberView } from './subscribers.ts';

/** What the subcommands run on, loaded when one runs: `mcx hss serve` and `--help` register them without it (issue #12). */
async function load() {
  const [subscribers, csv, client, hssApi] = await Promise.all([
    import('./subscribers.ts'), import('./csv.ts'), import('../lib/admin/client.ts'), import('../lib/admin/hss-api.ts'),
  ]);
  return { ...subscribers, ...csv, ...client, ...hssApi };
}
type Deps = Awaited<ReturnType<typeof load>>;

/** Where provisioning goes: the admin API or the store itself. */
interface Backend {
  add(input: unknown, replace: boolean): Promise<SubscriberView>;
  list(mcpttId?: string): Promise<SubscriberView[]>;
  remove(impi: string): Promise<boolean>;
  importCsv(text: string, replace: boolean): Promise<number>;
  close(): Promise<void>;
}

/** Options every subcommand takes. */
interface TargetOptions {
  admin?: string;
  adminTokenFile?: string;
  tlsCa?: string;
  store?: string;
  realm?: string;
}

const DEFAULT_ADMIN_URL = 'http://127.0.0.1:8868';
const DEFAULT_TOKEN_FILE = join('.state', 'hss', 'admin-token');

const targetSchema = z.object({
  'admin': z.string().url().refine((u) => /^https?:\/\//i.test(u), 'must be an http:// or https:// URL'),
  'admin-token-file': z.string().min(1),
  'tls-ca': z.string().min(1).optional(),
  'store': redisSpecSchema('only a shared Redis store can be provisioned directly (redis://…, redis+cluster://…, ' +
    'redis+sentinel://… or redis); for the memory store use --admin').optional(),
  'realm': realmSchema.optional(),
});

async function backendOf(o: TargetOptions, needsRealm: boolean, m: Deps): Promise<Backend> {
  const c = parseConfig(targetSchema, {
    'admin': o.admin ?? DEFAULT_ADMIN_URL, 'admin-token-file': o.adminTokenFile ?? DEFAULT_TOKEN_FILE, 'tls-ca': o.tlsCa,
    'store': o.store, 'realm': o.realm,
  });
  if (c.store !== undefined) {
    if (needsRealm && c.realm === undefined) throw new UsageError('--realm: required with --store (the realm SIP Digest HA1s are computed for)');
    // Provisioning sets SQN counters: the server must fsync every write, as for the HSS itself.
    const store = await openStore(c.store, { keepsSqn: true });
    const repo = new m.SubscriberRepo(store, { realm: c.realm ?? 'invalid.invalid' });
    return {
      add: async (input, replace) => repo.view(await repo.put(input, { replace })),
      list: async (id) => {
        const impi = id === undefined ? undefined : await repo.impiOfMcpttId(id);
        const recs = (await repo.list()).filter((r) => id === undefined || r.impi === impi);
        return Promise.all(recs.map((r) => repo.view(r)));
      },
      remove: (impi) => repo.remove(impi),
      importCsv: async (text, replace) => (await m.importSubscriberCsv(repo, text, { replace })).length,
      close: () => store.close(),
    };
  }
  let token: string;
  try {
    token = await readAdminToken(c['admin-token-file']);
  } catch (e) {
    throw new UsageError(`--admin-token-file ${c['admin-token-file']}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
  const t: AdminTarget = { url: c.admin, token, ...(c['tls-ca'] ? { ca: [await readFile(c['tls-ca'], 'utf8')] } : {}) };
  return {
    add: async (input, replace) => (await m.adminApi.add(t, input, replace)).subscriber,
    list: async (id) => (await m.adminApi.list(t, id)).subscribers,
    remove: async (impi) => m.adminApi.remove(t, impi).then(() => true, (e: unknown) => {
      if (e instanceof m.AdminApiError && e.status === 404) return false;
      throw e;
    }),
    importCsv: async (text, replace) => (await m.adminApi.importCsv(t, text, replace)).imported,
    close: async () => undefined,
  };
}

const OPTION_OF: Record<string, string> = { impus: '--impu', mcptt_id: '--mcptt-id', allowed_partners: '--allowed-partner' };

/** Problems named by the option that carries each field (CLI) or by CSV line (import). */
function describe(problems: SubscriberProblem[], m: Deps): string {
  return problems.map((p) => (p.line === undefined && p.field !== undefined
    ? `${OPTION_OF[p.field] ?? `--${p.field}`}: ${p.message}` : m.formatProblem(p))).join('\n  ');
}

/** Runs `fn` on a backend, turning provisioning failures into exit statuses: input → 2, the rest → 1. */
async function withBackend<T>(o: TargetOptions, needsRealm: boolean, fn: (b: Backend) => Promise<T>): Promise<T> {
  const m = await load();
  const b = await backendOf(o, needsRealm, m);
  try {
    return await fn(b);
  } catch (e) {
    if (e instanceof m.SubscriberError) throw new UsageError(`invalid subscriber:\n  ${describe(e.problems, m)}`, e.code === 'ERR_HSS_INPUT' ? 2 : 1);
    if (e instanceof m.AdminApiError) {
      const detail = e.problems.length ? `\n  ${describe(e.problems, m)}` : ` ${e.message}`;
      throw new UsageError(`admin API ${e.status} ${e.error}:${detail}`, e.status === 400 ? 2 : 1);
    }
    throw e;
  } finally {
    await b.close();
  }
}

/** Raw options of `subscriber add`. */
interface AddOptions extends TargetOptions {
  impi?: string;
  impu?: string[];
  k?: string;
  op?: string;
  opc?: string;
  amf?: string;
  sqn?: string;
  password?: string;
  passwordFile?: string;
  mcpttId?: string;
  allowedPartner?: string[];
  replace?: boolean;
}

async function addInput(o: AddOptions): Promise<Record<string, unknown>> {
  if (o.password !== undefined && o.passwordFile !== undefined) throw new UsageError('--password: give --password or --password-file, not both');
  const password = o.passwordFile === undefined ? o.password
    : (await readFile(o.passwordFile, 'utf8').catch((e: NodeJS.ErrnoException) => { throw new UsageError(`--password-file: ${e.code ?? e.message}`); }))
      .split(/\r?\n/)[0];
  const input: Record<string, unknown> = {
    impi: o.impi ?? '', impus: o.impu ?? [], k: o.k, op: o.op, opc: o.opc, amf: o.amf, sqn: o.sqn, password,
    mcptt_id: o.mcpttId, allowed_partners: o.allowedPartner,
  };
  for (const k of Object.keys(input)) if (input[k] === undefined) delete input[k];
  const m = await load();
  const v = m.validateSubscriber(input);
  if ('problems' in v) throw new UsageError(`invalid subscriber:\n  ${describe(v.problems, m)}`);
  return input;
}

const collect = (v: string, prev: string[] = []): string[] => [...prev, v];
const print = (x: unknown) => process.stdout.write(`${JSON.stringify(x)}\n`);

function target(cmd: Command): Command {
  return cmd
    .option('--admin <url>', 'admin API of the running HSS', DEFAULT_ADMIN_URL)
    .option('--admin-token-file <file>', 'admin bearer token', DEFAULT_TOKEN_FILE)
    .option('--tls-ca <file>', 'PEM CA for an https admin URL')
    .option('--store <redis-url>', 'provision a shared Redis store directly instead of the admin API')
    .option('--realm <realm>', 'with --store: the HSS realm (SIP Digest HA1s)');
}

/** Adds `subscriber add|list|remove|import` under `mcx hss`. */
export function addSubscriberCommands(hss: Command): void {
  const sub = hss.command('subscriber').description('provision HSS subscribers (admin API or shared Redis store)');
  target(sub.command('add').description('provision one subscriber; prints it without secrets'))
    .option('--impi <nai>', 'private identity, user@realm')
    .option('--impu <uri>', 'public identity, sip:/tel: URI (repeatable)', collect)
    .option('--k <hex>', 'subscriber key K, 16 octets')
    .option('--op <hex>', 'OP, 16 octets (converted to OPc, not stored)')
    .option('--opc <hex>', 'OPc, 16 octets')
    .option('--amf <hex>', 'AMF, 2 octets (default 0000)')
    .option('--sqn <hex>', 'last issued SQN, 6 octets (default 000000000000)')
    .option('--password <text>', 'SIP Digest password (stored as HA1 only); prefer --password-file')
    .option('--password-file <file>', 'file whose first line is the SIP Digest password')
    .option('--mcptt-id <id>', 'MC service ID linking the IdMS user')
    .option('--allowed-partner <entry>', 'partner realm this user may migrate to (repeatable): REALM (static and dynamic ' +
      'configuration), static:REALM (only through the primary relay) or dynamic:REALM (only through the primary MMS under a binding)', collect)
    .option('--replace', 'overwrite an existing IMPI')
    .action(async (o: AddOptions) => {
      const input = await addInput(o);
      print(await withBackend(o, input.password !== undefined, (b) => b.add(input, o.replace === true)));
    });
  target(sub.command('list').description('list subscribers (one JSON object per line, no secrets)'))
    .option('--mcptt-id <id>', 'only the subscriber with this MC service ID')
    .action(async (o: TargetOptions & { mcpttId?: string }) => {
      for (const s of await withBackend(o, false, (b) => b.list(o.mcpttId))) print(s);
    });
  target(sub.command('remove').description('remove a subscriber (its SQN counter is kept)'))
    .option('--impi <nai>', 'private identity')
    .action(async (o: TargetOptions & { impi?: string }) => {
      if (!o.impi) throw new UsageError('--impi: required');
      const impi = o.impi;
      if (!(await withBackend(o, false, (b) => b.remove(impi)))) throw new UsageError(`no subscriber ${impi}`, 1);
      print({ removed: impi });
    });
  target(sub.command('import').description('bulk provisioning from CSV; nothing is imported when a row is bad'))
    .argument('<file.csv>', 'impi,impus,k,op,opc,amf,sqn[,password,mcptt_id,allowed_partners] with a header row')
    .option('--replace', 'overwrite existing IMPIs')
    .action(async (file: string, o: TargetOptions & { replace?: boolean }) => {
      const text = await readFile(file, 'utf8').catch((e: NodeJS.ErrnoException) => { throw new UsageError(`${file}: ${e.code ?? e.message}`); });
      print({ imported: await withBackend(o, true, (b) => b.importCsv(text, o.replace === true)) });
    });
}
