/**
 * RFC 3261 §9.2: the server side of CANCEL. The transaction a CANCEL names is found by the §17.2.3 matching rules
 * applied to the CANCEL as if its method were the original request's — "anything but CANCEL or ACK" — so its key is
 * tried with each method the stack knows by name. A match, live or Completed, gets 200 to the CANCEL; none gets 481.
 * For every method but INVITE that is all (§9.2: "A CANCEL request has no impact on the processing of transactions
 * with any other method"); no TU of this stack serves INVITE (the registrar answers it 405 at once), so no 487 is
 * owed either. An original request whose method the stack does not know by name is not found (481).
 *
 * The TU answers the CANCEL (SipStack.cancelStatus), after whatever it checks of every request.
 */
import type { SipRequest } from '../message.ts';
import { SIP_METHODS } from '../methods.ts';
import { serverKey, type KeySource } from './keys.ts';

/** The methods a CANCEL may cancel. */
const CANCELLABLE = SIP_METHODS.filter((m) => m !== 'CANCEL' && m !== 'ACK');

/**
 * The status of the answer to a CANCEL: 200 when the transaction it names still exists here, else 481.
 * @param cancel a CANCEL request.
 * @param source where it came from (the UDP part of the key: only its sender's transactions can match).
 * @param exists whether a server transaction with this key is live or Completed.
 */
export function cancelStatus(cancel: SipRequest, source: KeySource, exists: (key: string) => boolean): 200 | 481 {
  return CANCELLABLE.some((method) => exists(serverKey(cancel, source, method))) ? 200 : 481;
}
