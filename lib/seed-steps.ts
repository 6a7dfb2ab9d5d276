/**
 * One log line per seed step (DESIGN §6: "each seed step is one named function or one log line with its step
 * number"), so the TS 23.280 §10.6.2.2 / §10.6.2.3 text can be read beside the logs of every role: the UE, the
 * registrar (partner SIP core), the partner and primary MMS, the relay (primary SIP core / IMS) and the HSS (SIP
 * database) all log through {@link seedStep} with the node that performed the step. It lives in lib/ because every
 * role logs steps, not only the MMS. Which flow a registration belongs to is read from its partner identity
 * ({@link seedFlowOfPartnerIdentity}): the partner MMS allocates dynamic ones from a namespace of their own.
 *
 * The lines are at debug level (issue #12: six info lines per registration cost more than the SIP and Diameter), and
 * each step is also an in-process event ({@link onSeedStep}) for whoever draws ladders — `mcx testbed` for the roles
 * it runs in its own process (it reads the debug lines of the roles it runs as processes), the status page of issue
 * #14. Nothing is built for a step that nobody listens to and no line is written for.
 */
import { randomBytes } from 'node:crypto';
import { fieldsOf, loggerOf, type Log, type Logger } from './log.ts';

/** The seed flow: §10.6.2.2 (static configuration) or §10.6.2.3 (dynamic configuration). */
export type SeedFlow = 'static' | 'dynamic';

/** Steps 1–14 of either flow. */
export type SeedStepNumber = 1 | 2 | 3 | 4 | 5 | 6 | 7 | 8 | 9 | 10 | 11 | 12 | 13 | 14;

/** The functional entities of the seed figures, as our roles stand for them. */
export type SeedNode =
  | 'ue' // MC service UE (signalling user agent, IdM client)
  | 'registrar' // SIP core of the partner MC system
  | 'partner-mms' // migration management server, partner system
  | 'primary-mms' // migration management server, primary system (dynamic flow)
  | 'relay' // SIP core / IMS of the primary system
  | 'hss' // SIP database of the primary system
  | 'primary-idms' // IdM server of the primary system (step 1)
  | 'partner-idms'; // IdM server of the partner system (step 1, TS 33.180 C.2 step 8b)

/** The clause each flow comes from. */
export const SEED_CLAUSE: Readonly<Record<SeedFlow, string>> = {
  static: 'TS 23.280 §10.6.2.2',
  dynamic: 'TS 23.280 §10.6.2.3',
};

const COMMON: Readonly<Partial<Record<SeedStepNumber, string>>> = {
  1: 'UE performs MC service user authentication (TS 33.180)',
  2: 'UE → partner SIP core: SIP registration request with the partner SIP identities',
  3: 'partner SIP core → partner MMS: get SIP authentication information request (partner SIP identities)',
  10: 'partner MMS → partner SIP core: get SIP authentication information response (partner SIP identities, authentication information)',
  11: 'partner SIP core → UE: SIP authentication challenge',
  12: 'UE → partner SIP core: SIP authentication challenge response',
  13: 'partner SIP core → UE: SIP registration response (authentication successful)',
  14: 'UE is SIP registered in the partner SIP core',
};

/** A one-line summary of every step, per flow: the default text of {@link seedStep}. */
export const SEED_STEPS: Readonly<Record<SeedFlow, Readonly<Record<SeedStepNumber, string>>>> = {
  static: {
    ...COMMON,
    4: 'partner MMS determines the primary MMS and the primary SIP identities (static configuration)',
    5: 'partner MMS → primary SIP core/IMS: get SIP authentication information request (primary SIP identities)',
    6: 'primary SIP core/IMS → primary HSS: get SIP authentication information request',
    7: 'primary HSS → primary SIP core/IMS: get SIP authentication information response (authentication vectors)',
    8: 'primary SIP core/IMS → partner MMS: get SIP authentication information response (primary SIP identities, vectors)',
    9: 'partner MMS determines the partner SIP identities',
  } as Record<SeedStepNumber, string>,
  dynamic: {
    ...COMMON,
    4: 'partner MMS recognises the partner SIP identities from the migration binding and determines the primary MMS and identities',
    5: 'partner MMS → primary MMS: get SIP authentication information request (primary SIP identities)',
    6: 'primary MMS → primary HSS (via SIP core/IMS): get SIP authentication information request',
    7: 'primary HSS → primary MMS (via SIP core/IMS): get SIP authentication information response (authentication vectors)',
    8: 'primary MMS → partner MMS: get SIP authentication information response (primary SIP identities, vectors)',
    9: 'partner MMS recognises the primary SIP identities from the migration binding and determines the partner SIP identities',
  } as Record<SeedStepNumber, string>,
};

