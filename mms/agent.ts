/**
 * The partner MMS's Cx handler, socket-free: for each MAR/SAR from the partner SIP core it looks the identities up
 * (step 4), sends the translated request toward the primary through an injected `forward` (step 5; the node's
 * `request`), and answers with the translated answer (steps 9, 10). It never rejects: every failure becomes the Cx
 * answer the partner SIP core expects (DESIGN §2.1 maps them to SIP):
 *
 * | failure | answer toward the partner |
 * |---|---|
 * | no mapping for the IMPI | Experimental-Result 5001 DIAMETER_ERROR_USER_UNKNOWN |
 * | IMPU not in the mapping | Experimental-Result 5002 DIAMETER_ERROR_IDENTITIES_DONT_MATCH |
 * | primary unreachable, no answer within 1 s | Result-Code 3002 DIAMETER_UNABLE_TO_DELIVER, E bit |
 * | primary's own error | passed through (Experimental-Result, Result-Code) |
 * | primary answer unreadable / User-Data not rewritable, anything else | Result-Code 5012 UNABLE_TO_COMPLY |
 * | malformed partner request | its Result-Code (5005 MISSING_AVP with Failed-AVP, …) |
 */
import type { DiameterMessage } from '../lib/diameter/codec.ts';
import { ResultCode } from '../lib/diameter/constants.ts';
import { CxCommand, CxExperimentalResultCode, cxErrorAnswer, experimental, isCxSuccess } from '../lib/diameter/cx/index.ts';
import type { CxResult } from '../lib/diameter/cx/index.ts';
import { DiameterError } from '../lib/diameter/errors.ts';
import { getValue, getValues } from '../lib/diameter/message.ts';
import { isDiameterNodeError } from '../lib/diameter/node-errors.ts';
import { silentLogger } from '../lib/log.ts';
import type { Logger } from '../lib/log.ts';
import { MmsError, type MmsErrorCode } from './errors.ts';
import { MmsStats, type MmsStatsSnapshot } from './stats.ts';
import type { IdentityMapping, MappingSource } from './mappings.ts';
import { seedStep, seedStepsWanted } from '../lib/seed-steps.ts';
import type { SeedFlow } from '../lib/seed-steps.ts';
import { translateAnswer, translateRequest } from './translate.ts';
import type { AgentIdentity } from './translate.ts';

/** Default wait for the primary's answer (DESIGN §2.1: 1 s per agent behind the registrar's 1.5 s). */
export const DEFAULT_PRIMARY_TIMEOUT_MS = 1000;

/** What the agent needs; `forward` is `DiameterNode.request` bound to the node. */
export interface TranslationAgentOptions {
  self: AgentIdentity;
  mappings: MappingSource;
  /** Sends toward the primary; `mapping.kind` tells the path (static: the primary relay; dynamic: the primary MMS). */
  forward(request: DiameterMessage, options: { timeoutMs: number; mapping: IdentityMapping }): Promise<DiameterMessage>;
  /** Session-Ids of the MMS (a SessionIdGenerator for `self.originHost`, or `{ next: () => node.nextSessionId() }`). */
  sessionIds: { next(): string };
  /** Default {@link DEFAULT_PRIMARY_TIMEOUT_MS}. */
  primaryTimeoutMs?: number;
  logger?: Logger;
  /** Where the outcomes are counted. */
  stats?: MmsStats;
  /**
   * Called for every MAR or SAR answered with success: which registrar (its Origin-Host and Origin-Realm, the peer's
   * own — admission.ts) asked for which partner identities. The partner MMS ends their registrations there when the
   * mapping ends (rtr.ts).
   */
  onServed?(mapping: IdentityMapping, registrar: { host: string; realm: string }, partnerImpus: readonly string[]): void;
}

const COUNTED: Partial<Record<MmsErrorCode, keyof MmsStatsSnapshot>> = {
  ERR_MMS_USER_UNKNOWN: 'user_unknown', ERR_MMS_IDENTITIES_DONT_MATCH: 'identities_dont_match', ERR_MMS_PRIMARY_UNREACHABLE: 'primary_unreachable',
};

/** The handler to register for MAR and SAR. */
export interface TranslationAgent {
  /** Answers one partner request; never rejects. */
  handle(request: DiameterMessage): Promise<DiameterMessage>;
}

/**
 * Whether `err` (from `forward`) means the primary could not be reached: no peer, no answer in time, node closing.
 * @param err anything `forward` rejected with.
 */
export function isPrimaryUnreachable(err: unknown): boolean {
  return isDiameterNodeError(err, 'ERR_DIAMETER_TIMEOUT') || isDiameterNodeError(err, 'ERR_DIAMETER_NO_PEER') ||
    isDiameterNodeError(err, 'ERR_DIAMETER_CLOSED');
}

