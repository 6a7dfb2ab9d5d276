/**
 * The status page's registrations: one ladder per REGISTER exchange (REGISTER → 401 → REGISTER → 200, or the answer
 * that ends it), whoever sends it — SIPp, a softphone, our UE — built from the seed steps the roles take
 * (lib/seed-steps.ts, through the testbed's log collector: events of the roles in this process, debug lines of child
 * processes) and the registrar's one info line per registration (its final status and timings).
 *
 * Correlation, role by role: the registrar's steps carry the REGISTER's Call-ID (`call_id`) and, on steps 3 and 10,
 * its MAR's Session-Id (`session_id`); that Session-Id is the key of the partner MMS's steps, whose step 5 names the
 * Session-Id of its own MAR toward the primary system (`primarySessionId`), the key of the relay's, the primary MMS's
 * and the HSS's steps. Step 1 of the dynamic flow (the IdMSs', which know the user by `mcptt_id` only) joins through
 * the live migration configuration of the registration's partner IMPI ({@link MigrationLookup}). A step whose key is
 * not known yet (a child process writes on a pipe of its own, so its line may come first) waits for it, bounded.
 *
 * Memory is bounded: the last `kept` registrations, capped key tables, capped rungs per registration.
 */
import { REDACTED_FIELDS } from '../../lib/log.ts';
import { BoundedMap } from '../../lib/bounded-map.ts';
import type { SeedFlow } from '../../lib/seed-steps.ts';
import type { LogCollector, LogLine, StepSeen } from '../ladder.ts';
import { stepOneRungs, type MigrationLookup } from './step-one.ts';

export type { MigrationLookup } from './step-one.ts';

/** One step of a registration as one role took or saw it. */
export interface RungView {
  step: number;
  /** The entity that performed it (lib/seed-steps.ts SeedNode). */
  node: string;
  /** The role that logged it. */
  role: string;
  /** The step's text (without `step <n>: `). */
  text: string;
  /** Epoch milliseconds. */
  at: number;
  /** Its structured fields: identities, keys, result codes (never key material). */
  fields: Record<string, unknown>;
}

/** One registration: what the page draws as a ladder. */
export interface RegistrationView {
  id: string;
  callId: string;
  flow: SeedFlow;
  /** The registrar role that served it (which partner system). */
  registrar: string;
  /** The identities the UE registered with, and those they stand for in the primary system (step 4). */
  partner: { impi?: string; impu?: string };
  primary: { impi?: string; impus?: string[]; realm?: string };
  /** The MC service ID of a dynamic migration (from its configuration). */
  mcpttId?: string;
  /** Where the challenge's vector came from: a MAR of its own, one kept from an earlier MAA (no steps 3–10), a decoy. */
  vector?: 'maa' | 'kept' | 'decoy';
  startedAt: number;
  updatedAt: number;
  /** The final answer: status, the registrar's words, its time from the first REGISTER (when known). */
  result?: { status: number; text: string; at: number; totalMs?: number };
  /** In time order. */
  rungs: RungView[];
}

/** Registrations kept by default: what the page shows when it loads. */
export const KEPT_REGISTRATIONS = 200;
/** Keys (Call-IDs, Session-Ids) and waiting steps remembered. */
const KEYS = 4096;
const WAITING_KEYS = 512;
/** Rungs of one registration (a resynchronisation repeats some; a loop must not grow it without end). */
const MAX_RUNGS = 80;
const REDACTED = new Set<string>(REDACTED_FIELDS);

/** The fields of a step worth showing: primitives and lists of them, never a redacted name. */
function shown(fields: Readonly<Record<string, unknown>>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(fields)) {
    if (REDACTED.has(k) || v === undefined) continue;
    const primitive = (x: unknown): boolean => x === null || ['string', 'number', 'boolean'].includes(typeof x);
    if (primitive(v) || (Array.isArray(v) && v.every(primitive))) out[k] = v;
  }
  return out;
}

const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);
const first = (v: unknown): string | undefined => str(v) ?? (Array.isArray(v) ? str(v[0]) : undefined);

