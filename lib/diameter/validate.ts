/**
 * Dictionary validation of a decoded message, reporting the first error as the DiameterError to answer with
 * (RFC 6733 §7: "report only the first error encountered"). Order: command and header bits, then each AVP in wire
 * order (unknown with M → 5001, flag rules → 3009, not allowed → 5008, too many → 5009, value and Grouped structure
 * → 5004/5014, recursing into known Grouped AVPs), then missing required AVPs → 5005. Unknown AVPs without M are
 * ignored, as are unknown Grouped AVPs without M whatever they contain (§4.4).
 */
import { isUtf8 } from 'node:buffer';
import { avpWireLength, encodeAvp } from './codec.ts';
import { HEADER_LENGTH } from './constants.ts';
import type { Avp, DiameterHeader, DiameterMessage } from './codec.ts';
import { DiameterError } from './errors.ts';
import { defaultDictionary } from './dictionary/index.ts';
import type { AvpDef, AvpRule, Dictionary, Format } from './dictionary/index.ts';
import { decodeAvpValue, missingAvpExample } from './read.ts';

/** Validation knobs. */
export interface ValidateOptions {
  /** Accept M/V bits that contradict the definition instead of answering 3009 (for sloppy peers). */
  lenientFlags?: boolean;
  /** Deepest Grouped nesting accepted (default 16); deeper → NESTING_TOO_DEEP (5012). */
  maxDepth?: number;
}

const DEFAULT_MAX_DEPTH = 16;

interface Ctx {
  dict: Dictionary;
  lenientFlags: boolean;
  maxDepth: number;
}

/**
 * Checks a message against the dictionary.
 * @param msg a decoded message (request or answer).
 * @throws DiameterError with `resultCode`, `failedAvp` and `header` set; nothing else.
 */
export function validateMessage(msg: DiameterMessage, dict: Dictionary = defaultDictionary, options: ValidateOptions = {}): void {
  const ctx: Ctx = { dict, lenientFlags: options.lenientFlags ?? false, maxDepth: options.maxDepth ?? DEFAULT_MAX_DEPTH };
  try {
    checkMessage(msg, ctx);
  } catch (err) {
    if (err instanceof DiameterError) {
      err.header ??= headerOf(msg);
      err.avps ??= msg.avps;
      throw err;
    }
    throw new DiameterError('INVALID_AVP_VALUE', err instanceof Error ? err.message : String(err), {
      cause: err, header: headerOf(msg), avps: msg.avps,
    });
  }
}

/**
 * Like {@link validateMessage} but returns the error instead of throwing it.
 * @returns undefined when the message is valid.
 */
export function checkMessageValidity(msg: DiameterMessage, dict: Dictionary = defaultDictionary, options: ValidateOptions = {}): DiameterError | undefined {
  try {
    validateMessage(msg, dict, options);
    return undefined;
  } catch (err) {
    return err as DiameterError;
  }
}

function headerOf(msg: DiameterMessage): DiameterHeader {
  const { avps: _avps, ...rest } = msg;
  return { ...rest, length: msg.avps.reduce((n, a) => n + avpWireLength(a), HEADER_LENGTH), reservedFlags: 0 };
}

function checkMessage(msg: DiameterMessage, ctx: Ctx): void {
  const command = ctx.dict.command(msg.commandCode, msg.applicationId);
  if (!command) {
    if (!ctx.dict.hasApplication(msg.applicationId)) {
      throw new DiameterError('APPLICATION_UNSUPPORTED', `application ${msg.applicationId} is not supported`);
    }
    throw new DiameterError('COMMAND_UNSUPPORTED', `command ${msg.commandCode} is not supported`);
  }
  if (msg.flags.request && msg.flags.error) throw new DiameterError('INVALID_HDR_BITS', 'E bit set on a request');
  if (msg.flags.request && msg.flags.proxiable !== command.proxiable) {
    throw new DiameterError('INVALID_HDR_BITS', `P bit ${msg.flags.proxiable ? 'set' : 'clear'} on ${command.request.abbrev}`);
  }
  let format: Format = msg.flags.request ? command.request : command.answer;
  if (!msg.flags.request && msg.flags.error) format = ctx.dict.errorAnswerFormat;
  checkAvps(msg.avps, format, 0, ctx);
}

/**
 * Each format's rules by AVP name with their position, built once per format (formats are the dictionary's, immutable):
 * every received AVP is looked up, so a scan of the rule list per AVP cost more than the rest of validation.
 */
const ruleIndex = new WeakMap<Format, Map<string, number>>();

function indexOf(format: Format): Map<string, number> {
  let index = ruleIndex.get(format);
  if (!index) {
    index = new Map(format.rules.map((r, i) => [r.name, i]));
    ruleIndex.set(format, index);
  }
  return index;
}

