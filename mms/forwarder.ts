/**
 * Forwarding without translation, for the roles that only pass Cx on: the relay standing for the primary "SIP core /
 * IMS" (DESIGN §2) and the primary MMS (from the partner MMS to the relay, behind its binding gate). The RFC 6733
 * relay itself is lib/diameter's `relayRequest` (router.ts): loop detection (3005), Route-Record with the ingress
 * peer, a new hop-by-hop id toward the next hop and the original one back, 3002 with the E bit when there is no
 * route, no open peer or no answer within the timeout.
 *
 * It runs as the node's Cx handler rather than in the node's relay mode so that each MAR can be logged as the seed
 * steps it stands for ({@link requestSteps}: 5/6 on the way in, {@link answerSteps}: 7/8 on the way back); relay mode
 * has no per-request hook. The
 * price: the node advertises Cx instead of the relay application, and the next hop is chosen by the realm's route
 * only (relay mode would also skip the ingress and Route-Record hosts; a route never lists them here).
 */
import type { DiameterMessage } from '../lib/diameter/codec.ts';
import { readCxResult } from '../lib/diameter/cx/index.ts';
import type { CxResult } from '../lib/diameter/cx/index.ts';
import { CxCommand } from '../lib/diameter/cx/index.ts';
import { findAvps, getValue, getValues } from '../lib/diameter/message.ts';
import type { DiameterNode, Handler, HandlerContext } from '../lib/diameter/node.ts';
import { refuse } from '../lib/diameter/error-answers.ts';
import { ResultCode } from '../lib/diameter/constants.ts';
import { relayRequest } from '../lib/diameter/router.ts';
import type { RelayContext } from '../lib/diameter/router.ts';
import type { TlsPem } from '../lib/config/files.ts';
import type { Logger } from '../lib/log.ts';
import { Teardown } from '../lib/lifecycle.ts';
import { RoleTelemetry } from '../lib/metrics/telemetry.ts';
import { formatListening, startCxNode } from './cx-node.ts';
import type { AgentNodeConfig } from './cx-node.ts';
import { migrationFlowAt, seedStep, seedStepText, seedStepsWanted } from '../lib/seed-steps.ts';
import type { SeedFlow, SeedNode, SeedStepNumber } from '../lib/seed-steps.ts';

/** Upstream answer timeout of a forwarding agent (DESIGN §2.1: 1 s per agent). */
export const FORWARD_TIMEOUT_MS = 1000;

/** Who is forwarding: which seed entity the node stands for. */
export type ForwardingRole = 'relay' | 'primary-mms';

/** What {@link createForwarder} needs. */
export interface ForwarderOptions {
  node: DiameterNode;
  as: ForwardingRole;
  /** Default {@link FORWARD_TIMEOUT_MS}. */
  timeoutMs?: number;
  /**
   * Checked before a request is forwarded: an answer to send instead (a refusal), or undefined to forward it. The
   * primary MMS lets only the users of a confirmed migration binding through.
   */
  admit?(request: DiameterMessage, ctx: HandlerContext): Promise<DiameterMessage | undefined>;
  logger: Logger;
}

/** What a seed-step line of a forwarded MAR carries: the detail after the step's summary, and structured fields. */
interface StepNote {
  detail: string;
  fields: Record<string, unknown>;
}

/**
 * The steps a MAR takes on its way in, as the forwarding role sees them: its arrival (performed by the sender) and
 * its own sending toward the HSS.
 */
function requestSteps(log: Logger, as: ForwardingRole, flow: SeedFlow, n: StepNote): void {
  const at = (step: SeedStepNumber, node: SeedNode): void => seedStep(log, flow, step, node, seedStepText(flow, step, n.detail), n.fields);
  if (as === 'primary-mms') {
    at(5, 'partner-mms'); // step 5: partner MMS → primary MMS
    at(6, 'primary-mms'); // step 6: primary MMS → primary HSS (via SIP core/IMS)
  } else if (flow === 'static') {
    at(5, 'partner-mms'); // step 5: partner MMS → primary SIP core/IMS
    at(6, 'relay'); // step 6: primary SIP core/IMS → primary HSS
  } else {
    // §10.6.2.3: the relay is the "via SIP core / IMS" of steps 6 and 7.
    at(6, 'primary-mms'); // step 6: primary MMS → primary HSS, through the relay
  }
}