/** The registrations seen, and whoever wants to hear of each change. */
export class RegistrationLog {
  private readonly recent = new Map<string, RegistrationView>();
  /** `<registrar role>\n<Call-ID>` → the registration that Call-ID has open there. */
  private readonly byCallId = new BoundedMap<string, string>(KEYS);
  /** Diameter Session-Id → registration. */
  private readonly bySession = new BoundedMap<string, string>(KEYS);
  private readonly waiting = new BoundedMap<string, StepSeen[]>(WAITING_KEYS);
  /** Step 1 of the dynamic flow per mcptt_id: the latest few. */
  private readonly stepOnes = new BoundedMap<string, StepSeen[]>(KEYS);
  private readonly listeners = new Set<(r: RegistrationView) => void>();
  /** Registrations whose result came from the registrar's line (final), not only from step 13. */
  private readonly answered = new WeakSet<RegistrationView>();
  private next = 0;
  /** Registrations seen since start (also those no longer kept). */
  total = 0;

  /**
   * @param o `kept`: registrations kept (default {@link KEPT_REGISTRATIONS}); `migrationOf`: the live migration
   *   configuration of a partner IMPI, for step 1 of the dynamic flow.
   */
  constructor(private readonly o: { kept?: number; migrationOf?: MigrationLookup } = {}) {}

  /**
   * Listens to `logs` (seed steps and lines) until the returned function is called.
   */
  attach(logs: LogCollector): () => void {
    return logs.watch({ step: (s) => this.step(s), line: (l) => this.line(l) });
  }

  /** Calls `listener` with a registration each time it is created or changes. */
  onChange(listener: (r: RegistrationView) => void): () => void {
    this.listeners.add(listener);
    return () => {
      this.listeners.delete(listener);
    };
  }

  /** The registrations kept, oldest first. */
  list(): RegistrationView[] {
    return [...this.recent.values()];
  }

  /** Takes one seed step of a role of the testbed. */
  step(s: StepSeen): void {
    // The demo UE's own steps name no key: the registrar logs the same steps from its side.
    if (s.role === 'ue') return;
    if (s.step === 1) {
      const id = str(s.fields.mcptt_id);
      if (id !== undefined) this.stepOnes.set(id, [...(this.stepOnes.get(id) ?? []), s].slice(-8));
      return;
    }
    const callId = str(s.fields.call_id);
    if (callId !== undefined) this.registrarStep(s, callId);
    else if (s.key !== undefined) this.diameterStep(s, s.key);
  }

  /**
   * Takes a log line: the registrar's one line per registration (registrar/register-log.ts: `status`, `flow`, `ms`,
   * `cx_ms` and the turn's `call_id`) gives its final status and timings.
   */
  line(l: LogLine): void {
    const callId = str(l.call_id);
    const msg = str(l.msg);
    if (typeof l.status !== 'number' || callId === undefined || msg === undefined || typeof l.flow !== 'string' || typeof l.cx_ms !== 'number') return;
    const role = String(l.role ?? l.name);
    const key = `${role}\n${callId}`;
    let reg = this.get(this.byCallId.get(key));
    if (!reg || this.answered.has(reg)) {
      // Refused before a challenge (400, 416, 423 …): a registration of one answer.
      reg = this.create(role, callId, l.flow === 'dynamic' ? 'dynamic' : 'static', { impi: str(l.impi), impu: str(l.impu) }, typeof l.time === 'number' ? l.time : Date.now());
      this.byCallId.set(key, reg.id);
    }
    const total = typeof l.total_ms === 'number' ? l.total_ms : typeof l.ms === 'number' ? l.ms : undefined;
    this.answered.add(reg);
    reg.result = { status: l.status, text: msg, at: typeof l.time === 'number' ? l.time : Date.now(), ...(total === undefined ? {} : { totalMs: total }) };
    this.changed(reg);
  }

