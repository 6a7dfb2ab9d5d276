/**
 * `mcx idms user add|list|remove`: provisioning through the running IdMS's admin API (`--admin URL`, bearer token
 * from `--admin-token-file`, the IdMS CA from `--tls-ca`), or straight into the store (`--store redis://…`, with
 * `--role` naming whose users). The `mcptt_id` links the IdMS user to the HSS subscriber of the same MC service ID.
 * Output is JSON, one object per line.
 */
import { z } from 'zod';
import type { Command } from 'commander';
import { UsageError } from '../lib/cli.ts';
import type { AdminTarget } from '../lib/admin/client.ts';
import { readAdminToken } from '../lib/admin/token.ts';
import { readConfigFile } from '../lib/config/files.ts';
import { storeSpecSchema } from '../lib/config/options.ts';
import { parseConfig } from '../lib/config/validate.ts';
import { isConfigurationFailure } from '../lib/serve.ts';
import { openStore } from '../lib/store/store.ts';
import type { userJson } from './admin-api.ts';
import { IDMS_ROLES } from './constants.ts';

type UserJson = ReturnType<typeof userJson>;

/** Where provisioning goes. */
interface Backend {
  add(u: { username: string; password: string; mcpttId: string }, replace: boolean): Promise<UserJson>;
  list(): Promise<UserJson[]>;
  remove(username: string): Promise<boolean>;
  close(): Promise<void>;
}

interface TargetOptions {
  admin?: string;
  adminTokenFile?: string;
  tlsCa?: string;
  store?: string;
  role?: string;
  stateDir?: string;
}

const targetSchema = z.object({
  'admin': z.string().refine((s) => /^https:\/\/\S+$/i.test(s), 'must be the https:// URL of the IdMS admin API').optional(),
  'admin-token-file': z.string().min(1),
  'tls-ca': z.string().min(1).optional(),
  'store': storeSpecSchema.optional(),
  'role': z.enum(IDMS_ROLES),
}).superRefine((o, ctx) => {
  if ((o.admin === undefined) === (o.store === undefined)) {
    ctx.addIssue({ code: 'custom', path: ['admin'], message: 'give --admin URL (running IdMS) or --store SPEC (direct), one of them' });
  }
});

async function backendOf(o: TargetOptions): Promise<Backend> {
  const role = o.role ?? 'primary';
  const c = parseConfig(targetSchema, {
    'admin': o.admin, 'admin-token-file': o.adminTokenFile ?? `${o.stateDir ?? `.state/idms-${role}`}/admin-token`, 'tls-ca': o.tlsCa,
    'store': o.store, 'role': role,
  });
  // Loaded when the command runs: registering it (for `mcx idms serve`, `--help`) needs none of this (issue #12).
  const [{ AdminApiError, adminRequest }, { userJson }, { idmsNamespace }, { UserRepo }] = await Promise.all([
    import('../lib/admin/client.ts'), import('./admin-api.ts'), import('./server.ts'), import('./users.ts'),
  ]);
  if (c.store !== undefined) {
    const store = await openStore(c.store, o.stateDir ? { stateDir: o.stateDir } : {}).catch((e: unknown) => {
      throw isConfigurationFailure(e) ? new UsageError(`--store: ${e.message}`) : e;
    });
    const repo = new UserRepo(store, idmsNamespace(c.role));
    return {
      add: async (u, replace) => userJson(await repo.add(u, { replace })),
      list: async () => (await repo.list()).map(userJson),
      remove: (username) => repo.remove(username),
      close: () => store.close(),
    };
  }
  const token = await readAdminToken(c['admin-token-file']).catch((e: NodeJS.ErrnoException) => {
    throw new UsageError(`--admin-token-file ${c['admin-token-file']}: ${e.code ?? e.message}`);
  });
  const ca = c['tls-ca'] === undefined ? undefined : await readConfigFile('tls-ca', c['tls-ca']);
  const t: AdminTarget = { url: c.admin as string, token, ...(ca === undefined ? {} : { ca }) };
  const refused = (e: unknown): unknown => (e instanceof AdminApiError ? new UsageError(`admin API ${e.status} ${e.error}: ${e.message}`, e.status === 400 ? 2 : 1) : e);
  const call = <T>(method: 'GET' | 'POST' | 'DELETE', path: string, json?: unknown): Promise<T> =>
    adminRequest<T>(t, method, path, json === undefined ? undefined : { json }).catch((e: unknown) => {
      throw refused(e);
    });
  return {
    add: async (u, replace) => (await call<{ user: UserJson }>('POST', `admin/v1/users${replace ? '?replace=true' : ''}`,
      { username: u.username, password: u.password, mcptt_id: u.mcpttId })).user,
    list: async () => (await call<{ users: UserJson[] }>('GET', 'admin/v1/users')).users,
    remove: (username) => adminRequest(t, 'DELETE', `admin/v1/users/${encodeURIComponent(username)}`).then(() => true, (e: unknown) => {
      if (e instanceof AdminApiError && e.status === 404) return false;
      throw refused(e);
    }),
    close: async () => undefined,
  };
}

