/**
 * Transaction matching keys.
 *
 * Server side (RFC 3261 §17.2.3): with an RFC 3261 branch (magic cookie plus something after it) a request matches
 * on top-Via branch + sent-by + method (ACK folded into INVITE). Over UDP the key also holds the source address and
 * port, so an identical request from another address is another transaction [design, DESIGN §2.1] — on UDP nothing
 * else stops a spoofed or NAT-rebound copy from hijacking the retransmission of someone else's response.
 * Without a usable branch (RFC 2543 senders; `z9hG4bK` alone, RFC 4475 §3.2.1) the §17.2.3 fallback applies:
 * Request-URI, To tag, From tag, Call-ID, CSeq and the top Via.
 *
 * Client side (§17.1.3): branch + CSeq method.
 */
import type { SipMessage, SipRequest } from '../message.ts';
import { MAGIC_COOKIE } from '../headers/via.ts';

/** Where a request came from, for the UDP part of the key. */
export interface KeySource {
  transport: string;
  remoteAddress: string;
  remotePort: number;
}

/**
 * True for a branch that identifies a transaction by itself (§8.1.1.7).
 * @param branch the top Via branch.
 */
export function isRfc3261Branch(branch: string | undefined): branch is string {
  return branch !== undefined && branch.length > MAGIC_COOKIE.length && branch.startsWith(MAGIC_COOKIE);
}

/**
 * The server transaction key of a parsed request.
 * @param req a request that parsed (top Via, From, To, Call-ID and CSeq are valid).
 * @param source where it came from.
 * @param as the method to key it under (default its own): a CANCEL is matched as the request it cancels (§9.2).
 */
export function serverKey(req: SipRequest, source: KeySource, as: string = req.method): string {
  const via = req.topVia();
  const method = as === 'ACK' ? 'INVITE' : as;
  const src = source.transport === 'UDP' ? `${source.remoteAddress}|${source.remotePort}` : '';
  const branch = via.branch;
  // Kept as long as the transaction (32 s on UDP for Timer J), so it must not hold the request's text: a join with a
  // separator builds one flat string of its own, where a template literal would keep slices of the header block and
  // ownString would add a slice of its own.
  if (isRfc3261Branch(branch)) return [branch, via.sentBy, method, src].join('|');
  const cseq = req.cseq();
  return ['2543', req.uri, req.to().tag ?? '', req.from().tag ?? '', req.callId(), cseq.seq, method, via.toString(), src].join('|');
}

/**
 * The client transaction key of a message: branch + CSeq method (for a request we sent, or a response to it).
 * @param msg the request or response.
 * @returns the key, or undefined when the top Via has no branch.
 */
export function clientKey(msg: SipMessage): string | undefined {
  const branch = msg.topVia().branch;
  if (branch === undefined) return undefined;
  const method = msg.cseq().method;
  return `${branch}|${method === 'ACK' ? 'INVITE' : method}`;
}
