/**
 * The HSS's Cx server side as pure handlers on DiameterMessage (testable without sockets), each wrapped so that
 * whatever goes wrong becomes a proper Cx answer:
 *
 * - a DiameterError (missing or malformed AVP, unknown M-bit AVP found by dictionary validation) → its base
 *   Result-Code with Failed-AVP (RFC 6733 §7);
 * - the store unreachable, closed or failing → 3004 DIAMETER_TOO_BUSY (E bit), so the client tries another HSS or
 *   answers its UE with a server error instead of a "forbidden" (DESIGN §2.1: 3002/3004 → 504);
 * - anything else (SQN exhausted, RNG broken) → 5012 DIAMETER_UNABLE_TO_COMPLY.
 */
import type { DiameterMessage } from '../lib/diameter/codec.ts';
import { ResultCode } from '../lib/diameter/constants.ts';
import { DiameterError } from '../lib/diameter/errors.ts';
import { validateMessage } from '../lib/diameter/message.ts';
import { isStoreError } from '../lib/store/store.ts';
import { baseErrorAnswer, type CxContext } from './cx-context.ts';
import { handleMar } from './mar.ts';
import type { CxPeer } from './partners.ts';
import { handleSar } from './sar.ts';
import { handleLir, handleUar } from './uar-lir.ts';

export { DEFAULT_MAX_AUTH_ITEMS, type CxContext } from './cx-context.ts';

/**
 * A Cx request handler: request in, answer out (never throws).
 * @param peer the authenticated peer it came from (the node's HandlerContext.peer); see hss/partners.ts for what
 *   a caller without one vouches for.
 */
export type CxHandler = (req: DiameterMessage, peer?: CxPeer) => Promise<DiameterMessage>;

/** The handlers of the Cx commands the HSS serves. */
export interface CxHandlers {
  /** Multimedia-Auth (303). */
  mar: CxHandler;
  /** Server-Assignment (301). */
  sar: CxHandler;
  /** User-Authorization (300). */
  uar: CxHandler;
  /** Location-Info (302). */
  lir: CxHandler;
}

/** Options of {@link createCxHandlers}. */
export interface CxHandlerOptions {
  /**
   * Check each request against the dictionary first (unknown M-bit AVP → 5001, bad flags → 3009, …). Turn off only
   * when the Diameter node already validated it.
   */
  validate?: boolean;
}

const STORE_UNAVAILABLE = ['ERR_STORE_CONNECT', 'ERR_STORE_CLOSED', 'ERR_STORE_IO'] as const;

/**
 * The answer for an exception thrown while handling `req`.
 * @param command the command's abbreviation, for the log line.
 */
export function answerForFailure(req: DiameterMessage, ctx: CxContext, err: unknown, command: string): DiameterMessage {
  if (err instanceof DiameterError) {
    ctx.logger.info({ command, code: err.code, result_code: err.resultCode }, `${command}: ${err.message}`);
    return baseErrorAnswer(req, ctx, err.resultCode ?? ResultCode.UNABLE_TO_COMPLY, err.message, err.failedAvp);
  }
  if (STORE_UNAVAILABLE.some((c) => isStoreError(err, c))) {
    ctx.logger.error({ command, err: (err as Error).message }, `${command}: store unavailable → 3004 DIAMETER_TOO_BUSY`);
    return baseErrorAnswer(req, ctx, ResultCode.TOO_BUSY, 'subscriber store unavailable');
  }
  ctx.logger.error({ command, err: err instanceof Error ? err.message : String(err) }, `${command}: failed → 5012 DIAMETER_UNABLE_TO_COMPLY`);
  return baseErrorAnswer(req, ctx, ResultCode.UNABLE_TO_COMPLY, 'unable to comply');
}

function guarded(ctx: CxContext, command: string, fn: (req: DiameterMessage, ctx: CxContext, peer?: CxPeer) => Promise<DiameterMessage>, validate: boolean): CxHandler {
  return async (req, peer) => {
    try {
      if (validate) validateMessage(req);
      return await fn(req, ctx, peer);
    } catch (err) {
      return answerForFailure(req, ctx, err, command);
    }
  };
}

/**
 * The HSS's Cx handlers over `ctx`.
 * @param options `validate` (default true): dictionary validation before each handler.
 */
export function createCxHandlers(ctx: CxContext, options: CxHandlerOptions = {}): CxHandlers {
  const v = options.validate ?? true;
  return {
    mar: guarded(ctx, 'MAR', handleMar, v),
    sar: guarded(ctx, 'SAR', handleSar, v),
    uar: guarded(ctx, 'UAR', handleUar, v),
    lir: guarded(ctx, 'LIR', handleLir, v),
  };
}