async function withBackend<T>(o: TargetOptions, fn: (b: Backend) => Promise<T>): Promise<T> {
  const b = await backendOf(o);
  try {
    return await fn(b);
  } catch (e) {
    // errors.ts loads oidc-provider: only when something failed.
    const { isIdmsError } = await import('./errors.ts');
    if (isIdmsError(e)) throw new UsageError(e.message, e.code === 'ERR_IDMS_USER_INPUT' ? 2 : 1);
    throw e;
  } finally {
    await b.close();
  }
}

const print = (x: unknown): void => {
  process.stdout.write(`${JSON.stringify(x)}\n`);
};

function target(cmd: Command): Command {
  return cmd
    .option('--admin <url>', 'admin API of the running IdMS (https://HOST:PORT)')
    .option('--admin-token-file <file>', 'admin bearer token (default <state-dir>/admin-token)')
    .option('--tls-ca <file>', 'PEM CA of the IdMS certificate (certs: <system>/ca.pem)')
    .option('--store <spec>', 'provision the store directly (redis://…; memory only while the IdMS is stopped)')
    .option('--state-dir <dir>', 'state directory of the IdMS (default .state/idms-<role>)')
    .option('--role <role>', 'whose users: primary | partner', 'primary');
}

interface AddOptions extends TargetOptions {
  username?: string;
  password?: string;
  passwordFile?: string;
  mcpttId?: string;
  replace?: boolean;
}

/** Adds `user add|list|remove` under `mcx idms`. */
export function addUserCommands(idms: Command): void {
  const user = idms.command('user').description('provision IdMS users (admin API or store)');
  target(user.command('add').description('provision one user; prints it without the password hash'))
    .option('--username <name>', 'login name')
    .option('--password <text>', 'password (prefer --password-file: command lines are visible to other users)')
    .option('--password-file <file>', 'file whose first line is the password')
    .option('--mcptt-id <id>', 'MC service ID, the link to the HSS subscriber (e.g. sip:alice@primary.example)')
    .option('--replace', 'overwrite an existing user (its sub is kept)')
    .action(async (o: AddOptions) => {
      if (o.password !== undefined && o.passwordFile !== undefined) throw new UsageError('--password: give --password or --password-file, not both');
      const password = o.passwordFile === undefined ? o.password : (await readConfigFile('password-file', o.passwordFile)).split(/\r?\n/)[0];
      const missing = [['--username', o.username], ['--password', password], ['--mcptt-id', o.mcpttId]].filter(([, v]) => !v).map(([k]) => k);
      if (missing.length) throw new UsageError(`${missing.join(', ')}: required`);
      const u = { username: o.username as string, password: password as string, mcpttId: o.mcpttId as string };
      print(await withBackend(o, (b) => b.add(u, o.replace === true)));
    });
  target(user.command('list').description('list users (one JSON object per line)'))
    .action(async (o: TargetOptions) => {
      for (const u of await withBackend(o, (b) => b.list())) print(u);
    });
  target(user.command('remove').description('remove a user'))
    .option('--username <name>', 'login name')
    .action(async (o: TargetOptions & { username?: string }) => {
      if (!o.username) throw new UsageError('--username: required');
      const name = o.username;
      if (!(await withBackend(o, (b) => b.remove(name)))) throw new UsageError(`no user ${name}`, 1);
      print({ removed: name });
    });
}
