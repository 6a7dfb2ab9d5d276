/**
 * What the all-in-one testbed is made of on disk, under one `--dir` (default `.testbed/`), and the users it
 * provisions. Everything here is created once and reused, so a second run keeps its PKI, the demo user's keys and the
 * ISIM's SQN state (the HSS keeps its SQN counter in `state/hss`): the second registration must still be fresh.
 *
 *   pki/               `certs init` for the systems `primary` and `partner` (with `--partners N`, N ≥ 2: `partner-a`, …)
 *   state/<role>/      memory-store journals and admin tokens (hss, mms, registrar; partner-a-mms, partner-a-registrar, …)
 *   ue/alice.json      the demo migrating user: primary and partner identities, K, OP, AMF (hex); K and OP free of
 *                      0x00, 0x0a, 0x0d and edge spaces (softphone files carry them raw)
 *   ue/alice.isim.json the demo UE's ISIM (SEQ_MS array)
 *   ue/bob.json        the password user for plain MD5 softphones
 *   ue/carol.json      the dynamically migrating user (§10.6.2.3): primary identities, K, OP, AMF, MC service ID, IdMS
 *                      username and password; ue/carol.isim.json its ISIM
 *   subscribers.csv    what the primary HSS loads at start (provisioning.ts writes it and the next two)
 *   mappings.csv       the partner MMS's static mapping partner IMPI/IMPU → primary IMPI/IMPU (§10.6.2.2 NOTE 2)
 *   users.csv          the primary IdMS's users (carol), linked to the HSS subscriber by `mcptt_id`
 *   mappings-<system>.csv  with N ≥ 2 partners: each partner MMS's static mappings (partner-a: alice; partner-b: dave)
 *   ue/dave.json       with N ≥ 2 partners: the user whose primary allows partner A only (dynamic), refused at B;
 *                      ue/dave.isim.json its ISIM
 *   clients/           softphone files of the demo users (client-files.ts, ue-client/softphones/files.ts)
 */
import { randomBytes } from 'node:crypto';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { z } from 'zod';
import { initPki } from '../certs/issue.ts';
import { isCertsError } from '../certs/errors.ts';
import { readManifest } from '../certs/layout.ts';
import { UsageError } from '../lib/cli.ts';
import { rawKeyProblem } from '../ue-client/softphones/model.ts';
import type { Provisioning } from './provisioning.ts';

/** The MC systems' realms: `--primary-realm`, and `--partner-realm` (the partner's, or the base of N partners'). */
export interface Realms {
  primary: string;
  partner: string;
}

/** One partner MC system: its name in the PKI, in role names and in file names, and its realm. */
export interface PartnerSystem {
  name: string;
  realm: string;
}

/** The PKI name of the one partner system of the default layout (`--partners 1`). */
export const DEFAULT_PARTNER = 'partner';
/** The most partner systems `mcx testbed --partners` starts (each adds an IdMS, an MMS and a registrar). */
export const MAX_PARTNERS = 8;

/**
 * The partner systems of `--partners n`. One: the system `partner` in the realm `partnerRealm` (the default layout,
 * unchanged). n ≥ 2: `partner-a`, `partner-b`, … whose realms append `-a`, `-b`, … to the first label of
 * `partnerRealm` (`partner.mcx.test` → `partner-a.mcx.test`, `partner-b.mcx.test`).
 * @throws RangeError for n outside 1…{@link MAX_PARTNERS}.
 */
export function partnerSystems(partnerRealm: string, n: number): PartnerSystem[] {
  if (!Number.isInteger(n) || n < 1 || n > MAX_PARTNERS) throw new RangeError(`partners: expected 1…${MAX_PARTNERS}, got ${n}`);
  if (n === 1) return [{ name: DEFAULT_PARTNER, realm: partnerRealm }];
  const dot = partnerRealm.indexOf('.');
  const [first, rest] = dot < 0 ? [partnerRealm, ''] : [partnerRealm.slice(0, dot), partnerRealm.slice(dot)];
  return Array.from({ length: n }, (_, i) => {
    const letter = String.fromCharCode(0x61 + i);
    return { name: `partner-${letter}`, realm: `${first}-${letter}${rest}` };
  });
}