/**
 * The MmsError for a failed `forward`: ERR_MMS_PRIMARY_UNREACHABLE (→ 3002) or ERR_MMS_BAD_ANSWER (→ 5012).
 * @param err anything `forward` rejected with.
 */
export function primaryFailure(err: unknown): MmsError {
  const message = err instanceof Error ? err.message : String(err);
  if (isPrimaryUnreachable(err)) return new MmsError('ERR_MMS_PRIMARY_UNREACHABLE', `primary unreachable: ${message}`, { cause: err });
  return new MmsError('ERR_MMS_BAD_ANSWER', `primary request failed: ${message}`, { cause: err });
}

/** The Cx outcome each translation failure is answered with. */
export function resultOfMmsError(err: MmsError): CxResult {
  switch (err.code) {
    case 'ERR_MMS_USER_UNKNOWN': return experimental(CxExperimentalResultCode.ERROR_USER_UNKNOWN);
    case 'ERR_MMS_IDENTITIES_DONT_MATCH': return experimental(CxExperimentalResultCode.ERROR_IDENTITIES_DONT_MATCH);
    case 'ERR_MMS_PRIMARY_UNREACHABLE': return { resultCode: ResultCode.UNABLE_TO_DELIVER };
    case 'ERR_MMS_BAD_ANSWER':
    case 'ERR_MMS_INPUT':
    case 'ERR_MMS_CONFLICT': return { resultCode: ResultCode.UNABLE_TO_COMPLY };
  }
}

/**
 * The answer to a partner request that failed: MmsError per {@link resultOfMmsError}, DiameterError with its own
 * Result-Code and Failed-AVP, anything else 5012. 3xxx answers carry the E bit (cxErrorAnswer).
 * @param partnerRequest the request to answer (its identifiers, Session-Id, Proxy-Info).
 */
export function failureAnswer(partnerRequest: DiameterMessage, err: unknown, self: Pick<AgentIdentity, 'originHost' | 'originRealm'>): DiameterMessage {
  const origin = { originHost: self.originHost, originRealm: self.originRealm };
  if (err instanceof MmsError) return cxErrorAnswer(partnerRequest, resultOfMmsError(err), { ...origin, errorMessage: err.message });
  if (err instanceof DiameterError && err.resultCode !== undefined) {
    return cxErrorAnswer(partnerRequest, { resultCode: err.resultCode }, {
      ...origin, errorMessage: err.message, ...(err.failedAvp ? { failedAvp: err.failedAvp } : {}),
    });
  }
  return cxErrorAnswer(partnerRequest, { resultCode: ResultCode.UNABLE_TO_COMPLY }, { ...origin, errorMessage: 'internal error' });
}

/** The answer's Origin-Host for the log; an unreadable one must not turn into an error about the partner's request. */
function peerOf(answer: DiameterMessage): string | undefined {
  try {
    return getValue(answer, 'Origin-Host');
  } catch {
    return undefined;
  }
}

function outcome(r: CxResult): Record<string, number> {
  return r.experimentalResult ? { experimentalResult: r.experimentalResult.code } : { resultCode: r.resultCode };
}

/** How a line names the command: the seed's words for the MAR, the command's name otherwise. */
function commandText(mar: boolean, command: string, dir: 'request' | 'response'): string {
  return mar ? `get SIP authentication information ${dir}` : dir === 'request' ? command : `answer to ${command}`;
}

type StepLine = (n: 3 | 4 | 5 | 8 | 9 | 10, node: 'registrar' | 'partner-mms' | 'relay' | 'primary-mms', text: string, fields: Record<string, unknown>) => void;

/**
 * The line of one step of a request: a seed step for the MAR, a debug line for the SAR. Returned by a function rather
 * than made as a named closure per request, which tsx would name with a call each time.
 */
function stepLine(log: Logger, mar: boolean, command: string, sessionId: string | undefined, flow: () => SeedFlow): StepLine {
  return (n, node, text, fields) => {
    if (mar) seedStep(log, flow(), n, node, text, { sessionId, ...fields });
    else log.debug({ command, sessionId, ...fields }, text);
  };
}

/**
 * Creates the translation agent.
 * @param o identity, mapping source, the way to the primary and the Session-Id source.
 */
