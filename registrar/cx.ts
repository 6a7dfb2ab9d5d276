/**
 * The registrar as a Cx client (TS 29.229 §6.1.3, §6.1.7): MAR for a vector (or, on resynchronisation, with
 * SIP-Authorization = RAND ‖ AUTS), SAR to assign or release the user. Every way a request can fail becomes one
 * {@link RegistrarError}, whose code fixes the SIP status (DESIGN §2.1): no answer within 1.5 s, no open peer, or
 * Result-Code 3002/3004 → 504; Experimental-Result 5001/5002 (and other user refusals) → 403 (a MAR's: a decoy challenge
 * first, challenge.ts); the rest → 500.
 */
import type { Avp, DiameterMessage } from '../lib/diameter/codec.ts';
import { ResultCode } from '../lib/diameter/constants.ts';
import {
  CxExperimentalResultCode as X, UserDataAlreadyAvailable, buildMar, buildSar, isCxSuccess, readCxResult,
  readMaa, readSaa, type CxResult, type MaaData, type SaaData,
} from '../lib/diameter/cx/index.ts';
import { buildAvp, decodeAvpValue, findAvp } from '../lib/diameter/message.ts';
import { isDiameterNodeError, type DiameterNode } from '../lib/diameter/node.ts';
import { RegistrarError } from './errors.ts';

/** Where and as whom the registrar sends Cx requests. */
export interface CxClientOptions {
  node: DiameterNode;
  /** Destination-Realm of every request. */
  destinationRealm: string;
  /** The registrar's SIP URI (Server-Name). */
  serverName: string;
  /** Answer timeout per request (failover included). */
  timeoutMs: number;
}

/** What a MAR asks for. */
export interface MarQuery {
  impi: string;
  impu: string;
  /** SIP-Authentication-Scheme (`Unknown` lets the HSS pick AKA or SIP Digest). */
  scheme: string;
  /** RAND ‖ AUTS (30 octets) on resynchronisation. */
  resync?: Buffer;
  /** SIP Digest: the Digest-Algorithm asked for, carried in the SIP-Auth-Data-Item [design, see hss/mar.ts]. */
  digestAlgorithm?: string;
  /** SIP-Number-Auth-Items: vectors asked for (default 1; the spare ones are kept, vector-cache.ts). */
  count?: number;
  /** The MAR's Session-Id, when the caller names it on its lines ({@link CxClient.nextSessionId}); default a fresh one. */
  sessionId?: string;
}

/** Base Result-Codes that mean "the HSS side is unreachable or overloaded": 504, not a refusal. */
const UNAVAILABLE = new Set<number>([ResultCode.UNABLE_TO_DELIVER, ResultCode.TOO_BUSY]);
/** Experimental-Result-Codes that say the user may not register here: 403. */
const USER_REFUSED = new Set<number>([
  X.ERROR_USER_UNKNOWN, X.ERROR_IDENTITIES_DONT_MATCH, X.ERROR_AUTH_SCHEME_NOT_SUPPORTED, X.ERROR_ROAMING_NOT_ALLOWED,
  X.ERROR_IDENTITY_NOT_REGISTERED,
]);

function describe(result: CxResult): string {
  return result.experimentalResult ? `Experimental-Result ${result.experimentalResult.code}` : `Result-Code ${result.resultCode}`;
}

/**
 * The error a failure answer stands for.
 * @param command `MAR` or `SAR`, for the message.
 * @param result the answer's outcome.
 */
export function failureOf(command: string, result: CxResult): RegistrarError {
  const what = `${command} answered with ${describe(result)}`;
  if (result.resultCode !== undefined && UNAVAILABLE.has(result.resultCode)) return new RegistrarError('ERR_REGISTRAR_HSS_UNAVAILABLE', what);
  if (result.experimentalResult && USER_REFUSED.has(result.experimentalResult.code)) return new RegistrarError('ERR_REGISTRAR_USER_UNKNOWN', what);
  return new RegistrarError('ERR_REGISTRAR_HSS_ERROR', what);
}

/** Adds a Digest-Algorithm AVP inside the MAR's SIP-Auth-Data-Item, keeping everything else as buildMar made it. */
function withDigestAlgorithm(mar: DiameterMessage, algorithm: string): DiameterMessage {
  const item = findAvp(mar, 'SIP-Auth-Data-Item');
  if (!item) return mar;
  const inner = decodeAvpValue(item, 'Grouped') as Avp[];
  const rebuilt = buildAvp(['SIP-Auth-Data-Item', [...inner, ['Digest-Algorithm', algorithm]]]);
  return { ...mar, avps: mar.avps.map((a) => (a === item ? rebuilt : a)) };
}