/** Paths of one testbed directory. */
export interface TestbedLayout {
  dir: string;
  pki: string;
  ueDir: string;
  userFile: string;
  isimFile: string;
  passwordUserFile: string;
  subscribersCsv: string;
  mappingsCsv: string;
  usersCsv: string;
  dynamicUserFile: string;
  dynamicIsimFile: string;
  /** carol's IdMS password alone (0600), for `mcx ue migrate --password-file`. */
  dynamicPasswordFile: string;
  /** With N ≥ 2 partners: the user refused at partner B (ue/dave.json) and its ISIM. */
  refusedUserFile: string;
  refusedIsimFile: string;
  /** Softphone files of the demo users. */
  clientsDir: string;
  /** The memory store's journal and admin token of a role. */
  stateDir(role: StateRole): string;
  /** The static mappings of the partner MMS of `system` (`mappings.csv` for the one partner of the default layout). */
  mappingsCsvOf(system: string): string;
}

/** The roles with a state directory (partner roles of N ≥ 2 partners: `partner-a-mms`, `partner-a-registrar`, …). */
export type StateRole = 'hss' | 'mms' | 'registrar' | 'primary-mms' | 'primary-idms' | 'partner-idms' | `${string}-${'mms' | 'registrar' | 'idms'}`;

/**
 * The layout under `dir` (made absolute, so printed paths work from anywhere).
 * @param dir the `--dir` option.
 */
export function layoutOf(dir: string): TestbedLayout {
  const abs = resolve(dir);
  const ueDir = join(abs, 'ue');
  return {
    dir: abs, pki: join(abs, 'pki'), ueDir, userFile: join(ueDir, 'alice.json'), isimFile: join(ueDir, 'alice.isim.json'),
    passwordUserFile: join(ueDir, 'bob.json'), subscribersCsv: join(abs, 'subscribers.csv'), mappingsCsv: join(abs, 'mappings.csv'),
    usersCsv: join(abs, 'users.csv'), dynamicUserFile: join(ueDir, 'carol.json'), dynamicIsimFile: join(ueDir, 'carol.isim.json'),
    dynamicPasswordFile: join(ueDir, 'carol.password'), refusedUserFile: join(ueDir, 'dave.json'), refusedIsimFile: join(ueDir, 'dave.isim.json'),
    clientsDir: join(abs, 'clients'), stateDir: (role) => join(abs, 'state', role),
    mappingsCsvOf: (system) => (system === DEFAULT_PARTNER ? join(abs, 'mappings.csv') : join(abs, `mappings-${system}.csv`)),
  };
}

/**
 * Runs `certs init` for `primary`, the partner systems (default: `partner` in `realms.partner`) and `others` (e.g. a
 * third system nobody trusts) unless the directory already holds a PKI for these realms. The testbed owns `pki/`,
 * so a PKI of an older manifest version (leaves without realm and role) is made anew, and so is one that lacks a
 * system of this run (`--partners 2` on a directory of one partner): `extended`, with every system it had besides.
 * @returns whether it was created, reused, regenerated from an older version, or extended.
 * @throws UsageError naming `--dir` when the PKI there was made for other realms.
 */
export async function ensurePki(layout: TestbedLayout, realms: Realms, others: ReadonlyArray<{ name: string; realm: string }> = [],
  partners: readonly PartnerSystem[] = [{ name: DEFAULT_PARTNER, realm: realms.partner }]): Promise<'created' | 'reused' | 'regenerated' | 'extended'> {
  const systems = [{ name: 'primary', realm: realms.primary }, ...partners, ...others];
  let manifest;
  try {
    manifest = await readManifest(layout.pki);
  } catch (e) {
    if (isCertsError(e, 'ERR_CERTS_OLD_MANIFEST')) {
      await initPki({ dir: layout.pki, systems, force: true });
      return 'regenerated';
    }
    if (!isCertsError(e, 'ERR_CERTS_NO_MANIFEST')) throw e;
    await initPki({ dir: layout.pki, systems });
    return 'created';
  }
  const realmOf = (name: string): string | undefined => manifest.systems.find((s) => s.name === name)?.realm;
  const clash = systems.filter((s) => realmOf(s.name) !== undefined && realmOf(s.name) !== s.realm);
  if (clash.length > 0) {
    const had = clash.map((s) => `${s.name}=${realmOf(s.name)}`).join(' ');
    throw new UsageError(`--dir ${layout.dir}: its PKI was made for ${had}; use another --dir for other realms`);
  }
  if (systems.every((s) => realmOf(s.name) !== undefined)) return 'reused';
  const kept = manifest.systems.filter((m) => !systems.some((s) => s.name === m.name)).map((m) => ({ name: m.name, realm: m.realm }));
  await initPki({ dir: layout.pki, systems: [...systems, ...kept], force: true });
  return 'extended';
}

