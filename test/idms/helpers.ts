/**
 * Shared set-up of the IdMS tests: one two-system PKI per test file (certs/initPki in a temp dir), a primary and a
 * partner IdMS started in-process on loopback HTTPS with ephemeral memory stores, and a provisioned user.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { initPki } from '../../certs/issue.ts';
import { caPaths, certPaths, signingPaths, trustedSigningCertPath } from '../../certs/layout.ts';
import { silentLogger, type Logger } from '../../lib/log.ts';
import { defaultResource } from '../../idms/cli.ts';
import { DEFAULT_TTLS, type IdmsTtls } from '../../idms/constants.ts';
import { startIdms, type IdmsConfig, type RunningIdms } from '../../idms/server.ts';
import { httpsRequest } from '../../ue-client/idm/http.ts';
import { freePort } from '../helpers/ports.ts';

/** The systems of the test PKI. */
export const SYSTEMS = [
  { name: 'primary', realm: 'primary.example' },
  { name: 'partner', realm: 'partner.example' },
] as const;

/** The registered native client. */
export const CLIENT_ID = 'mcx-ue';
export const REDIRECT_URI = 'http://127.0.0.1/callback';
/** A user of the primary IdMS, linked to the HSS subscriber with the same MC service ID. */
export const ALICE = { username: 'alice', password: 'alice-secret-1', mcpttId: 'sip:alice@primary.example' } as const;
/** Scopes of a migrating user's login. */
export const SCOPE = 'openid 3gpp:mc:ptt_service 3gpp:mc:migration';
/** The partner MMS resource (aud of partner access tokens). */
export const PARTNER_MMS = 'https://mms.partner.example/migration';

/** A PKI on disk. */
export interface TestPki {
  dir: string;
  /** PEM of each system's CA. */
  ca: { primary: string; partner: string };
  remove(): Promise<void>;
}

/** Builds the PKI of both systems in a fresh temp directory. */
export async function makePki(): Promise<TestPki> {
  const root = await mkdtemp(join(tmpdir(), 'mcx-idms-'));
  const dir = join(root, 'pki');
  await initPki({ dir, systems: SYSTEMS });
  const [primary, partner] = await Promise.all([readFile(caPaths(dir, 'primary').cert, 'utf8'), readFile(caPaths(dir, 'partner').cert, 'utf8')]);
  return { dir, ca: { primary, partner }, remove: () => rm(root, { recursive: true, force: true }) };
}

/** Options of the started servers. */
export interface StartOptions {
  ttls?: Partial<IdmsTtls>;
  logger?: Logger;
  store?: string;
  stateDir?: string;
}

/** The configuration of a primary IdMS on `port` with the partner at `partnerIssuer`. */
export function primaryConfig(pki: TestPki, port: number, partnerIssuer: string, o: StartOptions = {}): IdmsConfig {
  const issuer = `https://127.0.0.1:${port}`;
  const tls = certPaths(pki.dir, 'primary', 'idms');
  return {
    role: 'primary', listen: { host: '127.0.0.1', port }, issuer, tls: { cert: tls.cert, key: tls.key }, signing: signingPaths(pki.dir, 'primary'),
    resource: defaultResource('primary', issuer), clients: [{ clientId: CLIENT_ID, redirectUris: [REDIRECT_URI] }],
    partners: new Map([['partner', partnerIssuer]]), trusted: [], store: o.store ?? 'memory', stateDir: o.stateDir ?? '', ephemeral: o.stateDir === undefined,
    ttls: { ...DEFAULT_TTLS, ...o.ttls }, logger: o.logger ?? silentLogger,
  };
}

/** The configuration of a partner IdMS on `port` trusting the primary at `primaryIssuer`. */
export function partnerConfig(pki: TestPki, port: number, primaryIssuer: string, o: StartOptions = {}): IdmsConfig {
  const issuer = `https://localhost:${port}`;
  const tls = certPaths(pki.dir, 'partner', 'idms');
  return {
    role: 'partner', listen: { host: '127.0.0.1', port }, issuer, tls: { cert: tls.cert, key: tls.key }, signing: signingPaths(pki.dir, 'partner'),
    resource: PARTNER_MMS, clients: [{ clientId: CLIENT_ID, redirectUris: [REDIRECT_URI] }], partners: new Map(),
    trusted: [{ issuer: primaryIssuer, certFiles: [trustedSigningCertPath(pki.dir, 'partner')] }], store: o.store ?? 'memory',
    stateDir: o.stateDir ?? '', ephemeral: o.stateDir === undefined, ttls: { ...DEFAULT_TTLS, ...o.ttls }, logger: o.logger ?? silentLogger,
  };
}

/** Both IdMSs, running, with ALICE provisioned at the primary. */
export interface Pair {
  primary: RunningIdms;
  partner: RunningIdms;
  close(): Promise<void>;
}

/** Starts a primary and a partner IdMS that know each other. */
export async function startPair(pki: TestPki, o: { primary?: StartOptions; partner?: StartOptions } = {}): Promise<Pair> {
  const [pp, qp] = [await freePort(), await freePort()];
  const primary = await startIdms(primaryConfig(pki, pp, `https://localhost:${qp}`, o.primary));
  const partner = await startIdms(partnerConfig(pki, qp, primary.issuer, o.partner)).catch(async (e: unknown) => {
    await primary.close();
    throw e;
  });
  await primary.users.add(ALICE);
  return { primary, partner, close: async () => { await partner.close(); await primary.close(); } };
}

/** A raw token endpoint answer. */
export interface RawAnswer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  json: Record<string, unknown>;
}

/** POSTs `form` to the token endpoint of `issuer` (`/token`, as oidc-provider routes it), trusting `ca`. */
export async function postToken(issuer: string, form: Record<string, string>, ca: string): Promise<RawAnswer> {
  const res = await httpsRequest(new URL(`${issuer}/token`), { method: 'POST', form }, { ca });
  return { status: res.status, headers: res.headers, json: JSON.parse(res.body) as Record<string, unknown> };
}

/** The PEM of a file of the PKI. */
export function pkiFile(path: string): Promise<string> {
  return readFile(path, 'utf8');
}