export function createTranslationAgent(o: TranslationAgentOptions): TranslationAgent {
  const log = (o.logger ?? silentLogger).child({ component: 'mms-translate' });
  const timeoutMs = o.primaryTimeoutMs ?? DEFAULT_PRIMARY_TIMEOUT_MS;
  const stats = o.stats ?? new MmsStats();

  function served(req: DiameterMessage, mapping: IdentityMapping, partnerImpus: readonly string[]): void {
    const host = getValue(req, 'Origin-Host');
    const realm = getValue(req, 'Origin-Realm');
    if (o.onServed && host !== undefined && realm !== undefined) o.onServed(mapping, { host, realm }, partnerImpus);
  }

  async function handle(req: DiameterMessage): Promise<DiameterMessage> {
    const mar = req.commandCode === CxCommand.MAR;
    if (mar || req.commandCode === CxCommand.SAR) stats.inc(mar ? 'mar' : 'sar');
    const command = mar ? 'MAR' : req.commandCode === CxCommand.SAR ? 'SAR' : `command ${req.commandCode}`;
    let flow: SeedFlow = 'static';
    // Only the MAR is the seed's "get SIP authentication information"; the SAR is logged without step numbers. Both
    // at debug level, one line per step and Cx transaction; their text and fields are built only when wanted (issue #12).
    const logging = mar ? seedStepsWanted(log) : log.isLevelEnabled('debug');
    // Every line carries the partner request's Session-Id: the key of the registration's steps here (lib/seed-steps.ts).
    const sessionId = logging ? getValue(req, 'Session-Id') : undefined;
    const step = stepLine(log, mar, command, sessionId, () => flow);
    try {
      const partnerImpi = getValue(req, 'User-Name');
      const partnerImpus = getValues(req, 'Public-Identity');
      const mapping = partnerImpi === undefined ? undefined : await o.mappings.byPartnerImpi(partnerImpi);
      flow = mapping?.kind ?? 'static';
      if (mapping) stats.inc(flow === 'dynamic' ? 'dynamic_flow' : 'static_flow');
      if (logging) step(3, 'registrar', `partner SIP core → partner MMS: ${commandText(mar, command, 'request')} (partner IMPI ${partnerImpi ?? '-'}, IMPU ${partnerImpus.join(' ') || '-'})`,
        { partnerImpi, partnerImpus });
      if (!mapping) throw new MmsError('ERR_MMS_USER_UNKNOWN', `no mapping for partner IMPI ${partnerImpi ?? '(no User-Name)'}`);
      const leg = translateRequest(req, mapping, o.self, o.sessionIds.next());
      const primaryMms = flow === 'dynamic' ? 'primary MMS' : 'primary SIP core/IMS';
      if (logging) step(4, 'partner-mms', `partner MMS determines the primary MC system (realm ${mapping.primaryRealm}) and the primary SIP identities: IMPI ${mapping.primaryImpi}, IMPU ${leg.primaryImpus.join(' ') || '-'}`,
        { primaryImpi: mapping.primaryImpi, primaryImpus: leg.primaryImpus, primaryRealm: mapping.primaryRealm });
      if (logging) step(5, 'partner-mms', `partner MMS → ${primaryMms}: ${commandText(mar, command, 'request')} (primary IMPI ${mapping.primaryImpi})`,
        { primarySessionId: getValue(leg.request, 'Session-Id'), destinationRealm: mapping.primaryRealm, serverName: leg.sentServerName });
      let answer: DiameterMessage;
      try {
        answer = await o.forward(leg.request, { timeoutMs, mapping });
      } catch (err) {
        throw primaryFailure(err);
      }
      const back = translateAnswer(req, answer, leg, o.self);
      if (logging) step(8, flow === 'dynamic' ? 'primary-mms' : 'relay', `${primaryMms} → partner MMS: ${commandText(mar, command, 'response')} (${isCxSuccess(back.result) ? 'success' : 'failure'}${mar ? `, ${back.items} vector(s)` : ''})`,
        { ...outcome(back.result), items: back.items, originHost: peerOf(answer) });
      if (logging) step(9, 'partner-mms', `partner MMS determines partner IMPI ${mapping.partnerImpi}, IMPU ${leg.partnerImpus.join(' ') || '-'}`,
        { partnerImpi: mapping.partnerImpi, partnerImpus: leg.partnerImpus, removedImpus: back.removedImpus });
      if (logging) step(10, 'partner-mms', `partner MMS → partner SIP core: ${commandText(mar, command, 'response')} (partner IMPI ${mapping.partnerImpi})`,
        { ...outcome(back.result), items: back.items });
      stats.inc(isCxSuccess(back.result) ? 'success' : 'other_failures');
      if (isCxSuccess(back.result)) served(req, mapping, leg.partnerImpus);
      return back.answer;
    } catch (err) {
      stats.inc((err instanceof MmsError ? COUNTED[err.code] : undefined) ?? 'other_failures');
      const answer = failureAnswer(req, err, o.self);
      const level = err instanceof MmsError || err instanceof DiameterError ? 'warn' : 'error';
      log[level]({ err, command, code: (err as { code?: unknown }).code }, `translation failed: ${(err as Error).message}`);
      return answer;
    }
  }

  return { handle };
}