const hex16 = z.string().regex(/^[0-9a-f]{32}$/);
const identitySchema = z.object({ impi: z.string().min(3), impu: z.string().min(5) });

/** The demo migrating user (TS 23.280 §10.6.2.2): one primary subscription, registered under partner identities. */
const demoUserSchema = z.object({
  primary: identitySchema,
  partner: identitySchema,
  k: hex16,
  op: hex16,
  amf: z.string().regex(/^[0-9a-f]{4}$/),
});
/** The demo user as saved in `ue/alice.json`. */
export type DemoUser = z.infer<typeof demoUserSchema>;

/** The dynamically migrating user (TS 23.280 §10.6.2.3): partner identities come from the migration configuration. */
const dynamicUserSchema = z.object({
  primary: identitySchema,
  k: hex16,
  op: hex16,
  amf: z.string().regex(/^[0-9a-f]{4}$/),
  mcpttId: z.string().min(3),
  username: z.string().min(1),
  password: z.string().min(8),
});
/** The dynamic user as saved in `ue/carol.json`. */
export type DynamicUser = z.infer<typeof dynamicUserSchema>;

/** The SIP Digest user as saved in `ue/bob.json`. */
const passwordUserSchema = z.object({ impi: z.string(), impu: z.string(), primaryImpu: z.string(), password: z.string().min(8) });
/** The password user. */
export type PasswordUser = z.infer<typeof passwordUserSchema>;

/**
 * 16 random octets a softphone file can carry raw: no 0x00 (SIPp 3.6.1 reads `aka_K`/`aka_OP` as C strings, DESIGN
 * §4), no 0x0a or 0x0d (a Twinkle profile is read line by line, K raw on one line) and no space at either end (Twinkle
 * trims values). ue-client/softphones/model.ts has the rule.
 */
function sippSafeKey(): string {
  for (;;) {
    const b = randomBytes(16);
    if (rawKeyProblem('K', b) === undefined) return b.toString('hex');
  }
}

/** Why a saved user's K or OP cannot go into the softphone files, or undefined. */
function keyProblem(u: { k: string; op: string }): string | undefined {
  return rawKeyProblem('K', Buffer.from(u.k, 'hex')) ?? rawKeyProblem('OP', Buffer.from(u.op, 'hex'));
}

/**
 * A user saved by an older testbed whose K or OP a softphone file cannot carry gets new keys: the same identities, a
 * fresh K and OP (the HSS is provisioned from the file at every start, keeping its SQN counter) and a factory-fresh
 * ISIM (its file is removed; it accepts the HSS's next SQN).
 * @returns the user and, when it was given new keys, why.
 */
async function rekeyIfUnsafe<T extends { k: string; op: string }>(file: string, isimFile: string, u: T): Promise<{ value: T; rekeyed?: string }> {
  const problem = keyProblem(u);
  if (problem === undefined) return { value: u };
  const value = { ...u, k: sippSafeKey(), op: sippSafeKey() };
  await writeFile(file, `${JSON.stringify(value, null, 2)}\n`, { mode: 0o600 });
  await rm(isimFile, { force: true });
  return { value, rekeyed: problem };
}

async function loadOrCreate<T>(file: string, schema: z.ZodType<T>, fresh: () => T, fits: (v: T) => boolean): Promise<{ value: T; created: boolean }> {
  let text: string | undefined;
  try {
    text = await readFile(file, 'utf8');
  } catch {
    // absent: created below
  }
  if (text !== undefined) {
    const parsed = schema.safeParse(JSON.parse(text));
    if (!parsed.success || !fits(parsed.data)) throw new UsageError(`--dir: ${file} is not a user of these realms; remove it (and the ISIM next to it) or use another --dir`);
    return { value: parsed.data, created: false };
  }
  const value = fresh();
  await mkdir(join(file, '..'), { recursive: true, mode: 0o700 });
  await writeFile(file, `${JSON.stringify(value, null, 2)}\n`, { mode: 0o600 });
  return { value, created: true };
}

/** A note for the operator: a saved user was given new keys (see {@link ensureDemoUser}). */
export type RekeyNote = (line: string) => void;

