/**
 * Registration-Termination-Requests from the partner MMS (TS 29.229 §6.1.9; TS 29.228 §6.1.3, network initiated
 * de-registration; DESIGN §2.8 "dropped when a mapping or binding ends"): toward the partner SIP core the MMS stands
 * for the primary HSS, so when a partner identity stops resolving — its static mapping removed (admin API, a mapping
 * file imported with replace), its migration binding ended (configuration DELETE), expired, or no longer confirmed
 * by the primary — it tells the registrar that served the identity, which drops its kept vectors, pending challenges
 * and bindings at once (registrar/rtr.ts), instead of the registration lasting until the next REGISTER fails.
 *
 * Which registrar: the Origin-Host and Origin-Realm of the MARs and SARs the translation agent answered with success
 * for the partner IMPI ({@link RegistrationTerminations.served}; admission.ts made sure they are the peer's own), the
 * last few of them, and the partner IMPUs they named. Kept in memory and, when they change, in the store
 * (`mms:served:<partner IMPI>`, a day at most), so another MMS process sharing the store, or this one after a restart,
 * still knows — it can only reach the registrars connected to it, though: a registrar it has no connection to is
 * logged and skipped. In a worker group (`mcx mms --workers N`, lib/workers) each registrar connection is one
 * worker's: a worker without one hands the RTR to its siblings ({@link RTR_RELAY_TOPIC}), and those connected to the
 * registrar send it (a registrar that gets it twice answers the second 5001: nothing held any more). The RTR goes with Destination-Host = the registrar, Reason-Code PERMANENT_TERMINATION and the
 * cause as Reason-Info; the answer (2001, or 5001 when the registrar held nothing) ends the matter either way.
 */
import { BoundedMap } from '../lib/bounded-map.ts';
import type { DiameterMessage } from '../lib/diameter/codec.ts';
import { ReasonCode, buildRtr, isCxSuccess, readCxResult } from '../lib/diameter/cx/index.ts';
import type { DiameterNode } from '../lib/diameter/node.ts';
import type { Logger } from '../lib/log.ts';
import type { Store } from '../lib/store/store.ts';
import { workerSlot } from '../lib/workers/group.ts';
import { onSiblingMessage, tellSiblings } from '../lib/workers/messages.ts';
import type { MmsStats } from './stats.ts';

/** A registrar (S-CSCF) that asked for an identity. */
export interface ServingRegistrar {
  host: string;
  realm: string;
}

/** What is known of a partner IMPI's registrations. */
interface Served {
  /** Most recent first, at most {@link MAX_REGISTRARS}. */
  registrars: ServingRegistrar[];
  /** The partner IMPUs named in its MARs and SARs. */
  impus: string[];
  /** A dynamic binding's end (epoch ms): an RTR is due then. */
  expiresAt?: number;
  /** When the store record was last written (epoch ms; memory only). */
  writtenAt?: number;
}

/** The siblings' message of an RTR this worker could not deliver: `{ partnerImpi, impus, registrar, reason }`. */
export const RTR_RELAY_TOPIC = 'mms:rtr';

/** Store key prefix of the served records. */
export const SERVED_PREFIX = 'mms:served:';
/** Registrars remembered per identity (several registrar processes, each with its own vectors). */
const MAX_REGISTRARS = 4;
/** IMPUs remembered per identity. */
const MAX_IMPUS = 16;
/** Lifetime of a stored record, refreshed at half of it. */
const SERVED_TTL_MS = 24 * 3600_000;

/** What {@link RegistrationTerminations} needs. */
export interface RegistrationTerminationOptions {
  store: Store;
  /** The MMS's node (set once started). */
  node: () => DiameterNode | undefined;
  /** Answer timeout of an RTR. */
  timeoutMs: number;
  /** Whether a partner IMPI still resolves (checked before an expiry RTR: the binding may have been replaced). */
  resolves(partnerImpi: string): Promise<boolean>;
  /** Identities kept in memory. */
  maxIdentities?: number;
  /** How often expired dynamic bindings are looked for (default 5 s). */
  sweepMs?: number;
  logger: Logger;
  /** Where RTRs sent and not delivered are counted. */
  stats: MmsStats;
  now?: () => number;
}

/** Remembers who serves each partner identity and ends its registrations there. */
export class RegistrationTerminations {
  readonly #o: RegistrationTerminationOptions;
  readonly #served: BoundedMap<string, Served>;
  readonly #now: () => number;
  readonly #sweep: NodeJS.Timeout;
  readonly #offSiblings: () => void;