/** MAR and SAR over one Diameter node. */
export class CxClient {
  readonly #o: CxClientOptions;

  /** @param o node, routing and timeout. */
  constructor(o: CxClientOptions) {
    this.#o = o;
  }

  /** The registrar's SIP URI as sent in Server-Name. */
  get serverName(): string {
    return this.#o.serverName;
  }

  /** A fresh Session-Id of the registrar's node, for a MAR whose seed-step lines name it before it is sent. */
  nextSessionId(): string {
    return this.#o.node.nextSessionId();
  }

  /**
   * Asks for `q.count` vectors (default one), or the SIP Digest HA1.
   * @returns the MAA when it reports success.
   * @throws RegistrarError for every failure (see the module comment).
   */
  async mar(q: MarQuery): Promise<MaaData> {
    const node = this.#o.node;
    let msg = buildMar({
      sessionId: q.sessionId ?? node.nextSessionId(), originHost: node.originHost, originRealm: node.originRealm,
      destinationRealm: this.#o.destinationRealm, userName: q.impi, publicIdentity: q.impu, serverName: this.#o.serverName,
      numberAuthItems: q.count ?? 1, scheme: q.scheme, ...(q.resync ? { authorization: q.resync } : {}),
    });
    if (q.digestAlgorithm !== undefined) msg = withDigestAlgorithm(msg, q.digestAlgorithm);
    const answer = await this.#send('MAR', msg);
    return this.#read('MAR', answer, readMaa);
  }

  /**
   * Assigns (REGISTRATION, RE_REGISTRATION) or releases (USER_DEREGISTRATION) the user.
   * @param type a ServerAssignmentType value (lib/diameter/cx).
   * @param hasProfile the registrar keeps the user's profile: User-Data-Already-Available = USER_DATA_ALREADY_AVAILABLE.
   * @throws RegistrarError for every failure.
   */
  async sar(impi: string, impu: string, type: number, hasProfile = false): Promise<SaaData> {
    const node = this.#o.node;
    const msg = buildSar({
      sessionId: node.nextSessionId(), originHost: node.originHost, originRealm: node.originRealm,
      destinationRealm: this.#o.destinationRealm, userName: impi, publicIdentities: [impu], serverName: this.#o.serverName,
      serverAssignmentType: type,
      userDataAlreadyAvailable: hasProfile ? UserDataAlreadyAvailable.USER_DATA_ALREADY_AVAILABLE : UserDataAlreadyAvailable.USER_DATA_NOT_AVAILABLE,
    });
    return this.#read('SAR', await this.#send('SAR', msg), readSaa);
  }

  async #send(command: string, msg: DiameterMessage): Promise<DiameterMessage> {
    try {
      return await this.#o.node.request(msg, { timeoutMs: this.#o.timeoutMs });
    } catch (err) {
      if (isDiameterNodeError(err, 'ERR_DIAMETER_CLOSED')) throw new RegistrarError('ERR_REGISTRAR_CLOSED', `${command}: Diameter node closed`, { cause: err });
      if (isDiameterNodeError(err, 'ERR_DIAMETER_TIMEOUT') || isDiameterNodeError(err, 'ERR_DIAMETER_NO_PEER')) {
        throw new RegistrarError('ERR_REGISTRAR_HSS_UNAVAILABLE', `${command}: ${err.message}`, { cause: err });
      }
      throw new RegistrarError('ERR_REGISTRAR_HSS_ERROR', `${command}: ${(err as Error).message}`, { cause: err });
    }
  }

  #read<T>(command: string, answer: DiameterMessage, read: (m: DiameterMessage) => T): T {
    let result: CxResult;
    try {
      result = readCxResult(answer);
    } catch (err) {
      throw new RegistrarError('ERR_REGISTRAR_HSS_ERROR', `${command} answer without a usable result: ${(err as Error).message}`, { cause: err });
    }
    if (!isCxSuccess(result)) throw failureOf(command, result);
    try {
      return read(answer);
    } catch (err) {
      throw new RegistrarError('ERR_REGISTRAR_HSS_ERROR', `${command} answer unreadable: ${(err as Error).message}`, { cause: err });
    }
  }
}