/**
 * The demo user of `ue/alice.json`, generated (random K/OP, AMF 8000) on the first run. A saved one whose keys a
 * softphone file cannot carry gets new ones (and a fresh ISIM), told to `note`.
 * @throws UsageError when the saved user belongs to other realms.
 */
export async function ensureDemoUser(layout: TestbedLayout, realms: Realms, note?: RekeyNote): Promise<DemoUser> {
  const fresh = (): DemoUser => ({
    primary: { impi: `alice@${realms.primary}`, impu: `sip:alice@${realms.primary}` },
    partner: { impi: `alice.mig@${realms.partner}`, impu: `sip:alice.mig@${realms.partner}` },
    k: sippSafeKey(), op: sippSafeKey(), amf: '8000',
  });
  const fits = (u: DemoUser): boolean => u.primary.impi.endsWith(`@${realms.primary}`) && u.partner.impi.endsWith(`@${realms.partner}`);
  const r = await rekeyIfUnsafe(layout.userFile, layout.isimFile, (await loadOrCreate(layout.userFile, demoUserSchema, fresh, fits)).value);
  if (r.rekeyed) note?.(rekeyLine(layout.userFile, layout.isimFile, r.rekeyed));
  return r.value;
}

function rekeyLine(file: string, isimFile: string, why: string): string {
  return `${file}: ${why}, which softphone profiles and SIPp cannot carry: gave the user a new K and OP and a fresh ISIM (${isimFile} removed)`;
}

/**
 * The dynamic user of `ue/carol.json` (or, `who` = `dave`, the refused user of `ue/dave.json`), generated (random
 * K/OP and IdMS password) on the first run; new keys as for {@link ensureDemoUser}.
 * @throws UsageError when the saved user belongs to other realms.
 */
export async function ensureDynamicUser(layout: TestbedLayout, realms: Realms, note?: RekeyNote, who: 'carol' | 'dave' = 'carol'): Promise<DynamicUser> {
  const [file, isimFile] = who === 'carol' ? [layout.dynamicUserFile, layout.dynamicIsimFile] : [layout.refusedUserFile, layout.refusedIsimFile];
  const fresh = (): DynamicUser => ({
    primary: { impi: `${who}@${realms.primary}`, impu: `sip:${who}@${realms.primary}` }, k: sippSafeKey(), op: sippSafeKey(), amf: '8000',
    mcpttId: `sip:${who}@mcptt.${realms.primary}`, username: who, password: randomBytes(9).toString('base64url'),
  });
  const saved = (await loadOrCreate(file, dynamicUserSchema, fresh, (u) => u.primary.impi.endsWith(`@${realms.primary}`))).value;
  const r = await rekeyIfUnsafe(file, isimFile, saved);
  if (r.rekeyed) note?.(rekeyLine(file, isimFile, r.rekeyed));
  return r.value;
}

/**
 * The password user of `ue/bob.json`. Its IMPI is the same on both sides (`bob@<partner realm>`), because the HSS binds
 * HA1 = H(IMPI:realm:password) to the IMPI it knows, and a softphone hashes the username it sends: a translated IMPI
 * would never verify. Its public identity is translated like any other.
 * @throws UsageError when the saved user belongs to other realms.
 */
export async function ensurePasswordUser(layout: TestbedLayout, realms: Realms): Promise<PasswordUser> {
  const fresh = (): PasswordUser => ({
    impi: `bob@${realms.partner}`, impu: `sip:bob@${realms.partner}`, primaryImpu: `sip:bob@${realms.primary}`,
    password: randomBytes(9).toString('base64url'),
  });
  return (await loadOrCreate(layout.passwordUserFile, passwordUserSchema, fresh, (u) => u.impi === `bob@${realms.partner}`)).value;
}

/**
 * The demo users as the testbed provisions them: the HSS's subscribers, the partner MMS's static mappings, the
 * primary IdMS's user. alice migrates by static configuration only, carol by dynamic only, bob (a plain softphone
 * user) either way.
 */
