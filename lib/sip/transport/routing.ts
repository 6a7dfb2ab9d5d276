/**
 * Where requests were really from and where responses go.
 *
 * Receiving (RFC 3261 §18.2.1, RFC 3581 §4): when the top Via's sent-by host is not the packet's source address
 * (always so for a host name), add `received=<source>`; when the Via carries a bare `rport`, fill in the source port
 * and add `received` even if the host matches.
 *
 * Responding (§18.2.2 with RFC 3581 §4): on a reliable transport, the connection the request came on if it is still
 * open, otherwise a new connection to `received` (or the sent-by host) at the sent-by port (default 5060/5061). On
 * UDP: `maddr` if present (sent-by port or 5060), else `received` at the `rport` port when filled in or the sent-by
 * port, else the sent-by host and port.
 */
import type { HeaderList } from '../headers/list.ts';
import { parseVia, type Via } from '../headers/via.ts';
import type { SipRequest } from '../message.ts';
import { firstElementEnd, trimWs } from '../syntax.ts';
import { defaultPort, normalizeAddress } from './types.ts';

/**
 * Adds `received` / fills `rport` on a Via object in place.
 * @param via the top Via of a received request.
 * @param remoteAddress source IP of the packet.
 * @param remotePort source port of the packet.
 * @returns whether the Via changed.
 */
export function stampVia(via: Via, remoteAddress: string, remotePort: number): boolean {
  const src = normalizeAddress(remoteAddress);
  const asked = via.params.get('rport') === null;
  let changed = false;
  if (asked) {
    via.params.set('rport', String(remotePort));
    changed = true;
  }
  if ((asked || normalizeAddress(via.hostAddress) !== src) && via.received !== src) {
    via.params.set('received', src);
    changed = true;
  }
  return changed;
}

/**
 * Applies {@link stampVia} to a parsed request, rewriting its top Via text only when something changed.
 * @param req the request.
 * @param remoteAddress source IP.
 * @param remotePort source port.
 */
export function stampReceived(req: SipRequest, remoteAddress: string, remotePort: number): void {
  const via = req.topVia();
  if (stampVia(via, remoteAddress, remotePort)) req.setTopVia(via);
}

/**
 * Applies {@link stampVia} to raw header fields (requests that failed to parse, before an error response is formed);
 * leaves them untouched when the top Via does not parse.
 * @param headers the fields.
 * @param remoteAddress source IP.
 * @param remotePort source port.
 * @returns the parsed (and stamped) top Via, or undefined.
 */
export function stampReceivedRaw(headers: HeaderList, remoteAddress: string, remotePort: number): Via | undefined {
  const i = headers.indexOf('via');
  const value = headers.fields[i]?.value;
  if (value === undefined) return undefined;
  const e = firstElementEnd(value);
  let via: Via;
  try {
    via = parseVia(e < 0 ? value : trimWs(value.slice(0, e)));
  } catch {
    return undefined;
  }
  if (stampVia(via, remoteAddress, remotePort)) headers.setAt(i, via.toString() + (e < 0 ? '' : value.slice(e)));
  return via;
}

/** Address and port a UDP response goes to (host may be a name when neither received nor maddr is present). */
export interface ResponseTarget {
  address: string;
  port: number;
}

/**
 * The UDP destination of a response, from the (stamped) top Via of the request.
 * @param via the top Via.
 */
export function udpResponseTarget(via: Via): ResponseTarget {
  const sentByPort = via.port ?? defaultPort(via.transport);
  const maddr = via.maddr;
  if (maddr !== undefined) return { address: normalizeAddress(maddr), port: via.port ?? 5060 };
  const received = via.received;
  if (received !== undefined) {
    const rport = via.rport;
    return { address: normalizeAddress(received), port: typeof rport === 'number' ? rport : sentByPort };
  }
  return { address: via.hostAddress, port: sentByPort };
}

/**
 * Where to open a new connection for a response whose original connection closed (§18.2.2).
 * @param via the top Via.
 */
export function reconnectTarget(via: Via): ResponseTarget {
  return { address: normalizeAddress(via.received ?? via.hostAddress), port: via.port ?? defaultPort(via.transport) };
}