/** One seed step as a role took or saw it, handed to every {@link onSeedStep} listener. */
export interface SeedStepEvent {
  flow: SeedFlow;
  step: SeedStepNumber;
  /** The entity that performed the step. */
  node: SeedNode;
  /** `step <n>: <text>`: the log line's message. */
  msg: string;
  /**
   * What ties the steps of one registration together within the role that logged them: the REGISTER's Call-ID at the
   * registrar and the UE (`call_id`), the Diameter Session-Id at the MMSs, the relay and the HSS (`sessionId`).
   */
  key: string | undefined;
  /** The private and (first) public identity the step names, partner or primary as the role sees them. */
  impi: string | undefined;
  impu: string | undefined;
  /** Every structured field of the line (those of a {@link withFields} view included), without `seed`/`flow`/`step`/`node`. */
  fields: Readonly<Record<string, unknown>>;
  /** The logger the step went through: its bindings name the role (`role` in the testbed), its destination the sink. */
  logger: Logger;
  /** Epoch milliseconds. */
  at: number;
}

/** A listener of {@link onSeedStep}. It runs synchronously inside the step: it must not throw or block. */
export type SeedStepListener = (e: SeedStepEvent) => void;

const listeners = new Set<SeedStepListener>();

/**
 * Calls `listener` with every seed step taken in this process from now on.
 * @returns a function that stops it.
 */
export function onSeedStep(listener: SeedStepListener): () => void {
  listeners.add(listener);
  return () => {
    listeners.delete(listener);
  };
}

function firstString(...values: unknown[]): string | undefined {
  for (const v of values) {
    if (typeof v === 'string') return v;
    if (Array.isArray(v) && typeof v[0] === 'string') return v[0];
  }
  return undefined;
}

/**
 * Logs one seed step at debug level (or `level`) — `step <n>: <text>` with `{ ...fields, seed, flow, step, node }` — and hands it
 * to the {@link onSeedStep} listeners. Costs nothing (not even the line's object) when debug is off and nobody listens.
 * @param node the entity that performed the step (the logging process may be the one that observed it).
 * @param text what happened, with identities; undefined uses the step's summary from {@link SEED_STEPS}.
 * @param fields structured detail: identities (`impi`/`impu`, or `partnerImpi`/`primaryImpi` and their `…Impus`),
 *   the correlation key (`call_id` or `sessionId`), result codes, counts; never key material — the logger redacts the
 *   usual names (`ck`, `ik`, `xres`, …) at the top level, and nothing may carry them nested.
 * @param level `info` for the steps that are also security events, once per migration rather than per registration
 *   (the IdMSs issuing tokens, step 1).
 */
export function seedStep(log: Log, flow: SeedFlow, n: SeedStepNumber, node: SeedNode, text?: string, fields: Record<string, unknown> = {}, level: 'debug' | 'info' = 'debug'): void {
  const written = log.isLevelEnabled(level);
  if (!written && listeners.size === 0) return;
  const msg = `step ${n}: ${text ?? SEED_STEPS[flow][n]}`;
  if (written) log[level]({ ...fields, seed: SEED_CLAUSE[flow], flow, step: n, node }, msg);
  if (listeners.size === 0) return;
  const all = { ...fieldsOf(log), ...fields };
  const e: SeedStepEvent = {
    flow, step: n, node, msg, fields: all, logger: loggerOf(log), at: Date.now(),
    key: firstString(all.call_id, all.sessionId),
    impi: firstString(all.impi, all.partnerImpi, all.primaryImpi),
    impu: firstString(all.impu, all.impus, all.partnerImpus, all.primaryImpus),
  };
  for (const l of listeners) l(e);
}