/** The steps of the MAA on its way back: the HSS's answer arriving and the role's own answer toward the sender. */
function answerSteps(log: Logger, as: ForwardingRole, flow: SeedFlow, n: StepNote): void {
  const at = (step: SeedStepNumber, node: SeedNode): void => seedStep(log, flow, step, node, seedStepText(flow, step, n.detail), n.fields);
  at(7, 'hss'); // step 7: primary HSS → the role that asked
  if (as === 'primary-mms') at(8, 'primary-mms'); // step 8: primary MMS → partner MMS
  else if (flow === 'static') at(8, 'relay'); // step 8: primary SIP core/IMS → partner MMS
}

function outcome(answer: DiameterMessage): { text: string; fields: Record<string, number> } {
  let r: CxResult;
  try {
    r = readCxResult(answer);
  } catch {
    return { text: 'unreadable result', fields: {} };
  }
  if (r.experimentalResult) return { text: `Experimental-Result ${r.experimentalResult.code}`, fields: { experimentalResult: r.experimentalResult.code } };
  return { text: `Result-Code ${r.resultCode}`, fields: { resultCode: r.resultCode } };
}

/** Reads what a log line needs; a malformed request is the next hop's to answer, not a reason to fail here. */
function safely<T>(f: () => T): T | undefined {
  try {
    return f();
  } catch {
    return undefined;
  }
}

/**
 * `f`, run on the first call only. A function returned rather than a named closure made per request, which tsx would
 * name with a call each time.
 */
function once<T>(f: () => T): () => T {
  let value: { v: T } | undefined;
  return () => (value ??= { v: f() }).v;
}

/**
 * The handler for every Cx command the role forwards.
 * @returns a handler that never rejects (relayRequest answers failures itself).
 */
export function createForwarder(o: ForwarderOptions): Handler {
  const { node } = o;
  const log = o.logger.child({ component: o.as === 'relay' ? 'relay' : 'mms-forward' });
  const ctx: RelayContext = {
    originHost: node.originHost, originRealm: node.originRealm, routes: node.routes, localRealms: [],
    timeoutMs: o.timeoutMs ?? FORWARD_TIMEOUT_MS,
    handles: () => false,
    forward: (msg, q, timeoutMs) => node.request(msg, {
      timeoutMs, ...(q.destinationRealm === undefined ? {} : { realm: q.destinationRealm }), ...(q.destinationHost === undefined ? {} : { host: q.destinationHost }),
    }),
  };

  return async (req: DiameterMessage, hctx: HandlerContext): Promise<DiameterMessage> => {
    const ingress = hctx.peer.originHost;
    const command = req.commandCode === CxCommand.MAR ? 'MAR' : req.commandCode === CxCommand.SAR ? 'SAR' : `command ${req.commandCode}`;
    // What only the lines need is read from the request when a line (debug, seed step) is wanted or something went
    // wrong, not for every request (issue #12).
    const logging = seedStepsWanted(log);
    const describe = once(() => {
      const impi = safely(() => getValue(req, 'User-Name'));
      const impu = safely(() => getValues(req, 'Public-Identity').join(' ')) || '-';
      return { impi, impu, originRealm: safely(() => getValue(req, 'Origin-Realm')), fields: { sessionId: safely(() => getValue(req, 'Session-Id')), endToEnd: req.endToEnd, ingress, impi, impu } };
    });
    let stepped: SeedFlow | undefined;
    // Only the MAR is the seed's "get SIP authentication information"; other commands get a plain line.
    if (logging && req.commandCode === CxCommand.MAR) {
      const crossed = [...(safely(() => getValues(req, 'Route-Record')) ?? []), ingress];
      const migration = migrationFlowAt(describe().originRealm, crossed, node.originRealm);
      stepped = o.as === 'primary-mms' ? (migration && 'dynamic') : migration;
    }

    let refused: DiameterMessage | undefined;
    try {
      refused = await o.admit?.(req, hctx);
    } catch (err) {
      // The gate could not decide (its store is down): not delivered, which the registrar maps to 504, never forwarded.
      const { impi, fields } = describe();
      log.error({ ...fields, err: (err as Error).message }, `${command} for ${impi ?? '-'}: the admission check failed`);
      refused = refuse(req, ResultCode.UNABLE_TO_DELIVER, 'admission check unavailable', ctx);
    }
    if (refused) {
      const { impi, impu, originRealm, fields } = describe();
      log.warn({ ...fields, command, impi, impu, ...outcome(refused).fields }, `${command} for ${impi ?? '-'} from ${ingress} (${originRealm ?? '-'}) refused: ${outcome(refused).text} (${safely(() => getValue(refused, 'Error-Message')) ?? ''})`);
      return refused;
    }
    // Logged once admitted: a refused request never takes the steps toward the HSS.
    if (stepped) requestSteps(log, o.as, stepped, { detail: `primary IMPI ${describe().impi ?? '-'}, IMPU ${describe().impu}`, fields: describe().fields });
    const answer = await relayRequest(req, ingress, ctx);

    const from = safely(() => getValue(answer, 'Origin-Host'));
    if (from !== undefined && from.toLowerCase() === node.originHost.toLowerCase()) {
      const { impi, fields } = describe();
      const result = outcome(answer);
      log.warn({ ...fields, command, ...result.fields }, `${command} for ${impi ?? '-'} not delivered: ${result.text} (${safely(() => getValue(answer, 'Error-Message')) ?? ''})`);
      return answer;
    }
    if (!logging) return answer;
    const { impi, fields } = describe();
    const result = outcome(answer);
    if (stepped) {
      const items = findAvps(answer, 'SIP-Auth-Data-Item').length;
      answerSteps(log, o.as, stepped, { detail: `${result.text}, ${items} vector(s)`, fields: { ...fields, ...result.fields, items, answeredBy: from } });
    } else if (log.isLevelEnabled('debug')) {
      log.debug({ ...fields, command, ...result.fields, answeredBy: from }, `${command} for ${impi ?? '-'} relayed: ${result.text}`);
    }
    return answer;
  };
}