export function demoProvisioning(realms: Realms, alice: DemoUser, bob: PasswordUser, carol: DynamicUser): Provisioning {
  return {
    subscribers: [
      { impi: alice.primary.impi, impus: [alice.primary.impu], k: alice.k, op: alice.op, amf: alice.amf, allowedPartners: [`static:${realms.partner}`] },
      { impi: bob.impi, impus: [bob.primaryImpu], password: bob.password, allowedPartners: [realms.partner] },
      { impi: carol.primary.impi, impus: [carol.primary.impu], k: carol.k, op: carol.op, amf: carol.amf, mcpttId: carol.mcpttId, allowedPartners: [`dynamic:${realms.partner}`] },
    ],
    mappings: [
      { partner: alice.partner, primary: alice.primary },
      { partner: { impi: bob.impi, impu: bob.impu }, primary: { impi: bob.impi, impu: bob.primaryImpu } },
    ],
    idmsUsers: [{ username: carol.username, password: carol.password, mcpttId: carol.mcpttId }],
  };
}

/** A partner identity moved to another partner realm: the same user part (`alice.mig@partner-a.mcx.test`). */
export function identityIn(id: { impi: string; impu: string }, realm: string): { impi: string; impu: string } {
  const user = id.impi.slice(0, id.impi.lastIndexOf('@'));
  return { impi: `${user}@${realm}`, impu: `sip:${user}@${realm}` };
}

/** The users of N ≥ 2 partner systems. */
export interface MultiPartnerUsers {
  alice: DemoUser;
  carol: DynamicUser;
  dave: DynamicUser;
}

/** dave's static partner identity at partner B, which his primary does not allow. */
export function refusedIdentity(b: PartnerSystem): { impi: string; impu: string } {
  return { impi: `dave.mig@${b.realm}`, impu: `sip:dave.mig@${b.realm}` };
}

/**
 * The demo users of N ≥ 2 partner systems (A, B, …): alice migrates to partner A by static configuration (A's MMS
 * maps `alice.mig@<A>`); carol to every partner by dynamic configuration; dave's primary allows partner A only
 * (`dynamic:<A>`), and partner B's MMS maps `dave.mig@<B>` statically all the same, so a REGISTER there reaches the
 * primary HSS, which refuses it (5004), as the primary MMS refuses his migration configuration at B. No password user.
 */
export function multiPartnerProvisioning(partners: readonly PartnerSystem[], u: MultiPartnerUsers): Provisioning {
  const [a, b] = partners as readonly [PartnerSystem, PartnerSystem];
  const { alice, carol, dave } = u;
  return {
    subscribers: [
      { impi: alice.primary.impi, impus: [alice.primary.impu], k: alice.k, op: alice.op, amf: alice.amf, allowedPartners: [`static:${a.realm}`] },
      { impi: carol.primary.impi, impus: [carol.primary.impu], k: carol.k, op: carol.op, amf: carol.amf, mcpttId: carol.mcpttId,
        allowedPartners: partners.map((p) => `dynamic:${p.realm}`) },
      { impi: dave.primary.impi, impus: [dave.primary.impu], k: dave.k, op: dave.op, amf: dave.amf, mcpttId: dave.mcpttId, allowedPartners: [`dynamic:${a.realm}`] },
    ],
    mappings: [
      { system: a.name, partner: identityIn(alice.partner, a.realm), primary: alice.primary },
      { system: b.name, partner: refusedIdentity(b), primary: dave.primary },
    ],
    idmsUsers: [carol, dave].map((x) => ({ username: x.username, password: x.password, mcpttId: x.mcpttId })),
  };
}

/** carol's IdMS password alone (0600), for `mcx ue migrate --password-file`. */
export async function writeDynamicPasswordFile(layout: TestbedLayout, carol: DynamicUser): Promise<void> {
  await writeFile(layout.dynamicPasswordFile, `${carol.password}\n`, { mode: 0o600 });
}

/** The demo users of every layout: alice (static), bob (SIP Digest), carol (dynamic). */
export interface DemoUsers {
  alice: DemoUser;
  bob: PasswordUser;
  carol: DynamicUser;
}

/**
 * The demo users of `ue/` (made on the first run, reused after, re-keyed as {@link ensureDemoUser} says) and carol's
 * password file: what `mcx testbed` and the network-namespace deployment (deploy/netns) both provision.
 * @throws UsageError when a saved user belongs to other realms.
 */
export async function ensureDemoUsers(layout: TestbedLayout, realms: Realms, note?: RekeyNote): Promise<DemoUsers> {
  const u = { alice: await ensureDemoUser(layout, realms, note), bob: await ensurePasswordUser(layout, realms), carol: await ensureDynamicUser(layout, realms, note) };
  await writeDynamicPasswordFile(layout, u.carol);
  return u;
}
