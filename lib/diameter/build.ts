/**
 * Building messages from `[name, value]` pairs through the dictionary: the AVP's code, vendor, V/M flags and data
 * format come from its definition, values are typed by name at compile time and checked again at run time (a value
 * that cannot be encoded throws DiameterError INVALID_VALUE, an unknown name UNKNOWN_AVP_NAME). Raw `Avp` objects
 * may be mixed in wherever a pair is accepted, so unknown or copied AVPs pass through untouched.
 */
import { encodeAvps } from './codec.ts';
import type { Avp, DiameterMessage, MessageFlags } from './codec.ts';
import { DiameterError } from './errors.ts';
import { defaultDictionary } from './dictionary/index.ts';
import type { AvpDef, AvpName, AvpTypeOf, CommandAbbrev, Dictionary } from './dictionary/index.ts';
import {
  encodeAddress, encodeDiameterIdentity, encodeDiameterURI, encodeFloat32, encodeFloat64, encodeInteger32,
  encodeInteger64, encodeOctetString, encodeTime, encodeUnsigned32, encodeUnsigned64, encodeUTF8String,
} from './values.ts';
import { DIAMETER_VERSION } from './constants.ts';

/** What a builder accepts for each data format. Enumerated takes a number or a value name of the dictionary. */
export interface AvpInputTypes {
  OctetString: Buffer | Uint8Array | string;
  Integer32: number;
  Integer64: bigint | number;
  Unsigned32: number;
  Unsigned64: bigint | number;
  Float32: number;
  Float64: number;
  Grouped: AvpEntryList;
  Address: string;
  Time: Date;
  UTF8String: string;
  DiameterIdentity: string;
  DiameterURI: string;
  Enumerated: number | string;
}

/** Per-entry flag overrides; by default M follows the definition (set when MUST) and P is clear. */
export interface AvpEntryOptions {
  mandatory?: boolean;
  protected?: boolean;
}

/** A typed `[name, value, options?]` pair of the default dictionary. */
export type AvpPair = {
  [N in AvpName]: readonly [N, AvpInputTypes[AvpTypeOf<N>], AvpEntryOptions?];
}[AvpName];

/** A pair to encode, or a raw AVP to copy as is. */
export type AvpEntry = AvpPair | Avp;

/**
 * The content of a Grouped value. An interface rather than `readonly AvpEntry[]` because interfaces resolve lazily,
 * which is what lets a Grouped value contain pairs of Grouped AVPs.
 */
export interface AvpEntryList extends ReadonlyArray<AvpEntry | undefined> {
  readonly [index: number]: AvpEntry | undefined;
}

/** Header fields of a message to build; flags default to false, ids to 0 (the peer layer assigns hop-by-hop). */
export interface MessageInit {
  commandCode: number;
  applicationId: number;
  flags?: Partial<MessageFlags>;
  hopByHop?: number;
  endToEnd?: number;
}

function isRawAvp(entry: AvpEntry | readonly unknown[]): entry is Avp {
  return !Array.isArray(entry);
}

/**
 * Encodes a value as the data of an AVP of the given definition.
 * @param def the AVP definition.
 * @param value a value of the definition's type (or a value name for AVPs with named values).
 * @param dict resolves the names inside Grouped values.
 * @throws DiameterError INVALID_VALUE / UNKNOWN_AVP_NAME.
 */
export function encodeAvpValue(def: AvpDef, value: unknown, dict: Dictionary = defaultDictionary): Buffer {
  try {
    if (typeof value === 'string' && def.values && def.type !== 'UTF8String' && def.type !== 'OctetString') {
      const named = def.values[value];
      if (named === undefined) throw new DiameterError('INVALID_VALUE', `${def.name} has no value named ${value}`);
      value = named;
    }
    switch (def.type) {
      case 'OctetString': return encodeOctetString(value as Buffer | string);
      case 'Integer32':
      case 'Enumerated': return encodeInteger32(value as number);
      case 'Integer64': return encodeInteger64(value as bigint);
      case 'Unsigned32': return encodeUnsigned32(value as number);
      case 'Unsigned64': return encodeUnsigned64(value as bigint);
      case 'Float32': return encodeFloat32(value as number);
      case 'Float64': return encodeFloat64(value as number);
      case 'Address': return encodeAddress(value as string);
      case 'Time': return encodeTime(value as Date);
      case 'UTF8String': return encodeUTF8String(value as string);
      case 'DiameterIdentity': return encodeDiameterIdentity(value as string);
      case 'DiameterURI': return encodeDiameterURI(value as string);
      case 'Grouped':
        if (!Array.isArray(value)) throw new DiameterError('INVALID_VALUE', 'Grouped value must be an array of entries');
        return encodeAvps(buildAvps(value as AvpEntry[], dict));
    }
  } catch (err) {
    if (err instanceof DiameterError && err.code === 'INVALID_VALUE' && !err.message.startsWith(def.name)) {
      throw new DiameterError('INVALID_VALUE', `${def.name}: ${err.message}`, { cause: err });
    }
    throw err;
  }
}

