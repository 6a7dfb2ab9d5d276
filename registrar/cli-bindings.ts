/**
 * `mcx registrar bindings`: the current bindings, one JSON object per AOR and line, read through the running
 * registrar's admin API (`--admin URL`, token from `--admin-token-file`) or straight from a shared Redis store
 * (`--store redis://…`).
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { z } from 'zod';
import type { Command } from 'commander';
import { readAdminToken } from '../lib/admin/token.ts';
import { UsageError } from '../lib/cli.ts';
import { redisSpecSchema } from '../lib/config/options.ts';
import { parseConfig } from '../lib/config/validate.ts';
import { openStore } from '../lib/store/store.ts';
import type { BindingView } from './admin-api.ts';
import { REGISTRAR_DEFAULTS } from './config.ts';

/** Options of `mcx registrar bindings`. */
export interface BindingsCliOptions {
  admin?: string;
  adminTokenFile?: string;
  tlsCa?: string;
  store?: string;
}

const schema = z.object({
  'admin': z.string().url().refine((u) => /^https?:\/\//i.test(u), 'must be an http:// or https:// URL').optional(),
  'admin-token-file': z.string().min(1),
  'tls-ca': z.string().min(1).optional(),
  'store': redisSpecSchema('only a shared Redis store can be read directly (redis://…, redis+cluster://…, redis+sentinel://… ' +
    'or redis); for the memory store use --admin').optional(),
}).superRefine((o, ctx) => {
  if ((o.admin === undefined) === (o.store === undefined)) ctx.addIssue({ code: 'custom', path: ['admin'], message: 'give exactly one of --admin and --store' });
});

/**
 * Reads the bindings from the admin API or the store.
 * @throws UsageError for bad options, an unreadable token, or an admin API refusal.
 */
export async function listBindings(o: BindingsCliOptions): Promise<BindingView[]> {
  const c = parseConfig(schema, {
    'admin': o.admin, 'admin-token-file': o.adminTokenFile ?? join(REGISTRAR_DEFAULTS.stateDir, 'admin-token'),
    'tls-ca': o.tlsCa, 'store': o.store,
  });
  // Loaded when the command runs: registering it (for `mcx registrar serve`, `--help`) needs none of this (issue #12).
  const [{ AdminApiError, adminRequest }, { bindingView }, { BindingStore }] = await Promise.all([
    import('../lib/admin/client.ts'), import('./admin-api.ts'), import('./bindings.ts'),
  ]);
  if (c.store !== undefined) {
    const store = await openStore(c.store);
    try {
      const now = Date.now();
      return (await new BindingStore(store).list(now)).map((r) => bindingView(r, now));
    } finally {
      await store.close();
    }
  }
  let token: string;
  try {
    token = await readAdminToken(c['admin-token-file']);
  } catch (e) {
    throw new UsageError(`--admin-token-file ${c['admin-token-file']}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
  const ca = c['tls-ca'] ? [await readFile(c['tls-ca'], 'utf8')] : undefined;
  try {
    return (await adminRequest<{ bindings: BindingView[] }>({ url: c.admin as string, token, ...(ca ? { ca } : {}) }, 'GET', 'admin/v1/bindings')).bindings;
  } catch (e) {
    if (e instanceof AdminApiError) throw new UsageError(`admin API ${e.status} ${e.error}: ${e.message}`, 1);
    throw e;
  }
}

/** Adds `bindings` under `mcx registrar`. */
export function addBindingsCommand(reg: Command): void {
  reg.command('bindings')
    .description('list current bindings (one JSON object per AOR and line)')
    .option('--admin <url>', 'admin API of the running registrar, e.g. http://127.0.0.1:8870')
    .option('--admin-token-file <file>', 'admin bearer token', join(REGISTRAR_DEFAULTS.stateDir, 'admin-token'))
    .option('--tls-ca <file>', 'PEM CA for an https admin URL')
    .option('--store <redis-url>', 'read a shared Redis store directly instead of the admin API')
    .action(async (o: BindingsCliOptions) => {
      for (const b of await listBindings(o)) process.stdout.write(`${JSON.stringify(b)}\n`);
    });
}