function checkAvps(avps: readonly Avp[], format: Format, depth: number, ctx: Ctx): void {
  const index = indexOf(format);
  const counts = new Array<number>(format.rules.length).fill(0);
  for (const avp of avps) {
    const def = ctx.dict.avp(avp.code, avp.vendorId ?? 0);
    if (!def) {
      if (avp.flags.mandatory) {
        throw new DiameterError('AVP_UNSUPPORTED', `unknown AVP ${avp.code}/${avp.vendorId ?? 0} with M bit`, { failedAvp: avp });
      }
      continue;
    }
    if (!ctx.lenientFlags) checkFlags(avp, def);
    const at = index.get(def.name);
    if (at === undefined) {
      if (!format.allowsOther) throw new DiameterError('AVP_NOT_ALLOWED', `${def.name} is not allowed here`, { failedAvp: avp });
    } else {
      const rule = format.rules[at] as AvpRule;
      const count = (counts[at] as number) + 1;
      counts[at] = count;
      if (count > rule.max) {
        throw new DiameterError('AVP_OCCURS_TOO_MANY_TIMES', `${def.name} occurs more than ${rule.max} time(s)`, { failedAvp: avp });
      }
    }
    checkValue(avp, def, depth, ctx);
  }
  for (let at = 0; at < format.rules.length; at++) {
    const rule = format.rules[at] as AvpRule;
    if ((counts[at] as number) < rule.min) {
      const def = ctx.dict.avpByName(rule.name) as AvpDef; // the Dictionary checked every CCF name
      throw new DiameterError('MISSING_AVP', `missing AVP ${rule.name}`, { failedAvp: missingAvpExample(def) });
    }
  }
}

function checkFlags(avp: Avp, def: AvpDef): void {
  const v = avp.vendorId !== undefined;
  const m = avp.flags.mandatory;
  if ((def.vBit === 'must' && !v) || (def.vBit === 'mustNot' && v) || (def.mBit === 'must' && !m) || (def.mBit === 'mustNot' && m)) {
    throw new DiameterError('INVALID_AVP_BITS', `${def.name} has V=${v ? 1 : 0} M=${m ? 1 : 0} against its definition`, { failedAvp: avp });
  }
}

/** Octets of the fixed-size formats. */
const FIXED: Partial<Record<AvpDef['type'], number>> = {
  Integer32: 4, Enumerated: 4, Unsigned32: 4, Float32: 4, Time: 4, Integer64: 8, Unsigned64: 8, Float64: 8,
};

/**
 * Whether decoding `avp` as `type` surely succeeds, answered without building the value: validation decodes every
 * AVP of every request it checks only to throw away the result (a string per UTF8String, issue #12). False sends it
 * to the decoder, which throws the exact error (or decides itself).
 */
function surelyDecodes(data: Buffer, type: AvpDef['type']): boolean {
  switch (type) {
    case 'OctetString': return true;
    case 'UTF8String':
    case 'DiameterIdentity':
    case 'DiameterURI': return isUtf8(data);
    default: return FIXED[type] === data.length;
  }
}

function checkValue(avp: Avp, def: AvpDef, depth: number, ctx: Ctx): void {
  if (def.type !== 'Grouped' && surelyDecodes(avp.data, def.type)) return;
  const value = decodeAvpValue(avp, def.type);
  if (def.type !== 'Grouped' || def.opaque) return;
  if (depth + 1 > ctx.maxDepth) {
    throw new DiameterError('NESTING_TOO_DEEP', `Grouped AVPs nested deeper than ${ctx.maxDepth}`, { failedAvp: { ...avp, data: Buffer.alloc(0) } });
  }
  const inner = value as Avp[];
  try {
    checkAvps(inner, ctx.dict.groupFormat(def.name) ?? { rules: [], allowsOther: true }, depth + 1, ctx);
    if (def.name === 'Vendor-Specific-Application-Id') checkVendorSpecificApplicationId(inner, ctx);
  } catch (err) {
    // RFC 6733 §7.5: Failed-AVP may carry the group hierarchy down to the offending AVP, which locates it.
    if (err instanceof DiameterError && err.failedAvp) err.failedAvp = { ...avp, data: encodeAvp(err.failedAvp) };
    throw err;
  }
}

function checkVendorSpecificApplicationId(inner: readonly Avp[], ctx: Ctx): void {
  // RFC 6733 §6.11: exactly one of Auth-/Acct-Application-Id.
  const auth = ctx.dict.avpByName('Auth-Application-Id') as AvpDef;
  const acct = ctx.dict.avpByName('Acct-Application-Id') as AvpDef;
  const ids = inner.filter((a) => a.vendorId === undefined && (a.code === auth.code || a.code === acct.code));
  if (ids.length === 0) {
    throw new DiameterError('MISSING_AVP', 'Vendor-Specific-Application-Id without Auth- or Acct-Application-Id', {
      failedAvp: missingAvpExample(auth),
    });
  }
  if (ids.length > 1) {
    throw new DiameterError('AVP_OCCURS_TOO_MANY_TIMES', 'Vendor-Specific-Application-Id with both application ids', {
      failedAvp: ids[1],
    });
  }
}
