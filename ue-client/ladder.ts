/**
 * The message ladder of a UE run, built from the wire (a transport tap), one line per logical message:
 *
 * ```
 *   0.000s  UE → registrar  REGISTER (step 2)
 *   0.014s  UE ← registrar  401 Unauthorized — AKAv1-MD5, ISIM: RES (step 11)
 *   0.016s  UE → registrar  REGISTER auth (step 12)
 *   0.031s  UE ← registrar  200 OK (step 13)
 *   0.031s  UE registered — expires 600 s (step 14)
 * ```
 *
 * For the migration flows the lines carry the step numbers of TS 23.280 §10.6.2.2 (static) / §10.6.2.3 (dynamic)
 * that the UE takes part in (2, 11, 12, 13, 14); `home` gets plain labels. Retransmissions and datagrams eaten by the
 * test drop pattern are folded into their message's line (`×3, 1 dropped`). Exchanges that are not SIP (the IdM and
 * migration configuration requests of `mcx ue migrate`, before the REGISTER) are {@link Ladder.record}ed with their
 * own peer, on the same time base.
 */
import { parseMessage, type SipMessage } from '../lib/sip/index.ts';
import type { SeedStepNumber } from '../lib/seed-steps.ts';
import type { ChallengeNote } from './aka-auth.ts';
import type { WireEvent } from './transports/index.ts';

/** Which registration the UE performs: a §10.6.2 migration flow, or a plain registration in its home system. */
export type UeFlow = 'static' | 'dynamic' | 'home';

/** What the UE is doing; only the initial registration maps to seed steps. */
export type LadderPhase = 'register' | 'refresh' | 'deregister';

/** One line of the ladder. */
export interface LadderEntry {
  /** ms since the first entry. */
  offsetMs: number;
  direction: 'out' | 'in' | 'note';
  /** `REGISTER`, `REGISTER auth`, `401 Unauthorized`, … */
  label: string;
  /** What the UE made of it (challenge algorithm and ISIM outcome). */
  note: string | undefined;
  step: SeedStepNumber | undefined;
  /** Transmissions (out) or receptions (in), retransmissions included. */
  count: number;
  dropped: number;
  /** SIP status for responses. */
  status: number | undefined;
  /** Who the UE talks to, when it is not the registrar (e.g. `primary IdMS`). */
  peer?: string;
}

/** An exchange that is not SIP, for {@link Ladder.record}. */
export interface LadderEvent {
  /** Epoch ms. */
  at: number;
  direction: 'out' | 'in' | 'note';
  peer: string;
  label: string;
  note?: string;
  step?: SeedStepNumber;
}

/** An entry with its fold key, and whether the UE has yet to see any copy of it (all dropped so far). */
type Entry = LadderEntry & { key: string; unheard: boolean };

const NOTE_TEXT: Readonly<Record<ChallengeNote['outcome'], string>> = {
  res: 'ISIM: RES',
  'sync-failure': 'ISIM: SQN not acceptable% → auts',
  'mac-failure': 'ISIM: MAC failure (network not authentic)',
  password: 'password',
};

/** Collects the ladder; attach {@link Ladder.tap} to the transport. */
export class Ladder {
  readonly #flow: UeFlow;
  readonly #peer: string;
  readonly #notes: (branch: string) => ChallengeNote | undefined;
  readonly #entries: Entry[] = [];
  #start: number | undefined;
  /** The current phase; the registration logic sets it. */
  phase: LadderPhase = 'register';
  readonly #listeners = new Set<(entry: LadderEntry, line: string) => void>();

  /**
   * @param flow which step numbers to print.
   * @param notes what the responder made of the challenge received on a branch.
   * @param peer how the other end is named.
   */
  constructor(flow: UeFlow, notes: (branch: string) => ChallengeNote | undefined = () => undefined, peer = 'registrar') {
    this.#flow = flow;
    this.#notes = notes;
    this.#peer = peer;
  }

  /** The wire tap. */
  readonly tap = (e: WireEvent): void => {
    let m: SipMessage;
    try {
      m = parseMessage(Buffer.from(e.raw, 'utf8'));
    } catch {
      return;
    }
    const branch = (() => {
      try {
        return m.topVia().branch ?? '';
      } catch {
        return '';
      }
    })();
    const key = `${e.direction}|${branch}|${m.kind === 'response' ? m.status : m.kind}`;
    const known = this.#entries.find((x) => x.key === key);
    if (known) {
      known.count++;
      if (e.dropped) known.dropped++;
      else if (known.unheard) {
        // The first copy was dropped before the UE looked at it; this one has been through the hooks.
        known.unheard = false;
        if (m.kind === 'response') known.note = this.#responseLabel(m, branch).note;
        this.#emit(known);
      }
      return;
    }
    const { label, step, note } = m.kind === 'request' ? this.#requestLabel(m) : this.#responseLabel(m, branch);
    this.#add({ key, direction: e.direction, label, note, step, at: e.at, dropped: e.dropped ? 1 : 0, status: m.kind === 'response' ? m.status : undefined });
  };

