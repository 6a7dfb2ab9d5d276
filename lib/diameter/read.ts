/**
 * Reading messages by AVP name: find raw AVPs, decode typed values through the dictionary, and demand required ones.
 * Every failure is a DiameterError carrying the Failed-AVP a handler needs for its error answer, so a handler can
 * read what it needs and let one catch turn any problem into the right answer.
 */
import { decodeAvps } from './codec.ts';
import type { Avp, DiameterMessage } from './codec.ts';
import { DiameterError } from './errors.ts';
import { defaultDictionary } from './dictionary/index.ts';
import type { AvpDef, AvpName, AvpTypeOf, Dictionary } from './dictionary/index.ts';
import {
  decodeAddress, decodeDiameterIdentity, decodeDiameterURI, decodeFloat32, decodeFloat64, decodeInteger32,
  decodeInteger64, decodeOctetString, decodeTime, decodeUnsigned32, decodeUnsigned64, decodeUTF8String,
} from './values.ts';
import type { AvpType } from './values.ts';

/** What readers return for each data format (Grouped: the inner AVPs, raw). */
export interface AvpOutputTypes {
  OctetString: Buffer;
  Integer32: number;
  Integer64: bigint;
  Unsigned32: number;
  Unsigned64: bigint;
  Float32: number;
  Float64: number;
  Grouped: Avp[];
  Address: string;
  Time: Date;
  UTF8String: string;
  DiameterIdentity: string;
  DiameterURI: string;
  Enumerated: number;
}

/** The typed value of a known AVP name. */
export type AvpValueOf<N extends AvpName> = AvpOutputTypes[AvpTypeOf<N>];

/** A message or the inner AVPs of a Grouped AVP. */
export type AvpSource = DiameterMessage | readonly Avp[];

function avpsOf(src: AvpSource): readonly Avp[] {
  return Array.isArray(src) ? src : (src as DiameterMessage).avps;
}

function defOf(name: string, dict: Dictionary): AvpDef {
  const def = dict.avpByName(name);
  if (!def) throw new DiameterError('UNKNOWN_AVP_NAME', `unknown AVP name ${name}`);
  return def;
}

function matches(avp: Avp, def: AvpDef): boolean {
  return avp.code === def.code && (avp.vendorId ?? 0) === def.vendorId;
}

/**
 * The first AVP with this name, raw.
 * @param src a message or a list of AVPs (e.g. a Grouped AVP's content).
 */
export function findAvp(src: AvpSource, name: AvpName | string, dict: Dictionary = defaultDictionary): Avp | undefined {
  const def = defOf(name, dict);
  return avpsOf(src).find((a) => matches(a, def));
}

/** Every AVP with this name, raw, in wire order. */
export function findAvps(src: AvpSource, name: AvpName | string, dict: Dictionary = defaultDictionary): Avp[] {
  const def = defOf(name, dict);
  return avpsOf(src).filter((a) => matches(a, def));
}

/**
 * Decodes an AVP's data according to a data format.
 * @throws DiameterError 5014 (wrong size, malformed Grouped content) or 5004 (bad value) with `failedAvp` = `avp`.
 */
export function decodeAvpValue(avp: Avp, type: AvpType): AvpOutputTypes[AvpType] {
  try {
    const d = avp.data;
    switch (type) {
      case 'OctetString': return decodeOctetString(d);
      case 'Integer32':
      case 'Enumerated': return decodeInteger32(d);
      case 'Integer64': return decodeInteger64(d);
      case 'Unsigned32': return decodeUnsigned32(d);
      case 'Unsigned64': return decodeUnsigned64(d);
      case 'Float32': return decodeFloat32(d);
      case 'Float64': return decodeFloat64(d);
      case 'Address': return decodeAddress(d);
      case 'Time': return decodeTime(d);
      case 'UTF8String': return decodeUTF8String(d);
      case 'DiameterIdentity': return decodeDiameterIdentity(d);
      case 'DiameterURI': return decodeDiameterURI(d);
      case 'Grouped': return decodeAvps(d);
    }
  } catch (err) {
    if (err instanceof DiameterError) {
      // A Grouped AVP's inner failure is reported as the group's header with an empty payload (RFC 6733 §7.1.5).
      err.failedAvp = type === 'Grouped' ? { ...avp, data: Buffer.alloc(0) } : avp;
    }
    throw err;
  }
}

/**
 * The typed value of the first AVP with this name, or undefined when absent.
 * @throws DiameterError when present but undecodable.
 */
export function getValue<N extends AvpName>(src: AvpSource, name: N, dict: Dictionary = defaultDictionary): AvpValueOf<N> | undefined {
  const def = defOf(name, dict);
  const avp = avpsOf(src).find((a) => matches(a, def));
  return avp === undefined ? undefined : (decodeAvpValue(avp, def.type) as AvpValueOf<N>);
}

/** The typed values of every AVP with this name, in wire order. */
export function getValues<N extends AvpName>(src: AvpSource, name: N, dict: Dictionary = defaultDictionary): AvpValueOf<N>[] {
  const def = defOf(name, dict);
  return avpsOf(src).filter((a) => matches(a, def)).map((a) => decodeAvpValue(a, def.type) as AvpValueOf<N>);
}

/**
 * The typed value of a required AVP.
 * @throws DiameterError MISSING_AVP (5005) with a zero-filled example as Failed-AVP when absent.
 */
export function requireValue<N extends AvpName>(src: AvpSource, name: N, dict: Dictionary = defaultDictionary): AvpValueOf<N> {
  const value = getValue(src, name, dict);
  if (value === undefined) {
    throw new DiameterError('MISSING_AVP', `missing AVP ${name}`, { failedAvp: missingAvpExample(defOf(name, dict)) });
  }
  return value;
}

const MIN_DATA: Partial<Record<AvpType, number>> = {
  Integer32: 4, Enumerated: 4, Unsigned32: 4, Float32: 4, Time: 4, Integer64: 8, Unsigned64: 8, Float64: 8, Address: 6,
};

/**
 * The Failed-AVP example of a missing AVP: its code, vendor and flags with a zero-filled payload of the type's
 * minimum length (RFC 6733 §7.5).
 */
export function missingAvpExample(def: AvpDef): Avp {
  const avp: Avp = {
    code: def.code,
    flags: { mandatory: def.mBit === 'must', protected: false },
    data: Buffer.alloc(MIN_DATA[def.type] ?? 0),
  };
  if (def.vendorId !== 0) avp.vendorId = def.vendorId;
  return avp;
}
