/**
 * {@link SipMessage} → bytes. Header fields go out in their order with the names as stored; Content-Length is
 * always written from the body's actual length (replacing the first Content-Length field in place, or appended
 * last when there was none, so streams can always frame the message, RFC 3261 §18.3 / §20.14). One string is
 * built and encoded once; a body is appended without copying it twice.
 */
import type { SipMessage } from './message.ts';

/**
 * The start line of a message, without CRLF.
 * @param msg a request or response.
 */
export function startLine(msg: SipMessage): string {
  return msg.kind === 'request' ? `${msg.method} ${msg.uri} SIP/2.0` : `SIP/2.0 ${msg.status} ${msg.reason}`;
}

/**
 * Serializes a message.
 * @param msg a request or response.
 * @returns the wire bytes.
 */
export function serializeMessage(msg: SipMessage): Buffer {
  let s = startLine(msg) + '\r\n';
  let clWritten = false;
  for (const f of msg.headers.fields) {
    if (f.key === 'content-length') {
      if (clWritten) continue;
      s += f.name + ': ' + msg.body.length + '\r\n';
      clWritten = true;
    } else {
      s += f.name + ': ' + f.value + '\r\n';
    }
  }
  if (!clWritten) s += 'Content-Length: ' + msg.body.length + '\r\n';
  s += '\r\n';
  if (msg.body.length === 0) return Buffer.from(s, 'utf8');
  const headLen = Buffer.byteLength(s, 'utf8');
  const out = Buffer.allocUnsafe(headLen + msg.body.length);
  out.write(s, 0, 'utf8');
  msg.body.copy(out, headLen);
  return out;
}