  /** Calls `listener` with each new entry and its line as they are made (live output, seed-step log lines). */
  addListener(listener: (entry: LadderEntry, line: string) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** Adds a line that is not a message (e.g. `UE registered — expires 600 s`, step 14). */
  mark(label: string, step?: SeedStepNumber, note?: string): void {
    this.#add({ key: `note|${this.#entries.length}`, direction: 'note', label, note, step: this.#flow === 'home' ? undefined : step, at: Date.now(), dropped: 0, status: undefined });
  }

  /** Adds a line for an exchange that is not SIP (shown with its own peer; no step numbers in `home`). */
  record(e: LadderEvent): void {
    this.#add({
      key: `event|${this.#entries.length}`, direction: e.direction, label: e.label, note: e.note, step: this.#flow === 'home' ? undefined : e.step,
      at: e.at, dropped: 0, status: undefined, peer: e.peer,
    });
  }

  /** The entries so far. */
  get entries(): LadderEntry[] {
    return this.#entries.map(({ key: _key, unheard: _unheard, ...e }) => ({ ...e }));
  }

  /** The ladder as text lines. */
  lines(): string[] {
    return this.#entries.map((e) => this.#format(e));
  }

  #add(x: { key: string; direction: LadderEntry['direction']; label: string; note: string | undefined; step: SeedStepNumber | undefined; at: number; dropped: number; status: number | undefined; peer?: string }): void {
    this.#start ??= x.at;
    const entry: Entry = {
      key: x.key, offsetMs: x.at - this.#start, direction: x.direction, label: x.label, note: x.note, step: x.step, count: 1,
      dropped: x.dropped, status: x.status, unheard: x.direction === 'in' && x.dropped > 0, ...(x.peer === undefined ? {} : { peer: x.peer }),
    };
    this.#entries.push(entry);
    // An inbound message the UE never got to see is shown once a copy arrives (or only in the final ladder).
    if (!entry.unheard) this.#emit(entry);
  }

  #emit(entry: Entry): void {
    const line = this.#format(entry);
    const { key: _key, unheard: _unheard, ...view } = entry;
    for (const l of this.#listeners) l(view, line);
  }

  #format(e: LadderEntry): string {
    const peer = e.peer ?? this.#peer;
    const who = e.direction === 'out' ? `UE → ${peer}  ` : e.direction === 'in' ? `UE ← ${peer}  ` : 'UE ';
    const counts = e.count > 1 || e.dropped > 0 ? `  [×${e.count}${e.dropped > 0 ? `, ${e.dropped} dropped` : ''}]` : '';
    return `${(e.offsetMs / 1000).toFixed(3).padStart(8)}s  ${who}${e.label}${e.note ? ` — ${e.note}` : ''}${e.step ? ` (step ${e.step})` : ''}${counts}`;
  }

  #stepped(n: SeedStepNumber): SeedStepNumber | undefined {
    return this.#flow !== 'home' && this.phase === 'register' ? n : undefined;
  }

  #requestLabel(m: SipMessage & { kind: 'request' }): { label: string; step: SeedStepNumber | undefined; note: string | undefined } {
    if (m.method !== 'REGISTER') return { label: m.method, step: undefined, note: undefined };
    const contacts = safe(() => m.contacts(), []);
    const dereg = contacts === '*' || m.expires() === 0 || (contacts.length > 0 && contacts.every((c) => c.expires === 0));
    const name = dereg ? 'de-REGISTER' : this.phase === 'refresh' ? 're-REGISTER' : 'REGISTER';
    const cred = safe(() => [...m.authorization(), ...m.proxyAuthorization()][0], undefined);
    if (!cred || !cred.nonce) return { label: name, step: this.#stepped(2), note: undefined };
    if (cred.auts !== undefined) return { label: `${name} auts`, step: this.#stepped(12), note: 'resynchronisation (RFC 3310 §3.4)' };
    if (cred.response === '') return { label: `${name} response=""`, step: this.#stepped(12), note: 'MAC failure reported, no auts (TS 24.229 §5.1.1.5.3)' };
    return { label: `${name} auth`, step: this.#stepped(12), note: undefined };
  }

  #responseLabel(m: SipMessage & { kind: 'response' }, branch: string): { label: string; step: SeedStepNumber | undefined; note: string | undefined } {
    const label = `${m.status} ${m.reason}`.trim();
    if (m.status === 401 || m.status === 407) {
      const n = this.#notes(branch);
      const note = n ? `${n.algorithm}, ${NOTE_TEXT[n.outcome].replace('%', n.reason ? ` (${n.reason})` : '')}${n.amf ? `, AMF ${n.amf} not the expected one` : ''}` : undefined;
      return { label, step: this.#stepped(11), note };
    }
    if (m.status >= 200 && m.status < 300) return { label, step: this.#stepped(13), note: undefined };
    return { label, step: undefined, note: undefined };
  }
}

/** The ladder lines of `events` alone (what came before a UE that never started). */
export function eventLines(flow: UeFlow, events: readonly LadderEvent[]): string[] {
  const ladder = new Ladder(flow);
  for (const e of events) ladder.record(e);
  return ladder.lines();
}

function safe<T, D>(f: () => T, fallback: D): T | D {
  try {
    return f();
  } catch {
    return fallback;
  }
}