  constructor(o: RegistrationTerminationOptions) {
    this.#o = o;
    this.#now = o.now ?? Date.now;
    this.#served = new BoundedMap(o.maxIdentities ?? 100_000);
    this.#sweep = setInterval(() => void this.#expire(), o.sweepMs ?? 5000).unref();
    this.#offSiblings = onSiblingMessage(RTR_RELAY_TOPIC, (p) => {
      const m = (p ?? {}) as { partnerImpi?: unknown; impus?: unknown; registrar?: { host?: unknown; realm?: unknown }; reason?: unknown };
      const str = (x: unknown): x is string => typeof x === 'string' && x.length > 0;
      if (!str(m.partnerImpi) || !Array.isArray(m.impus) || !m.impus.every(str) || !str(m.registrar?.host) || !str(m.registrar?.realm) || !str(m.reason)) return;
      void this.#send(m.partnerImpi, m.impus, { host: m.registrar.host, realm: m.registrar.realm }, m.reason, true);
    });
  }

  /**
   * A MAR or SAR of `partnerImpi` from `registrar` was answered with success.
   * @param impus the partner IMPUs the request named.
   * @param expiresAt the end of a dynamic binding.
   */
  served(partnerImpi: string, registrar: ServingRegistrar, impus: readonly string[], expiresAt?: number): void {
    const now = this.#now();
    // The common case — a refresh through the same registrar — touches nothing (peek: no reordering of the bound).
    const prev = this.#served.peek(partnerImpi);
    const same = prev?.registrars[0]?.host === registrar.host && impus.every((i) => prev.impus.includes(i)) && prev.expiresAt === expiresAt;
    if (prev && same && (prev.writtenAt ?? 0) > now - SERVED_TTL_MS / 2) return;
    const next: Served = {
      registrars: [registrar, ...(prev?.registrars ?? []).filter((r) => r.host.toLowerCase() !== registrar.host.toLowerCase())].slice(0, MAX_REGISTRARS),
      impus: [...new Set([...(prev?.impus ?? []), ...impus])].slice(-MAX_IMPUS),
      ...(expiresAt === undefined ? {} : { expiresAt }),
      writtenAt: now,
    };
    this.#served.set(partnerImpi, next);
    const { writtenAt: _w, ...stored } = next;
    this.#o.store.set(SERVED_PREFIX + partnerImpi, stored, { ttlMs: SERVED_TTL_MS }).catch((err: unknown) =>
      this.#o.logger.warn({ partnerImpi, err: (err as Error).message }, 'could not record the registrar serving an identity'));
  }

  /**
   * Ends the registrations of `partnerImpi` at every registrar that served it; never rejects. Nothing is sent for an
   * identity no registrar asked for.
   * @param reason the Reason-Info (why the identity ended).
   */
  async terminate(partnerImpi: string, reason: string): Promise<void> {
    const served = this.#served.peek(partnerImpi) ?? await this.#stored(partnerImpi);
    this.#served.delete(partnerImpi);
    await this.#o.store.delete(SERVED_PREFIX + partnerImpi).catch(() => undefined);
    if (!served) {
      this.#o.logger.debug({ partnerImpi, reason }, 'no registrar served this identity: no Registration-Termination-Request');
      return;
    }
    await Promise.all(served.registrars.map((r) => this.#send(partnerImpi, served.impus, r, reason)));
  }

  /** Stops the expiry sweep. */
  close(): void {
    clearInterval(this.#sweep);
    this.#offSiblings();
  }

  async #stored(partnerImpi: string): Promise<Served | undefined> {
    const raw = await this.#o.store.get<Served>(SERVED_PREFIX + partnerImpi).catch(() => undefined);
    return raw && Array.isArray(raw.registrars) && Array.isArray(raw.impus) ? raw : undefined;
  }

  /** @param relayed a sibling worker handed it over: sent only where the registrar is connected, never handed on. */
  async #send(partnerImpi: string, impus: string[], r: ServingRegistrar, reason: string, relayed = false): Promise<void> {
    const node = this.#o.node();
    const fields = { partnerImpi, impus, registrar: r.host, reason };
    if (!node) return;
    let answer: DiameterMessage;
    try {
      const rtr = buildRtr({
        sessionId: node.nextSessionId(), originHost: node.originHost, originRealm: node.originRealm, destinationHost: r.host,
        destinationRealm: r.realm, userName: partnerImpi, publicIdentities: impus, reasonCode: ReasonCode.PERMANENT_TERMINATION, reasonInfo: reason,
      });
      this.#o.stats.inc('registration_terminations');
      answer = await node.request(rtr, { host: r.host, realm: r.realm, timeoutMs: this.#o.timeoutMs });
    } catch (err) {
      if ((err as { code?: unknown }).code === 'ERR_DIAMETER_NO_PEER' && workerSlot()) {
        if (!relayed) {
          tellSiblings(RTR_RELAY_TOPIC, { partnerImpi, impus, registrar: r, reason });
          this.#o.logger.info(fields, `Registration-Termination-Request for ${partnerImpi}: ${r.host} is not connected to this worker, handed to its siblings`);
        }
        return;
      }
      this.#o.stats.inc('registration_terminations_failed');
      this.#o.logger.warn({ ...fields, err: (err as Error).message }, `Registration-Termination-Request for ${partnerImpi} not delivered to ${r.host}`);
      return;
    }
    let result: ReturnType<typeof readCxResult> | undefined;
    try {
      result = readCxResult(answer);
    } catch {
      result = undefined;
    }
    const what = result === undefined ? 'an unreadable result' : isCxSuccess(result) ? 'success' : JSON.stringify(result);
    this.#o.logger.debug({ ...fields, result }, `Registration-Termination-Request for ${partnerImpi} answered by ${r.host}: ${what}`);
  }

  /** Dynamic bindings past their end that this process served: their RTR is due (the store dropped the binding). */
  async #expire(): Promise<void> {
    const now = this.#now();
    const due: string[] = [];
    for (const [impi, s] of this.#served.entries()) if (s.expiresAt !== undefined && s.expiresAt <= now) due.push(impi);
    for (const impi of due) {
      if (await this.#o.resolves(impi).catch(() => true)) {
        // Bound again meanwhile: its next MAR or SAR brings the new end.
        const s = this.#served.peek(impi);
        if (s) delete s.expiresAt;
        continue;
      }
      await this.terminate(impi, 'migration binding expired');
    }
  }
}
