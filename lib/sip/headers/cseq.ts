/**
 * The small scalar headers: CSeq (RFC 3261 §20.16: `1*DIGIT LWS Method`, number below 2^31), Max-Forwards (§20.22:
 * 0–255), Call-ID (§20.8: `word ["@" word]`), Content-Length (§20.14).
 */
import { SipParseError } from '../errors.ts';
import { isToken, parseDigits, skipWs } from '../syntax.ts';

/** A parsed CSeq. */
export interface CSeq {
  seq: number;
  method: string;
}

/** §8.1.1.5: the sequence number MUST be less than 2^31. */
export const MAX_CSEQ = 2 ** 31 - 1;

/**
 * Parses a CSeq value.
 * @param value e.g. `1 REGISTER` (LWS between the parts may be any run of SP/HTAB).
 * @throws SipParseError BAD_HEADER_VALUE with a short detail.
 */
export function parseCSeq(value: string): CSeq {
  let i = 0;
  while (i < value.length && value.charCodeAt(i) >= 48 && value.charCodeAt(i) <= 57) i++;
  const seq = parseDigits(value.slice(0, i), MAX_CSEQ);
  if (seq < 0) throw new SipParseError('BAD_HEADER_VALUE', 'sequence number not below 2^31');
  const m = skipWs(value, i);
  if (m === i) throw new SipParseError('BAD_HEADER_VALUE', 'no method');
  const method = value.slice(m);
  if (!isToken(method)) throw new SipParseError('BAD_HEADER_VALUE', 'bad method');
  return { seq, method };
}

/**
 * Parses Max-Forwards.
 * @param value the field value.
 * @throws SipParseError BAD_HEADER_VALUE unless 1*DIGIT within 0–255 (leading zeros allowed: `0068`).
 */
export function parseMaxForwards(value: string): number {
  const v = parseDigits(value, 255);
  if (v < 0) throw new SipParseError('BAD_HEADER_VALUE', 'not 0-255');
  return v;
}

/**
 * Checks a Call-ID: one or two words joined by `@`, no white space. The word alphabet is so wide (RFC 4475 §3.1.1.2)
 * that rejecting controls and white space is the useful part.
 * @param value the field value.
 * @throws SipParseError BAD_HEADER_VALUE when empty or containing white space or controls.
 */
export function checkCallId(value: string): string {
  if (value.length === 0) throw new SipParseError('BAD_HEADER_VALUE', 'empty');
  for (let i = 0; i < value.length; i++) {
    const c = value.charCodeAt(i);
    if (c <= 32 || c === 127) throw new SipParseError('BAD_HEADER_VALUE', 'white space in Call-ID');
  }
  return value;
}

/**
 * Parses a Content-Length value.
 * @param value the field value.
 * @returns the length, or -1 when it is not 1*DIGIT (a sign, `-999` of RFC 4475 §3.1.2.3, is rejected) or absurdly large.
 */
export function parseContentLength(value: string): number {
  return parseDigits(value, Number.MAX_SAFE_INTEGER);
}