/**
 * Builds one AVP from a dictionary entry (or returns a raw AVP unchanged).
 * @param entry `[name, value, options?]` or an `Avp`.
 * @param dict the dictionary to resolve the name in.
 */
export function buildAvp(entry: AvpEntry, dict: Dictionary = defaultDictionary): Avp {
  if (isRawAvp(entry)) return entry;
  return buildNamedAvp(entry[0], entry[1], entry[2], dict);
}

/**
 * Builds an AVP by name without compile-time typing: for dictionaries other than the default one.
 * @throws DiameterError UNKNOWN_AVP_NAME / INVALID_VALUE.
 */
export function buildNamedAvp(name: string, value: unknown, options: AvpEntryOptions = {}, dict: Dictionary = defaultDictionary): Avp {
  const def = dict.avpByName(name);
  if (!def) throw new DiameterError('UNKNOWN_AVP_NAME', `unknown AVP name ${name}`);
  const avp: Avp = {
    code: def.code,
    flags: { mandatory: options.mandatory ?? def.mBit === 'must', protected: options.protected ?? false },
    data: encodeAvpValue(def, value, dict),
  };
  if (def.vendorId !== 0) avp.vendorId = def.vendorId;
  return avp;
}

/**
 * Builds a list of AVPs, skipping `undefined` entries so optional fields can be written inline.
 * @param entries pairs or raw AVPs.
 */
export function buildAvps(entries: readonly (AvpEntry | undefined)[], dict: Dictionary = defaultDictionary): Avp[] {
  const out: Avp[] = [];
  for (const e of entries) if (e !== undefined) out.push(buildAvp(e, dict));
  return out;
}

/**
 * Builds a message with an explicit header.
 * @param init command, application, flags and identifiers.
 * @param entries the AVPs in wire order.
 */
export function buildMessage(init: MessageInit, entries: readonly (AvpEntry | undefined)[], dict: Dictionary = defaultDictionary): DiameterMessage {
  const f = init.flags ?? {};
  return {
    version: DIAMETER_VERSION,
    flags: { request: f.request ?? false, proxiable: f.proxiable ?? false, error: f.error ?? false, retransmit: f.retransmit ?? false },
    commandCode: init.commandCode,
    applicationId: init.applicationId,
    hopByHop: init.hopByHop ?? 0,
    endToEnd: init.endToEnd ?? 0,
    avps: buildAvps(entries, dict),
  };
}

/** Options of {@link buildRequest}. */
export interface RequestOptions {
  hopByHop?: number;
  endToEnd?: number;
  retransmit?: boolean;
  dict?: Dictionary;
}

/**
 * Builds a request of a dictionary command: code, application, R and P bits come from its definition.
 * @param abbrev the request's abbreviation (`'MAR'`, `'CER'`, …).
 * @param entries the AVPs in wire order.
 * @throws DiameterError COMMAND_UNSUPPORTED when the abbreviation is not a request of the dictionary.
 */
export function buildRequest(abbrev: CommandAbbrev | string, entries: readonly (AvpEntry | undefined)[], options: RequestOptions = {}): DiameterMessage {
  const dict = options.dict ?? defaultDictionary;
  const found = dict.commandByAbbrev(abbrev);
  if (!found?.request) throw new DiameterError('COMMAND_UNSUPPORTED', `${abbrev} is not a request of the dictionary`);
  return buildMessage(
    {
      commandCode: found.command.code,
      applicationId: found.command.applicationId,
      flags: { request: true, proxiable: found.command.proxiable, retransmit: options.retransmit ?? false },
      hopByHop: options.hopByHop,
      endToEnd: options.endToEnd,
    },
    entries,
    dict,
  );
}
