/**
 * The octets a message arrived as, kept beside its decoded form so that an agent passing it on (a relay appending
 * Route-Record, any node answering with a forwarded answer) sends those octets again instead of encoding every AVP
 * anew (DESIGN §2.8: "Diameter forwarding without re-encoding untouched AVPs"). Only the header is written again — its
 * fields are always taken from the message object, so a new hop-by-hop id, end-to-end id or flag is honoured — and
 * AVPs appended by the agent are encoded once and added at the end.
 *
 * The octets belong to one list of AVPs: they are used only while the message's `avps` is that very array (or one
 * made by {@link keepReceived} from it). A message whose AVPs were replaced, filtered or rebuilt has a new array and is
 * encoded from its AVPs as before. Decoded AVPs are views of the received octets and nobody mutates them or the
 * array in place (messages are treated as immutable values throughout lib/diameter), which is what makes this safe.
 * (A WeakMap keyed by the message cost 7 % of the relay's CPU in GC and lookups; a property of the array costs
 * nothing measurable.)
 */
import type { Avp, DiameterMessage } from './codec.ts';
import { CommandFlag, HEADER_LENGTH } from './constants.ts';

/** Received octets: the message as it arrived (its header is rewritten on every send), and AVPs appended since. */
interface Received {
  bytes: Buffer;
  tail: Buffer | undefined;
}

/**
 * Where the octets are kept: on the AVP array they encode, as a non-enumerable property, so a copy of the message
 * with other header fields (a spread) still has them, a new AVP list never does, and comparisons of messages
 * (enumerable properties) do not see them.
 */
const RECEIVED = Symbol('received octets');
type Tagged = readonly Avp[] & { [RECEIVED]?: Received };

function tag(avps: readonly Avp[], r: Received): void {
  Object.defineProperty(avps, RECEIVED, { value: r, enumerable: false });
}

/**
 * Records that `msg` was decoded from `bytes` (exactly its Message Length octets).
 * @param msg the decoded message, as returned to the caller.
 */
export function rememberReceived(msg: DiameterMessage, bytes: Buffer): void {
  tag(msg.avps, { bytes, tail: undefined });
}

/**
 * Lets `to` — `from` with AVPs appended — use `from`'s received octets. Nothing happens when `from` has none.
 * @param appended the AVPs `to` has after `from`'s, encoded (`to.avps` must be `from.avps` plus those).
 */
export function keepReceived(from: DiameterMessage, to: DiameterMessage, appended: Buffer): void {
  const r = (from.avps as Tagged)[RECEIVED];
  if (r) tag(to.avps, { bytes: r.bytes, tail: r.tail ? Buffer.concat([r.tail, appended]) : appended });
}

/**
 * The length `msg` has on the wire when sent from its received octets, or undefined when it has none (its AVPs
 * are not the ones received).
 */
export function receivedLength(msg: DiameterMessage): number | undefined {
  const r = (msg.avps as Tagged)[RECEIVED];
  return r && r.bytes.length + (r.tail?.length ?? 0);
}

/**
 * The wire form of `msg` from its received octets: a copy with the header written from `msg`'s fields and the
 * appended AVPs after the body.
 * @param length {@link receivedLength} of `msg`, which the caller checked (defined, within 24 bits).
 */
export function encodeFromReceived(msg: DiameterMessage, length: number): Buffer {
  const r = (msg.avps as Tagged)[RECEIVED] as Received;
  const buf = Buffer.allocUnsafe(length);
  r.bytes.copy(buf, HEADER_LENGTH, HEADER_LENGTH);
  if (r.tail) r.tail.copy(buf, r.bytes.length);
  writeHeader(buf, msg, length);
  return buf;
}

/**
 * Writes the 20-octet header of `msg` (reserved flag bits zero) at the start of `buf`.
 * @param length the Message Length field.
 */
export function writeHeader(buf: Buffer, msg: DiameterMessage, length: number): void {
  buf.writeUInt8(msg.version, 0);
  buf.writeUIntBE(length, 1, 3);
  const f = msg.flags;
  buf.writeUInt8(
    (f.request ? CommandFlag.REQUEST : 0) | (f.proxiable ? CommandFlag.PROXIABLE : 0) |
      (f.error ? CommandFlag.ERROR : 0) | (f.retransmit ? CommandFlag.RETRANSMIT : 0),
    4,
  );
  buf.writeUIntBE(msg.commandCode, 5, 3);
  buf.writeUInt32BE(msg.applicationId, 8);
  buf.writeUInt32BE(msg.hopByHop, 12);
  buf.writeUInt32BE(msg.endToEnd, 16);
}