/**
 * Whether a seed step logged through `log` would be written or heard: call sites whose text or fields cost
 * something to build (Diameter AVPs read only for the line) ask this first.
 */
export function seedStepsWanted(log: Log): boolean {
  return listeners.size > 0 || log.isLevelEnabled('debug');
}

/**
 * A step's summary from {@link SEED_STEPS} with what this occurrence is about: `<summary> — <detail>`.
 * @param detail identities, result, vector count.
 */
export function seedStepText(flow: SeedFlow, n: SeedStepNumber, detail: string): string {
  return `${SEED_STEPS[flow][n]} — ${detail}`;
}

/**
 * Which seed flow a request seen in the home (primary) system belongs to, for roles that only forward or answer it
 * (relay, HSS): none when it comes from inside the home realm (an ordinary registration, not a migration); §10.6.2.3
 * when a host of the home realm relayed it (the primary MMS sits on the path), else §10.6.2.2.
 * @param originRealm the request's Origin-Realm.
 * @param relayedBy the hosts it crossed: its Route-Record values (RFC 6733 §6.7.1: each relay appends its ingress
 *   peer), plus the peer it came from when the caller is itself forwarding it.
 * @param homeRealm the realm of the role asking.
 */
export function migrationFlowAt(originRealm: string | undefined, relayedBy: readonly string[], homeRealm: string): SeedFlow | undefined {
  const home = homeRealm.toLowerCase();
  const inHome = (host: string): boolean => host.toLowerCase() === home || host.toLowerCase().endsWith(`.${home}`);
  if (originRealm === undefined || originRealm.toLowerCase() === home) return undefined;
  return relayedBy.some(inHome) ? 'dynamic' : 'static';
}

/**
 * The partner identities of dynamic bindings (§10.6.2.3) [design]: the partner MMS allocates `mig-<12 hex>@<partner
 * realm>` (and `sip:` of it) for each migration configuration, and the namespace is reserved for them — the partner
 * MMS refuses a static mapping whose partner IMPI or IMPU is in it. So the identity a UE registers with says which
 * seed flow it belongs to, and the registrar labels its steps per registration without asking anyone.
 */
const DYNAMIC_PREFIX = 'mig-';
/** Octets of randomness in an allocated identity: 12 hex digits. */
const DYNAMIC_RANDOM_OCTETS = 6;
/** How the reserved namespace reads in messages. */
export const DYNAMIC_PARTNER_IDENTITY_FORM = `${DYNAMIC_PREFIX}<${DYNAMIC_RANDOM_OCTETS * 2} hex digits>@<realm>`;
/** `mig-<12 hex>@<realm>`, optionally as a `sip:`/`sips:` URI; hex of either case, so no look-alike is left to statics. */
const DYNAMIC_IDENTITY = new RegExp(`^(?:sips?:)?${DYNAMIC_PREFIX}[0-9a-f]{${DYNAMIC_RANDOM_OCTETS * 2}}@[^\\s@]+$`, 'i');

/**
 * A fresh partner IMPI for a dynamic binding, in the reserved namespace.
 * @param partnerRealm the partner system's realm (its home domain).
 */
export function allocateDynamicPartnerImpi(partnerRealm: string): string {
  return `${DYNAMIC_PREFIX}${randomBytes(DYNAMIC_RANDOM_OCTETS).toString('hex')}@${partnerRealm}`;
}

/**
 * The seed flow of a registration, from the partner identity it uses: §10.6.2.3 when the identity is in the namespace
 * the partner MMS reserves for dynamic bindings ({@link allocateDynamicPartnerImpi}), else §10.6.2.2.
 * @param identity a partner IMPI (`user@realm`) or IMPU (`sip:user@realm`).
 */
export function seedFlowOfPartnerIdentity(identity: string): SeedFlow {
  return DYNAMIC_IDENTITY.test(identity) ? 'dynamic' : 'static';
}