  private registrarStep(s: StepSeen, callId: string): void {
    const key = `${s.role}\n${callId}`;
    let reg = s.step === 2 ? undefined : this.get(this.byCallId.get(key));
    if (!reg) {
      reg = this.create(s.role, callId, s.flow, { impi: first(s.fields.impi), impu: first(s.fields.impu) }, s.at);
      this.byCallId.set(key, reg.id);
    }
    reg.partner.impi ??= first(s.fields.impi);
    reg.partner.impu ??= first(s.fields.impu);
    this.add(reg, s);
    const sessionId = str(s.fields.session_id);
    if (s.step === 3) reg.vector = 'maa';
    if (s.step === 11) {
      if (s.fields.kind === 'decoy') reg.vector = 'decoy';
      else reg.vector ??= 'kept';
    }
    if (s.step === 13) reg.result ??= { status: 200, text: s.fields.bindings === 0 ? 'REGISTER → 200 (deregistered)' : 'REGISTER → 200 (registered)', at: s.at };
    this.changed(reg);
    if (sessionId !== undefined) this.alias(sessionId, reg);
  }

  private diameterStep(s: StepSeen, key: string): void {
    const reg = this.get(this.bySession.get(key));
    if (!reg) {
      this.waiting.set(key, [...(this.waiting.get(key) ?? []), s].slice(-MAX_RUNGS));
      return;
    }
    this.add(reg, s);
    if (s.step === 4 && s.node === 'partner-mms') {
      reg.primary = { impi: str(s.fields.primaryImpi), impus: Array.isArray(s.fields.primaryImpus) ? s.fields.primaryImpus.map(String) : [], realm: str(s.fields.primaryRealm) };
    }
    this.changed(reg);
    const onward = str(s.fields.primarySessionId);
    if (onward !== undefined) this.alias(onward, reg);
  }

  /** `key` is `reg`'s from now on; the steps that waited for it are taken. */
  private alias(key: string, reg: RegistrationView): void {
    this.bySession.set(key, reg.id);
    const parked = this.waiting.peek(key);
    if (!parked) return;
    this.waiting.delete(key);
    for (const s of parked) this.diameterStep(s, key);
  }

  private get(id: string | undefined): RegistrationView | undefined {
    return id === undefined ? undefined : this.recent.get(id);
  }

  private create(registrar: string, callId: string, flow: SeedFlow, partner: RegistrationView['partner'], at: number): RegistrationView {
    const reg: RegistrationView = {
      id: `${at.toString(36)}-${(this.next++).toString(36)}`, callId, flow, registrar, partner, primary: {}, startedAt: at, updatedAt: at, rungs: [],
    };
    this.total++;
    this.recent.set(reg.id, reg);
    const kept = this.o.kept ?? KEPT_REGISTRATIONS;
    for (const old of this.recent.keys()) {
      if (this.recent.size <= kept) break;
      this.recent.delete(old);
    }
    if (flow === 'dynamic' && partner.impi !== undefined && this.o.migrationOf) void this.addStepOne(reg, partner.impi);
    return reg;
  }

  /** Step 1 (the IdMSs') of a dynamic registration, found through its migration configuration. */
  private async addStepOne(reg: RegistrationView, partnerImpi: string): Promise<void> {
    const m = await this.o.migrationOf?.(reg.registrar, partnerImpi).catch(() => undefined);
    if (!m) return;
    reg.mcpttId = m.mcpttId;
    const rungs = stepOneRungs(this.stepOnes.peek(m.mcpttId) ?? [], reg.registrar, m.createdAt).map((s) => rungOf(s));
    if (rungs.length) reg.rungs = [...rungs, ...reg.rungs].sort((a, b) => a.at - b.at);
    if (this.recent.has(reg.id)) this.changed(reg);
  }

  private add(reg: RegistrationView, s: StepSeen): void {
    if (reg.rungs.length >= MAX_RUNGS) return;
    const rung = rungOf(s);
    // In time order; within one millisecond by step number (lines of several processes arrive in any order), then
    // in arrival order.
    let i = reg.rungs.length;
    const after = (r: RungView): boolean => r.at > rung.at || (r.at === rung.at && r.step > rung.step);
    while (i > 0 && after(reg.rungs[i - 1] as RungView)) i--;
    reg.rungs.splice(i, 0, rung);
  }

  private changed(reg: RegistrationView): void {
    reg.updatedAt = Math.max(reg.updatedAt, Date.now());
    for (const l of this.listeners) l(reg);
  }
}

function rungOf(s: StepSeen): RungView {
  return { step: s.step, node: s.node, role: s.role, text: s.msg.replace(/^step \d+: /, ''), at: s.at, fields: shown(s.fields) };
}