/** A started forwarding role (relay, primary MMS). */
export interface RunningForwarder {
  /** `tcp://host:port` or `tls://host:port`. */
  diameterUrl: string;
  node: DiameterNode;
  /** The PEM material of the role's TLS files. */
  tls?: TlsPem;
  /** Metrics and readiness (its routes); the relay serves them on `--metrics` itself, the primary MMS on its own stop. */
  telemetry: RoleTelemetry;
  /** `http://host:port` of the relay's metrics listener (`--metrics`). */
  metricsUrl?: string;
  /** Graceful stop (lib/lifecycle.ts): the listener stops accepting, then DPR to every peer (idempotent). */
  close(): Promise<void>;
}

/**
 * Starts a node that forwards MAR, SAR, UAR and LIR by its routes; the relay (the whole role) also its metrics
 * listener, while the primary MMS serves the returned telemetry with the rest of its role.
 * @throws ConfigFileError for unreadable TLS files; listen errors as they come.
 */
export async function startForwardingAgent(config: AgentNodeConfig, as: ForwardingRole, admit?: ForwarderOptions['admit']): Promise<RunningForwarder> {
  const telemetry = new RoleTelemetry(as === 'relay' ? 'relay' : 'mms', config.metrics?.system ?? 'primary');
  const { node, diameterUrl, tls } = await startCxNode(config, (n) => {
    const forward = createForwarder({
      node: n, as, logger: config.logger, ...(config.timeoutMs === undefined ? {} : { timeoutMs: config.timeoutMs }), ...(admit ? { admit } : {}),
    });
    return { mar: forward, sar: forward, uar: forward, lir: forward };
  }, telemetry);
  const name = as === 'relay' ? 'relay' : 'primary MMS';
  const teardown = new Teardown({ logger: config.logger, name });
  teardown.addDiameter(node);
  const metricsUrl = as === 'relay' ? await teardown.guard(() => telemetry.serve(config.metrics?.listen, teardown, config.logger)) : undefined;
  config.logger.info({ ...formatListening(config, diameterUrl), ...(metricsUrl ? { metrics: metricsUrl } : {}) }, `${name} ready`);
  return { diameterUrl, node, ...(tls ? { tls } : {}), telemetry, ...(metricsUrl ? { metricsUrl } : {}), close: () => teardown.run() };
}
